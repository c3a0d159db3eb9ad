#!/usr/bin/env bash
# `cert revoke --cert FILE` of a certificate this CA signed but its inventory
# lacks (what a crash between publishing and recording used to leave):
# recorded, revoked, with a warning, and on the next CRL. A certificate of
# another CA with the same name is refused (its signature does not verify)
# and nothing changes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir ca >/dev/null
tg cert issue lost.example --dir ca >/dev/null
serial=$(openssl x509 -in ca/issued/lost.example.crt -noout -serial | cut -d= -f2)
sqlite3 ca/tlsgate.db "delete from certs where cn = 'lost.example'"

out=$(tg cert revoke --cert ca/issued/lost.example.crt --dir ca --reason keyCompromise 2>&1)
assert_contains "$out" "warning: ca/issued/lost.example.crt (serial $serial) was signed by this CA but missing from its inventory; it is recorded now, then revoked" \
	"the warning"
assert_contains "$out" "Revoked $serial (keyCompromise)" "the revocation"
assert_eq "revoked|1|ca/issued/lost.example.crt" \
	"$(sqlite3 ca/tlsgate.db "select status, reason, cert_path from certs where serial = '$serial'")" "the row"
tg crl --dir ca >/dev/null
openssl crl -in ca/crl.pem -noout -text | grep -q "Serial Number: $serial" || fail "the CRL does not list $serial"
openssl verify -crl_check -CRLfile ca/crl.pem -CAfile ca/root.crt ca/issued/lost.example.crt >verify.log 2>&1 &&
	fail "openssl still accepts the revoked certificate"
assert_contains "$(cat verify.log)" "certificate revoked" "openssl verify"
pass "revoke --cert of an unrecorded certificate: recorded, revoked, on the CRL, with a warning"

# Same CA name, another key: refused by its signature, nothing changed.
tg ca init --dir other >/dev/null
tg cert issue lost.example --dir other >/dev/null
before=$(snapshot ca)
expect_fail 1 tg cert revoke --cert other/issued/lost.example.crt --dir ca
assert_contains "$OUT" "was not issued by the CA in ca" "a certificate of another CA"
assert_eq "$before" "$(snapshot ca)" "the CA after the refusal"
pass "a certificate of another CA with the same name is refused"
