#!/usr/bin/env bash
# cert import refuses what the service would load but its clients would
# reject: an expired (or not yet valid) certificate, a leaf whose issuer is
# neither in the file nor a known root, a HOST the certificate does not
# name. Each refusal says why and how to fix it and changes nothing;
# --force installs anyway with a warning.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir ca --intermediate >/dev/null
tg cert issue example.com --dir ca --san www.example.com >/dev/null
# A CA of two years ago that issued a 30-day certificate: long expired.
faketime -f '-730d' "$TLSGATE" ca init --dir oldca --intermediate >/dev/null
faketime -f '-730d' "$TLSGATE" cert issue old.example --dir oldca --days 30 >/dev/null
# A CA without intermediate: its leaves are signed by the root itself.
tg ca init --dir rootca >/dev/null
tg cert issue direct.example --dir rootca >/dev/null
# The leaf alone, without the intermediate that follows it in the .crt.
openssl x509 -in ca/issued/example.com.crt -out leaf-only.crt

mkdir certs
tg cert import example.com ca/issued/example.com.crt ca/issued/example.com.key --certs-dir certs >/dev/null
before=$(snapshot certs)
unchanged() { assert_eq "$before" "$(snapshot certs)" "$1: the certs dir changed"; }

expect_fail 1 tg cert import old.example oldca/issued/old.example.crt oldca/issued/old.example.key \
	--certs-dir certs
assert_contains "$OUT" "the certificate CN=old.example expired on" "expired: why"
assert_contains "$OUT" "renew it" "expired: fix"
assert_contains "$OUT" "--force installs it anyway" "expired: the way out"
unchanged "expired"
pass "an expired certificate is refused"

expect_fail 1 tg cert import example.com leaf-only.crt ca/issued/example.com.key --certs-dir certs
assert_contains "$OUT" "holds no certificate of the leaf's issuer" "no intermediate: why"
assert_contains "$OUT" "append the intermediate (certbot: fullchain.pem, not cert.pem)" "no intermediate: fix"
unchanged "no intermediate"
pass "a leaf without its intermediate is refused"

expect_fail 1 tg cert import other.example ca/issued/example.com.crt ca/issued/example.com.key --certs-dir certs
assert_contains "$OUT" "does not cover other.example (it names DNS:example.com,DNS:www.example.com)" "host: why"
[ ! -e certs/other.example.crt ] && [ ! -e certs/other.example.key ] || fail "host: files written"
unchanged "host"
# The certbot deploy hook checks each renewed domain the same way.
mkdir -p live/example.com
cp ca/issued/example.com.crt live/example.com/fullchain.pem
cp ca/issued/example.com.key live/example.com/privkey.pem
expect_fail 1 env RENEWED_LINEAGE="$PWD/live/example.com" RENEWED_DOMAINS="example.com nope.example" \
	"$TLSGATE" cert import --certs-dir certs
assert_contains "$OUT" "does not cover nope.example" "hook: uncovered domain"
pass "a HOST the certificate does not name is refused"

# A leaf signed by a root directly: refused until the root is named with --ca.
expect_fail 1 tg cert import direct.example rootca/issued/direct.example.crt \
	rootca/issued/direct.example.key --certs-dir certs
assert_contains "$OUT" "name it with --ca ROOT.crt" "root-signed leaf: fix"
unchanged "root-signed leaf"
tg cert import direct.example rootca/issued/direct.example.crt rootca/issued/direct.example.key \
	--certs-dir certs --ca rootca/root.crt >/dev/null
openssl verify -CAfile rootca/root.crt certs/direct.example.crt >/dev/null
pass "a root-signed leaf is installed once --ca names its root"

# A self-signed certificate is its own issuer: installed as it is.
tg cert selfsigned self.example --out-dir self >/dev/null
tg cert import self.example self/self.example.crt self/self.example.key --certs-dir certs >/dev/null ||
	fail "a self-signed certificate was refused"
cmp -s self/self.example.crt certs/self.example.crt || fail "the self-signed certificate was not installed"
pass "a self-signed certificate is installed"

# --force: installed, with the reasons as a warning.
tg cert import old.example oldca/issued/old.example.crt oldca/issued/old.example.key \
	--certs-dir certs --force >force.out 2>force.err
assert_contains "$(cat force.err)" "warning: installing oldca/issued/old.example.crt for old.example anyway (--force)" "--force warns"
assert_contains "$(cat force.err)" "expired on" "--force says why"
cmp -s <(openssl x509 -in certs/old.example.crt) <(openssl x509 -in oldca/issued/old.example.crt) ||
	fail "--force did not install the certificate"
pass "--force installs anyway, with a warning"
