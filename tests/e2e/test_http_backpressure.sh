#!/usr/bin/env bash
# A client that pipelines requests without end and never reads the
# answers: the gateway stops reading it once its buffers are full (at most
# 64 requests await their responses, one 16 KB buffer each way), so the
# client's writes stall long before the 64 MB it tries to send, the
# backend answers a bounded number of requests, and the worker's memory
# does not grow with what the client sends. A body of 200,000 one-byte
# chunks (1.2 MB on the wire) reaches the backend re-framed and whole,
# also in bounded memory. Memory is the worker process's RSS (not under
# ASan, whose quarantine holds freed memory).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1
WPID=$(pgrep -P "$(pgrep -P "$BG_PID" | head -n1)" | head -n1)
[ -n "$WPID" ] || fail "no worker process"
asan=0
ldd "$TLSGATE" | grep -q libasan && asan=1
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
LIMIT_KB=8192

# A first request touches the code and buffers a connection uses.
attack gw 1 'GET /warm HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 200 "$STATUSES" "the warm-up request"
before=$(rss_kb "$WPID")

python3 - "${PORT[gw]}" "$WORK/ca/ca.crt" >"$WORK/flood.out" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
req = b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n"
block = req * 2048
s.settimeout(3)
sent = 0
try:
    while sent < 64 << 20:
        sent += s.send(block)
except (socket.timeout, ssl.SSLWantWriteError):
    pass
print("stalled" if sent < 64 << 20 else "not stalled", sent, flush=True)
time.sleep(30) # hold the connection, unread, until killed
PY
flood=$!
track $flood
wait_log "$WORK/flood.out" "stalled" 60
read -r state sent <"$WORK/flood.out"
assert_eq stalled "$state" "the client's writes ($sent bytes sent)"
during=$(rss_kb "$WPID")
answered=$(grep -c 'path=/flood' "$WORK/rec/requests.log")
echo "flood: $sent bytes accepted before the stall, $answered requests answered by the backend, worker RSS ${before} kB -> ${during} kB"
# What the client got into the socket is the kernel's buffers and the
# gateway's; the backend answered what fit in the buffers on the way back.
((answered < sent / 33)) || fail "the backend answered all $answered requests: nothing pushed back"
if ((asan == 0)); then
	((during - before < LIMIT_KB)) || fail "worker RSS grew by $((during - before)) kB (limit $LIMIT_KB)"
fi
kill "$flood"
pass "a client that never reads stalls; the backend answered $answered of $((sent / 33)) requests; memory bounded"

# 200,000 one-byte chunks, then a normal request on the same connection.
# (printf escapes, as raw_send takes them)
python3 -c 'print("POST /tiny HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
    + "1\\r\\nx\\r\\n" * 200000 + "0\\r\\n\\r\\nGET /next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")' >"$WORK/tiny"
before=$(rss_kb "$WPID")
raw_send "${PORT[gw]}" "$WORK/gw.log" 2 "$(cat "$WORK/tiny")"
during=$(rss_kb "$WPID")
assert_eq "200 200" "$STATUSES" "tiny chunks: the client's answers"
wait_log "$WORK/rec/requests.log" "path=/next"
assert_contains "$(grep 'path=/tiny' "$WORK/rec/requests.log")" "body=200000" "tiny chunks: the body the backend read"
if ((asan == 0)); then
	((during - before < LIMIT_KB)) || fail "tiny chunks: worker RSS grew by $((during - before)) kB"
fi
pass "200,000 one-byte chunks: the body whole at the backend, the next request after it; RSS ${before} kB -> ${during} kB"
