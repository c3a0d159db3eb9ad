#!/usr/bin/env bash
# A CA whose inventory is in PostgreSQL, on a tablespace that runs out of
# room (a small tmpfs, filled): `cert issue` fails when the server cannot
# extend a table (SQLSTATE 53100), says the database is out of disk space
# naming the server and database, prints no "Issued", leaves nothing at a
# final name and no valid row; once there is room, the next run settles
# what the failed one recorded and the issue goes through.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a small tmpfs needs root"; exit 77; }
cd "$WORK"
start_postgres
mkdir small
mount -t tmpfs -o size=2m,mode=0755 tlsgate-e2e-pgfull small || { echo "SKIP: cannot mount tmpfs"; exit 77; }
on_exit umount -l "$WORK/small"
mkdir small/ts
chown postgres small/ts
admin_sql "create tablespace small location '$WORK/small/ts'" >/dev/null
# The database's own directory stays on the big disk (a new session writes
# its cache file there); tlsgate's tables go to the small tablespace.
admin_sql "create database full_pki owner tlsgate" >/dev/null
admin_sql "grant create on tablespace small to tlsgate" >/dev/null
admin_sql "alter database full_pki set default_tablespace = small" >/dev/null
STORE=${URL/\/pki\?/\/full_pki?}

tg ca init --dir ca --name "pg full CA" --store "$STORE" >/dev/null
tg cert issue keep --dir ca >/dev/null
assert_eq small "$(admin_sql "select spcname from pg_class c join pg_tablespace t on t.oid = c.reltablespace where relname = 'tlsgate_certs'" full_pki)" \
	"tlsgate_certs lives in the small tablespace"

# Fill the tablespace's file system; the tables' next new page has no room.
fill=0
while dd if=/dev/zero of="small/fill$fill" bs=4k count=1 2>/dev/null; do
	fill=$((fill + 1))
done
rm -f "small/fill$fill"
sql() { admin_sql "$1" full_pki; }

# Issue until a table must grow: every issue before that goes through.
failed=0
for ((i = 0; i < 200 && !failed; i++)); do
	rc=0
	before=$(snapshot ca)
	"$TLSGATE" cert issue "n$i" --dir ca >out.log 2>err.log || rc=$?
	[ "$rc" -eq 0 ] && continue
	failed=1
	assert_eq 1 "$rc" "exit code of an issue on a full tablespace ($(cat err.log))"
	assert_contains "$(cat err.log)" "inventory on PostgreSQL at 127.0.0.1:$PORT, database full_pki: the database server is out of disk space (SQLSTATE 53100" \
		"why the issue failed"
	assert_contains "$(cat err.log)" "No space left on device" "the server's own words"
	assert_not_contains "$(cat out.log)" "Issued" "stdout of the failed issue"
	[ ! -e "ca/issued/n$i.crt" ] && [ ! -e "ca/issued/n$i.key" ] ||
		fail "the failed issue left files at their final names"
	assert_eq "$before" "$(snapshot ca)" "the CA dir after the failed issue"
	# A row may stay pending (recorded before the full disk, never handed
	# out); the next writer settles it. None is valid.
	assert_eq 0 "$(sql "select count(*) from tlsgate_certs where cn = 'n$i' and status = 'valid'")" \
		"valid rows for n$i"
done
assert_eq 1 "$failed" "an issue met the full tablespace within 200 certificates"
pass "a full tablespace: the issue said the database is out of space, printed no Issued, left nothing"

rm -f small/fill*
tg cert issue "n$((i - 1))" --dir ca >out.log
assert_contains "$(cat out.log)" "Issued n$((i - 1))" "the same issue once there is room"
assert_eq "valid" "$(sql "select string_agg(status, ',') from tlsgate_certs where cn = 'n$((i - 1))' and status != 'void'")" \
	"its rows: the new one valid, a pending one from the failed run settled as void"
pass "with room again the same issue goes through"
