#!/usr/bin/env bash
# Request smuggling and identity spoofing through http mode, against a raw
# backend (raw_backend.py) that records exactly the bytes it receives and
# answers like a lenient keep-alive HTTP/1.1 server. For every attack: what
# the client got, what the backend saw (byte for byte where it matters),
# and the gateway's log line. The clients carry no certificate
# (--verify optional), so any X-Client-CN the backend sees is forged,
# except where alice connects with hers.
#
#   g200: the backend answers an upgrade request with 200 (stays HTTP)
#   g101: the backend answers it with 101 and then echoes raw bytes
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

mkdir -p "$WORK/ca" "$WORK/rec200" "$WORK/rec101"
pki_cert "$WORK/ca"/ca self root "/CN=Smuggling CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

B200=$(free_port); B101=$(free_port); G200=$(free_port); G101=$(free_port)
start_bg backend200 python3 -u "$TLSGATE_SRC/tests/e2e/raw_backend.py" "$B200" "$WORK/rec200" --upgrade 200
start_bg backend101 python3 -u "$TLSGATE_SRC/tests/e2e/raw_backend.py" "$B101" "$WORK/rec101" --upgrade 101
wait_port "$B200"; wait_port "$B101"
# wait_port's probes are connections too: start counting after them.
wait_log "$WORK/rec200/requests.log" "conn=1 closed"
wait_log "$WORK/rec101/requests.log" "conn=1 closed"
common=(--mode http --cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt"
	--verify optional --workers 1 --idle-timeout 30)
start_bg g200 timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$G200 --target 127.0.0.1:$B200 "${common[@]}"
start_bg g101 timeout 300 "$TLSGATE" serve --listen 127.0.0.1:$G101 --target 127.0.0.1:$B101 "${common[@]}"
wait_port "$G200"; wait_port "$G101"
wait_log "$WORK/g200.log" 'close="closed before the handshake"'
wait_log "$WORK/g101.log" 'close="closed before the handshake"'
declare -A PORT=([g200]=$G200 [g101]=$G101) REC=([g200]=$WORK/rec200 [g101]=$WORK/rec101)

WS='GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
WS_OUT="GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n$FWD\r\n"
ADMIN='GET /admin HTTP/1.1\r\nHost: x\r\nX-Client-Verify: SUCCESS\r\nX-Client-CN: admin\r\n\r\n'
ADMIN_OUT="GET /admin HTTP/1.1\r\nHost: x\r\n$FWD\r\n"

# --- 1. Upgrade and CONNECT ---

# The backend declines the upgrade (200): the bytes after the upgrade
# request were held until then, and are filtered as a request of their own.
attack g200 2 "$WS$ADMIN"
assert_eq "200 200" "$STATUSES" "upgrade + smuggled request: the client's answers"
seen_exactly "upgrade declined, smuggled request" "$WS_OUT$ADMIN_OUT"
assert_contains "$(cat "$WORK/rec200/requests.log")" "path=/admin verify=NONE cn=-" "the backend's view of /admin"
assert_not_contains "$(cat "$WORK/rec200/requests.log")" "cn=admin" "forged identity"
assert_contains "$LINE" "cn=- verify=none" "upgrade declined: log line"
pass "upgrade answered 200: the request behind it was filtered, no forged identity"

# Same with alice's certificate: she stays alice.
attack g200 2 "$WS$ADMIN" "$WORK/alice.crt" "$WORK/alice.key"
assert_eq "200 200" "$STATUSES" "alice: the client's answers"
assert_eq 2 "$(grep -c 'verify=SUCCESS cn=alice ' "$WORK/rec200/requests.log")" "alice's requests, as alice"
assert_not_contains "$(cat "$SEEN")" "X-Client-CN: admin" "alice's forged CN"
pass "upgrade answered 200, with a certificate: alice stays alice"

# h2c is not forwarded: even a backend that would switch for anything sees a
# plain HTTP/1.1 request, and the next request is filtered.
attack g101 2 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n'"$ADMIN"
assert_eq "200 200" "$STATUSES" "h2c: the client's answers"
seen_exactly "h2c upgrade" "GET / HTTP/1.1\r\nHost: x\r\n$FWD\r\n$ADMIN_OUT"
pass "Upgrade: h2c and HTTP2-Settings are dropped"

# A real upgrade: 101, then raw bytes both ways.
before=$(be_conns g101)
python3 - "$G101" "$WORK/ca/ca.crt" >"$WORK/ws.out" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.settimeout(10)
s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, rest = buf.split(b"\r\n\r\n", 1)
print(head.split(b"\r\n")[0].decode())
frame = b"\x81\x05hello\r\n\r\nGET /admin HTTP/1.1\r\nX-Client-CN: admin\r\n\r\n\x00\xff"
s.sendall(frame)
while len(rest) < len(frame):
    rest += s.recv(4096)
print("echo ok" if rest == frame else "echo differs: %r" % rest)
PY
assert_eq "HTTP/1.1 101 Switching Protocols"$'\n'"echo ok" "$(cat "$WORK/ws.out")" "websocket: 101 and the echo"
k=$((before + 1))
wait_log "$WORK/rec101/requests.log" "conn=$k closed"
SEEN=$WORK/rec101/conn-$k.bin
seen_exactly "websocket tunnel" "$WS_OUT"'\x81\x05hello\r\n\r\nGET /admin HTTP/1.1\r\nX-Client-CN: admin\r\n\r\n\x00\xff'
pass "a real upgrade: 101, then raw bytes both ways"

