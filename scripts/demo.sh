#!/usr/bin/env bash
# The tlsgate demo: a private CA with mutual TLS, from nothing, in a few
# commands, each result checked by openssl; then the gateway in front of a
# plain HTTP backend, with a client with and without a certificate (and one
# whose certificate was revoked). Uses the embedded SQLite inventory.
# Everything is written under demo-out/ (removed and made anew on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build demo
scripts/build.sh build -DTLSGATE_TESTS=OFF
T=$PWD/build/tlsgate
OUT=$PWD/demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. A certificate authority (root + intermediate), inventory in SQLite"
run "$T" ca init --dir pki --name "Demo Corp CA" --intermediate

step "2. A server certificate for localhost (DNS and IP SANs) and client certificates"
run "$T" cert issue localhost --dir pki --san 127.0.0.1 --san ::1
run "$T" cert issue alice --dir pki --client --p12 --p12-no-password
run "$T" cert issue mallory --dir pki --client

step "3. openssl agrees: chains verify strictly, for the right purpose"
run openssl verify -x509_strict -purpose sslserver -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/localhost.crt
run openssl verify -x509_strict -purpose sslclient -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/alice.crt
run openssl pkcs12 -in pki/issued/alice.p12 -passin pass: -noout -info 2>&1 | grep -E 'MAC|PBES2|AES' | head -3

step "4. Revoke mallory, publish the CRL, and openssl now refuses mallory"
run "$T" cert revoke --cert pki/issued/mallory.crt --dir pki --reason keyCompromise
run "$T" crl --dir pki
run openssl verify -crl_check -CRLfile pki/crl.pem -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/alice.crt
if openssl verify -crl_check -CRLfile pki/crl.pem -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/mallory.crt 2>&1; then
	echo "demo: mallory should have been refused" >&2
	exit 1
fi
echo "(mallory refused, as it must be)"

step "5. The inventory"
run "$T" cert list --dir pki

step "6. The gateway: mutual TLS in front of a plain HTTP backend (a Flask app, say)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: nothing listens on port $1" >&2
	exit 1
}
BACKEND=$(port)
GATE=$(port)
python3 - "$BACKEND" >backend.log 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        who = self.headers.get("X-Client-CN", "nobody")
        body = f"hello {who} (verified: {self.headers.get('X-Client-Verify')})\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Hello).serve_forever()
PY
PIDS="$!"
trap 'kill $PIDS 2>/dev/null || true' EXIT
wait_port "$BACKEND"
printf '$ %s\n' "tlsgate serve --listen 127.0.0.1:$GATE --target 127.0.0.1:$BACKEND --mode http --cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/ca-bundle.crt --verify require --crl pki/crl.pem --workers 1 &"
"$T" serve --listen "127.0.0.1:$GATE" --target "127.0.0.1:$BACKEND" --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key \
	--client-ca pki/ca-bundle.crt --verify require --crl pki/crl.pem --workers 1 \
	>gateway.log 2>&1 &
PIDS="$PIDS $!"
wait_port "$GATE"
URL="https://localhost:$GATE/"

step "7. A client with its certificate gets through, and the backend knows who it is"
run curl -sS --cacert pki/root.crt --cert pki/issued/alice.crt --key pki/issued/alice.key "$URL"

step "8. Without a certificate: refused, in nginx's words"
printf '$ curl -sS --cacert pki/root.crt %s\n' "$URL"
body=$(curl -sS --cacert pki/root.crt -w ' [HTTP %{http_code}]' "$URL")
echo "$body" | grep -o '<title>.*</title>\| \[HTTP [0-9]*\]' | tr -d '\n'; echo
case "$body" in
*"No required SSL certificate was sent"*"[HTTP 400]") ;;
*) echo "demo: expected a 400 without a certificate" >&2; exit 1 ;;
esac

step "9. mallory's revoked certificate: refused (the CRL is checked)"
printf '$ curl -sS --cacert pki/root.crt --cert pki/issued/mallory.crt --key pki/issued/mallory.key %s\n' "$URL"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert pki/root.crt \
	--cert pki/issued/mallory.crt --key pki/issued/mallory.key "$URL" 2>&1 || true)
echo "HTTP $code"
[ "$code" = 400 ] || { echo "demo: expected mallory to be refused" >&2; exit 1; }

step "10. What the gateway logged (one line per connection)"
sed -n '1,20p' gateway.log

printf '\nDemo complete. Files are in %s.\n' "$OUT"
