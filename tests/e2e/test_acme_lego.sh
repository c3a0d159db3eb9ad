#!/usr/bin/env bash
# lego against `tlsgate acme serve`: run and renew with http-01 and with
# tls-alpn-01 (lego answers on free ports the server is pointed at), then
# revoke: the serial is revoked in the inventory and in the next
# `tlsgate crl`, which openssl reads.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
command -v lego >/dev/null || { echo "SKIP: lego not installed (scripts/deps.sh test)"; exit 77; }
cd "$WORK"

acme_ca
HTTP01=$(free_port)
ALPN=$(free_port)
start_acme acme --http01-port "$HTTP01" --tlsalpn01-port "$ALPN" \
	--resolve h.example.test=127.0.0.1 --resolve t.example.test=127.0.0.1
export LEGO_CA_CERTIFICATES=$WORK/pki/root.crt
LEGO=(--server "$ACME_DIR" --accept-tos --email ops@example.test --path "$WORK/lego")

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
status_of() { tg cert list --dir pki --json | jq -r --arg s "$1" '.[] | select(.serial == $s) | .status'; }

# lego_do NAME ARGS...: lego with a time limit, its output in NAME.log.
lego_do() {
	local name=$1
	shift
	timeout 120 lego "${LEGO[@]}" "$@" >"$name.log" 2>&1 || fail "lego $*: $(tail -5 "$name.log")"
}

verify() {
	local out
	out=$(openssl verify -CAfile pki/root.crt -untrusted "lego/certificates/$1.issuer.crt" \
		-verify_hostname "$1" -purpose sslserver "lego/certificates/$1.crt" 2>&1) ||
		fail "openssl verify $1: $out"
}

# --- http-01: run, then renew ---
lego_do run-http -d h.example.test --http --http.port "127.0.0.1:$HTTP01" run
verify h.example.test
H1=$(serial_of lego/certificates/h.example.test.crt)
lego_do renew-http -d h.example.test --http --http.port "127.0.0.1:$HTTP01" renew --days 1000 --no-random-sleep
H2=$(serial_of lego/certificates/h.example.test.crt)
[ "$H1" != "$H2" ] || fail "lego renew kept serial $H1"
verify h.example.test
assert_eq "valid valid" "$(status_of "$H1") $(status_of "$H2")" "inventory rows of both"
grep -q "http-01 dns:h.example.test for account .*: valid" acme.log || fail "no http-01 validation logged"
pass "lego http-01: run ($H1) and renew ($H2), both in the inventory"

# --- tls-alpn-01: run, then renew ---
lego_do run-alpn -d t.example.test --tls --tls.port "127.0.0.1:$ALPN" run
verify t.example.test
T1=$(serial_of lego/certificates/t.example.test.crt)
lego_do renew-alpn -d t.example.test --tls --tls.port "127.0.0.1:$ALPN" renew --days 1000 --no-random-sleep
T2=$(serial_of lego/certificates/t.example.test.crt)
[ "$T1" != "$T2" ] || fail "lego renew kept serial $T1"
grep -q "tls-alpn-01 dns:t.example.test for account .*: valid" acme.log ||
	fail "no tls-alpn-01 validation logged"
pass "lego tls-alpn-01: run ($T1) and renew ($T2)"

# --- revoke: in the inventory with lego's reason, then in the CRL ---
# lego archives what it revoked: keep a copy to check against the CRL.
cp -a lego/certificates kept
cp lego/certificates/t.example.test.crt lego/certificates/t.example.test.issuer.crt .
lego_do revoke -d t.example.test revoke --reason 4
assert_eq revoked "$(status_of "$T2")" "status of $T2 after lego revoke"
assert_eq superseded "$(tg cert list --dir pki --json | jq -r --arg s "$T2" '.[] | select(.serial == $s) | .reason')" \
	"reason of $T2"
wait_log acme.log "revoked $T2 (superseded) by account"
tg crl --dir pki >/dev/null
crl=$(openssl crl -in pki/crl.pem -noout -text)
assert_contains "$crl" "Serial Number: $T2" "the CRL after lego revoke"
assert_not_contains "$crl" "Serial Number: $H2" "the CRL (a certificate not revoked)"
# What the CRL says, openssl's verify says too.
out=$(openssl verify -crl_check -CRLfile pki/crl.pem -CAfile pki/root.crt \
	-untrusted t.example.test.issuer.crt t.example.test.crt 2>&1 || true)
assert_contains "$out" "certificate revoked" "openssl verify with the CRL"
# A second revocation is refused with alreadyRevoked.
cp kept/t.example.test.* lego/certificates/
timeout 60 lego "${LEGO[@]}" -d t.example.test revoke >revoke-again.log 2>&1 &&
	fail "a second revocation succeeded"
assert_contains "$(cat revoke-again.log)" "alreadyRevoked" "second revocation"
pass "lego revoke: $T2 revoked (superseded), in the next CRL; again: alreadyRevoked"
