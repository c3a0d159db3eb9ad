#!/usr/bin/env bash
# The listening address is tlsgate's alone: a second tlsgate on the same
# address (here one without client-certificate checks) and a Python socket
# with SO_REUSEPORT both fail with "address in use", so no client can reach
# a listener that skips the checks. tlsgate's own two worker threads still
# share the connections (per-thread counters on /metrics), and reloads under
# load keep the same listening socket and lose no request.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Listen CA"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
BP=$(free_port); GP=$(free_port); SP=$(free_port); SP2=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify require --status 127.0.0.1:$SP --workers 2
MASTER=$(child_of "$BG_PID")
wait_port "$GP"; wait_port "$SP"
ST=http://127.0.0.1:$SP
# A second tlsgate, without client-certificate checks, on the same address.
expect_fail 1 timeout 10 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --status 127.0.0.1:$SP2 --workers 2
assert_contains "$OUT" "cannot listen on 127.0.0.1:$GP: address in use" "second tlsgate: refused, naming the address"
pass "a second tlsgate on the same address fails: address in use"

# One socket listens on GP, shared by the threads (the same after reloads).
listen_inode() { ss -Hltne "sport = :$GP" | sed -n 's/.* ino:\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' '; }
INODE=$(listen_inode)
[ "$(wc -w <<<"$INODE")" = 1 ] || fail "expected one listening socket on $GP, found inodes: $INODE"

# Any other program, even with SO_REUSEADDR and SO_REUSEPORT set.
out=$(python3 - "$GP" <<'PY'
import errno, socket, sys
port = int(sys.argv[1])
for opts in (("SO_REUSEADDR",), ("SO_REUSEADDR", "SO_REUSEPORT"), ("SO_REUSEPORT",)):
    s = socket.socket()
    for o in opts:
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, o), 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(16)
        print("%s: bound" % "+".join(opts))
    except OSError as e:
        print("%s: %s" % ("+".join(opts), "address in use" if e.errno == errno.EADDRINUSE else e))
    s.close()
PY
)
assert_eq "SO_REUSEADDR: address in use
SO_REUSEADDR+SO_REUSEPORT: address in use
SO_REUSEPORT: address in use" "$out" "python sockets on the gateway's address"
pass "python with SO_REUSEADDR/SO_REUSEPORT cannot bind the address"

# Every client without a certificate meets the one gateway that checks.
codes=""
for _ in $(seq 10); do
	codes+="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$WORK/ca/ca.crt" \
		--resolve localhost:$GP:127.0.0.1 https://localhost:$GP/nocert) "
done
assert_eq "400 400 400 400 400 400 400 400 400 400 " "$codes" "10 requests without a client cert"

# One request over mutual TLS as alice: True if it got a 200.
cat >"$WORK/alice_get.py" <<'PY'
import socket, ssl
def make_get(port, w):
    ctx = ssl.create_default_context(cafile=w + "/ca/ca.crt")
    ctx.load_cert_chain(w + "/alice.crt", w + "/alice.key")
    def get(path):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                             server_hostname="localhost") as s:
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    return data.startswith(b"HTTP/1.1 200")
                data += d
    return get
PY
export PYTHONPATH=$WORK

# The two worker threads share the socket: both take connections.
python3 - "$GP" "$WORK" <<'PY' || fail "concurrent clients failed"
import sys, threading
from alice_get import make_get
get = make_get(int(sys.argv[1]), sys.argv[2])
bad = []
def one():
    for _ in range(10):
        if not get(b"/spread"):
            bad.append(1)
ts = [threading.Thread(target=one) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
sys.exit(1 if bad else 0)
PY
m=$(http_get "$ST/metrics")
t0=$(sed -n 's/^tlsgate_worker_connections_total{thread="0"} //p' <<<"$m")
t1=$(sed -n 's/^tlsgate_worker_connections_total{thread="1"} //p' <<<"$m")
[ -n "$t0" ] && [ -n "$t1" ] || fail "no per-thread counters on /metrics"
((t0 > 0 && t1 > 0)) || fail "one thread took every connection: thread 0: $t0, thread 1: $t1"
((t0 + t1 >= 90)) || fail "the threads counted $((t0 + t1)) connections, expected at least 90"
pass "both worker threads accept from the shared socket (thread 0: $t0, thread 1: $t1)"

# Reloads under load: requests keep succeeding, the socket stays the same.
python3 - "$GP" "$WORK" "$MASTER" "$ST/metrics" >"$WORK/load.out" <<'PY'
import os, signal, sys, threading, time, urllib.request
from alice_get import make_get
get = make_get(int(sys.argv[1]), sys.argv[2])
master, metrics = int(sys.argv[3]), sys.argv[4]
stop, ok, failed = [False], [0], []
def load():
    while not stop[0]:
        try:
            if get(b"/load"):
                ok[0] += 1
            else:
                failed.append("not 200")
        except Exception as e:
            failed.append(repr(e))
ts = [threading.Thread(target=load) for _ in range(4)]
[t.start() for t in ts]
def reloads_ok():
    text = urllib.request.urlopen(metrics, timeout=5).read().decode()
    return int(text.split('tlsgate_reloads_total{result="ok"} ')[1].split()[0])
for i in range(1, 11):
    os.kill(master, signal.SIGHUP)
    for _ in range(200):
        if reloads_ok() >= i:
            break
        time.sleep(0.05)
stop[0] = True
[t.join() for t in ts]
print("reloads=%d ok=%d failed=%d %s" % (reloads_ok(), ok[0], len(failed), failed[:3]))
PY
out=$(cat "$WORK/load.out")
assert_contains "$out" "reloads=10 " "10 reloads done"
assert_contains "$out" " failed=0 " "no request failed during the reloads"
ok=$(sed 's/.* ok=\([0-9]*\) .*/\1/' <<<"$out")
((ok > 0)) || fail "no request was served during the reloads: $out"
assert_eq "$INODE" "$(listen_inode)" "the listening socket after 10 reloads"
pass "10 reloads under load: $ok requests, none failed, same listening socket"

expect_fail 1 timeout 10 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
assert_contains "$OUT" "address in use" "after the reloads the address is still held"
pass "after reloads a second tlsgate still fails"
