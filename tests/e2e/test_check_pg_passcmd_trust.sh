#!/usr/bin/env bash
# `check --pg-config` runs ssl_passphrase_command only with the rights the
# server would give it: as root, as the data directory's owner and never as
# root; as anyone else, only from a file that user or root owns. A command it
# does not run is reported as key-passphrase-external, not judged.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || fail "run as root: the test switches accounts"
id nobody >/dev/null 2>&1 && id daemon >/dev/null 2>&1 || fail "needs the nobody and daemon accounts"
cd "$WORK"
chmod 755 "$WORK"
tg ca init --dir pki --name "Trust CA" >/dev/null
tg cert issue db.example --dir pki >/dev/null
openssl pkey -in pki/issued/db.example.key -aes256 -passout pass:s3cret -out enc.key

# data DIR OWNER CONF_OWNER: a data directory whose command leaves a mark
# (the account that ran it) in /tmp-free MARK and answers the passphrase.
data() {
	rm -rf "$1"
	mkdir -p "$1"
	cp pki/issued/db.example.crt "$1/server.crt"
	cp enc.key "$1/server.key"
	chmod 0600 "$1/server.key"
	cat >"$1/postgresql.conf" <<CONF
ssl = on
ssl_passphrase_command = 'id -un > $1/mark; echo s3cret'
CONF
	chown -R "$2" "$1"
	chown "$3" "$1/postgresql.conf"
	chmod 0755 "$1"
	chmod 0644 "$1/postgresql.conf"
}

# 1. root, data directory root's: never run as root.
data "$WORK/d1" root root
out=$(tg check --pg-config "$WORK/d1/postgresql.conf" --json 2>&1 || true)
[ ! -e "$WORK/d1/mark" ] || fail "root-owned data dir: the command ran as $(cat "$WORK/d1/mark")"
assert_contains "$out" "key-passphrase-external" "root-owned data dir: reported as not run"
assert_not_contains "$out" '"key-encrypted"' "root-owned data dir: not an error"
pass "as root, a root-owned data directory's command is not run"

# 2. root, data directory nobody's: run as nobody, the passphrase works.
data "$WORK/d2" nobody root
out=$(tg check --pg-config "$WORK/d2/postgresql.conf" --json 2>&1 || true)
assert_eq "$(cat "$WORK/d2/mark" 2>/dev/null)" "nobody" "as root: run as the data directory's owner"
assert_not_contains "$out" "key-passphrase-external" "as root: judged"
assert_not_contains "$out" '"key-encrypted"' "as root: the passphrase opened the key"
pass "as root, the command runs as the data directory's owner"

# 3. nobody, the config daemon's: not run as nobody.
data "$WORK/d3" nobody daemon
chmod 0777 "$WORK/d3"
out=$(runuser -u nobody -- "$TLSGATE" check --pg-config "$WORK/d3/postgresql.conf" --json 2>&1 || true)
[ ! -e "$WORK/d3/mark" ] || fail "another account's config ran code as $(cat "$WORK/d3/mark")"
assert_contains "$out" "key-passphrase-external" "someone else's config: reported as not run"
pass "as nobody, a config daemon owns does not run its command"

# 4. nobody, the config nobody's: run.
data "$WORK/d4" nobody nobody
out=$(runuser -u nobody -- "$TLSGATE" check --pg-config "$WORK/d4/postgresql.conf" --json 2>&1 || true)
assert_eq "$(cat "$WORK/d4/mark" 2>/dev/null)" "nobody" "own config: run"
assert_not_contains "$out" "key-passphrase-external" "own config: judged"
pass "as nobody, its own config's command runs"
