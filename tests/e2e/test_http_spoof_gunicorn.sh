#!/usr/bin/env bash
# Identity and proxy headers a client forges, read back from a real WSGI
# backend: gunicorn + Flask behind serve --mode http. WSGI merges '_' and
# '-' (X_Client_CN and X-Client-CN both become HTTP_X_CLIENT_CN), joins
# duplicates with commas, and gunicorn takes a SCRIPT_NAME header as the
# application's mount point (PATH_INFO loses it) and X-Forwarded-Proto as
# the scheme from a proxy on 127.0.0.1, which the gateway is. What Flask
# sees must be the gateway's lines only, whatever the client wrote.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
command -v gunicorn >/dev/null || fail "gunicorn not installed (scripts/deps.sh test)"

mkdir -p "$WORK/ca" "$WORK/app"
pki_cert "$WORK/ca"/ca self root "/CN=Spoof CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
cat >"$WORK/app/app.py" <<'PY'
from flask import Flask, jsonify, request
app = Flask(__name__)
@app.route("/", defaults={"p": ""})
@app.route("/<path:p>")
def show(p):
    env = request.environ
    seen = {k: env[k] for k in env if k.startswith("HTTP_X_") or k.startswith("HTTP_FORWARDED")
            or k in ("HTTP_SCRIPT_NAME", "SCRIPT_NAME", "PATH_INFO", "wsgi.url_scheme")}
    return jsonify(seen)
PY
B=$(free_port); G=$(free_port)
start_bg gunicorn gunicorn --workers 1 --bind "127.0.0.1:$B" --chdir "$WORK/app" app:app
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:$B --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" --verify optional \
	--workers 1 --cert-header no
wait_port "$B"; wait_port "$G"

# seen [CERT KEY]: what Flask saw of one forged request, as sorted JSON.
seen() {
	python3 - "$G" "$WORK/ca/ca.crt" "$@" <<'PY'
import json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
if len(sys.argv) > 3:
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.settimeout(20)
s.sendall(b"GET /app/x HTTP/1.1\r\nHost: x\r\n"
          b"X_Client_CN: admin\r\nX-CLIENT-VERIFY: SUCCESS\r\nx_client_verify: SUCCESS\r\n"
          b"X_Client_Cert: forged\r\nX-Client-Subject: CN=admin\r\nX_CLIENT_SAN: DNS:admin\r\n"
          b"SCRIPT_NAME: /app\r\nScript-Name: /app\r\n"
          b"X_Forwarded_Proto: http\r\nX-Forwarded-For: 10.0.0.1\r\nX_Real_IP: 10.0.0.1\r\n"
          b"Forwarded: for=10.0.0.1\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
head, body = data.split(b"\r\n\r\n", 1)
print(head.split(b"\r\n")[0].decode())
print(json.dumps(json.loads(body), sort_keys=True))
PY
}

out=$(seen)
assert_contains "$out" "HTTP/1.1 200 OK" "no certificate: the answer"
want='{"HTTP_FORWARDED": "for=127.0.0.1;proto=https", "HTTP_X_CLIENT_VERIFY": "NONE", "HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_REAL_IP": "127.0.0.1", "PATH_INFO": "/app/x", "SCRIPT_NAME": "", "wsgi.url_scheme": "https"}'
assert_eq "$want" "$(sed -n 2p <<<"$out")" "what Flask saw of a client without a certificate"
pass "no certificate: Flask sees X-Client-Verify NONE, no forged X-Client-*, the real address, PATH_INFO whole (no SCRIPT_NAME)"

out=$(seen "$WORK/alice.crt" "$WORK/alice.key")
json=$(sed -n 2p <<<"$out")
assert_contains "$json" '"HTTP_X_CLIENT_CN": "alice"' "alice: her CN"
assert_contains "$json" '"HTTP_X_CLIENT_VERIFY": "SUCCESS"' "alice: verified"
assert_not_contains "$json" "HTTP_X_CLIENT_SAN" "alice (her certificate has no SAN): a forged X_CLIENT_SAN"
assert_not_contains "$json" "admin" "alice: a forged value merged into a header"
assert_not_contains "$json" "forged" "alice: a forged X-Client-Cert (--cert-header no)"
assert_contains "$json" '"PATH_INFO": "/app/x", "SCRIPT_NAME": ""' "alice: the path"
pass "alice: Flask sees her identity only, no forged value joined to it, no SCRIPT_NAME"
