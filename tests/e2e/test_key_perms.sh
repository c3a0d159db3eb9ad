#!/usr/bin/env bash
# The gateway refuses a private key other users can read (PostgreSQL's rule:
# 0600 owned by the gateway's user, or 0640 owned by root), says why and how
# to fix it, and starts once the mode is fixed. Also: a key that does not
# match, a reversed chain and a passphrase key without a passphrase are
# refused with their own messages.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Perm CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/other" "$WORK/ca"/ca server "/CN=other" "DNS:other"
BP=$(free_port); GP=$(free_port)
run() { timeout 20 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --workers 1 "$@"; }

chmod 644 "$WORK/server.key"
set +e
out=$(run --cert "$WORK/server.crt" --key "$WORK/server.key" 2>&1); rc=$?
set -e
assert_eq 1 "$rc" "0644 key: refuses to start (exit 1)"
assert_contains "$out" "has mode 0644" "0644 key: says the mode"
assert_contains "$out" "other users can read the private key" "0644 key: says why"
assert_contains "$out" "chmod 600 $WORK/server.key" "0644 key: says the fix"
if (exec 3<>"/dev/tcp/127.0.0.1/$GP") 2>/dev/null; then fail "something listens on $GP"; fi
pass "0644 key: nothing listening"
out=$(run --cert "$WORK/server.crt" --key "$WORK/server.key" --test 2>&1 || true)
assert_contains "$out" "has mode 0644" "--test reports the loose key too"

chmod 600 "$WORK/server.key"
out=$(run --cert "$WORK/server.crt" --key "$WORK/server.key" --test 2>&1)
assert_contains "$out" "configuration ok" "0600 key: --test passes"

set +e
out=$(run --cert "$WORK/server.crt" --key "$WORK/other.key" 2>&1); rc=$?
set -e
assert_eq 1 "$rc" "mismatched key: exit 1"
assert_contains "$out" "does not match certificate" "mismatched key: says so"

cat "$WORK/ca/ca.crt" "$WORK/server.crt" >"$WORK/reversed.crt"
out=$(run --cert "$WORK/reversed.crt" --key "$WORK/server.key" 2>&1 || true)
assert_contains "$out" "wrong order" "reversed chain: named (not 'no shared cipher')"

openssl pkey -in "$WORK/server.key" -aes256 -passout pass:s3cret -out "$WORK/enc.key"
chmod 600 "$WORK/enc.key"
out=$(run --cert "$WORK/server.crt" --key "$WORK/enc.key" --test 2>&1 || true)
assert_contains "$out" "protected by a passphrase" "encrypted key without passphrase: says so"
echo s3cret >"$WORK/pass"
out=$(run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-file "$WORK/pass" --test 2>&1)
assert_contains "$out" "configuration ok" "encrypted key with --pass-file works"
out=$(run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-command "echo s3cret" --test 2>&1)
assert_contains "$out" "configuration ok" "encrypted key with --pass-command works"
echo wrong >"$WORK/pass"
out=$(run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-file "$WORK/pass" --test 2>&1 || true)
assert_contains "$out" "wrong passphrase" "wrong passphrase: says so"
echo "all key checks passed"
