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
#   cert_fp FILE            SHA-256 fingerprint as the inventory keeps it

cert_fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'
}

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

_strip0() { local s=$1; echo "${s#"${s%%[!0]*}"}"; }

assert_files_match_inventory() {
	local ca=$1 serial fp st path d f k s
	local -A by_fp=() newest=() voids=()
	shift
	while read -r serial fp st path; do
		[ -n "$serial" ] || continue
		[ "$st" != pending ] || fail "row $serial ($path) is still pending"
		by_fp[$fp]="$serial $st"
		if [ "$st" = void ]; then
			voids[$fp]=$path
		else
			newest[$path]="$fp $st"
		fi
	done < <(inventory_rows "$ca")
	for d in "$@"; do
		for f in "$d"/*.crt; do
			[ -e "$f" ] || continue
			fp=$(cert_fp "$f")
			serial=$(openssl x509 -in "$f" -noout -serial | cut -d= -f2)
			[ -n "${by_fp[$fp]:-}" ] || fail "$f (serial $serial) is not in the inventory"
			read -r s st <<<"${by_fp[$fp]}"
			assert_eq "$(_strip0 "$serial")" "$(_strip0 "$s")" "serial of $f in the inventory"
			case $st in
			valid | revoked) ;;
			*) fail "$f is in the inventory as $st" ;;
			esac
		done
		for k in "$d"/*.key; do
			[ -e "$k" ] || continue
			f=${k%.key}.crt
			[ -e "$f" ] || fail "$k has no certificate beside it"
			[ "$(openssl pkey -in "$k" -pubout)" = "$(openssl x509 -in "$f" -noout -pubkey)" ] ||
				fail "$k does not belong to $f"
		done
		[ -z "$(find "$d" -maxdepth 1 -name '.tlsgate-tmp-*' -print -quit)" ] ||
			fail "staged files left in $d: $(ls -A "$d" | grep '^\.tlsgate-tmp-' | tr '\n' ' ')"
	done
	for path in "${!newest[@]}"; do
		read -r fp st <<<"${newest[$path]}"
		[ -e "$path" ] && [ "$(cert_fp "$path")" = "$fp" ] ||
			fail "the inventory's newest $st certificate for $path is not that file"
	done
	for fp in "${!voids[@]}"; do
		path=${voids[$fp]}
		[ ! -e "$path" ] || [ "$(cert_fp "$path")" != "$fp" ] ||
			fail "$path holds a certificate the inventory calls void"
	done
}
