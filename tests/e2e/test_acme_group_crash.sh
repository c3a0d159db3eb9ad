#!/usr/bin/env bash
# A kill -9 in finalize's group commit (TLSGATE_CRASH_AT, the second group:
# the first is the one finalize that waited for the test's writer lock
# alone, the second the 8 that queued behind it): before its commit
# (sign-group-recorded), none of the group is in the inventory and its
# orders are still ready, finalized again after a restart; after its commit
# (sign-group-committed), every order of the group is valid with its row
# though no client got an answer, and the certificates served after the
# restart are the inventory's. Either way no certificate is served without
# its row, and no row is left without its order.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
# shellcheck source=lib/acme_group.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme_group.sh"
cd "$WORK"
G=$WORK/group.json

# crash STEP: one round on a fresh CA, killed at STEP of the second group.
crash() {
	local step=$1 pid
	rm -rf pki group.json
	acme_ca
	TLSGATE_CRASH_AT="$step:2" group_start "acme-$step"
	pid=$ACME_PID
	group_run
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "the server did not die at $step"
	# Between the kill and a restart: the store agrees with itself.
	assert_eq "$(group_orders | awk '$2 == "valid" {print $3}' | sort)" \
		"$(group_rows | awk '{print $1}' | sort)" "valid orders' serials == inventory rows after the kill at $step"
	assert_eq "$(group_rows | awk '$2 != "valid"')" "" "no row but valid ones after the kill at $step"
	# The clients of the killed group got no answer.
	assert_eq "$(jq '[.orders[].answers[] | select(.http == 0)] | length' "$G")" "$GROUP_N" \
		"finalizes left without an answer by the kill at $step"
	group_start "acme-$step-again"
	group_finish
	assert_inventory_agrees "killed at $step"
	assert_eq "$(jq -r '[.orders[].status] | unique | join(",")' "$G")" valid \
		"every order valid after the restart ($step)"
	assert_eq "$(jq -r '.orders[].cert.serial' "$G" | sort -u | wc -l)" "$GROUP_N" "distinct serials ($step)"
	kill "$ACME_PID"
	wait "$ACME_PID" 2>/dev/null || true
}

crash sign-group-recorded
# One order (the first group's) was valid before the restart, the rest ready.
assert_eq "$(jq -r '[.orders[].status_before] | sort | join(",")' "$G")" \
	"ready,ready,ready,ready,ready,ready,ready,valid" "orders at the restart after the kill before the commit"
pass "killed before the group's commit: nothing of it recorded, finalized again"

crash sign-group-committed
assert_eq "$(jq -r '[.orders[].status_before] | unique | join(",")' "$G")" valid \
	"orders at the restart after the kill after the commit"
pass "killed after the group's commit: all of it recorded, served after the restart"
