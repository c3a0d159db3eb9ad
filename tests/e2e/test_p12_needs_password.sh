#!/usr/bin/env bash
# A PKCS#12 file is never written with an empty password by default: without
# a terminal to ask on, `cert issue --p12` needs --p12-pass-file or an
# explicit --p12-no-password (and `cert p12` --pass-file or --no-password);
# the usage error names both, and nothing is issued or written.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir pki >/dev/null
before=$(snapshot .)

expect_fail 2 tg cert issue alice --dir pki --client --p12
assert_contains "$OUT" "needs an export password" "issue --p12 refused"
assert_contains "$OUT" "--p12-pass-file FILE" "names --p12-pass-file"
assert_contains "$OUT" "--p12-no-password" "names --p12-no-password"
assert_eq "$before" "$(snapshot .)" "nothing issued, inventory unchanged"
[ -z "$(tg cert list --dir pki --json | python3 -c 'import json,sys; print([r["cn"] for r in json.load(sys.stdin) if r["cn"] == "alice"] or "")')" ] ||
	fail "alice is in the inventory"
pass "cert issue --p12 without a password source refused"

expect_fail 2 tg cert issue alice --dir pki --client --p12 --p12-no-password --p12-pass-file /dev/null
assert_contains "$OUT" "give either --p12-pass-file or --p12-no-password" "both given"
assert_eq "$before" "$(snapshot .)" "nothing issued"
pass "--p12-pass-file with --p12-no-password refused"

# Asked for by name: an empty password openssl opens.
tg cert issue alice --dir pki --client --p12 --p12-no-password >/dev/null
openssl pkcs12 -in pki/issued/alice.p12 -passin pass: -noout || fail "--p12-no-password p12"
printf 'p12 secret\n' >pw
tg cert issue bob --dir pki --client --p12 --p12-pass-file pw >/dev/null
openssl pkcs12 -in pki/issued/bob.p12 -passin file:pw -noout || fail "--p12-pass-file p12"
pass "--p12-no-password and --p12-pass-file write what they say"

before=$(snapshot .)
expect_fail 2 tg cert p12 --cert pki/issued/bob.crt --key pki/issued/bob.key --out bob.p12
assert_contains "$OUT" "bob.p12 needs an export password: give --pass-file FILE" "cert p12 refused"
assert_contains "$OUT" "--no-password" "cert p12 names --no-password"
[ ! -e bob.p12 ] || fail "cert p12 wrote a file"
assert_eq "$before" "$(snapshot .)" "nothing written"
tg cert p12 --cert pki/issued/bob.crt --key pki/issued/bob.key --out bob.p12 --no-password >/dev/null
openssl pkcs12 -in bob.p12 -passin pass: -noout || fail "cert p12 --no-password"
pass "cert p12 needs --pass-file or --no-password too"
