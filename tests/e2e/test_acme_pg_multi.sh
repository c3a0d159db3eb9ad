#!/usr/bin/env bash
# Two `acme serve` processes on one PostgreSQL inventory serve one client
# alternately (tests/e2e/acme_alternate.py): both configured with the same
# --external-url, as behind a load balancer; every request goes to the next
# server with a nonce from the other; orders created on one are finalized on
# the other. The nonce key is one for both; every certificate is in the
# inventory once, with its order.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

start_postgres
acme_ca --store "$URL"
HTTP01=$(free_port)
P1=$(free_port)
P2=$(free_port)
EXT="https://localhost:$P1"
RESOLVE=()
for i in 0 1 2 3; do RESOLVE+=(--resolve "alt$i.example.test=127.0.0.1"); done
# Each server holds a connection per thread: 8 + 2 + 1, under the test server's 50.
ACME_PORT_WANT=$P1 start_acme acme-1 --external-url "$EXT" --http01-port "$HTTP01" \
	--workers 8 --validators 2 "${RESOLVE[@]}"
ACME_PORT_WANT=$P2 start_acme acme-2 --external-url "$EXT" --http01-port "$HTTP01" \
	--workers 8 --validators 2 "${RESOLVE[@]}"
CA_ID=$(ca_id pki)
assert_eq 1 "$(pki_sql "select count(*) from tlsgate_acme_keys where ca = '$CA_ID' and name = 'nonce'")" \
	"nonce keys in the store"

ACME_BASES="https://localhost:$P1 https://localhost:$P2" ACME_EXTERNAL=$EXT CA=$WORK/pki/root.crt \
	HTTP01=$HTTP01 timeout 300 python3 "$TLSGATE_SRC/tests/e2e/acme_alternate.py" >alternate.log 2>&1 ||
	fail "alternating client: $(tail -20 alternate.log)"
cat alternate.log
crossed=0
while read -r _ id made fin serial; do
	port=${fin##*:}
	other=$([ "$port" = "$P1" ] && echo 2 || echo 1)
	self=$([ "$port" = "$P1" ] && echo 1 || echo 2)
	grep -q "issued $serial to account .* for order $id" "acme-$self.log" ||
		fail "order $id: the issuance is not in the log of the server that finalized it ($fin)"
	! grep -q "for order $id" "acme-$other.log" || fail "order $id issued twice?"
	[ "$made" = "$fin" ] || crossed=$((crossed + 1))
	assert_eq "valid $serial" "$(pki_sql "select status || ' ' || serial from tlsgate_acme_orders where ca = '$CA_ID' and id = '$id'")" \
		"order $id in PostgreSQL"
	assert_eq valid "$(pki_sql "select status from tlsgate_certs where ca = '$CA_ID' and serial = '$serial'")" \
		"certificate $serial in PostgreSQL"
done < <(grep '^ORDER ' alternate.log)
[ "$crossed" -ge 2 ] || fail "only $crossed orders were finalized on another server than the one that made them"
for i in 1 2; do
	n=$(grep -c "POST /acme/" "acme-$i.log")
	[ "$n" -ge 10 ] || fail "server $i answered only $n POSTs"
done
assert_eq 4 "$(tg acme orders --dir pki --json | jq '[.[] | select(.status == "valid")] | length')" \
	"valid orders listed"
pass "two servers on one PostgreSQL store served one client alternately ($crossed orders crossed over)"
