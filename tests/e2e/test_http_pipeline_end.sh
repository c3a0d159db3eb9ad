#!/usr/bin/env bash
# How an http-mode connection ends when it must end in the middle of a
# pipeline or of the backend's answers: the responses owed to the requests
# before the end reach the client whole and in order (they used to be cut
# off), then the refusal or a 502, then the close; the backend gets nothing
# after the refused request, and what a broken backend sends after the end
# reaches nobody. Also max-conn-lifetime's last request (one Connection
# line, its answer delivered) and --max-conns over several worker threads.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

mkdir -p "$WORK/ca" "$WORK/rec"
pki_cert "$WORK/ca"/ca self root "/CN=Pipeline CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"

B=$(free_port); G=$(free_port); GL=$(free_port); GM=$(free_port)
start_bg backend python3 -u "$TLSGATE_SRC/tests/e2e/raw_backend.py" "$B" "$WORK/rec" --upgrade 200
wait_port "$B"
wait_log "$WORK/rec/requests.log" "conn=1 closed"
common=(--mode http --cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt"
	--verify optional --target 127.0.0.1:$B --idle-timeout 30)
start_bg g timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$G "${common[@]}" --workers 1
start_bg gl timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$GL "${common[@]}" --workers 1 \
	--max-conn-lifetime 1s
start_bg gm timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$GM "${common[@]}" --workers 2 \
	--max-conns 1
for p in "$G" "$GL" "$GM"; do wait_port "$p"; done
wait_log "$WORK/g.log" 'close="closed before the handshake"'
declare -A PORT=([g]=$G) REC=([g]=$WORK/rec)

GET1='GET /1 HTTP/1.1\r\nHost: x\r\n\r\n'
GET1_OUT="GET /1 HTTP/1.1\r\nHost: x\r\n$FWD\r\n"

# --- A refusal in the middle of a pipeline ---

attack g 2 "$GET1"'GET /2 HTTP/1.1\r\n\r\n'
assert_eq "200 400" "$STATUSES" "a request without Host after a good one: the client's answers"
seen_exactly "a request without Host after a good one" "$GET1_OUT"
assert_contains "$CLOSE" "replied 400: HTTP/1.1 request without Host" "a request without Host after a good one: log"
assert_contains "$(cat "$WORK/got")" "path=/1 " "the first response's body"
pass "pipeline: the answer to the request before the refused one comes first, then the 400"

attack g 4 "$GET1"'GET /2 HTTP/1.1\r\nHost: x\r\n\r\nPOST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq "200 200 400" "$STATUSES" "bad chunk framing after two good requests: the client's answers"
seen_exactly "bad chunk framing after two good requests" "$GET1_OUT""GET /2 HTTP/1.1\r\nHost: x\r\n$FWD\r\nPOST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n$FWD\r\n3\r\nabc"
assert_contains "$CLOSE" "replied 400: chunk data not followed by CRLF" "bad chunk framing: log"
assert_not_contains "$(cat "$WORK/rec/requests.log")" "path=/admin" "the request after the refused one"
pass "pipeline: two answers, then the 400 for the broken chunked body; nothing after it reaches the backend"

# --- A broken backend: what came before the break goes out ---

attack g 2 'GET /extra HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 200 "$STATUSES" "a second response nobody asked for: the client's answers"
assert_contains "$(cat "$WORK/got")" "first" "the asked-for response's body"
assert_not_contains "$(cat "$WORK/got")" "extra" "the unasked response"
assert_contains "$CLOSE" "backend 127.0.0.1:$B: a response to no request" "unasked response: log"
pass "a response nobody asked for: the one asked for reaches the client, the other does not, then the close"

attack g 2 'HEAD /headbody HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 200 "$STATUSES" "a HEAD response with a body: the client's answers"
assert_not_contains "$(cat "$WORK/got")" "first" "the body of the HEAD response"
assert_contains "$CLOSE" "a response to no request" "HEAD response with a body: log"
pass "a body after a HEAD response does not reach the client"

while IFS='|' read -r path why; do
	attack g 2 "$GET1"'GET '"$path"' HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_eq "200 502" "$STATUSES" "$path: the client's answers"
	assert_contains "$CLOSE" "replied 502: backend 127.0.0.1:$B: $why" "$path: log"
	assert_not_contains "$(cat "$WORK/got")" "first" "$path: the broken response's body"
	pass "$path: the good response, then 502 in place of the broken one ($why)"
done <<'EOF2'
/clte|Transfer-Encoding with Content-Length in a response
/crhead|bare CR in a response head
EOF2

# --- max-conn-lifetime: the last request and one after it, pipelined ---

before=$(find "$WORK/rec" -name 'conn-*.bin' | wc -l)
python3 - "$GL" "$WORK/ca/ca.crt" >"$WORK/life.out" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.settimeout(20)
def until(buf, n):
    while buf.count(b"HTTP/1.1 ") < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf
s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
got = until(b"", 1)
time.sleep(1.5)  # past the lifetime: the next request is the last
s.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
got = until(got, 3)
print("answers=%d b=%s c=%s" % (got.count(b"HTTP/1.1 200"), b"path=/b " in got, b"path=/c " in got))
PY
assert_eq "answers=2 b=True c=False" "$(cat "$WORK/life.out")" "max-conn-lifetime: what the client got"
SEEN=$WORK/rec/conn-$((before + 1)).bin
wait_log "$WORK/rec/requests.log" "conn=$((before + 1)) closed"
assert_eq 1 "$(grep -c '^Connection:' "$SEEN")" "max-conn-lifetime: Connection lines of the last request"
assert_contains "$(cat "$SEEN")" "GET /b HTTP/1.1"$'\r\n'"Host: x"$'\r\n'"Connection: close"$'\r\n' "the last request asks the backend to close"
assert_not_contains "$(cat "$SEEN")" "GET /c" "the request after the last one"
wait_log "$WORK/gl.log" 'close="max-conn-lifetime reached (1s): the next request is sent with Connection: close"'
pass "max-conn-lifetime: the last request says Connection: close once (not keep-alive too), its answer arrives, the next is not sent"

# --- --max-conns counts over the worker threads ---

python3 - "$GM" "$WORK/ca/ca.crt" >"$WORK/max.out" <<'PY'
import socket, ssl, sys, threading, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
first = conn()
second_in = []
def second():
    s = conn()  # waits in the listen queue while the first holds the only place
    second_in.append(True)
    s.close()
th = threading.Thread(target=second); th.start()
time.sleep(1)
print("second-in-while-first-open=%s" % bool(second_in))
first.close()
th.join(10)
print("second-in-after-first=%s" % bool(second_in))
PY
assert_eq "second-in-while-first-open=False"$'\n'"second-in-after-first=True" "$(cat "$WORK/max.out")" \
	"--max-conns 1 with 2 worker threads"
wait_log "$WORK/gm.log" "listener default: max-conns 1 reached; new clients wait"
pass "--max-conns 1 with two worker threads: one connection at a time"
