#!/usr/bin/env bash
# tlsgate check against a real PostgreSQL: a private cluster (initdb in a temp
# dir, loopback port) with ssl = on. The served chain is read through the
# SSLRequest handshake (--starttls postgres); the data dir passes the file
# check with --owner postgres; --pg-config follows postgresql.conf's
# include_dir to the files the server reloads onto, and a 0644 key there is
# flagged as PostgreSQL refuses it; with ssl turned off the endpoint says
# no-tls and --pg-config pg-ssl-off.
set -euo pipefail

: "${TLSGATE:?set TLSGATE to the built binary}"
: "${TLSGATE_SRC:?set TLSGATE_SRC to the source root}"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "SKIP: PostgreSQL not installed (scripts/deps.sh test)"; exit 77; }
PGUSER_OS=postgres
id "$PGUSER_OS" >/dev/null 2>&1 || { echo "SKIP: no postgres user"; exit 77; }

W=$(mktemp -d /tmp/tlsgate-check-pg.XXXXXX)
chmod 755 "$W"
D=$W/data
STARTED=0
failed=0
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}
cleanup() {
	local rc=$?
	[ $STARTED -eq 1 ] && as_pg "$PGBIN/pg_ctl" -D "$D" -m immediate stop >/dev/null 2>&1
	if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
		echo "--- postgres log ---" >&2
		cat "$W/pg.log" >&2 2>/dev/null || true
		echo "--- last check output ---" >&2
		cat "$W/out.json" >&2 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
P=$W/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=pg Test Root"
pki_cert "$P/inter" "$P/root" inter "/CN=pg Test Inter"
pki_cert "$P/server" "$P/inter" server "/CN=db.example.com" "DNS:db.example.com,IP:127.0.0.1"

[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$W"
as_pg "$PGBIN/initdb" -D "$D" -A trust -U postgres >"$W/initdb.log" 2>&1 ||
	{ cat "$W/initdb.log" >&2; exit 1; }
cat "$P/server.crt" "$P/inter.crt" >"$D/server.crt"
cp "$P/server.key" "$D/server.key"
cp "$P/root.crt" "$D/root.crt"
[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$D/server.crt" "$D/server.key" "$D/root.crt"
chmod 600 "$D/server.key"
cat >>"$D/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$W'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
EOF
as_pg "$PGBIN/pg_ctl" -D "$D" -l "$W/pg.log" -w -t 30 start >/dev/null
STARTED=1

check_ep() {
	local rc=0
	"$TLSGATE" check endpoint "127.0.0.1:$PORT" --starttls postgres --sni db.example.com \
		--ca "$P/root.crt" --no-system-ca --json "$@" >"$W/out.json" 2>"$W/err.txt" || rc=$?
	echo $rc
}
codes() { jq -r '[.subjects[].findings[].code] | unique | join(" ")' "$W/out.json"; }
fail() { echo "FAIL $*" >&2; failed=$((failed + 1)); }

rc=$(check_ep)
# ssl_ca_file makes PostgreSQL ask for (optional) client certs: reported as info.
[ "$rc" = 0 ] && [ "$(codes)" = "client-cert-requested" ] ||
	fail "ssl on: exit $rc codes [$(codes)] $(cat "$W/err.txt")"
grep -q "pg Test Root" "$W/out.json" || fail "advertised CA name missing"
[ "$(jq '.subjects[0].certificates' "$W/out.json")" = 2 ] || fail "served chain not read whole"
[ "$(jq -r '.subjects[0].leaf' "$W/out.json")" = "CN=db.example.com" ] || fail "wrong leaf"
echo "ok   ssl on: chain of 2 read through SSLRequest"

# Without --starttls the handshake cannot work: could not run, exit 2.
rc=0
"$TLSGATE" check endpoint "127.0.0.1:$PORT" --no-system-ca >/dev/null 2>"$W/err.txt" || rc=$?
{ [ $rc -eq 2 ] && grep -q -- "--starttls postgres" "$W/err.txt"; } || fail "no starttls: exit $rc"
echo "ok   plain TLS to PostgreSQL: exit 2 with a hint"

# The data dir itself, with PostgreSQL's key rule.
rc=0
"$TLSGATE" check "$D" --owner postgres --no-system-ca --json >"$W/out.json" || rc=$?
[ $rc -eq 0 ] && [ "$(codes)" = "" ] || fail "data dir: exit $rc codes [$(codes)]"
chmod 640 "$D/server.key"
rc=0
"$TLSGATE" check "$D" --owner postgres --no-system-ca --json >"$W/out.json" || rc=$?
[ $rc -eq 1 ] && [ "$(codes)" = "key-mode" ] || fail "data dir 0640: exit $rc codes [$(codes)]"
chmod 600 "$D/server.key"
echo "ok   data dir: clean, then key-mode at 0640"

# --pg-config: the files postgresql.conf names, through include_dir, outside
# the data directory. PostgreSQL reloads onto them (the endpoint serves the
# new leaf); tlsgate checks them with the data directory owner's key rule.
T=$W/tls
mkdir -p "$T" "$D/conf.d"
pki_cert "$P/db2" "$P/inter" server "/CN=db2.example.com" "DNS:db2.example.com,DNS:db.example.com,IP:127.0.0.1"
cat "$P/db2.crt" "$P/inter.crt" >"$T/db2.crt"
cp "$P/db2.key" "$T/db2.key"
[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$T/db2.crt" "$T/db2.key"
chmod 600 "$T/db2.key"
chmod 755 "$T"
echo "include_dir 'conf.d'  # TLS settings" >>"$D/postgresql.conf"
printf "ssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$T/db2.crt" "$T/db2.key" >"$D/conf.d/tls.conf"
psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
	[ "$(psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt -c 'SHOW ssl_cert_file')" = "$T/db2.crt" ] && break
	sleep 0.1
done
rc=$(check_ep)
[ "$rc" = 0 ] && [ "$(jq -r '.subjects[0].leaf' "$W/out.json")" = "CN=db2.example.com" ] ||
	fail "reloaded endpoint: exit $rc leaf $(jq -r '.subjects[0].leaf' "$W/out.json")"
pg_check() {
	local rc=0
	"$TLSGATE" check --pg-config "$D/postgresql.conf" --ca "$P/root.crt" --no-system-ca --json \
		"$@" >"$W/out.json" 2>"$W/err.txt" || rc=$?
	echo $rc
}
rc=$(pg_check)
[ "$rc" = 0 ] && [ "$(codes)" = "" ] || fail "--pg-config: exit $rc codes [$(codes)] $(cat "$W/err.txt")"
[ "$(jq -r '[.subjects[] | select(.leaf == "CN=db2.example.com") | .subject] | join(",")' "$W/out.json")" = "$T/db2.crt" ] ||
	fail "--pg-config did not check $T/db2.crt: $(jq -c '[.subjects[].subject]' "$W/out.json")"
echo "ok   --pg-config: include_dir followed to the files the server reloaded onto, clean"

# A key others can read: PostgreSQL refuses it at reload (and keeps the old
# TLS setup), tlsgate says why with the data directory owner's rule.
chmod 644 "$T/db2.key"
psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do grep -q "has group or world access" "$W/pg.log" && break; sleep 0.1; done
grep -q "private key file \"$T/db2.key\" has group or world access" "$W/pg.log" ||
	fail "PostgreSQL did not refuse the 0644 key: $(tail -n 5 "$W/pg.log")"
rc=$(pg_check)
[ "$rc" = 1 ] && codes | grep -qw "key-world-readable" ||
	fail "--pg-config with a 0644 key: exit $rc codes [$(codes)]"
jq -r '.subjects[].findings[] | select(.code == "key-world-readable") | .message' "$W/out.json" |
	grep -q "$T/db2.key" || fail "key-world-readable does not name $T/db2.key"
chmod 600 "$T/db2.key"
echo "ok   --pg-config: a 0644 key, refused by PostgreSQL at reload, is key-world-readable"

# A config PostgreSQL would not load either: named with its line.
printf "ssl_cert_file = 'unclosed\n" >"$D/conf.d/zz-broken.conf"
rc=$(pg_check)
[ "$rc" = 2 ] && grep -q "$D/conf.d/zz-broken.conf:1: ssl_cert_file: the quoted value is not closed" "$W/err.txt" ||
	fail "broken include: exit $rc $(cat "$W/err.txt")"
rm "$D/conf.d/zz-broken.conf"
echo "ok   --pg-config: an unclosed quote is refused with file and line"

# ssl off (reloadable): the SSLRequest is answered 'N'.
psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt \
	-c "ALTER SYSTEM SET ssl = off" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
	[ "$(psql -h "$W" -p "$PORT" -U postgres -d postgres -qAt -c 'SHOW ssl')" = off ] && break
	sleep 0.1
done
rc=$(check_ep)
[ "$rc" = 1 ] && [ "$(codes)" = "no-tls" ] || fail "ssl off: exit $rc codes [$(codes)]"
echo "ok   ssl off: no-tls"
# ALTER SYSTEM wrote postgresql.auto.conf, which the server reads last.
rc=$(pg_check)
[ "$rc" = 1 ] && [ "$(codes)" = "pg-ssl-off" ] || fail "--pg-config, ssl off: exit $rc codes [$(codes)]"
jq -r '.subjects[0].findings[0].message' "$W/out.json" | grep -q "^$D/postgresql.auto.conf:[0-9]* sets ssl off" ||
	fail "pg-ssl-off does not name postgresql.auto.conf: $(jq -r '.subjects[0].findings[0].message' "$W/out.json")"
echo "ok   --pg-config: ssl off through ALTER SYSTEM (postgresql.auto.conf) is pg-ssl-off"

[ $failed -eq 0 ]
