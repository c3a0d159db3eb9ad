# shellcheck shell=bash
# The group commit tests' shared parts, sourced after lib.sh and lib/acme.sh:
#   group_start NAME [acme serve options]   the server for gI.example.test
#                  (I < $GROUP_N) and gbad.example.test on $GROUP_PORT
#   group_run      tests/e2e/acme_group.py start: the finalizes meet in one
#                  group while the test holds the CA's writer lock; state in
#                  $WORK/group.json
#   group_finish   restarts nothing; acme_group.py finish on the running server
#   assert_inventory_agrees   every valid order's serial is a valid row of
#                  the inventory with the served certificate's fingerprint,
#                  and the inventory holds no other gI/gbad row
GROUP_N=${GROUP_N:-8}
GROUP_HTTP01=$(free_port)
GROUP_PORT=$(free_port)

group_start() {
	local name=$1 i resolve=(--resolve gbad.example.test=127.0.0.1)
	shift
	for ((i = 0; i < GROUP_N; i++)); do
		resolve+=(--resolve "g$i.example.test=127.0.0.1")
	done
	# One client per account, all from 127.0.0.1: more than the 8 per peer.
	ACME_PORT_WANT=$GROUP_PORT start_acme "$name" --http01-port "$GROUP_HTTP01" \
		--max-conns-per-ip 0 "${resolve[@]}" "$@"
}

group_run() {
	PYTHONPATH="$TLSGATE_SRC/tests/e2e" timeout 300 python3 "$TLSGATE_SRC/tests/e2e/acme_group.py" \
		start "https://localhost:$GROUP_PORT" "$WORK/pki/root.crt" "$GROUP_HTTP01" "$GROUP_N" \
		"$WORK/pki/tlsgate.db-lock" "$WORK/group.json" >group-client.log 2>&1 ||
		fail "the group's client failed: $(tail -5 group-client.log)"
}

group_finish() {
	PYTHONPATH="$TLSGATE_SRC/tests/e2e" timeout 300 python3 "$TLSGATE_SRC/tests/e2e/acme_group.py" \
		finish "https://localhost:$GROUP_PORT" "$WORK/pki/root.crt" "$WORK/group.json" \
		>group-finish.log 2>&1 || fail "finishing the orders failed: $(tail -5 group-finish.log)"
}

# The ACME certificates' rows: "SERIAL STATUS CN" sorted.
group_rows() {
	tg cert list --dir "$WORK/pki" --json |
		jq -r '.[] | select(.cn | test("^g(bad|[0-9]+)\\.example\\.test$")) | "\(.serial) \(.status) \(.cn) \(.fingerprint_sha256)"' | sort
}

# The orders as the store has them: "NAME STATUS SERIAL" sorted.
group_orders() {
	tg acme orders --dir "$WORK/pki" --json |
		jq -r '.[] | "\(.identifiers[0].value) \(.status) \(.serial // "-")"' | sort
}

assert_inventory_agrees() {
	local want rows
	want=$(jq -r '.orders[] | select(.status == "valid") | "\(.cert.serial) valid \(.name) \(.cert.sha256)"' \
		"$WORK/group.json" | sort)
	rows=$(group_rows)
	assert_eq "$rows" "$want" "inventory rows == certificates served for valid orders ($1)"
	assert_eq "$(group_orders | awk '$2 == "valid" {print $3}' | sort)" \
		"$(awk '{print $1}' <<<"$want" | sort)" "valid orders' serials == inventory rows ($1)"
}