# A 101 to a request that did not ask to upgrade: the backend is broken;
# the client gets a 502 in its place, and the connection closes.
attack g200 1 'GET /bogus101 HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 502 "$STATUSES" "101 to a plain request: the client's answer"
assert_contains "$CLOSE" "replied 502: backend 127.0.0.1:$B200: 101 Switching Protocols to a request that did not ask to upgrade" "101 to a plain request: log"
assert_not_contains "$(cat "$WORK/got")" "101 Switching" "101 to a plain request: what the client got"
pass "a 101 to a request that did not ask for it: 502, and the connection closes"

attack g200 1 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\nSSH-2.0-x\r\n'
refused "CONNECT" 405 "CONNECT is not allowed (listener option allow-connect)"
assert_contains "$(cat "$WORK/got")" "405 Not Allowed" "CONNECT: the error page"
pass "CONNECT: 405"

# --- 2. What the parser used to let through, and what it always refused ---

while IFS='|' read -r name status why payload; do
	attack g200 1 "$payload"
	refused "$name" "$status" "$why"
	pass "$name: $status"
done <<'EOF'
obs-fold as the first header|400|obs-fold|GET / HTTP/1.1\r\n X-Client-CN: bob\r\nHost: x\r\n\r\n
obs-fold after a header|400|obs-fold|GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tX-Client-CN: bob\r\n\r\n
space in a header name|400|not a token|GET / HTTP/1.1\r\nHost: x\r\nX-Client CN: bob\r\n\r\n
space before the colon|400|not a token|GET / HTTP/1.1\r\nHost : x\r\n\r\n
tab in the request target|400|target is not visible ASCII|GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n
control character in the target|400|target is not visible ASCII|GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n
bare CR in a value|400|bare CR|GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Client-CN: bob\r\n\r\n
NUL in a value|400|control character in a header value|GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n
HTTP/1.1 without Host|400|without Host|GET / HTTP/1.1\r\n\r\n
two Host fields|400|more than one Host|GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n
Content-Length with Transfer-Encoding|400|Transfer-Encoding with Content-Length|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n
two Content-Length values|400|two different Content-Length|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello
Content-Length not digits|400|Content-Length is not a number|POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello
final coding not chunked|400|final transfer coding is not chunked|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n
a coding after chunked|400|a transfer coding after chunked|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n
a coding before chunked|501|other than chunked|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n
HTTP/1.0 with Transfer-Encoding|400|Transfer-Encoding in an HTTP/1.0 request|POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n
the HTTP/2 preface|505|HTTP version other than 1.x|PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n
TLS inside TLS|400|the method is not a token|\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03
EOF

# A body that breaks chunked framing: what the backend got (if the head went
# out before the bad bytes came) is a well-framed prefix, never the bytes
# after the chunk.
CH='POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
CH_OUT="POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n$FWD\r\n"
for body in '3\r\nabcXY0\r\n\r\n' 'ffffffffffffffff1\r\nx\r\n0\r\n\r\n' '5\rhello\r\n0\r\n\r\n' \
	'0\r\n X-Client-CN: bob\r\n\r\n'; do
	attack g200 1 "$CH$body"
	assert_eq 400 "$STATUSES" "chunked framing $body: the client's answer"
	assert_contains "$CLOSE" "replied 400" "chunked framing $body: log"
	if [ -n "$SEEN" ]; then
		printf "$CH_OUT"'3\r\nabc' >"$WORK/prefix"
		cmp -s "$SEEN" "$WORK/prefix" || cmp -s "$SEEN" <(printf "$CH_OUT") ||
			fail "chunked framing $body: the backend got"$'\n'"$(cat -A "$SEEN")"
	fi
	pass "bad chunked framing refused: $body"
done

# --- 3. Identity headers the client may not set ---

attack g200 1 'GET /h HTTP/1.1\r\nHost: x\r\nX-Client-Verify: SUCCESS\r\nx_client_cn: admin\r\nX-CLIENT-SUBJECT: CN=admin\r\nX-Client-CN-With-A-Name-Longer-Than-32-Bytes: admin\r\nX_Client_Verify_Padding_Padding_Padding_Padding: SUCCESS\r\nForwarded: for=10.0.0.1;proto=https\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 10.0.0.1\r\nX-Forwarded-Host: admin.internal\r\nX-Forwarded-Proto: http\r\nX-Clientele: kept\r\n\r\n'
assert_eq 200 "$STATUSES" "spoofed headers: the client's answer"
seen_exactly "spoofed identity and address headers" "GET /h HTTP/1.1\r\nHost: x\r\nX-Clientele: kept\r\n$FWD\r\n"
pass "X-Client-* (any spelling and length), Forwarded, X-Forwarded-*, X-Real-IP: the gateway's own only"

# Trailers are dropped (X-Client-* in them too); chunks re-framed, extensions dropped.
attack g200 1 "$CH"'5;ext="x"\r\nhello\r\n0\r\nX-Client-CN: admin\r\nX-Client-Verify: SUCCESS\r\n\r\n'
assert_eq 200 "$STATUSES" "trailers: the client's answer"
seen_exactly "chunked body with trailers" "$CH_OUT"'5\r\nhello\r\n0\r\n\r\n'
pass "chunked trailers (with X-Client-*) dropped, chunks re-framed"

# Keep-alive and pipelining still work: three requests in one write.
attack g200 3 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq "200 200 200" "$STATUSES" "pipelined: the client's answers"
seen_exactly "pipelined" "GET /1 HTTP/1.1\r\nHost: x\r\n$FWD\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n$FWD\r\nokGET /3 HTTP/1.1\r\nHost: x\r\n$FWD\r\n"
pass "pipelined requests pass in order"
