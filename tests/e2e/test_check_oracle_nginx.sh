#!/usr/bin/env bash
# nginx as the oracle for `tlsgate check --nginx-config` (lib/oracle.sh):
# clean and broken setups, each started for real (nginx -t, then nginx) and
# tried with curl against the CA a client trusts; tlsgate check must say
# error exactly when nginx does not start or curl is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ORACLE_SERVICE=nginx
# shellcheck source=lib/oracle.sh
. "$TLSGATE_SRC/tests/e2e/lib/oracle.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx (apt-get install nginx-light)"
cd "$WORK"
P=$WORK/pki
oracle_pki "$P"
echo s3cret >"$WORK/pass.txt"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:s3cret -out "$P/leaf-enc.key"

# setup NAME SERVER_NAME DIRECTIVES: a fresh dir $S with a one-server
# nginx.conf listening with ssl on $PORT; files are copied in by the caller.
setup() {
	oracle_dir "$1"
	mkdir -p "$S/logs"
	cat >"$S/nginx.conf" <<EOF
events { worker_connections 32; }
pid $S/nginx.pid;
error_log $S/logs/error.log;
daemon off;
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl;
        server_name $2;
        $3
        location / { return 200 "ok\n"; }
    }
}
EOF
}

# run NAME WHAT HOST [CURL_ARGS...]: nginx -t, start, curl to HOST, stop;
# then tlsgate check on the same config; one row of the table.
run() {
	local name=$1 what=$2 host=$3 service why
	shift 3
	# setsid, no stdin: nginx cannot prompt for a passphrase on a terminal.
	if ! setsid "$NGINX" -t -p "$S" -c "$S/nginx.conf" </dev/null >"$S/logs/t.log" 2>&1; then
		service=no-start
		why=$(grep -m1 -o 'emerg\] [0-9#]*: .*' "$S/logs/t.log" | cut -d' ' -f3- |
			sed "s|$S/||g" | cut -c1-90 || true)
	else
		oracle_start nginx "$NGINX" -p "$S" -c "$S/nginx.conf"
		if [ "$ORACLE_UP" = 0 ]; then
			service=no-start
			why="nginx did not listen"
		elif curl -sS --max-time 10 --cacert "$P/root.crt" \
			--resolve "$host:$PORT:127.0.0.1" "$@" "https://$host:$PORT/" >"$S/curl.out" 2>"$S/curl.err" &&
			[ "$(cat "$S/curl.out")" = ok ]; then
			service=works
			why="curl gets ok"
		else
			service=refused
			why="curl: $(sed -n 's/^curl: ([0-9]*) //p' "$S/curl.err" | head -n1 | cut -c1-80 || true)"
			[ "$why" != "curl: " ] || why="curl: $(grep -o '<title>[^<]*' "$S/curl.out" | cut -c8- || true)"
		fi
		oracle_stop
	fi
	oracle_check "$name" --nginx-config "$S/nginx.conf" "${CHECK_ARGS[@]}"
	oracle_row "$name" "$what" "$service" "$why"
}

# served NAME SERVER_NAME KEY KEY_MODE KEY_OWNER CERT...: a setup serving
# the CERTs (in that order) with KEY.
served() {
	local name=$1 host=$2 key=$3 mode=$4 owner=$5
	shift 5
	setup "$name" "$host" "$CERT"
	cat "$@" >"$S/fullchain.crt"
	put "$key" leaf.key "$mode" "$owner"
}

CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca)
CERT='ssl_certificate fullchain.crt; ssl_certificate_key leaf.key;'

served clean a.example "$P/leaf.key" 600 "" "$P/fullchain.crt"
run clean "leaf + intermediate, key 0600" a.example

setup client-ca a.example "$CERT ssl_client_certificate ca.crt; ssl_verify_client on;"
put "$P/fullchain.crt" fullchain.crt
put "$P/leaf.key" leaf.key 600
cat "$P/inter.crt" "$P/root.crt" >"$S/ca.crt"
run client-ca "client certificates required, CA file inter + root" a.example \
	--cert "$P/client.crt" --key "$P/client.key"

