#!/usr/bin/env bash
# Lists on a large PostgreSQL inventory go through an index: listing the
# revoked (cert list --revoked, every CRL), the expiring (--expiring, renew)
# or the pending rows (before every issue) must not read every row of the
# CA. Observed from PostgreSQL's own counters (pg_stat_user_tables, rows
# read by sequential and index scans): with 20000 certificates recorded,
# none of these commands reads more than a few hundred rows (a list whose
# conditions were switched off by parameters walked the primary key through
# all of them in a generic plan). A listing of everything (cert list) still reads them all,
# which shows the counter moves.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
cd "$WORK"

start_postgres
tg ca init --dir ca --name "pg list CA" --store "$URL" >/dev/null
tg cert issue alice --dir ca --client >/dev/null
tg cert issue bob --dir ca --client >/dev/null
tg cert revoke --dir ca "$(openssl x509 -in ca/issued/bob.crt -noout -serial | cut -d= -f2)" >/dev/null
CA=$(ca_id ca)
# A session that runs a statement often gets PostgreSQL's generic plan,
# made without the parameters' values (a long-running acme serve; here
# forced for every session of the role): a condition switched off by a
# parameter is then still in the plan, and no index fits it.
pki_sql "alter role tlsgate set plan_cache_mode = force_generic_plan" >/dev/null
# 20000 more rows of this CA, valid for ten years: none of them is revoked,
# pending or expiring, so an index answers each question below at once.
pki_sql "insert into tlsgate_certs (ca, serial, subject, cn, sans, profile, not_before,
	not_after, fingerprint, pem, status, created_at)
	select '$CA', 'F' || lpad(to_hex(i), 8, '0'), 'CN=filler', 'filler', '', 'client',
	extract(epoch from now())::bigint, extract(epoch from now())::bigint + 315360000,
	md5(i::text), 'not a certificate', 'valid', extract(epoch from now())::bigint
	from generate_series(1, 20000) i; analyze tlsgate_certs" >/dev/null

rows_read() { # rows of tlsgate_certs read so far, by any scan
	pki_sql "select seq_tup_read + coalesce(idx_tup_fetch, 0) from pg_stat_user_tables
		where relname = 'tlsgate_certs'"
}
# The command's backend has gone (its counters are flushed at exit): wait
# for that rather than for a time.
tlsgate_gone() {
	for _ in $(seq 100); do
		[ "$(pki_sql "select count(*) from pg_stat_activity where usename = 'tlsgate'")" = 0 ] && return 0
		sleep 0.1
	done
	fail "a tlsgate session is still open"
}
# COMMAND...: runs it (output kept in $OUT), and asserts it read at most 500
# rows of the certificates.
few_rows() {
	local before after
	before=$(rows_read)
	OUT=$(tg "$@")
	tlsgate_gone
	after=$(rows_read)
	((after - before <= 500)) ||
		fail "tlsgate $* read $((after - before)) rows of tlsgate_certs (at most 500 expected: no index used)"
	echo "tlsgate $*: $((after - before)) rows read"
}

few_rows cert list --dir ca --revoked --json
assert_eq bob "$(jq -r 'map(.cn) | join(",")' <<<"$OUT")" "cert list --revoked finds the one revoked"
few_rows cert list --dir ca --expiring 30d --json
assert_eq 0 "$(jq length <<<"$OUT")" "cert list --expiring 30d: nothing expires"
few_rows crl --dir ca
assert_contains "$(openssl crl -in ca/crl.pem -noout -text)" \
	"Serial Number: $(openssl x509 -in ca/issued/bob.crt -noout -serial | cut -d= -f2)" "the CRL lists bob"
few_rows cert issue carol --dir ca --client
pass "revoked, expiring and pending rows found through indexes among 20002 certificates"

# The counter does move: listing everything reads every row.
before=$(rows_read)
tg cert list --dir ca --json >/dev/null 2>&1 || true
tlsgate_gone
after=$(rows_read)
((after - before >= 20000)) || fail "a full listing read $((after - before)) rows: the counter shows nothing"
pass "a full listing reads them all ($((after - before)) rows)"
