#!/usr/bin/env bash
# `tlsgate check --config` checks the files a gateway config names: a clean
# config passes; a key that does not match its cert, an expired CRL and a
# broken passphrase setup are each found, naming the listener's file.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca >/dev/null
"$TLSGATE" cert issue gw.example --dir ca >/dev/null
"$TLSGATE" cert issue other.example --dir ca >/dev/null
"$TLSGATE" crl --dir ca >/dev/null
cat > good.ini <<INI
[listener web]
listen = 127.0.0.1:8443
target = 127.0.0.1:8080
mode = http
cert = $WORK/ca/issued/gw.example.crt
key = $WORK/ca/issued/gw.example.key
client-ca = $WORK/ca/root.crt
verify = require
crl = $WORK/ca/crl.pem
INI
"$TLSGATE" serve --config good.ini --test >/dev/null
out=$("$TLSGATE" check --config good.ini --ca ca/root.crt --no-system-ca)
assert_contains "$out" "All checks passed" "clean gateway config"
pass "a clean gateway config passes"

# The wrong key for the listener's cert.
sed "s|gw.example.key|other.example.key|" good.ini > mismatch.ini
rc=0
out=$("$TLSGATE" check --config mismatch.ini --ca ca/root.crt --no-system-ca --json) || rc=$?
assert_eq 1 "$rc" "exit on mismatch"
codes=$(echo "$out" | jq -r '[.subjects[].findings[] | select(.severity=="error") | .code] | unique | join(",")')
assert_contains "$codes" "key-mismatch" "mismatched key found"
pass "the wrong key for a listener's cert is found"

# An expired CRL.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	faketime -f '-40d' "$TLSGATE" crl --dir ca --days 1 --out old-crl.pem >/dev/null
sed "s|$WORK/ca/crl.pem|$WORK/old-crl.pem|" good.ini > oldcrl.ini
rc=0
out=$("$TLSGATE" check --config oldcrl.ini --ca ca/root.crt --no-system-ca) || rc=$?
assert_eq 1 "$rc" "exit on an expired CRL"
assert_contains "$out" "crl-expired" "expired CRL found"
assert_contains "$out" "old-crl.pem" "the CRL file is named"
pass "an expired CRL in a listener is found"

# A config that names a missing file: exit 2 with the listener named.
sed "s|gw.example.crt|missing.crt|" good.ini > missing.ini
rc=0
out=$("$TLSGATE" check --config missing.ini --ca ca/root.crt --no-system-ca 2>&1) || rc=$?
assert_contains "$out" "missing.crt" "missing file named"
[ "$rc" -ne 0 ] || fail "a missing cert file passed"
pass "a missing file is reported"

# A config that does not parse is a usage/config error, not a pass.
printf '[listener x]\nbogus-key = 1\n' > broken.ini
expect_fail 2 "$TLSGATE" check --config broken.ini
assert_contains "$OUT" "bogus-key" "unknown key named"
pass "a broken config is refused"

# `tlsgate check CERT KEY` pairs the two it was given, whatever their names.
rc=0
out=$("$TLSGATE" check ca/issued/gw.example.crt ca/issued/other.example.key --ca ca/root.crt \
	--no-system-ca) || rc=$?
assert_eq 1 "$rc" "exit on an explicit mismatched pair"
assert_contains "$out" "key-mismatch" "explicit pair mismatch"
assert_contains "$out" "other.example" "the cert the key belongs to is named"
out=$("$TLSGATE" check ca/issued/gw.example.crt ca/issued/gw.example.key --ca ca/root.crt --no-system-ca)
assert_contains "$out" "All checks passed" "explicit matching pair"
pass "check CERT KEY pairs them"
