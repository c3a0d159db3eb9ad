#!/usr/bin/env bash
# The ACME server's refusals (test_acme_refusals.py): replayed nonce, wrong
# url, bad signature, another account's kid, unauthorized revocation, a CSR
# with an extra name, a name outside the policy, a wrong challenge answer, a
# finalize before ready, EAB with a wrong MAC or absent, a body over the
# limit, and more; each with its problem type, status and reason, and the
# store unchanged. Two servers run on the one CA (SQLite shared by two
# processes): A, and B with --eab-required.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
# Refused at start, before anything is opened or written: no policy, a
# listen address with no name, a bad range.
before=$(snapshot pki)
expect_fail 2 tg acme serve --dir pki --listen "127.0.0.1:$(free_port)"
assert_contains "$OUT" "no --allow-domain or --allow-ip" "serve without a policy"
expect_fail 2 tg acme serve --dir pki --listen "0.0.0.0:$(free_port)" --allow-domain example.test
assert_contains "$OUT" "give --name HOST" "serve on a wildcard address without a name"
expect_fail 2 tg acme serve --dir pki --allow-ip 10.0.0.0/33
assert_contains "$OUT" "--allow-ip '10.0.0.0/33' is not an address or CIDR range" "a bad range"
expect_fail 2 tg acme serve --dir pki --allow-domain '*.example.test'
assert_contains "$OUT" "no wildcard needed" "a wildcard domain"
assert_eq "$before" "$(snapshot pki)" "the CA after refused starts"
start_acme_pair alice csr early wrong
out=$(tg acme eab add --dir pki --name carol --json)
EAB_KID=$(jq -r .kid <<<"$out")
EAB_KEY=$(jq -r .hmac_key <<<"$out")
# A key id never begins with '-' (a command line would take it for an option).
case $EAB_KID in eab-*) ;; *) fail "EAB key id '$EAB_KID' does not begin with eab-" ;; esac
assert_eq "carol unused" "$(tg acme eab list --dir pki --json | jq -r --arg k "$EAB_KID" '.[] | select(.kid == $k) | "\(.name) \(.account // "unused")"')" \
	"the EAB key before use"
# A second key, revoked before use: registering with it is refused.
out=$(tg acme eab add --dir pki --name gone --json)
EAB_KID2=$(jq -r .kid <<<"$out")
EAB_KEY2=$(jq -r .hmac_key <<<"$out")
tg acme eab revoke "$EAB_KID2" --dir pki >/dev/null
assert_eq "true" "$(tg acme eab list --dir pki --json | jq --arg k "$EAB_KID2" '.[] | select(.kid == $k) | .revoked != null')" \
	"the revoked EAB key in the list"
before=$(tg acme eab list --dir pki --json)
expect_fail 2 tg acme eab revoke "$EAB_KID2" --dir pki
assert_contains "$OUT" "no unrevoked EAB key $EAB_KID2" "revoking a key twice"
assert_eq "$before" "$(tg acme eab list --dir pki --json)" "the EAB keys after a refused revoke"
assert_not_contains "$(tg acme eab list --dir pki --json)" "$EAB_KEY" "the list (HMAC keys are never shown)"

TLSGATE=$TLSGATE PKI=$WORK/pki HTTP01=$HTTP01 EAB_KID=$EAB_KID EAB_KEY=$EAB_KEY \
	EAB_KID2=$EAB_KID2 EAB_KEY2=$EAB_KEY2 \
	ACME_A="https://localhost:$A_PORT" ACME_B="https://localhost:$B_PORT" \
	timeout 300 python3 "$TLSGATE_SRC/tests/e2e/test_acme_refusals.py" >refusals.log 2>&1 ||
	fail "refusals: $(tail -20 refusals.log)"
cat refusals.log
assert_contains "$(cat refusals.log)" "refusals checked" "the refusal script ran to its end"
# The logs name each refusal's problem type.
grep -q "POST /acme/new-order 400 account=.* problem=urn:ietf:params:acme:error:rejectedIdentifier" acme-a.log ||
	fail "the rejectedIdentifier refusal is not in the request log"
grep -q "POST /acme/new-account 403 account=- problem=urn:ietf:params:acme:error:externalAccountRequired" acme-b.log ||
	fail "the externalAccountRequired refusal is not in the request log"
assert_eab_bound "$EAB_KID"
pass "every refusal had its problem type, status and reason, and changed nothing"
