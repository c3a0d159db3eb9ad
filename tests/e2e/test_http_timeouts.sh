#!/usr/bin/env bash
# http mode's request timeouts: a head must arrive whole within
# --head-timeout however slowly it trickles (408 Request Time-out, logged),
# a body may not stall longer than --body-timeout (closed, logged), and a
# keep-alive connection between requests is governed by the idle timeout,
# not by the head timeout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca" "$WORK/rec"
pki_cert "$WORK/ca"/ca self root "/CN=Timeout CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); GP=$(free_port)
start_bg backend python3 -u "$TLSGATE_SRC/tests/e2e/raw_backend.py" "$BP" "$WORK/rec" --upgrade 200
wait_port "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1 \
	--head-timeout 1 --body-timeout 1.5 --idle-timeout 30
wait_port "$GP"
wait_log "$WORK/gw.log" 'close="closed before the handshake"'

# client MODE: a TLS client that behaves as MODE says (below) for at most
# 15 s of trickling, then prints what it got back.
client() {
	python3 - "$GP" "$WORK/ca/ca.crt" "$1" <<'PY'
import re, socket, ssl, sys, time
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
print(s.getsockname()[1], flush=True)  # finds the connection in the gateway's log
s.settimeout(0.3)
got = b""
def poll():
    global got
    try:
        d = s.recv(65536)
    except socket.timeout:
        return True
    except (ssl.SSLError, OSError):
        return False
    got += d
    return bool(d)
def trickle(data):
    # One byte at a time, 0.3 s apart (each far under the 1 s head timeout).
    for i in range(len(data)):
        try:
            s.sendall(data[i:i + 1])
        except OSError:
            return
        if not poll():
            return
if mode == "slow-head":
    trickle(b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100 + b"\r\n\r\n")
elif mode == "silent":
    pass
elif mode == "slow-body":
    s.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
elif mode == "keep-alive":
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
    deadline = time.time() + 5
    while b"\r\n\r\n" not in got and time.time() < deadline and poll():
        pass
    time.sleep(2.5)  # longer than the head timeout, shorter than the idle one
    s.sendall(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
deadline = time.time() + 15
while time.time() < deadline and poll():
    if mode == "keep-alive" and got.count(b"HTTP/1.1 200") == 2:
        break
print(" ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", got)) or "none")
PY
}

# run_client MODE: sets GOT (what the client printed) and CLOSE (the
# gateway's close reason for that connection, found by the client's port).
run_client() {
	local cport deadline=$((SECONDS + 30)) line
	{ read -r cport; read -r GOT; } < <(client "$1")
	until line=$(grep " conn listener=.* peer=127.0.0.1:$cport " "$WORK/gw.log"); do
		((SECONDS < deadline)) || fail "$1: the gateway logged no connection"
		sleep 0.05
	done
	CLOSE=$(sed -n 's/.* close="\(.*\)"$/\1/p' <<<"$line")
}

# A head trickling in a byte every 0.3 s: each byte would restart an idle
# timer, the head timeout does not move.
run_client slow-head
assert_eq 408 "$GOT" "slow head: the client's answer"
assert_eq "replied 408: no complete request head within 1s (head-timeout)" "$CLOSE" "slow head: log"
assert_not_contains "$(cat "$WORK/rec/requests.log" 2>/dev/null || true)" "/slow" "slow head: the backend"
pass "a head that trickles in is cut with 408 at the head timeout"

# The first request is due within the head timeout of the handshake.
run_client silent
assert_eq 408 "$GOT" "silent after the handshake: the client's answer"
assert_eq "replied 408: no complete request head within 1s (head-timeout)" "$CLOSE" "silent: log"
pass "no request after the handshake: 408 at the head timeout"

# A body that stops: closed at the body timeout; the backend got the head
# and the two bytes, never a complete request.
run_client slow-body
assert_eq none "$GOT" "stalled body: the client's answer"
assert_eq "no request body byte for 1.5s (body-timeout)" "$CLOSE" "stalled body: log"
wait_log "$WORK/rec/requests.log" "closed"
assert_not_contains "$(cat "$WORK/rec/requests.log")" "path=/body" "stalled body: the backend answered nothing"
pass "a stalled body is cut at the body timeout"

# Between requests the idle timeout applies: a pause longer than the head
# timeout does not cut a keep-alive connection.
run_client keep-alive
assert_eq "200 200" "$GOT" "keep-alive pause: the client's answers"
assert_eq "client closed" "$CLOSE" "keep-alive pause: log"
pass "a keep-alive pause longer than the head timeout is fine"
