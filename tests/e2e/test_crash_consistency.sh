#!/usr/bin/env bash
# Crash consistency: the process is killed (SIGKILL, through the test hook
# TLSGATE_CRASH_AT=STEP, see docs/ARCHITECTURE.md "Issuing") at every step of
# issue, batch, revoke and crl, with the inventory in SQLite and in
# PostgreSQL. After the next command: every certificate file is in the
# inventory with its serial and fingerprint and every row has its file or is
# void (lib/inventory.sh), the next command said what it settled, and CRL
# numbers (read with openssl) strictly increase. The report's reproducers
# too: gdb stopping `cert issue` and `crl` at store_commit and sending SIGKILL.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/inventory.sh
. "$(dirname "$0")/lib/inventory.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
command -v gdb >/dev/null || fail "no gdb (apt-get install gdb)"
cd "$WORK"
echo pw >p12pass

# crash STEP CMD...: CMD must be killed at STEP (exit 137), printing nothing
# that says it succeeded.
crash() {
	local rc=0
	TLSGATE_CRASH_AT=$1 "${@:2}" >crash.log 2>&1 || rc=$?
	[ "$rc" = 137 ] || fail "'${*:2}' with TLSGATE_CRASH_AT=$1 exited $rc, expected SIGKILL (137): $(cat crash.log)"
	assert_not_contains "$(cat crash.log)" "Issued" "output of a run killed at $1"
}

status_of() { # CA_DIR CN -> statuses of CN's rows, oldest first
	if [ -e "$1/store.conf" ]; then
		pki_sql "select string_agg(status, ' ' order by id) from tlsgate_certs where ca = '$(ca_id "$1")' and cn = '$2'"
	else
		sqlite3 "$1/tlsgate.db" "select group_concat(status, ' ') from (select status from certs where cn = '$2' order by id)"
	fi
}

# One certificate, killed at each step of its issue; the next issue settles it.
check_issue_steps() {
	local ca=$1 step next note
	for step in issue-staged issue-recorded issue-publishing issue-published issue-done; do
		crash "$step" "$TLSGATE" cert issue "x-$step" --dir "$ca"
		next=$(tg cert issue "after-$step" --dir "$ca" 2>&1 >/dev/null)
		case $step in
		issue-staged)
			assert_eq "" "$next" "what the next run said after $step"
			assert_eq "" "$(status_of "$ca" "x-$step")" "rows after $step" ;;
		issue-recorded)
			note="an interrupted run left 1 certificate signed but never handed out; removed their staged files and marked them void: x-$step (serial"
			assert_contains "$next" "$note" "what the next run said after $step"
			assert_eq void "$(status_of "$ca" "x-$step")" "row after $step"
			[ ! -e "$ca/issued/x-$step.crt" ] && [ ! -e "$ca/issued/x-$step.key" ] ||
				fail "files of a certificate never handed out are left ($step)" ;;
		issue-publishing | issue-published)
			note="an interrupted run left 1 certificate (partly) published; finished publishing them and recorded them as valid: x-$step (serial"
			assert_contains "$next" "$note" "what the next run said after $step"
			assert_eq valid "$(status_of "$ca" "x-$step")" "row after $step"
			openssl verify -CAfile "$ca/root.crt" -untrusted "$ca/issued/x-$step.crt" \
				"$ca/issued/x-$step.crt" >/dev/null ;;
		issue-done)
			assert_eq "" "$next" "what the next run said after $step"
			assert_eq valid "$(status_of "$ca" "x-$step")" "row after $step" ;;
		esac
		assert_files_match_inventory "$ca" "$ca/issued"
	done
	pass "$ca: issue killed at each step, settled by the next run, files == inventory"
}

# A batch with .p12 files killed after 3 of 6 certificates were published:
# those 3 are finished, the other 3 removed. Then --force over them, killed
# after publishing and before: the new ones win, or the old ones stay whole.
check_batch() {
	local ca=$1 next before
	mkdir -p "$ca-fleet"
	printf 'b%s\n' 1 2 3 4 5 6 >names
	crash issue-publishing:3 "$TLSGATE" cert issue --batch names --dir "$ca" --client \
		--out-dir "$ca-fleet" --p12 --p12-pass-file p12pass
	next=$(tg crl --dir "$ca" 2>&1 >/dev/null)
	assert_contains "$next" "left 3 certificates (partly) published; finished publishing them and recorded them as valid: b1 (serial" "settling the batch"
	assert_contains "$next" "left 3 certificates signed but never handed out; removed their staged files and marked them void: b4 (serial" "settling the batch"
	assert_eq "valid valid valid void void void" \
		"$(for n in 1 2 3 4 5 6; do status_of "$ca" "b$n"; done | tr '\n' ' ' | sed 's/ $//')" "rows of the batch"
	openssl pkcs12 -in "$ca-fleet/b3.p12" -passin pass:pw -noout 2>/dev/null || fail "b3.p12 was not finished"
	[ ! -e "$ca-fleet/b4.p12" ] || fail "b4.p12 of a void certificate is left"
	assert_files_match_inventory "$ca" "$ca-fleet"

	crash issue-publishing "$TLSGATE" cert issue b1 --client --force --dir "$ca" --out-dir "$ca-fleet"
	tg cert issue after-force --dir "$ca" --out-dir "$ca-fleet" 2>/dev/null >/dev/null
	assert_eq "valid valid" "$(status_of "$ca" b1)" "rows of b1 after a forced reissue was finished"
	before=$(cd "$ca-fleet" && sha256sum b2.crt b2.key b2.p12)
	crash issue-recorded "$TLSGATE" cert issue b2 --client --force --dir "$ca" --out-dir "$ca-fleet"
	tg cert revoke --cert "$ca-fleet/b3.crt" --dir "$ca" >/dev/null 2>&1
	assert_eq "valid void" "$(status_of "$ca" b2)" "rows of b2 after a forced reissue was taken back"
	assert_eq "$before" "$(cd "$ca-fleet" && sha256sum b2.crt b2.key b2.p12)" \
		"b2's files after a forced reissue killed before publishing"
	assert_files_match_inventory "$ca" "$ca-fleet"
	pass "$ca: a batch killed mid-publish, and --force killed before and after publishing, are settled"
}

