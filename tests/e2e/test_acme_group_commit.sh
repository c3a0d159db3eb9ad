#!/usr/bin/env bash
# Finalize's group commit: 8 orders (8 accounts, python client) finalize at
# once while the test holds the CA's writer lock, with a second finalize of
# order 0 among them and a CSR with an extra name for another order. The
# first waits for the lock alone; the other 8 queue and are signed in one
# transaction once it is released: 7 recorded, and the second finalize of
# order 0 (whichever came second) refused alone, orderNotReady, its row
# rolled back. Every order gets a distinct certificate for its name that
# verifies against the root, with its row in the inventory; the bad CSR is
# refused (badCSR) without waiting and changes nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/acme_group.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme_group.sh"
cd "$WORK"

acme_ca
group_start acme
group_run
G=$WORK/group.json

# The refusal made while the lock was held: at once, why, nothing changed.
assert_eq "$(jq -r '.bad.answer | "\(.http) \(.type)"' "$G")" \
	"400 urn:ietf:params:acme:error:badCSR" "the CSR with an extra name"
assert_contains "$(jq -r .bad.answer.detail "$G")" "other.example.test" "the badCSR detail names the extra name"
assert_eq "$(jq -r .bad.status "$G")" "ready" "the refused order is still ready"

# Order 0 finalized twice: one certificate, one orderNotReady.
assert_eq "$(jq -r '[.orders[0].answers[] | "\(.http) \(if .http == 200 then .status else .type end)"] | sort | join(",")' "$G")" \
	"200 valid,403 urn:ietf:params:acme:error:orderNotReady" "order 0 finalized twice"
for ((i = 1; i < GROUP_N; i++)); do
	assert_eq "$(jq -r ".orders[$i].answers | map(\"\(.http) \(.status)\") | join(\",\")" "$G")" \
		"200 valid" "order $i's finalize"
done
# One leader alone, then the 8 that queued behind it in one commit.
wait_log acme.log "acme: $((GROUP_N - 1)) of $GROUP_N certificates recorded in one commit" 5
assert_eq "$(grep -c "certificates recorded in one commit" acme.log)" 1 "one group of several"

group_finish
for ((i = 0; i < GROUP_N; i++)); do
	assert_eq "$(jq -r ".orders[$i] | \"\(.status) \(.cert.sans | join(\",\"))\"" "$G")" \
		"valid g$i.example.test" "order $i's certificate"
	jq -r ".orders[$i].cert.pem" "$G" >"g$i.pem"
	openssl verify -CAfile pki/root.crt -untrusted "g$i.pem" "g$i.pem" >/dev/null ||
		fail "the certificate of order $i does not verify against the root"
done
assert_eq "$(jq -r '.orders[].cert.serial' "$G" | sort -u | wc -l)" "$GROUP_N" "distinct serials"
assert_inventory_agrees "no crash"
assert_eq "$(group_rows | grep -c gbad || true)" 0 "no row for the refused CSR"
assert_eq "$(group_orders | grep gbad)" "gbad.example.test ready -" "the refused order in the store"
pass "group commit: $GROUP_N finalizes, one refused alone, rows == certificates"
