#!/usr/bin/env bash
# Bulk transfers, tcp mode: a backend streams 32 MB to each client. A client
# that reads as fast as the gateway sends makes the gateway raise its
# backend socket's receive buffer (so the backend can send ahead on its
# own); a client that reads slowly does not, so slow readers never make the
# kernel hold more of the backend's data than it would on its own. Both get
# every byte intact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

# The gateway asks for min(4 MiB, net.core.rmem_max); the kernel doubles it.
rmem_max=$(cat /proc/sys/net/core/rmem_max)
want=$((rmem_max < 4194304 ? rmem_max : 4194304))
boosted=$((2 * want))
# Below ~1 MiB the kernel's own autotuning may reach the same size, and
# the test could not tell the two apart.
((want >= 1048576)) ||
	fail "net.core.rmem_max is $rmem_max: this test needs at least 1048576 (sysctl -w net.core.rmem_max=4194304)"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Bulk CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); GP=$(free_port)
# Per connection: 32 MB, then wait for the client's "done" before closing,
# so the connection is still there to be looked at.
start_bg backend python3 -u -c '
import socket, sys, threading
def serve(c):
    chunk = bytes(range(256)) * 256
    for _ in range(512):
        c.sendall(chunk)
    c.recv(16)
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()' "$BP"
wait_log "$WORK/backend.log" listening
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
wait_port "$GP"

# client PACE: reads the 32 MB (PACE seconds of sleep after each read of at
# most 64 KB; 0: none), checks them, prints the gateway's backend-side receive buffer
# (ss: "rb"), then says done.
client() {
	python3 - "$GP" "$WORK/ca/ca.crt" "$BP" "$1" <<'PY'
import re, socket, ssl, subprocess, sys, time, zlib
port, ca, bp, pace = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket()
if not pace:
    # A fast reader with room to spare: a busy machine pausing Python for a
    # moment must not look like a slow client to the gateway.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
raw.settimeout(30)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")
want = zlib.crc32(bytes(range(256)) * 256 * 512)
# As fast as Python goes: into one buffer, a CRC rather than a hash.
buf = bytearray(65536); view = memoryview(buf)
crc, n = 0, 0
while n < 32 << 20:
    k = s.recv_into(view, min(65536, (32 << 20) - n))
    if not k:
        break
    crc = zlib.crc32(view[:k], crc); n += k
    if pace:
        time.sleep(pace)
print("received %d bytes %s" % (n, "intact" if crc == want else "CORRUPT"))
# The gateway's socket to the backend: the one whose peer is the backend port.
ss = subprocess.run(["ss", "-Htmn", "state", "established", "dst", "127.0.0.1:" + bp],
                    capture_output=True, text=True, check=True).stdout
rb = re.findall(r"\brb(\d+)", ss)
print("rb", rb[0] if len(rb) == 1 else "unknown: %r" % ss)
s.sendall(b"done")
s.close()
PY
}

# A fast client: up to 3 tries, because a busy machine can stop the Python
# reader long enough to push back, and a client that pushed back is rightly
# not taken for a fast one. Each try must still get every byte.
for try in 1 2 3; do
	out=$(client 0)
	assert_contains "$out" "received 33554432 bytes intact" "a fast client gets all 32 MB intact (try $try)"
	rb=$(sed -n 's/^rb //p' <<<"$out")
	[ "$rb" != "$boosted" ] || break
	echo "try $try: the backend receive buffer stayed at $rb (the reader was slowed down?)" >&2
done
assert_eq "$boosted" "$rb" "after 32 MB to a fast client, the backend socket's receive buffer (2 x min(4 MiB, rmem_max)), $try tries"
pass "a fast bulk client raised the backend receive buffer to $rb bytes (try $try)"

# 32 MB at one record (16 KB) per 2 ms, ~8 MB/s: the client pushes back all along.
out=$(client 0.002)
assert_contains "$out" "received 33554432 bytes intact" "a slow client gets all 32 MB intact"
rb=$(sed -n 's/^rb //p' <<<"$out")
[[ "$rb" =~ ^[0-9]+$ ]] || fail "no receive buffer size for the slow client's backend socket: $out"
((rb < boosted)) || fail "a slow client raised the backend receive buffer to $rb (the fast-client size is $boosted)"
pass "a slow client left the backend receive buffer to the kernel ($rb bytes)"
