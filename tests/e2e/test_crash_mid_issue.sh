#!/usr/bin/env bash
# kill -9 in the middle of a large batch: no file at a final name is partial,
# the inventory is consistent (the interrupted batch left no rows) and the next
# run succeeds, sweeping the dead writer's temporary files.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca >/dev/null
"$TLSGATE" cert issue before.example --dir ca >/dev/null
seq -f "dev-%05g" 1 20000 > names
for attempt in 1 2 3; do
	rm -rf fleet
	"$TLSGATE" cert issue --batch names --dir ca --client --out-dir fleet >crash.log 2>&1 &
	pid=$!
	# Wait until the batch is under way (temp files appear), then kill it.
	for _ in $(seq 1 400); do
		ls -A fleet 2>/dev/null | grep -q . && break
		sleep 0.01
	done
	sleep 0.$((RANDOM % 5 + 1))
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true

	# Every file at a final name is complete and parses.
	for f in fleet/*.crt; do
		[ -e "$f" ] || continue
		openssl x509 -in "$f" -noout 2>/dev/null || fail "partial certificate $f"
	done
	for f in fleet/*.key; do
		[ -e "$f" ] || continue
		openssl pkey -in "$f" -noout 2>/dev/null || fail "partial key $f"
	done
	assert_eq ok "$(sqlite3 ca/tlsgate.db 'PRAGMA integrity_check')" "integrity after kill -9"
	rows=$(sqlite3 ca/tlsgate.db "SELECT count(*) FROM certs WHERE cn LIKE 'dev-%'")
	assert_eq 0 "$rows" "an interrupted batch leaves no inventory rows"
	assert_eq 1 "$(sqlite3 ca/tlsgate.db "SELECT count(*) FROM certs WHERE cn='before.example'")" \
		"earlier issues survive"
done
pass "kill -9 mid-batch: nothing partial, inventory consistent"

# The next run sweeps the dead writer's temp files and works.
leftover=$(ls -A fleet | grep -c '^\.tlsgate-tmp-' || true)
[ "$leftover" -gt 0 ] || fail "the kill did not land mid-batch (no temp files left)"
rm -f fleet/*.crt fleet/*.key
"$TLSGATE" cert issue after.example --dir ca --out-dir fleet >/dev/null
assert_eq 0 "$(ls -A fleet | grep -c '^\.tlsgate-tmp-' || true)" "stale temp files swept (had $leftover)"
openssl verify -CAfile ca/root.crt fleet/after.example.crt >/dev/null
pass "next run sweeps stale temp files"
