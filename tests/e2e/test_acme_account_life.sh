#!/usr/bin/env bash
# An ACME account's life (test_acme_account_life.py): contact update, key
# rollover and its 409, revocation by the certificate's key and by an
# account holding authorizations, authorization and account deactivation;
# the inventory and the server's log agree.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
HTTP01=$(free_port)
start_acme acme --http01-port "$HTTP01" --resolve life1.example.test=127.0.0.1 \
	--resolve life2.example.test=127.0.0.1
TLSGATE=$TLSGATE PKI=$WORK/pki HTTP01=$HTTP01 ACME_A="https://localhost:$ACME_PORT" \
	timeout 300 python3 "$TLSGATE_SRC/tests/e2e/test_acme_account_life.py" >life.log 2>&1 ||
	fail "account life: $(tail -20 life.log)"
cat life.log
assert_eq 7 "$(grep -c '^ok - ' life.log)" "steps of the account's life"
grep -q "rolled over to key" acme.log || fail "the key rollover is not logged"
grep -q "revoked .* (keyCompromise) by the certificate's key" acme.log ||
	fail "the revocation by the certificate's key is not logged"
assert_eq "valid deactivated" \
	"$(tg acme accounts --dir pki --json | jq -r 'sort_by(.contact | length) | reverse | map(.status) | join(" ")')" \
	"alice's (with a contact) and bob's accounts"
pass "contact, key rollover, revocations, deactivations"