check_revoke_steps() {
	local ca=$1 serial
	tg cert issue r1 --dir "$ca" >/dev/null
	serial=$(openssl x509 -in "$ca/issued/r1.crt" -noout -serial | cut -d= -f2)
	crash revoke-begun "$TLSGATE" cert revoke "$serial" --dir "$ca"
	assert_eq valid "$(status_of "$ca" r1)" "a revoke killed before its commit"
	crash revoke-committed "$TLSGATE" cert revoke "$serial" --dir "$ca"
	assert_eq revoked "$(status_of "$ca" r1)" "a revoke killed after its commit"
	expect_fail 2 tg cert revoke --cert "$ca/issued/r1.crt" --dir "$ca"
	assert_contains "$OUT" "is already revoked" "revoking again"
	assert_files_match_inventory "$ca" "$ca/issued"
	pass "$ca: revoke killed before and after its commit"
}

LAST_CRL=0
crl_number() { openssl crl -in "$1" -noout -crlnumber | cut -d= -f2; }

# publish_crl CA_DIR: runs crl, checks the number went up, and that the CRL
# holds what is revoked.
publish_crl() {
	local n
	tg crl --dir "$1" >/dev/null
	n=$(( $(crl_number "$1/crl.pem") ))
	[ "$n" -gt "$LAST_CRL" ] || fail "CRL number $n after $LAST_CRL: not strictly increasing"
	LAST_CRL=$n
	cp "$1/crl.pem" "crl-$n.pem"
}

check_crl_steps() {
	local ca=$1 before
	LAST_CRL=$(( $(crl_number "$ca/crl.pem") ))
	publish_crl "$ca"
	before=$(sha256sum <"$ca/crl.pem")
	crash crl-reserved "$TLSGATE" crl --dir "$ca"
	assert_eq "$before" "$(sha256sum <"$ca/crl.pem")" "crl.pem after a crl killed before writing it"
	publish_crl "$ca"
	crash crl-written "$TLSGATE" crl --dir "$ca"
	[ $(( $(crl_number "$ca/crl.pem") )) -gt "$LAST_CRL" ] || fail "crl-written: number did not go up"
	LAST_CRL=$(( $(crl_number "$ca/crl.pem") ))
	publish_crl "$ca"
	openssl crl -in "$ca/crl.pem" -noout -text | grep -q "Serial Number: $(openssl x509 -in "$ca/issued/r1.crt" -noout -serial | cut -d= -f2)" ||
		fail "the CRL does not list r1"
	pass "$ca: crl killed before and after writing its file; numbers strictly increase ($LAST_CRL)"
}

# The report's reproducers, word for word: gdb stops at store_commit and
# kills. Before the fix the certificate was at its final name with no row
# (revoke refused it), and the CRL number was handed out twice.
check_gdb() {
	local ca=$1 next n
	gdb -batch -ex 'b store_commit' -ex "run cert issue g --dir $ca" -ex 'signal SIGKILL' \
		"$TLSGATE" >gdb-issue.log 2>&1 || true
	grep -q "Program terminated with signal SIGKILL" gdb-issue.log || fail "gdb did not kill the issue: $(cat gdb-issue.log)"
	if [ -e "$ca/issued/g.crt" ]; then
		tg cert revoke --cert "$ca/issued/g.crt" --dir "$ca" >/dev/null ||
			fail "the killed run's certificate cannot be revoked"
	fi
	next=$(tg cert issue g --dir "$ca" 2>&1) || fail "issuing g again after the kill: $next"
	assert_files_match_inventory "$ca" "$ca/issued"
	LAST_CRL=$(( $(crl_number "$ca/crl.pem") ))
	gdb -batch -ex 'b store_commit' -ex "run crl --dir $ca" -ex 'signal SIGKILL' \
		"$TLSGATE" >gdb-crl.log 2>&1 || true
	grep -q "Program terminated with signal SIGKILL" gdb-crl.log || fail "gdb did not kill crl: $(cat gdb-crl.log)"
	# What the killed run may have published counts as published.
	n=$(( $(crl_number "$ca/crl.pem") ))
	if [ "$n" -gt "$LAST_CRL" ]; then
		LAST_CRL=$n
		cp "$ca/crl.pem" "crl-$n-killed.pem"
	fi
	publish_crl "$ca"
	pass "$ca: gdb at store_commit (issue, crl): files == inventory, CRL numbers increase"
}

# Every CRL kept above has its own number.
check_crl_numbers_unique() {
	local f n seen=""
	for f in crl-*.pem; do
		n=$(crl_number "$f")
		assert_not_contains " $seen " " $n " "CRL number $n published twice"
		seen="$seen $n"
	done
}

run_suite() {
	check_gdb "$1"
	check_issue_steps "$1"
	check_batch "$1"
	check_revoke_steps "$1"
	check_crl_steps "$1"
	check_crl_numbers_unique
	rm -f crl-*.pem
}

tg ca init --dir lite --name "crash CA" >/dev/null
tg crl --dir lite >/dev/null
run_suite lite

start_postgres
tg ca init --dir pgca --name "crash CA pg" --intermediate --store "$URL" >/dev/null
tg crl --dir pgca >/dev/null
run_suite pgca
