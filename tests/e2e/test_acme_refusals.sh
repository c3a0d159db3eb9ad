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
HTTP01=$(free_port)
RESOLVE=()
for n in alice csr early wrong; do
	RESOLVE+=(--resolve "$n.example.test=127.0.0.1")
done
start_acme acme-a --http01-port "$HTTP01" "${RESOLVE[@]}"
A_PORT=$ACME_PORT
start_acme acme-b --http01-port "$HTTP01" --eab-required "${RESOLVE[@]}"
B_PORT=$ACME_PORT
out=$(tg acme eab add --dir pki --name carol --json)
EAB_KID=$(jq -r .kid <<<"$out")
EAB_KEY=$(jq -r .hmac_key <<<"$out")
assert_eq "carol unused" "$(tg acme eab list --dir pki --json | jq -r '.[0] | "\(.name) \(.account // "unused")"')" \
	"the EAB key before use"

TLSGATE=$TLSGATE PKI=$WORK/pki HTTP01=$HTTP01 EAB_KID=$EAB_KID EAB_KEY=$EAB_KEY \
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
bound=$(tg acme eab list --dir pki --json | jq -r '.[0].account')
assert_eq "$bound" "$(tg acme accounts --dir pki --json | jq -r --arg k "$EAB_KID" '.[] | select(.eab_kid == $k) | .id')" \
	"the account the EAB key bound"
pass "every refusal had its problem type, status and reason, and changed nothing"
