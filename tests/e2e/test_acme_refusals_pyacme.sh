#!/usr/bin/env bash
# The ACME server's refusals through Debian's python3-acme
# (test_acme_refusals_pyacme.py): the library's client does the normal
# parts and its JWS code makes the bad requests (replayed nonce, wrong url,
# bad signature, another account's kid); then an unauthorized revocation, a
# CSR with an extra name, a name outside the policy, a wrong http-01
# answer, a finalize before ready, EAB with a wrong MAC. Each with its
# status, problem type and reason, the store unchanged. Two servers on one
# CA: A, and B with --eab-required.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
need_pyacme
cd "$WORK"

acme_ca
start_acme_pair alice csr early wrong
out=$(tg acme eab add --dir pki --name carol --json)
EAB_KID=$(jq -r .kid <<<"$out")

REQUESTS_CA_BUNDLE=$WORK/pki/root.crt TLSGATE=$TLSGATE PKI=$WORK/pki HTTP01=$HTTP01 \
	EAB_KID=$EAB_KID EAB_KEY=$(jq -r .hmac_key <<<"$out") \
	ACME_A="https://localhost:$A_PORT" ACME_B="https://localhost:$B_PORT" \
	timeout 300 "$PY" "$TLSGATE_SRC/tests/e2e/test_acme_refusals_pyacme.py" >pyacme.log 2>&1 ||
	fail "refusals through python3-acme: $(tail -20 pyacme.log)"
cat pyacme.log
assert_contains "$(cat pyacme.log)" "14 refusals checked with python3-acme" "the refusal script ran to its end"
# Each refusal reached the server as a request and was logged with its problem.
for p in badNonce unauthorized malformed rejectedIdentifier orderNotReady badCSR; do
	grep -q "POST /acme/.* 4[0-9][0-9] .*problem=urn:ietf:params:acme:error:$p" acme-a.log ||
		fail "no $p refusal in server A's request log"
done
grep -q "POST /acme/new-account 403 account=- problem=urn:ietf:params:acme:error:unauthorized" acme-b.log ||
	fail "the EAB refusal is not in server B's request log"
assert_eab_bound "$EAB_KID"
pass "python3-acme saw every refusal with its problem type, status and reason, and nothing changed"
