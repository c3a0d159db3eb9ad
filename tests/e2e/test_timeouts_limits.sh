#!/usr/bin/env bash
# Every phase has a timeout and the gateway has limits: a silent client is cut
# at the handshake timeout, an idle connection at the idle timeout, a dead
# backend at the connect timeout; --max-conns holds further clients in the
# kernel's queue until a slot frees; running out of descriptors pauses
# accepting (no busy loop) and recovers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Limits CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); GP=$(free_port); GP2=$(free_port); GP3=$(free_port)
start_echo_backend "$BP"
wait_port "$BP"
cert=(--cert "$WORK/server.crt" --key "$WORK/server.key")
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP "${cert[@]}" \
	--handshake-timeout 1 --idle-timeout 1.5 --max-conns 1 --workers 1
# A backend whose accept queue is full drops SYNs: connects hang, and the
# connect timeout decides.
DEAD=$(free_port)
start_bg deadbackend python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", int(sys.argv[1]))); fill.append(c)
print("full", flush=True)
time.sleep(120)' "$DEAD"
wait_log "$WORK/deadbackend.log" full
start_bg gwdead timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP2 --target 127.0.0.1:$DEAD "${cert[@]}" \
	--connect-timeout 0.5 --workers 1
wait_port "$GP"; wait_port "$GP2"

# A client that connects and says nothing is cut after the handshake timeout.
start=$SECONDS
python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
print(len(s.recv(100)))' "$GP" >"$WORK/silent.out"
assert_eq 0 "$(cat "$WORK/silent.out")" "silent client: the gateway closed the connection"
((SECONDS - start <= 4)) || fail "silent client cut only after $((SECONDS - start)) s"
wait_log "$WORK/gw.log" 'close="handshake timeout"'

# An idle TLS connection is cut after the idle timeout; --max-conns 1 keeps a
# second client waiting meanwhile, and it gets in once the first is gone.
python3 - "$GP" "$WORK/ca/ca.crt" >"$WORK/idle.out" <<'PY'
import socket, ssl, sys, time, threading
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
t0 = time.time()
first = conn()
second_in = []
def second():
    s = conn()                      # waits in the accept queue while first holds the slot
    second_in.append(time.time() - t0)
    s.close()
th = threading.Thread(target=second); th.start()
time.sleep(0.5)
print("second-in-while-first-open=%s" % bool(second_in))
try:
    data = first.recv(100)          # the idle timeout closes us
except (ssl.SSLError, OSError):
    data = b""
idle = time.time() - t0
th.join(10)
print("first-cut-after=%.1f" % idle)
print("second-in-after-first=%s" % (bool(second_in) and second_in[0] >= idle - 0.2))
PY
out=$(cat "$WORK/idle.out")
assert_contains "$out" "second-in-while-first-open=False" "--max-conns 1: the second client waits"
assert_contains "$out" "second-in-after-first=True" "--max-conns 1: the second client gets in when the first ends"
cut=$(sed -n 's/first-cut-after=//p' <<<"$out")
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 1.3 <= t <= 4 else 1)" "$cut" || fail "idle cut after $cut s"
wait_log "$WORK/gw.log" 'close="idle timeout"'
pass "idle connection cut after ${cut}s (idle timeout 1.5s)"

# A backend that never answers: the connect timeout closes the client.
code=0
sleep 2 | timeout 10 openssl s_client -connect 127.0.0.1:$GP2 -quiet >/dev/null 2>&1 || code=$?
wait_log "$WORK/gwdead.log" 'close="backend connect timeout"'
pass "dead backend: connect timeout"

# Out of descriptors: accepting pauses (logged), then recovers.
start_bg gwfd bash -c "ulimit -n 24; exec timeout 60 '$TLSGATE' serve --listen 127.0.0.1:$GP3 --target 127.0.0.1:$BP ${cert[*]} --workers 1"
wait_port "$GP3"
python3 - "$GP3" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
time.sleep(1)
for s in held:
    s.close()
PY
wait_log "$WORK/gwfd.log" "pausing accepts"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --resolve localhost:$GP3:127.0.0.1 https://localhost:$GP3/after)
assert_contains "$out" '"path": "/after"' "after the descriptor shortage the gateway serves again"
pass "EMFILE handled with a pause"
