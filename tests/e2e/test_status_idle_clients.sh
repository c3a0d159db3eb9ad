#!/usr/bin/env bash
# Idle connections cannot lock the status port: with 32 silent TCP
# connections open, /healthz and /metrics still answer at once (the oldest
# client makes room), and every silent connection is closed by the status
# read timeout (5 s). A request of an unknown path or method is answered
# 404/400, and a head that never ends is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Status CA"
BP=$(free_port); GP=$(free_port); SP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --status 127.0.0.1:$SP --workers 1
wait_port "$GP"; wait_port "$SP"

# 32 silent clients; while they are open, curl asks for /healthz and
# /metrics; then each silent client waits for the gateway to close it.
cat >"$WORK/idle.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
print("open", flush=True)
t0 = time.time()
closed = 0
for s in held:
    s.settimeout(max(0.1, 20 - (time.time() - t0)))
    try:
        if s.recv(100) in (b"",):
            closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print("closed=%d of 32 within 20 s" % closed, flush=True)
PY
start_bg idle python3 -u "$WORK/idle.py" "$SP"
IDLE=$BG_PID
wait_log "$WORK/idle.log" open
h=$(curl -sS --max-time 3 "http://127.0.0.1:$SP/healthz") || fail "/healthz did not answer with 32 idle clients open"
assert_contains "$h" '"status": "ok"' "/healthz with 32 idle clients open"
m=$(curl -sS --max-time 3 "http://127.0.0.1:$SP/metrics") || fail "/metrics did not answer with 32 idle clients open"
assert_contains "$m" "tlsgate_connections_total" "/metrics with 32 idle clients open"
pass "/healthz and /metrics answer while 32 idle clients are connected"
wait_log "$WORK/gw.log" "status: 16 clients open (the most it serves at once); closing the oldest"

wait "$IDLE" || fail "the idle clients' script failed"
assert_contains "$(cat "$WORK/idle.log")" "closed=32 of 32" "every idle status client is closed"
pass "idle status clients are closed by the read timeout"

# The request reader: other paths and methods, and a head with no end.
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$SP/nope")
assert_eq 404 "$out" "unknown path"
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST "http://127.0.0.1:$SP/metrics")
assert_eq 400 "$out" "POST /metrics"
out=$(python3 - "$SP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 4000)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
assert_eq "HTTP/1.1 400 Bad Request" "$out" "a head longer than 2 KB"
assert_contains "$(curl -sS --max-time 3 "http://127.0.0.1:$SP/metrics?x=1")" "tlsgate_workers 1" "/metrics with a query string"
pass "the status reader answers 404/400 and refuses endless heads"
