#!/usr/bin/env bash
# Plain psql (sslmode=disable) reaches a PostgreSQL that only lets in TLS
# with a verified client certificate (hostssl ... cert clientcert=verify-full)
# through `tlsgate connect --starttls postgres`: the gateway sends the
# SSLRequest, gets 'S', does TLS with alice's certificate, and the session
# shows ssl=t and CN=alice in pg_stat_ssl. The same psql straight to the
# server is refused, so the TLS is the gateway's. A server that answers 'N'
# closes the client with a line that says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pg.sh"

CA="$WORK/ca"
tg ca init --dir "$CA" --name "e2e connect CA" >/dev/null
tg cert issue localhost --dir "$CA" --san 127.0.0.1 >/dev/null
tg cert issue alice --dir "$CA" --client >/dev/null

start_postgres
cp "$CA/issued/localhost.crt" "$DATA/server.crt"
cp "$CA/issued/localhost.key" "$DATA/server.key"
cp "$CA/root.crt" "$DATA/root.crt"
chmod 600 "$DATA/server.key"
[ "$(id -u)" -ne 0 ] || chown postgres: "$DATA/server.crt" "$DATA/server.key" "$DATA/root.crt"
printf '%s\n' "ssl = on" "ssl_cert_file = 'server.crt'" "ssl_key_file = 'server.key'" \
	"ssl_ca_file = 'root.crt'" >>"$DATA/postgresql.conf"
printf '%s\n' "local all postgres trust" \
	"hostssl all all 127.0.0.1/32 cert clientcert=verify-full" >"$DATA/pg_hba.conf"
as_pg timeout 30 "$PGBIN/pg_ctl" -D "$DATA" reload >/dev/null
for ((i = 0; i < 50; i++)); do
	[ "$(admin_sql 'show ssl')" = on ] && break
	sleep 0.2
done
assert_eq on "$(admin_sql 'show ssl')" "PostgreSQL turned SSL on"
admin_sql 'create role alice login' >/dev/null

plain_psql() { # plain_psql PORT SQL
	PGCONNECT_TIMEOUT=10 timeout 30 psql -X -tA -c "$2" \
		"host=127.0.0.1 port=$1 dbname=postgres user=alice sslmode=disable" 2>&1
}

if out=$(plain_psql "$PORT" 'select 1'); then fail "plain psql got in without TLS: $out"; fi
assert_contains "$out" 'no pg_hba.conf entry for host "127.0.0.1", user "alice", database "postgres", no encryption' \
	"plain psql straight to the server"
pass "plain psql straight to PostgreSQL is refused (hostssl only)"

CP=$(free_port)
start_bg cl timeout 120 "$TLSGATE" connect --listen 127.0.0.1:$CP --target 127.0.0.1:$PORT \
	--starttls postgres --cert "$CA/issued/alice.crt" --key "$CA/issued/alice.key" \
	--ca "$CA/root.crt" --workers 1
wait_log "$WORK/cl.log" "PostgreSQL SSLRequest first"
out=$(plain_psql "$CP" "select current_user, ssl, client_dn from pg_stat_ssl where pid = pg_backend_pid()") ||
	fail "psql through tlsgate connect failed: $out"
assert_eq "alice|t|/CN=alice" "$out" "current_user and pg_stat_ssl through the gateway"
wait_log "$WORK/cl.log" "conn listener=default .* tls=TLSv1.3 sni=- cn=localhost verify=ok"
pass "plain psql through tlsgate connect --starttls postgres: alice over TLS with her certificate"

# A server that does not do TLS answers 'N': the client is closed, the log says why.
NP=$(free_port)
NC=$(free_port)
start_bg nserver python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(8)
    c.sendall(b"N")
    c.recv(100)
    c.close()
' "$NP"
wait_port "$NP"
start_bg ncl timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$NC --target 127.0.0.1:$NP \
	--starttls postgres --cert "$CA/issued/alice.crt" --key "$CA/issued/alice.key" \
	--ca "$CA/root.crt" --workers 1
wait_log "$WORK/ncl.log" "ready:"
if out=$(plain_psql "$NC" 'select 1'); then fail "psql got an answer from a server that said N: $out"; fi
wait_log "$WORK/ncl.log" "refused TLS: it answered 'N' to the SSLRequest (ssl = off in its postgresql.conf?); closed the client"
pass "a server answering 'N' to the SSLRequest: the client closed, logged ($(echo "$out" | head -n1))"
