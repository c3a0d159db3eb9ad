#!/usr/bin/env bash
# The inventory in a real PostgreSQL (`ca init --store URL`): a CA with an
# intermediate issues, lists (--json), revokes, signs, renews and publishes
# CRLs that openssl checks, with every row in the database; 8 processes x 100 certificates give
# 800 distinct serials; two CAs in one database never see each other's rows
# or CRL numbers; refusals (password in the URL, server down, wrong password,
# missing database, server gone after init) say what to do, exit 1 (2 for
# usage) and leave the CA directory as it was. A CA that started on SQLite
# moves its inventory there (`ca store --move-to`) with every row and its
# CRL series, and back.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# The second CA reaches the same database over the unix socket, in conninfo form.
CONNINFO="postgres:host=$SOCK port=$PORT dbname=pki user=tlsgate"
cd "$WORK"

serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2
}

check_init() {
	local out
	out=$(tg ca init --dir ca1 --name "pg CA one" --intermediate --store "$URL")
	assert_contains "$out" "recorded in ca1/store.conf" "ca init output"
	[ ! -e ca1/tlsgate.db ] || fail "ca init --store still created ca1/tlsgate.db"
	assert_eq 600 "$(stat -c %a ca1/store.conf)" "mode of store.conf"
	assert_eq "url = $URL" "$(grep -v '^#' ca1/store.conf)" "store.conf content"
	assert_not_contains "$(cat ca1/store.conf)" "$DBPASS" "store.conf"
	CA1=$(ca_id ca1)
	assert_eq "root intermediate" \
		"$(pki_sql "select string_agg(profile, ' ' order by id) from tlsgate_certs where ca = '$CA1'")" \
		"rows of ca init"
	pass "ca init --store: root and intermediate recorded in PostgreSQL, store.conf 0600"
}

check_lifecycle() {
	local json alice web out
	tg cert issue web.example --dir ca1 --san www.web.example --san 127.0.0.1 >/dev/null
	tg cert issue alice --dir ca1 --client >/dev/null
	json=$(tg cert list --dir ca1 --json)
	assert_eq 4 "$(jq length <<<"$json")" "certificates listed"
	assert_eq "pg CA one,pg CA one Intermediate,web.example,alice" \
		"$(jq -r 'map(.cn) | join(",")' <<<"$json")" "list order (oldest first)"
	assert_eq '["DNS:web.example","DNS:www.web.example","IP:127.0.0.1"]' \
		"$(jq -c '.[2].sans' <<<"$json")" "SANs of web.example"
	web=$(serial_of ca1/issued/web.example.crt)
	alice=$(serial_of ca1/issued/alice.crt)
	assert_eq "$web" "$(jq -r '.[2].serial' <<<"$json")" "serial in list = serial in file"
	assert_eq "$(openssl x509 -in ca1/issued/web.example.crt -noout -fingerprint -sha256 |
		cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')" \
		"$(jq -r '.[2].fingerprint_sha256' <<<"$json")" "fingerprint in list"

	tg cert revoke "$alice" --dir ca1 --reason keyCompromise >/dev/null
	expect_fail 2 tg cert revoke "$alice" --dir ca1
	assert_contains "$OUT" "already revoked" "second revoke"
	assert_eq "revoked|1" "$(pki_sql "select status, reason from tlsgate_certs where ca = '$CA1' and serial = '$alice'")" \
		"alice's row"
	assert_eq "$alice" "$(tg cert list --dir ca1 --revoked --json | jq -r 'map(.serial) | join(",")')" \
		"list --revoked"

	tg crl --dir ca1 >/dev/null
	tg crl --dir ca1 >/dev/null
	# The file holds the intermediate's CRL, then the root's; both verify.
	out=$(openssl crl -in ca1/crl.pem -noout -text -CAfile ca1/ca-bundle.crt 2>&1)
	assert_contains "$out" "verify OK" "CRL signature"
	assert_contains "$out" "X509v3 CRL Number: "$'\n'"                2" "CRL number after two runs"
	out=$(openssl verify -crl_check_all -CRLfile ca1/crl.pem -CAfile ca1/root.crt \
		-untrusted ca1/intermediate.crt ca1/issued/alice.crt 2>&1 || true)
	assert_contains "$out" "certificate revoked" "openssl verify of alice against the CRL"
	openssl verify -crl_check_all -CRLfile ca1/crl.pem -CAfile ca1/root.crt \
		-untrusted ca1/intermediate.crt ca1/issued/web.example.crt >/dev/null ||
		fail "web.example does not verify against the CRL"
	assert_eq "leaf=2 root=2" \
		"$(pki_sql "select string_agg(series || '=' || number, ' ' order by series) from tlsgate_crl_numbers where ca = '$CA1'")" \
		"CRL counters"
	pass "issue, list --json, revoke, CRL (verified by openssl) on PostgreSQL"
}

