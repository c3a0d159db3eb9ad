#!/usr/bin/env bash
# CRL Distribution Points (testssl.sh rated certificates without a revocation
# pointer): `ca init --crl-url` puts the issuing CA's CRL URL into every leaf
# (cert issue, batch, sign, renew) and --root-crl-url the root's into the
# intermediate; `ca set` changes them for what is issued next. A python
# http.server on loopback serves the CRLs `tlsgate crl` wrote (as DER), and
# `openssl verify -crl_check[_all] -crl_download` fetches them from the URLs
# in the certificates: a good certificate passes, a revoked one is refused.
# inspect shows the URL, check does not complain. Bad URLs are refused with
# nothing changed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

# The CRL server holds its port from the start (the port goes into the
# certificates); it serves www/, filled once the CRLs exist.
HP=$(free_port)
mkdir www
start_bg http python3 -u -m http.server "$HP" --bind 127.0.0.1 --directory www
URL=http://127.0.0.1:$HP/ca.crl
ROOT_URL=http://127.0.0.1:$HP/root.crl
tg ca init --dir pki --intermediate --crl-url "$URL" --root-crl-url "$ROOT_URL" >init.log
assert_contains "$(cat init.log)" "CRL published at: $URL" "ca init says where the CRL goes"

cdp() { openssl x509 -in "$1" -noout -text | grep -A3 "CRL Distribution Points" | grep -o 'URI:[^ ]*' | tr '\n' ' '; }

tg cert issue good.example --dir pki >/dev/null
tg cert issue bad.example --dir pki >/dev/null
printf 'b1.example\nb2.example\n' >names
tg cert issue --batch names --client --dir pki >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout csr.key \
	-subj /CN=csr.example -out csr.pem 2>/dev/null
tg cert sign csr.pem --dir pki --out signed.crt >/dev/null
tg cert renew --dir pki --within 400d >/dev/null
for c in pki/issued/good.example.crt pki/issued/b1.example.crt pki/issued/b2.example.crt signed.crt; do
	assert_eq "URI:$URL " "$(cdp "$c")" "$c carries the issuing CA's CRL URL"
done
assert_eq "URI:$ROOT_URL " "$(cdp pki/intermediate.crt)" "the intermediate carries the root's CRL URL"
assert_eq "" "$(cdp pki/root.crt)" "the root carries none"
pass "issue, batch, sign and renew put the CRL URL in; the intermediate the root's"

text=$(tg inspect pki/issued/good.example.crt)
assert_contains "$text" "CRL at          URI:$URL" "inspect shows it"
assert_eq "URI:$URL" "$(tg inspect --json pki/issued/good.example.crt | jq -r '.certificates[0].crl_distribution_points')" "inspect --json"
tg check pki/issued/good.example.crt pki/issued/good.example.key --ca pki/root.crt >check.log ||
	fail "check complains about a certificate with a CRL URL: $(cat check.log)"
pass "inspect shows the URL; check is clean"

# The CRLs, served where the certificates say, in DER (RFC 5280 4.2.1.13).
tg cert revoke --cert pki/issued/bad.example.crt --dir pki >/dev/null
tg crl --dir pki >/dev/null
awk '/BEGIN X509 CRL/{n++} {print > ("crl" n ".pem")}' pki/crl.pem
openssl crl -in crl1.pem -outform der -out www/ca.crl
openssl crl -in crl2.pem -outform der -out www/root.crl
wait_port "$HP"
# -crl_check: the leaf's CRL, from the leaf's URL; the intermediate checked
# the same way from its own URL (a root has no URL to fetch its CRL from, so
# -crl_check_all would stop at the root whatever the URLs).
verify() { openssl verify -crl_check -crl_download -CAfile pki/root.crt -untrusted pki/intermediate.crt "$@" 2>&1; }
out=$(openssl verify -crl_check -crl_download -CAfile pki/root.crt pki/intermediate.crt 2>&1) ||
	fail "the intermediate is refused: $out"
out=$(verify pki/issued/good.example.crt) || fail "a good certificate is refused: $out"
assert_contains "$out" "OK" "openssl verify -crl_download, good certificate"
rc=0; out=$(verify pki/issued/bad.example.crt) || rc=$?
[ "$rc" != 0 ] || fail "a revoked certificate passes -crl_download: $out"
assert_contains "$out" "certificate revoked" "openssl verify -crl_download, revoked certificate"
grep -q "GET /ca.crl" "$WORK/http.log" || fail "openssl did not fetch $URL"
grep -q "GET /root.crl" "$WORK/http.log" || fail "openssl did not fetch $ROOT_URL"
pass "openssl verify fetched both CRLs from the URLs: good passes, revoked refused"

# An existing CA without a URL gets one with ca set; bad URLs change nothing.
tg ca init --dir plain >/dev/null
tg cert issue before.example --dir plain >/dev/null
assert_eq "" "$(cdp plain/issued/before.example.crt)" "no URL by default"
before=$(snapshot plain)
for bad in ftp://x/ca.crl http:///ca.crl "http://a b/c" ldap://x; do
	expect_fail 2 "$TLSGATE" ca set --dir plain --crl-url "$bad"
	assert_contains "$OUT" "--crl-url: CRL URL" "ca set refuses '$bad'"
done
expect_fail 2 "$TLSGATE" ca set --dir plain --root-crl-url http://x/root.crl
assert_contains "$OUT" "has none: its root issues, so its CRL is --crl-url" "--root-crl-url without an intermediate"
assert_eq "$before" "$(snapshot plain)" "the refusals changed nothing"
out=$(tg ca set --dir plain --crl-url https://pki.example.com/plain.crl)
assert_eq "crl-url = https://pki.example.com/plain.crl" "$out" "ca set prints the setting"
tg cert issue after.example --dir plain >/dev/null
assert_eq "URI:https://pki.example.com/plain.crl " "$(cdp plain/issued/after.example.crt)" "issued after ca set"
tg ca set --dir plain --no-crl-url >/dev/null
tg cert issue none.example --dir plain >/dev/null
assert_eq "" "$(cdp plain/issued/none.example.crt)" "after --no-crl-url"
pass "ca set adds, refuses bad URLs without a change, and removes the URL"
