#!/usr/bin/env bash
# A framing header spelt with '_' (Content_Length, Transfer_Encoding) is
# refused: WSGI servers name fields with '_' for '-', and werkzeug's
# development server before 2.3 (Debian 12's python3-werkzeug 2.2.2, what
# `flask run` starts) then takes Content_Length as the body's length and
# Transfer_Encoding: chunked as its framing. The gateway forwarded such a
# request as bodyless, and the backend read the next request, with the
# gateway's identity headers, as the body of the first: a body the gateway
# never framed. Now: 400 with the reason, and the backend gets nothing.
# Other names with '_' still pass.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
PY=/usr/bin/python3 # Debian's python, with Debian's Flask and werkzeug 2.2.2
$PY -c 'import flask' 2>/dev/null || fail "python3-flask not installed (scripts/deps.sh test)"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Underscore CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
cat >"$WORK/app.py" <<'PY'
import sys
from flask import Flask, request
app = Flask(__name__)
@app.route("/<path:p>", methods=["GET", "POST"])
def seen(p):
    body = request.get_data()
    env = request.environ
    line = "path=/%s body=%d verify=%s trace=%s\n" % (p, len(body),
        env.get("HTTP_X_CLIENT_VERIFY", "-"), env.get("HTTP_X_TRACE_ID", "-"))
    with open(sys.argv[2], "a") as f:
        f.write(line)
    return line
app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
PY
B=$(free_port); G=$(free_port)
touch "$WORK/seen.txt"
start_bg flask $PY "$WORK/app.py" "$B" "$WORK/seen.txt"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:$B --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" --verify optional \
	--workers 1 --cert-header no
wait_port "$B"; wait_port "$G"

send() { raw_send "$G" "$WORK/gw.log" "$@"; }

# The second request as the gateway forwards it: its head with the
# gateway's lines for a client without a certificate.
SMUGGLED='GET /admin HTTP/1.1\r\nHost: x\r\nX-Client-Verify: SUCCESS\r\nX-Client-CN: admin\r\n\r\n'
SLEN=$(printf "$SMUGGLED" | wc -c)
CARRIER="POST /carrier HTTP/1.1\r\nHost: x\r\nContent-Length: $SLEN\r\n\r\n$SMUGGLED"
CLEN=$(printf "POST /carrier HTTP/1.1\r\nHost: x\r\nContent-Length: $SLEN\r\n$FWD\r\n" | wc -c)

for name in Content_Length content_length CONTENT_LENGTH; do
	send 2 "POST /first HTTP/1.1\r\nHost: x\r\n$name: $CLEN\r\n\r\n$CARRIER"
	assert_eq 400 "$STATUSES" "$name: the client's answer"
	assert_contains "$CLOSE" "replied 400: a framing header spelt with '_'" "$name: log line"
	assert_eq "" "$(cat "$WORK/seen.txt")" "$name: what the backend saw"
	pass "$name: 400, the backend got nothing (werkzeug 2.2.2 read the next request as a body of $CLEN bytes)"
done

send 1 'POST /te HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
assert_eq 400 "$STATUSES" "Transfer_Encoding: the client's answer"
assert_contains "$CLOSE" "replied 400: a framing header spelt with '_'" "Transfer_Encoding: log line"
assert_eq "" "$(cat "$WORK/seen.txt")" "Transfer_Encoding: what the backend saw"
pass "Transfer_Encoding: 400, the backend got nothing"

# Not refused: a body framed by Content-Length, and other names with '_'.
send 1 'POST /ok HTTP/1.1\r\nHost: x\r\nX_Trace_Id: 7\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
assert_eq 200 "$STATUSES" "a request with X_Trace_Id: the client's answer"
assert_eq "path=/ok body=5 verify=NONE trace=7" "$(cat "$WORK/seen.txt")" "what the backend saw of it"
pass "other names with '_' pass; a Content-Length body reaches werkzeug whole"
