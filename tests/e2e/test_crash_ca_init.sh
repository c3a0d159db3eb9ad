#!/usr/bin/env bash
# `ca init` killed at every step (TLSGATE_CRASH_AT=init-STEP, and gdb
# stopping it at store_commit, where the old order had published root.crt
# and the keys with no row behind them) never leaves a CA whose files and
# inventory disagree: root.crt (what makes DIR a CA) is at its name only
# once the inventory holds it and every other file is in place. Running
# ca init again finishes the CA the killed run recorded (saying so) or
# clears what it left and creates one; either way the CA then issues.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || fail "no gdb (apt-get install gdb)"
cd "$WORK"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
rows() { sqlite3 "$1/tlsgate.db" "select serial from certs order by serial" 2>/dev/null | tr '\n' ' '; }

# DIR: whatever is at a final name is in the inventory, and a root.crt
# comes with everything else.
consistent() {
	local ca=$1 what=$2 f
	[ -e "$ca/root.crt" ] || return 0
	for f in root.crt intermediate.crt ca-bundle.crt private/root.key private/intermediate.key; do
		[ -e "$ca/$f" ] || fail "$what: root.crt is published but $f is not"
	done
	for f in root.crt intermediate.crt; do
		assert_contains "$(rows "$ca")" "$(serial_of "$ca/$f")" "$what: $f in the inventory"
	done
}

# DIR after the rerun: a whole CA, files == inventory, nothing staged, issues.
whole() {
	local ca=$1 what=$2
	consistent "$ca" "$what"
	[ -e "$ca/root.crt" ] || fail "$what: no root.crt after the rerun"
	assert_eq "$(printf '%s\n' "$(serial_of "$ca/root.crt")" "$(serial_of "$ca/intermediate.crt")" | sort | tr '\n' ' ')" \
		"$(rows "$ca")" "$what: the inventory holds exactly the root and the intermediate"
	assert_eq "" "$(find "$ca" -name '.tlsgate-tmp-*')" "$what: staged files left"
	openssl verify -CAfile "$ca/root.crt" "$ca/intermediate.crt" >/dev/null ||
		fail "$what: the intermediate does not verify against the root"
	tg cert issue "svc.example" --dir "$ca" >/dev/null 2>&1 || fail "$what: the CA does not issue"
	openssl verify -CAfile "$ca/root.crt" -untrusted "$ca/intermediate.crt" \
		"$ca/issued/svc.example.crt" >/dev/null || fail "$what: its certificate does not verify"
}

for step in init-staged init-recorded init-publishing:1 init-publishing:3 init-publishing:4 init-published; do
	ca="ca-${step/:/-}"
	rc=0
	TLSGATE_CRASH_AT=$step "$TLSGATE" ca init --dir "$ca" --intermediate >crash.log 2>&1 || rc=$?
	[ "$rc" = 137 ] || fail "ca init with TLSGATE_CRASH_AT=$step exited $rc, expected SIGKILL (137): $(cat crash.log)"
	consistent "$ca" "killed at $step"
	case $step in init-staged | init-recorded | init-publishing:[134])
		[ ! -e "$ca/root.crt" ] || fail "killed at $step: root.crt published before the others" ;;
	esac
	next=$(tg ca init --dir "$ca" --intermediate 2>&1) || fail "ca init again after $step: $next"
	case $step in
	init-staged)
		assert_contains "$next" "had recorded nothing; removed its staged files" "rerun after $step"
		assert_contains "$next" "removed the empty inventory $ca/tlsgate.db" "rerun after $step" ;;
	init-published)
		assert_contains "$next" "had created its CA completely; removed its leftover staged files" "rerun after $step" ;;
	*)
		assert_contains "$next" "had recorded its CA but not published all its files; finished publishing them" "rerun after $step" ;;
	esac
	whole "$ca" "after $step"
	pass "ca init killed at $step: consistent, and the next ca init settles it"
done

# Killed after the commit, then another command first: it points at ca init.
TLSGATE_CRASH_AT=init-recorded "$TLSGATE" ca init --dir ca-other --intermediate >/dev/null 2>&1 || true
expect_fail 2 "$TLSGATE" cert issue x --dir ca-other
assert_contains "$OUT" "an interrupted \`tlsgate ca init\` may have left it; run \`tlsgate ca init --dir ca-other\` again" "cert issue in a half-made CA"
pass "cert issue in a CA an init left half-made says to run ca init again"

# A damaged CA (root.crt lost, certificates issued) is not taken for one.
tg ca init --dir ca-damaged >/dev/null
tg cert issue a.example --dir ca-damaged >/dev/null
rm ca-damaged/root.crt
before=$(snapshot ca-damaged)
expect_fail 1 "$TLSGATE" ca init --dir ca-damaged
assert_contains "$OUT" "ca-damaged/tlsgate.db records 2 certificates but ca-damaged/root.crt is missing: this is a damaged CA, not an interrupted init" "a damaged CA"
assert_eq "$before" "$(snapshot ca-damaged)" "a damaged CA: nothing changed"
pass "a CA that lost root.crt is refused, not cleared"

# The reproducer: gdb stops ca init at its commit and kills it. The old
# order had published root.crt and the keys by then, with no row.
gdb -batch -ex 'b store_commit' -ex "run ca init --dir ca-gdb --intermediate" -ex 'signal SIGKILL' \
	"$TLSGATE" >gdb.log 2>&1 </dev/null || true
grep -q "Program terminated with signal SIGKILL" gdb.log || fail "gdb did not kill ca init: $(cat gdb.log)"
[ ! -e ca-gdb/root.crt ] || fail "killed at its commit, ca init had published root.crt (inventory: '$(rows ca-gdb)')"
consistent ca-gdb "gdb at store_commit"
tg ca init --dir ca-gdb --intermediate >gdb-next.log 2>&1 || fail "ca init again after gdb: $(cat gdb-next.log)"
whole ca-gdb "after gdb at store_commit"
pass "gdb at store_commit: nothing published before the commit; the next ca init settles it"