setup swapped a.example 'ssl_certificate leaf.key; ssl_certificate_key fullchain.crt;'
put "$P/fullchain.crt" fullchain.crt
put "$P/leaf.key" leaf.key 600
run swapped "ssl_certificate and ssl_certificate_key swapped" a.example

setup leaf-as-ca a.example "$CERT ssl_client_certificate ca.crt; ssl_verify_client on;"
put "$P/fullchain.crt" fullchain.crt
put "$P/leaf.key" leaf.key 600
put "$P/client.crt" ca.crt
run leaf-as-ca "ssl_client_certificate holds a client leaf, not its CA" a.example \
	--cert "$P/client-chain.crt" --key "$P/client.key"

served encrypted a.example "$P/leaf-enc.key" 600 "" "$P/fullchain.crt"
run encrypted "encrypted key, no ssl_password_file" a.example

setup encrypted-pass a.example "$CERT ssl_password_file pass.txt;"
put "$P/fullchain.crt" fullchain.crt
put "$P/leaf-enc.key" leaf.key 600
put "$WORK/pass.txt" pass.txt 600
run encrypted-pass "encrypted key, its passphrase in ssl_password_file" a.example

setup encrypted-badpass a.example "$CERT ssl_password_file pass.txt;"
put "$P/fullchain.crt" fullchain.crt
put "$P/leaf-enc.key" leaf.key 600
echo wrong >"$S/pass.txt"
run encrypted-badpass "encrypted key, a wrong ssl_password_file" a.example

CHECK_ARGS=(--no-system-ca)
served no-root-given a.example "$P/leaf.key" 600 "" "$P/fullchain.crt"
run no-root-given "leaf + intermediate; the check is not given the private root" a.example
CHECK_ARGS=(--ca "$P/root.crt" --no-system-ca)

served reversed a.example "$P/leaf.key" 600 "" "$P/inter.crt" "$P/leaf.crt"
run reversed "chain reversed: intermediate first" a.example
served no-intermediate a.example "$P/leaf.key" 600 "" "$P/leaf.crt"
run no-intermediate "leaf alone, its intermediate missing" a.example
setup inter-in-client-ca a.example "$CERT ssl_client_certificate ca.crt; ssl_verify_client optional;"
put "$P/leaf.crt" fullchain.crt
put "$P/leaf.key" leaf.key 600
cat "$P/inter.crt" "$P/root.crt" >"$S/ca.crt"
run inter-in-client-ca "leaf alone; its intermediate in ssl_client_certificate" a.example
served direct a.example "$P/direct.key" 600 "" "$P/direct.crt"
run direct "a leaf the root signs itself, served alone" a.example
served root-included a.example "$P/leaf.key" 600 "" "$P/leaf.crt" "$P/inter.crt" "$P/root.crt"
run root-included "leaf + intermediate + root" a.example
served expired a.example "$P/expired.key" 600 "" "$P/expired.crt" "$P/inter.crt"
run expired "an expired leaf" a.example
served name b.example "$P/leaf.key" 600 "" "$P/fullchain.crt"
run name "server_name b.example, the certificate is for a.example" b.example
served mismatch a.example "$P/other.key" 600 "" "$P/fullchain.crt"
run mismatch "the key of another certificate" a.example
# nginx's master reads the key as root before workers drop privileges:
# an owner or mode that shuts the workers' user out does not matter.
served key-world a.example "$P/leaf.key" 644 "" "$P/fullchain.crt"
run key-world "key mode 0644 (anyone may read it)" a.example
served key-nobody a.example "$P/leaf.key" 600 nobody "$P/fullchain.crt"
run key-nobody "key 0600 owned by nobody (the master reads it as root)" a.example

oracle_finish 12
