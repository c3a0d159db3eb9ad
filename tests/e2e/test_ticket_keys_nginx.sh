#!/usr/bin/env bash
# One ticket-keys file for nginx (ssl_session_ticket_key) and tlsgate
# (--ticket-keys): both issue tickets named by the file's key and sealed with
# its HMAC and AES keys in nginx's 80-byte layout, which ticket_check.py
# opens outside either server. (OpenSSL binds a session to its server's
# session context, which nginx derives from its certificate and tlsgate from
# the listener name, so a session of one resumes only on its own kind: the
# other does a full handshake, which must work.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx (apt-get install nginx-light)"

cd "$WORK"
tg ca init --dir pki --name "Mixed Fleet CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
(umask 077 && openssl rand 80 >old.key && openssl rand 80 >new.key && cat new.key old.key >both.key)

NP=$(free_port); NP2=$(free_port); BP=$(free_port); G=$(free_port)
mkdir -p ng/tmp
cat >ng/nginx.conf <<EOF
worker_processes 1;
pid $WORK/ng/nginx.pid;
error_log $WORK/ng/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/ng/tmp/body;
    proxy_temp_path $WORK/ng/tmp/proxy;
    fastcgi_temp_path $WORK/ng/tmp/fastcgi;
    uwsgi_temp_path $WORK/ng/tmp/uwsgi;
    scgi_temp_path $WORK/ng/tmp/scgi;
    ssl_certificate $WORK/pki/issued/localhost.crt;
    ssl_certificate_key $WORK/pki/issued/localhost.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:$NP ssl;
        ssl_session_ticket_key $WORK/new.key;
        ssl_session_ticket_key $WORK/old.key;
        location / { default_type text/plain; return 200 "nginx\n"; }
    }
    server {
        listen 127.0.0.1:$NP2 ssl;
        ssl_session_ticket_key $WORK/old.key;
        location / { default_type text/plain; return 200 "nginx\n"; }
    }
}
EOF
out=$(timeout 20 "$NGINX" -t -c "$WORK/ng/nginx.conf" -p "$WORK/ng" -e "$WORK/ng/error.log" 2>&1) ||
	fail "nginx rejects the config: $out"
start_bg nginx "$NGINX" -c "$WORK/ng/nginx.conf" -p "$WORK/ng" -e "$WORK/ng/error.log" -g 'daemon off;'
start_echo_backend "$BP"
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --ticket-keys both.key --workers 1
wait_port "$NP"; wait_port "$NP2"; wait_port "$G"

sess() { # PORT VERSION [s_client options]: "New 200", "Reused 200"
	local port=$1 v=$2
	shift 2
	printf 'GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 20 openssl s_client -connect "127.0.0.1:$port" "-$v" -servername localhost \
			-CAfile pki/root.crt -ign_eof "$@" 2>/dev/null |
		sed -nE 's/^(New|Reused), .*/\1/p; s/^HTTP\/1.1 ([0-9]+).*/\1/p' | paste -sd' '
}
ticket() { python3 "$TLSGATE_SRC/tests/e2e/ticket_check.py" "$1" "$2"; }

for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(sess $NP $v -sess_out n-$v.pem)" "$v: nginx, a full handshake"
	assert_eq "Reused 200" "$(sess $NP $v -sess_in n-$v.pem)" "$v: nginx resumes its own ticket"
	assert_eq "New 200" "$(sess $G $v -sess_out g-$v.pem)" "$v: tlsgate, a full handshake"
	assert_eq "Reused 200" "$(sess $G $v -sess_in g-$v.pem)" "$v: tlsgate resumes its own ticket"
	assert_eq "key=1 hmac=ok session=der" "$(ticket n-$v.pem both.key)" "$v: nginx's ticket opens with the file's first key"
	assert_eq "key=1 hmac=ok session=der" "$(ticket g-$v.pem both.key)" "$v: tlsgate's ticket opens the same way"
	assert_eq "New 200" "$(sess $G $v -sess_in n-$v.pem)" "$v: nginx's ticket on tlsgate: a working full handshake"
	# nginx holding only the old key: its tickets are named and sealed by that key.
	assert_eq "New 200" "$(sess $NP2 $v -sess_out o-$v.pem)" "$v: nginx with the old key"
	assert_eq "key=2 hmac=ok session=der" "$(ticket o-$v.pem both.key)" "$v: ... is the second key of tlsgate's file"
done
pass "nginx and tlsgate seal tickets alike with one 80-byte key file (TLS 1.3 and 1.2)"
