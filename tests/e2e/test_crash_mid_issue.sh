#!/usr/bin/env bash
# kill -9 of a large batch, once while it signs (only staged files exist) and
# once as soon as its first certificate appears at its final name: no file at
# a final name is partial, no certificate is at its final name without its
# row, and the next run settles the rest, says so, and sweeps the dead
# writer's staged files: files == inventory (lib/inventory.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/inventory.sh
. "$(dirname "$0")/lib/inventory.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca >/dev/null
"$TLSGATE" cert issue before.example --dir ca >/dev/null
seq -f "dev-%05g" 1 600 >names

# kill_batch DIR PATTERN: start the batch into DIR, kill -9 it once a file
# matching PATTERN shows there.
kill_batch() {
	local pid fleet=$1
	"$TLSGATE" cert issue --batch names --dir ca --client --out-dir "$fleet" >crash.log 2>&1 &
	pid=$!
	for _ in $(seq 1 3000); do
		compgen -G "$fleet/$2" >/dev/null && break
		kill -0 "$pid" 2>/dev/null || fail "the batch ended before it could be killed"
		sleep 0.01
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	assert_not_contains "$(cat crash.log)" "Issued" "output of the killed batch"
	for f in "$fleet"/*.crt; do
		[ -e "$f" ] || continue
		openssl x509 -in "$f" -noout 2>/dev/null || fail "partial certificate $f"
	done
	for f in "$fleet"/*.key; do
		[ -e "$f" ] || continue
		openssl pkey -in "$f" -noout 2>/dev/null || fail "partial key $f"
	done
	assert_eq ok "$(sqlite3 ca/tlsgate.db 'PRAGMA integrity_check')" "integrity after kill -9"
}

# While signing: nothing recorded, only staged files, swept by the next run.
kill_batch fleet '.tlsgate-tmp-*'
assert_eq 0 "$(sqlite3 ca/tlsgate.db "SELECT count(*) FROM certs WHERE cn LIKE 'dev-%'")" \
	"rows of a batch killed while signing"
"$TLSGATE" cert issue after.example --dir ca --out-dir fleet >/dev/null
assert_files_match_inventory ca fleet ca/issued
pass "kill -9 while signing: nothing recorded, staged files swept"

# Publishing: every certificate at a final name already has its row.
kill_batch fleet2 'dev-*.crt'
assert_published_have_rows ca fleet2
published=$(compgen -G 'fleet2/dev-*.crt' | wc -l)
next=$("$TLSGATE" cert issue after2.example --dir ca --out-dir fleet2 2>&1 >/dev/null)
assert_contains "$next" "certificates (partly) published; finished publishing them and recorded them as valid" \
	"what the next run said"
assert_files_match_inventory ca fleet fleet2 ca/issued
assert_eq 1 "$(sqlite3 ca/tlsgate.db "SELECT count(*) FROM certs WHERE cn='before.example'")" \
	"earlier issues survive"
pass "kill -9 while publishing ($published certificates out): each had its row; settled by the next run"
