#!/usr/bin/env bash
# nginx with client certificates (seeds/003): a tlsgate server cert (leaf +
# intermediate) and `ssl_client_certificate root.crt; ssl_verify_client on;`.
# curl with a tlsgate client cert gets 200; without one, 400 "No required SSL
# certificate was sent"; with a cert from another tlsgate CA, 400 too.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx (apt-get install nginx-light)"
command -v curl >/dev/null || fail "no curl (apt-get install curl)"

CA="$WORK/ca"
OTHER="$WORK/other-ca"
NG="$WORK/nginx"
PORT=$(free_port)

make_pki() {
	# With an intermediate, so the test also proves NAME.crt is a chain in the
	# order servers send it (leaf first): curl trusts only the root.
	tg ca init --dir "$CA" --intermediate --name "e2e nginx CA" >/dev/null
	tg cert issue localhost --dir "$CA" --san 127.0.0.1 >/dev/null
	tg cert issue alice --dir "$CA" --client >/dev/null
	tg ca init --dir "$OTHER" --name "someone else's CA" >/dev/null
	tg cert issue alice --dir "$OTHER" --client >/dev/null
}

write_conf() {
	mkdir -p "$NG/tmp"
	cat >"$NG/nginx.conf" <<-EOF
		worker_processes 1;
		pid $NG/nginx.pid;
		error_log $NG/error.log info;
		events { worker_connections 64; }
		http {
		    access_log $NG/access.log;
		    client_body_temp_path $NG/tmp/body;
		    proxy_temp_path $NG/tmp/proxy;
		    fastcgi_temp_path $NG/tmp/fastcgi;
		    uwsgi_temp_path $NG/tmp/uwsgi;
		    scgi_temp_path $NG/tmp/scgi;
		    server {
		        listen 127.0.0.1:$PORT ssl;
		        server_name localhost;
		        ssl_certificate $CA/issued/localhost.crt;
		        ssl_certificate_key $CA/issued/localhost.key;
		        ssl_client_certificate $CA/root.crt;
		        ssl_verify_client on;
		        location / {
		            default_type text/plain;
		            return 200 "hello \$ssl_client_s_dn\n";
		        }
		    }
		}
	EOF
}

start_nginx() {
	local out
	out=$(timeout 20 "$NGINX" -t -c "$NG/nginx.conf" -p "$NG" -e "$NG/error.log" 2>&1) ||
		fail "nginx rejects the config with tlsgate's files: $out"
	start_bg nginx-stdout "$NGINX" -c "$NG/nginx.conf" -p "$NG" -e "$NG/error.log" -g 'daemon off;'
	wait_port "$PORT" 10
}

# get URL_HOST CURL_ARGS...: HTTPS GET; prints "CODE BODY". The server's name
# is always verified against tlsgate's root.
get() {
	local host=$1 body code
	shift
	body="$WORK/body.$RANDOM"
	code=$(timeout 20 curl -sS --max-time 10 --cacert "$CA/root.crt" \
		--resolve "localhost:$PORT:127.0.0.1" -o "$body" -w '%{http_code}' \
		"$@" "https://$host:$PORT/" 2>"$body.err") ||
		fail "curl $* to $host failed: $(cat "$body.err")"
	echo "$code $(cat "$body")"
}

check_with_cert() {
	local out
	out=$(get localhost --cert "$CA/issued/alice.crt" --key "$CA/issued/alice.key")
	assert_contains "$out" "200 hello CN=alice" "curl with alice's cert"
	# The IP SAN verifies too (curl checks IP addresses against IP SANs only).
	out=$(get 127.0.0.1 --cert "$CA/issued/alice.crt" --key "$CA/issued/alice.key")
	assert_contains "$out" "200 hello CN=alice" "curl to 127.0.0.1 with alice's cert"
}

check_without_cert() {
	local out
	out=$(get localhost)
	assert_contains "$out" "400 " "status without a client cert"
	assert_contains "$out" "No required SSL certificate was sent" "body without a client cert"
}

check_foreign_cert() {
	local out
	out=$(get localhost --cert "$OTHER/issued/alice.crt" --key "$OTHER/issued/alice.key")
	assert_contains "$out" "400 " "status with a foreign CA's cert"
	assert_contains "$out" "The SSL certificate error" "body with a foreign CA's cert"
	grep -q "client SSL certificate verify error" "$NG/error.log" ||
		fail "nginx error.log does not record the client cert verify error"
}

# And the other way round: a client trusting another CA must not accept nginx.
check_server_verified() {
	local err
	if timeout 20 curl -sS --max-time 10 --cacert "$OTHER/root.crt" \
		--resolve "localhost:$PORT:127.0.0.1" -o /dev/null \
		--cert "$CA/issued/alice.crt" --key "$CA/issued/alice.key" \
		"https://localhost:$PORT/" 2>"$WORK/curl.err"; then
		fail "curl accepted nginx's cert while trusting another CA"
	fi
	err=$(cat "$WORK/curl.err")
	assert_contains "$err" "certificate" "curl's refusal of an untrusted server"
}

make_pki
write_conf
start_nginx
check_with_cert
check_without_cert
check_foreign_cert
check_server_verified
