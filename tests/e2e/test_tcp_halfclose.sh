#!/usr/bin/env bash
# tcp mode half-close, backend first: the backend says hello and closes its
# sending side; the client receives hello and our close_notify, then still
# sends, and the backend receives it all. (The client-first direction is in
# test_config_proxy_v2.) A large upload in between checks backpressure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Half CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); GP=$(free_port)
start_bg backend python3 -u -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.sendall(b"hello\n")
c.shutdown(socket.SHUT_WR)          # the backend is done talking
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d); n += len(d)
print("received %d bytes sha256 %s" % (n, h.hexdigest()), flush=True)' "$BP"
wait_log "$WORK/backend.log" listening
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
wait_port "$GP"

out=$(python3 - "$GP" "$WORK/ca/ca.crt" <<'PY'
import hashlib, socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
got = b""
while True:
    try:
        d = s.recv(100)
    except ssl.SSLZeroReturnError:
        break
    if not d:
        break
    got += d
print("got %r then close_notify" % got.decode().strip())
payload = bytes(range(256)) * 4096 * 8     # 8 MB after the backend stopped talking
s.sendall(payload)
print("sent 8388608 bytes sha256 %s" % hashlib.sha256(payload).hexdigest())
s.unwrap()                                  # our close_notify; theirs came already
s.close()
PY
)
assert_contains "$out" "got 'hello' then close_notify" "the backend's EOF reaches the client as close_notify"
sent=$(sed -n 's/^sent \(.*\)$/\1/p' <<<"$out")
wait_log "$WORK/backend.log" "received"
assert_eq "received $sent" "$(grep received "$WORK/backend.log")" "8 MB sent after the backend's half-close arrive intact"
wait_log "$WORK/gw.log" 'in=8388608 out=6 .*close="backend closed"'
pass "the log counts both directions and says the backend ended first"
