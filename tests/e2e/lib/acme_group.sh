# shellcheck shell=bash
# The group commit tests' shared parts, sourced after lib.sh and lib/acme.sh:
#   group_start NAME [acme serve options]   the server for gI.example.test
#                  (I < $GROUP_N) and gbad.example.test on $GROUP_PORT
#   group_run      tests/e2e/acme_group.py start: the finalizes meet in one
#                  group while the test holds the CA's writer lock
#                  ($GROUP_LOCK, default SQLite's lock file); state in
#                  $WORK/group.json
#   group_commit_checks [acme serve options]   test_acme_group_commit's
#                  finalizes and checks, on a CA already made (acme_ca)
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
		"${GROUP_LOCK:-flock:$WORK/pki/tlsgate.db-lock}" "$WORK/group.json" >group-client.log 2>&1 ||
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

group_commit_checks() {
	local i G=$WORK/group.json
	group_start acme "$@"
	group_run

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
}
