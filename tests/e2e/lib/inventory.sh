# shellcheck shell=bash
# Files against the inventory, for the crash tests. Sourced after lib.sh (and
# lib/pg.sh for a CA whose inventory is in PostgreSQL).
#
#   inventory_rows CA_DIR   "serial fingerprint status cert_path" per leaf row,
#                           oldest first (DIR/tlsgate.db, or PostgreSQL when
#                           DIR/store.conf names it)
#   assert_files_match_inventory CA_DIR OUT_DIR...
#       every certificate file in each OUT_DIR is in the inventory with its
#       serial and fingerprint, valid or revoked; every key has its
#       certificate beside it and matches it; the newest valid or revoked row
#       of each file is what the file holds; a void row's certificate is in no
#       file; no row is pending; no staged file is left.
#       (checked by lib/inventory.py: one process for thousands of files)
#   assert_published_have_rows CA_DIR OUT_DIR...
#       right after a crash: every certificate at a final name has its row

inventory_rows() {
	local cols="serial, fingerprint, status, coalesce(cert_path, '-')"
	local leaves="profile not in ('root', 'intermediate')"
	if [ -e "$1/store.conf" ]; then
		pki_sql "select $cols from tlsgate_certs where ca = '$(ca_id "$1")' and $leaves order by id" |
			tr '|' ' '
	else
		sqlite3 -separator ' ' "$1/tlsgate.db" "select $cols from certs where $leaves order by id"
	fi
}

assert_files_match_inventory() {
	local ca=$1 why
	shift
	why=$(inventory_rows "$ca" | python3 "$TLSGATE_SRC/tests/e2e/lib/inventory.py" "$@" 2>&1) ||
		fail "files != inventory of $ca: $why"
}

# assert_published_have_rows CA_DIR OUT_DIR...: right after a crash, before
# anything settled it: every certificate at a final name has its row.
assert_published_have_rows() {
	local ca=$1 why
	shift
	why=$(inventory_rows "$ca" |
		python3 "$TLSGATE_SRC/tests/e2e/lib/inventory.py" --unsettled "$@" 2>&1) ||
		fail "after the crash, before the next run: $why"
}