check_parallel() {
	local w pids=() files
	tg ca init --dir ca2 --name "pg CA two" --store "$CONNINFO" >/dev/null
	CA2=$(ca_id ca2)
	for w in 1 2 3 4 5 6 7 8; do
		seq -f "w$w-dev-%03g" 1 100 >names.$w
		timeout 300 "$TLSGATE" cert issue --batch names.$w --dir ca2 --client --out-dir out.$w \
			>w$w.log 2>&1 &
		pids+=($!)
	done
	for w in "${pids[@]}"; do
		wait "$w" || fail "an issuing process failed"
	done
	files=$(find out.* -name '*.crt' | wc -l)
	assert_eq 800 "$files" "certificate files"
	cat out.*/*.crt >all.pem
	openssl storeutl -noout -text -certs all.pem |
		awk '/Serial Number:/ { getline; gsub(/[ :]/, ""); print toupper($0) }' | sort >files.serials
	assert_eq 800 "$(sort -u files.serials | wc -l)" "distinct serials in the files"
	pki_sql "select serial from tlsgate_certs where ca = '$CA2' and profile = 'client'" |
		sort >db.serials
	assert_eq 800 "$(sort -u db.serials | wc -l)" "distinct serials in the database"
	assert_eq "" "$(comm -3 files.serials db.serials)" "files and database hold the same serials"
	openssl verify -purpose sslclient -CAfile ca2/root.crt out.5/w5-dev-100.crt >/dev/null ||
		fail "a parallel-issued certificate does not verify"
	pass "8 x 100 parallel issues: 800 distinct serials in PostgreSQL"
}

check_apart() {
	local other out
	assert_eq 2 "$(pki_sql 'select count(distinct ca) from tlsgate_certs')" "CAs in the database"
	assert_eq 4 "$(tg cert list --dir ca1 --json | jq length)" "ca1 sees only its own rows"
	assert_eq 801 "$(tg cert list --dir ca2 --json | jq length)" "ca2 sees only its own rows"
	other=$(serial_of out.1/w1-dev-001.crt)
	expect_fail 2 tg cert revoke "$other" --dir ca1
	assert_contains "$OUT" "no certificate with serial $other in the inventory on PostgreSQL at 127.0.0.1:$PORT, database pki" \
		"revoking another CA's serial"
	assert_eq valid "$(pki_sql "select status from tlsgate_certs where serial = '$other'")" \
		"the other CA's row is untouched"
	# Each CA numbers its own CRLs.
	tg crl --dir ca2 >/dev/null
	out=$(openssl crl -in ca2/crl.pem -noout -crlnumber)
	assert_eq "crlNumber=0x01" "$out" "ca2's first CRL number"
	pass "two CAs in one database stay apart (rows, revocation, CRL numbers)"
}

# Tables made, a user with only SELECT, INSERT, UPDATE runs a CA of its own
# (an administrator may keep DDL rights away from tlsgate); one without
# INSERT gets told which rights it needs.
check_dml_only() {
	local before
	admin_sql "create role clerk login; create role reader login" >/dev/null
	pki_sql "revoke create on schema public from public;
		grant select, insert, update on all tables in schema public to clerk;
		grant select on all tables in schema public to reader" >/dev/null
	tg ca init --dir ca3 --store "postgres:host=$SOCK port=$PORT dbname=pki user=clerk" >/dev/null
	tg cert issue clerk.example --dir ca3 >/dev/null
	assert_eq 2 "$(tg cert list --dir ca3 --json | jq length)" "ca3 (DML-only user)"
	before=$(snapshot target)
	expect_fail 1 tg ca init --dir target/ca --store "postgres:host=$SOCK port=$PORT dbname=pki user=reader"
	assert_contains "$OUT" "permission denied for table tlsgate_certs" "a read-only user's init"
	assert_contains "$OUT" "SELECT, INSERT, UPDATE on the tlsgate_* tables" "a read-only user's init"
	assert_eq "$before" "$(snapshot target)" "target after a read-only user's init"
	pass "a user with only DML rights runs a CA; a read-only one is told what it lacks"
}

# sign and renew go through the same inventory.
check_sign_renew() {
	local json old new
	tg cert request csr.example --new-key --out csr.example.csr >/dev/null
	tg cert sign csr.example.csr --dir ca1 --out csr.example.crt >/dev/null
	old=$(serial_of ca1/issued/web.example.crt)
	tg cert renew --dir ca1 --within 3650d >/dev/null
	new=$(serial_of ca1/issued/web.example.crt)
	[ "$old" != "$new" ] || fail "cert renew did not replace web.example.crt"
	json=$(tg cert list --dir ca1 --json)
	assert_eq 6 "$(jq length <<<"$json")" "ca1 after sign and renew"
	assert_eq "csr.example" "$(jq -r --arg s "$(serial_of csr.example.crt)" \
		'map(select(.serial == $s)) | .[0].cn' <<<"$json")" "signed CSR in the inventory"
	assert_eq 2 "$(jq '[.[] | select(.cn == "web.example")] | length' <<<"$json")" \
		"web.example old and renewed"
	pass "cert sign and cert renew recorded in PostgreSQL"
}

# refuse CODE NEEDLE... -- ARGS: tlsgate ARGS must exit CODE, say every NEEDLE,
# and leave $WORK/target exactly as it was.
refuse() {
	local code=$1 before
	shift
	local needles=()
	while [ "$1" != -- ]; do
		needles+=("$1")
		shift
	done
	shift
	before=$(snapshot target)
	expect_fail "$code" tg "$@"
	for n in "${needles[@]}"; do
		assert_contains "$OUT" "$n" "refusal of '$*'"
	done
	assert_not_contains "$OUT" "$DBPASS" "refusal of '$*'"
	assert_eq "$before" "$(snapshot target)" "target dir after refusal of '$*'"
}

# What the messages tell users to do (literally, not the expanded path).
# shellcheck disable=SC2088 # the literal text of the hint
PGPASS_HINT='~/.pgpass'

check_refusals() {
	local down
	mkdir target
	refuse 2 "the store URL holds a password" "${PGPASS_HINT}" "PGPASSWORD" -- \
		ca init --dir target/ca --store "postgresql://tlsgate:$DBPASS@127.0.0.1:$PORT/pki"
	refuse 2 "the store URL holds a password" -- \
		ca init --dir target/ca --store "postgres:host=127.0.0.1 dbname=pki password=$DBPASS"
	refuse 2 "unknown store" -- ca init --dir target/ca --store "mysql://db/pki"
	down=$(free_port)
	refuse 1 "cannot reach PostgreSQL at 127.0.0.1:$down, database pki" "Connection refused" \
		"start the server, or fix the host and port" -- \
		ca init --dir target/ca --store "postgresql://tlsgate@127.0.0.1:$down/pki"
	PGPASSFILE=/dev/null PGPASSWORD=wrong refuse 1 \
		"PostgreSQL at 127.0.0.1:$PORT, database pki refused user tlsgate" \
		"password authentication failed" "${PGPASS_HINT}" -- ca init --dir target/ca --store "$URL"
	refuse 1 "has no database nosuchdb" "createdb" -- \
		ca init --dir target/ca --store "postgresql://tlsgate@127.0.0.1:$PORT/nosuchdb"
	[ ! -e target/ca ] || fail "a refused ca init created target/ca"
	assert_eq 0 "$(pki_sql "select count(*) from tlsgate_certs where ca not in ('$CA1', '$CA2')")" \
		"rows left by refused inits"
	pass "refusals: password in URL, unknown scheme, server down, wrong password, no database"
}

# The server goes away after init: commands fail clearly and write nothing.
check_server_gone() {
	local before
	pg_ctl_do -m fast stop
	before=$(snapshot ca1)
	expect_fail 1 tg cert issue late.example --dir ca1
	assert_contains "$OUT" "inventory of ca1 (its URL is in ca1/store.conf)" "issue with the server down"
	assert_contains "$OUT" "cannot reach PostgreSQL at 127.0.0.1:$PORT" "issue with the server down"
	assert_eq "$before" "$(snapshot ca1)" "ca1 after the failed issue"
	pg_ctl_do start || fail "PostgreSQL did not restart"
	wait_port "$PORT" 10
	tg cert issue late.example --dir ca1 >/dev/null
	assert_eq 7 "$(tg cert list --dir ca1 --json | jq length)" "issue after the restart"
	pass "server down after init: clear refusal, nothing written; works again after restart"
}

# A CA that started on the embedded SQLite moves its inventory into
# PostgreSQL: every certificate with its status, the CRL numbers (the next
# CRL continues the series), then store.conf; issuing, revoking and CRLs go
# on there. A target holding another certificate under one of its serials
# stops the move and changes nothing; a second run is a no-op.
check_move() {
	local out before leaf serial id crl_n
	tg ca init --dir lite --name "lite CA" >/dev/null
	for h in m1 m2 m3; do tg cert issue "$h.example" --dir lite >/dev/null; done
	serial=$(serial_of lite/issued/m2.example.crt)
	tg cert revoke "$serial" --dir lite --reason keyCompromise >/dev/null
	tg crl --dir lite >/dev/null
	tg crl --dir lite --force >/dev/null
	crl_n=$(openssl crl -in lite/crl.pem -noout -crlnumber | cut -d= -f2)
	assert_eq "sqlite:lite/tlsgate.db" "$(tg ca store --dir lite)" "ca store before the move"
	before=$(tg cert list --dir lite --json | jq -c 'sort_by(.serial)')

	out=$(tg ca store --dir lite --move-to "$URL" --json)
	assert_eq "sqlite:lite/tlsgate.db $URL 4 1 0 1 $((crl_n))" \
		"$(jq -r '"\(.from) \(.to) \(.certificates) \(.revoked) \(.already_there) \(.crl_series) \(.leaf_crl_number)"' <<<"$out")" \
		"what the move reports (root + 3 leaves, 1 revoked, CRL series)"
	assert_eq "$URL" "$(tg ca store --dir lite)" "store.conf names the new inventory"
	assert_eq "600" "$(stat -c %a lite/store.conf)" "store.conf mode"
	assert_eq "$before" "$(tg cert list --dir lite --json | jq -c 'sort_by(.serial)')" \
		"cert list after the move: every row, status, dates and paths"
	id=$(ca_id lite)
	assert_eq "4 1" "$(pki_sql "select count(*), count(*) filter (where status = 'revoked') from tlsgate_certs where ca = '$id'" | tr '|' ' ')" \
		"rows in PostgreSQL"

	# Life goes on in PostgreSQL: the next CRL number follows the SQLite ones.
	tg cert issue m4.example --dir lite >/dev/null
	tg cert revoke "$(serial_of lite/issued/m4.example.crt)" --dir lite >/dev/null
	tg crl --dir lite --force >/dev/null
	assert_eq "$(printf "0x%02X" $((crl_n + 1)))" \
		"$(openssl crl -in lite/crl.pem -noout -crlnumber | cut -d= -f2)" "the CRL number continues"
	assert_contains "$(openssl crl -in lite/crl.pem -noout -text)" "Serial Number: $serial" \
		"the CRL from PostgreSQL still lists the revocation made in SQLite"
	out=$(openssl verify -crl_check -CAfile lite/root.crt -CRLfile lite/crl.pem \
		lite/issued/m2.example.crt 2>&1 || true)
	assert_contains "$out" "certificate revoked" "openssl: m2 is revoked by the CRL"
	assert_eq "5" "$(pki_sql "select count(*) from tlsgate_certs where ca = '$id'")" \
		"the new certificate is in PostgreSQL"
	assert_eq "4" "$(sqlite3 lite/tlsgate.db 'select count(*) from certs')" "the old inventory is untouched"
	pass "ca store --move-to: SQLite to PostgreSQL with every row and the CRL series; life goes on there"

	# Moving back to the old SQLite: what it has is kept, what is new comes.
	out=$(tg ca store --dir lite --move-to "sqlite:lite/tlsgate.db" --json)
	assert_eq "1 1 4" "$(jq -r '"\(.certificates) \(.revoked) \(.already_there)"' <<<"$out")" \
		"back to SQLite: m4 new (and revoked), 4 already there"
	assert_eq "5 2" "$(sqlite3 lite/tlsgate.db "select count(*), sum(status = 'revoked') from certs" | tr '|' ' ')" \
		"the SQLite inventory caught up"

	# Refusals: the same target again, a target with a clashing serial.
	expect_fail 2 "$TLSGATE" ca store --dir lite --move-to "sqlite:lite/tlsgate.db"
	assert_eq "tlsgate: error: the inventory of lite is already sqlite:lite/tlsgate.db" "$OUT" "moving to itself"
	tg ca init --dir other --name "other CA" >/dev/null
	tg cert issue x.example --dir other >/dev/null
	sqlite3 other/tlsgate.db "update certs set fingerprint = 'ff' || substr(fingerprint, 3) where cn = 'x.example'"
	sqlite3 other/tlsgate.db "insert into certs (serial, subject, cn, sans, profile, not_before, not_after, fingerprint, pem, status, created_at) select '$serial', subject, cn, sans, profile, not_before, not_after, fingerprint, pem, 'valid', created_at from certs where cn = 'x.example'"
	before=$(snapshot lite)
	expect_fail 1 "$TLSGATE" ca store --dir lite --move-to "sqlite:other/tlsgate.db"
	assert_contains "$OUT" "moving the inventory of lite to sqlite:other/tlsgate.db (nothing changed): serial $serial is already in the target inventory for another certificate" \
		"a clashing serial"
	assert_eq "$before" "$(snapshot lite)" "the CA dir after the refused move"
	assert_eq "3" "$(sqlite3 other/tlsgate.db 'select count(*) from certs')" \
		"nothing was added to the refused target"
	expect_fail 2 "$TLSGATE" ca store --dir lite --move-to "postgresql://tlsgate:pw@127.0.0.1:$PORT/pki"
	assert_contains "$OUT" "the store URL holds a password" "a password in the URL"
	pass "ca store --move-to: back again, to itself, a clashing serial and a password are handled"
}

start_postgres
check_init
check_lifecycle
check_parallel
check_apart
check_sign_renew
check_refusals
check_dml_only
check_server_gone
check_move
