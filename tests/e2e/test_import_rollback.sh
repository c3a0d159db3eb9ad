#!/usr/bin/env bash
# `cert import` is all or nothing: run as a user who may write the certs
# directory but not give files to root (`sudo -u nobody ... --owner
# root:GROUP`), it fails naming the fix and leaves no file at a final name;
# over an existing pair it leaves the old pair as it was.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: running as nobody needs root"; exit 77; }
cd "$WORK"

tg cert selfsigned example.com --out-dir src >/dev/null
chmod 0644 src/example.com.key # nobody reads the source
mkdir certs
chown nobody certs

as_nobody() { runuser -u nobody -- "$@"; }

expect_fail 1 as_nobody timeout 60 "$TLSGATE" cert import example.com src/example.com.crt src/example.com.key \
	--certs-dir certs --owner root:daemon
assert_contains "$OUT" "cannot set owner/mode of certs/example.com.key" "why the import failed"
assert_contains "$OUT" "run as root to use --owner" "the fix"
assert_eq "" "$(ls -A certs)" "the certs dir after the failed import"
pass "import as nobody with --owner root:daemon: refused, nothing left in certs/"

# An existing pair stays as it was.
tg cert selfsigned example.com --out-dir old >/dev/null
cp old/example.com.crt old/example.com.key certs/
chown nobody certs/*
before=$(snapshot certs)
expect_fail 1 as_nobody timeout 60 "$TLSGATE" cert import example.com src/example.com.crt src/example.com.key \
	--certs-dir certs --owner root:daemon
assert_eq "$before" "$(snapshot certs)" "the old pair after the failed import"
pass "a failed import over an existing pair leaves it as it was"
