#!/usr/bin/env bash
# `tlsgate ca store --move-to` carries the ACME server's state: accounts,
# orders, authorizations, challenges, EAB keys, used nonces and the nonce
# key move with the certificates, in the same transaction. A client
# (python3-acme, acme_move_client.py) registers with an EAB key against the
# SQLite inventory, gets a certificate and leaves an order pending; the
# inventory moves to PostgreSQL; served from there, the same key finds the
# same account (onlyReturnExisting) with its orders, the used EAB key is
# refused as bound and the unused one registers. The listings are the same
# before and after the move.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
need_pyacme
cd "$WORK"

start_postgres
acme_ca
HTTP01=$(free_port)
out=$(tg acme eab add --dir pki --name used --json)
export EAB_KID EAB_KEY EAB_KID2 EAB_KEY2
EAB_KID=$(jq -r .kid <<<"$out")
EAB_KEY=$(jq -r .hmac_key <<<"$out")
out=$(tg acme eab add --dir pki --name spare --json)
EAB_KID2=$(jq -r .kid <<<"$out")
EAB_KEY2=$(jq -r .hmac_key <<<"$out")
export REQUESTS_CA_BUNDLE=$WORK/pki/root.crt STATE=$WORK/client.json HTTP01
export PYTHONPATH=$TLSGATE_SRC/tests/e2e TLSGATE PKI=$WORK/pki

start_acme acme-lite --http01-port "$HTTP01" --eab-required \
	--resolve moved.example.test=127.0.0.1
LITE_PORT=$ACME_PORT
ACME="https://localhost:$ACME_PORT" timeout 120 "$PY" "$TLSGATE_SRC/tests/e2e/acme_move_client.py" before \
	>before.log 2>&1 || fail "the client on SQLite: $(tail -20 before.log)"
cat before.log
kill "$ACME_PID"
wait "$ACME_PID" 2>/dev/null || true
listings() {
	tg acme accounts --dir pki --json
	tg acme orders --dir pki --json
	tg acme eab list --dir pki --json
	tg cert list --dir pki --json
}
lite=$(listings)
assert_eq 1 "$(tg acme accounts --dir pki --json | jq length)" "accounts on SQLite"

out=$(tg ca store --dir pki --move-to "$URL" --json)
assert_eq "$URL" "$(jq -r .to <<<"$out")" "the move's target"
CA_ID=$(ca_id pki)
assert_eq 1 "$(pki_sql "select count(*) from tlsgate_acme_accounts where ca = '$CA_ID'")" \
	"accounts in PostgreSQL"
assert_eq "$lite" "$(listings)" "the listings, now from PostgreSQL"

# The same URL as before the move, as the clients know it.
ACME_PORT_WANT=$LITE_PORT start_acme acme-pg --http01-port "$HTTP01" --eab-required
ACME="https://localhost:$ACME_PORT" timeout 120 "$PY" "$TLSGATE_SRC/tests/e2e/acme_move_client.py" after \
	>after.log 2>&1 || fail "the client on PostgreSQL: $(tail -20 after.log)"
cat after.log
assert_eq "1 2 2" "$(jq -r '"\(.acme_accounts) \(.acme_orders) \(.acme_eab_keys)"' <<<"$out")" \
	"ACME accounts, orders and EAB keys moved"
assert_eq 2 "$(pki_sql "select count(*) from tlsgate_acme_accounts where ca = '$CA_ID'")" \
	"accounts in PostgreSQL after the spare EAB key registered one"
pass "the ACME state moved with the inventory: the account, its orders and the EAB keys work on PostgreSQL"
kill "$ACME_PID"
wait "$ACME_PID" 2>/dev/null || true

# Back to SQLite, refused first: in PostgreSQL alice's key now belongs to
# an account of another id, which the SQLite inventory cannot take next to
# alice's (one account per key). The ACME rows come with the certificates
# or not at all: the new certificate and account stay out of SQLite too.
alice=$(jq -r .account client.json)
alice=${alice##*/}
pki_sql "update tlsgate_acme_accounts set id = 'other' where ca = '$CA_ID' and id = '$alice'" >/dev/null
lite_rows() {
	sqlite3 pki/tlsgate.db "select count(*) from certs; select id, status from tlsgate_acme_accounts order by id;
		select id, status from tlsgate_acme_orders order by id; select kid, account from tlsgate_acme_eab order by kid"
}
tg cert issue extra.example.test --dir pki >/dev/null
before=$(lite_rows)
conf=$(cat pki/store.conf)
expect_fail 1 "$TLSGATE" ca store --dir pki --move-to "sqlite:pki/tlsgate.db"
assert_contains "$OUT" "(nothing changed): copying the ACME server's state: tlsgate_acme_accounts row other clashes with another row of the target" \
	"a clashing account key"
assert_eq "$before" "$(lite_rows)" "the SQLite inventory after the refused move"
assert_eq "$conf" "$(cat pki/store.conf)" "store.conf after the refused move"
# Put right, the move back brings the new rows and updates the old ones.
pki_sql "update tlsgate_acme_accounts set id = '$alice' where ca = '$CA_ID' and id = 'other'" >/dev/null
pg=$(listings)
out=$(tg ca store --dir pki --move-to "sqlite:pki/tlsgate.db" --json)
assert_eq "2 2 2" "$(jq -r '"\(.acme_accounts) \(.acme_orders) \(.acme_eab_keys)"' <<<"$out")" \
	"ACME accounts, orders and EAB keys moved back"
assert_eq "$pg" "$(listings)" "the listings, back on SQLite"
pass "a clashing account key stops the move with nothing changed; the move back carries the ACME state"
