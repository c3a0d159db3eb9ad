#!/usr/bin/env bash
# Eight processes issue 200 certificates each from one CA at the same time:
# 1,600 distinct serials, all in the inventory, the database intact, and every
# certificate verifies.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca >/dev/null
pids=()
for w in 1 2 3 4 5 6 7 8; do
	seq -f "w$w-dev-%04g" 1 200 > names.$w
	"$TLSGATE" cert issue --batch names.$w --dir ca --client --out-dir out.$w >w$w.log 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "an issuing process failed"
done

files=$(ls out.*/*.crt | wc -l)
assert_eq 1600 "$files" "certificate files"
# All serials of the files in one openssl run (the files hold the leaf only:
# this CA has no intermediate).
cat out.*/*.crt > all.pem
openssl storeutl -noout -text -certs all.pem |
	awk '/Serial Number:/ { getline; gsub(/[ :]/, ""); print toupper($0) }' | sort > files.serials
assert_eq 1600 "$(wc -l < files.serials)" "serials read from the files"
assert_eq 1600 "$(sort -u files.serials | wc -l)" "distinct serials in the files"
sqlite3 ca/tlsgate.db "SELECT serial FROM certs WHERE profile='client'" | sort > db.serials
assert_eq 1600 "$(sort -u db.serials | wc -l)" "distinct serials in the inventory"
assert_eq "" "$(comm -3 files.serials db.serials)" "files and inventory hold the same serials"
assert_eq ok "$(sqlite3 ca/tlsgate.db 'PRAGMA integrity_check')" "integrity_check"
openssl verify -x509_strict -purpose sslclient -CAfile ca/root.crt out.3/w3-dev-0200.crt >/dev/null
keys_ok=$(stat -c %a out.*/*.key | sort -u)
assert_eq 600 "$keys_ok" "every key is 0600"
pass "8 x 200 parallel issues: 1600 distinct serials, inventory intact"
