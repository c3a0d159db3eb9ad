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

# psql as users type it: sslmode=prefer (libpq's default) asks the local
# port for TLS first. The local side is plain, the TLS is the gateway's: it
# answers 'N' itself, as a server without TLS would, and psql goes on in
# plain text (the SSLRequest used to reach PostgreSQL inside the tunnel,
# which refused it as an unknown protocol).
for mode in prefer allow; do
	out=$(PGCONNECT_TIMEOUT=10 timeout 30 psql -X -tA -c "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()" \
		"host=127.0.0.1 port=$CP dbname=postgres user=alice sslmode=$mode" 2>&1) ||
		fail "psql sslmode=$mode through tlsgate connect failed: $out"
	assert_eq "alice|t" "$out" "psql sslmode=$mode through the gateway: over TLS upstream"
done
out=$(PGCONNECT_TIMEOUT=10 PGSSLMODE=prefer timeout 30 psql -X -tA -c "select 1" \
	"host=127.0.0.1 port=$CP dbname=postgres user=alice gssencmode=prefer" 2>&1) ||
	fail "psql gssencmode=prefer through tlsgate connect failed: $out"
assert_eq 1 "$out" "psql gssencmode=prefer through the gateway"
# A GSSENCRequest, then an SSLRequest (libpq's order when it has Kerberos
# credentials), each answered 'N'; the startup message then reaches
# PostgreSQL, which answers (R: authentication) over the tunnel.
out=$(timeout 30 python3 - "$CP" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
answers = []
for code in (80877104, 80877103):
    s.sendall(struct.pack("!II", 8, code))
    answers.append(s.recv(1).decode())
body = struct.pack("!I", 196608) + b"user\0alice\0database\0postgres\0\0"
s.sendall(struct.pack("!I", len(body) + 4) + body)
first = s.recv(1)
print(" ".join(answers), first.decode())
PY
) || fail "raw GSSENCRequest and SSLRequest through connect: $out"
assert_eq "N N R" "$out" "GSSENCRequest and SSLRequest answered N by the gateway, then PostgreSQL's authentication"
# Who demands TLS of the local port is told it has none (the answer a
# server without TLS gives), not let through.
if out=$(PGCONNECT_TIMEOUT=10 timeout 30 psql -X -tA -c "select 1" \
	"host=127.0.0.1 port=$CP dbname=postgres user=alice sslmode=require" 2>&1); then
	fail "psql sslmode=require got through a plain local port: $out"
fi
assert_contains "$out" "server does not support SSL" "psql sslmode=require to the plain local port"
pass "psql with its default sslmode=prefer (and allow, gssencmode=prefer) through connect; sslmode=require is told no"

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
