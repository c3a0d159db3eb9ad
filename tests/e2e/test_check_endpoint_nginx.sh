#!/usr/bin/env bash
# tlsgate check endpoint against a real nginx on loopback, one server block
# per broken setup: reversed intermediates, missing intermediate, expired
# leaf, wrong name, TLS 1.0 enabled, client certs requested; plus a good one.
set -euo pipefail

: "${TLSGATE:?set TLSGATE to the built binary}"
: "${TLSGATE_SRC:?set TLSGATE_SRC to the source root}"
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
command -v nginx >/dev/null || { echo "SKIP: nginx not installed (scripts/deps.sh test)"; exit 77; }

W=$(mktemp -d /tmp/tlsgate-check-nginx.XXXXXX)
NGINX_PID=""
failed=0
cleanup() {
	local rc=$?
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
		echo "--- nginx error.log ---" >&2
		cat "$W/error.log" >&2 2>/dev/null || true
		echo "--- last check output ---" >&2
		cat "$W/out.json" >&2 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

P=$W/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=nginx Test Root"
pki_cert "$P/inter" "$P/root" inter "/CN=nginx Test Inter 1"
pki_cert "$P/inter2" "$P/inter" inter "/CN=nginx Test Inter 2"
pki_cert "$P/leaf" "$P/inter" server "/CN=example.com" "DNS:example.com"
pki_cert "$P/deep" "$P/inter2" server "/CN=example.com" "DNS:example.com"
pki_cert "$P/expired" "$P/inter" server "/CN=example.com" "DNS:example.com" "-60 days" "-2 days"
pki_cert "$P/wrong" "$P/inter" server "/CN=other.example.org" "DNS:other.example.org"
cat "$P/leaf.crt" "$P/inter.crt" >"$P/good.pem"
# nginx sends the leaf first (it must match the key) and the rest as written:
# the intermediates reversed is the out-of-order chain it will serve.
cat "$P/deep.crt" "$P/inter.crt" "$P/inter2.crt" >"$P/reversed.pem"
cp "$P/leaf.crt" "$P/leafonly.pem"
cat "$P/expired.crt" "$P/inter.crt" >"$P/expired.pem"
cat "$P/wrong.crt" "$P/inter.crt" >"$P/wrong.pem"

declare -A PORT
servers=""
server() { # NAME CERT KEY [extra directives]
	PORT[$1]=$(free_port)
	servers+="
	server {
		listen 127.0.0.1:${PORT[$1]} ssl;
		server_name example.com;
		ssl_certificate $2;
		ssl_certificate_key $3;
		$4
		location / { return 200 \"ok\\n\"; }
	}"
}
server good "$P/good.pem" "$P/leaf.key" ""
server reversed "$P/reversed.pem" "$P/deep.key" ""
server missing "$P/leafonly.pem" "$P/leaf.key" ""
server expired "$P/expired.pem" "$P/expired.key" ""
server wrongname "$P/wrong.pem" "$P/wrong.key" ""
server tls10 "$P/good.pem" "$P/leaf.key" "ssl_protocols TLSv1 TLSv1.2; ssl_ciphers DEFAULT:@SECLEVEL=0;"
server mtls "$P/good.pem" "$P/leaf.key" "ssl_client_certificate $P/root.crt; ssl_verify_client optional;"

mkdir -p "$W/tmp"
cat >"$W/nginx.conf" <<EOF
daemon off;
master_process off;
pid $W/nginx.pid;
error_log $W/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $W/tmp;
	proxy_temp_path $W/tmp;
	fastcgi_temp_path $W/tmp;
	uwsgi_temp_path $W/tmp;
	scgi_temp_path $W/tmp;
	$servers
}
EOF
nginx -t -c "$W/nginx.conf" -p "$W" >"$W/nginx-t.log" 2>&1 || { cat "$W/nginx-t.log" >&2; exit 1; }
nginx -c "$W/nginx.conf" -p "$W" 2>>"$W/error.log" &
NGINX_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/${PORT[mtls]}") 2>/dev/null && break
	sleep 0.1
done

# expect NAME EXIT "CODES" -- extra args
expect() {
	local name=$1 want_rc=$2 want=$3 rc=0 got
	shift 4
	"$TLSGATE" check endpoint "127.0.0.1:${PORT[$name]}" --sni example.com --ca "$P/root.crt" \
		--no-system-ca --json "$@" >"$W/out.json" 2>"$W/err.txt" || rc=$?
	got=$(jq -r '[.subjects[].findings[].code] | unique | join(" ")' "$W/out.json" 2>/dev/null || echo "(no json: $(cat "$W/err.txt"))")
	if [ "$rc" != "$want_rc" ] || [ "$got" != "$want" ]; then
		echo "FAIL $name: want exit $want_rc [$want], got exit $rc [$got]" >&2
		failed=$((failed + 1))
	else
		echo "ok   $name: [$got]"
	fi
}

expect good 0 "" --
expect reversed 1 "chain-order" --
expect missing 1 "chain-incomplete" --
expect expired 1 "expired" --
expect wrongname 1 "name-mismatch" --
expect tls10 0 "tls-old-version" --
jq -e '.subjects[0].endpoint.tls1_0 == true' "$W/out.json" >/dev/null ||
	{ echo "FAIL tls10: endpoint.tls1_0 not true" >&2; failed=$((failed + 1)); }
expect mtls 0 "client-cert-requested" --
grep -q "nginx Test Root" "$W/out.json" ||
	{ echo "FAIL mtls: advertised CA name not reported" >&2; failed=$((failed + 1)); }

# The served chain is what the server sends: two certificates for "good".
"$TLSGATE" check endpoint "127.0.0.1:${PORT[good]}" --sni example.com --ca "$P/root.crt" \
	--no-system-ca --json >"$W/out.json"
[ "$(jq '.subjects[0].certificates' "$W/out.json")" = 2 ] ||
	{ echo "FAIL good: served chain not read whole" >&2; failed=$((failed + 1)); }

# Nothing listening: could not run, exit 2.
rc=0
"$TLSGATE" check endpoint "127.0.0.1:$(free_port)" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || { echo "FAIL unreachable: exit $rc, want 2" >&2; failed=$((failed + 1)); }

[ $failed -eq 0 ]
