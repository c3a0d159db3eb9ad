#!/usr/bin/env bash
# --config FILE with several [listener NAME] sections; --test like nginx -t
# (0 ok, 1 broken, with the reason); PROXY protocol v2 with HAProxy's TLS
# TLVs (version, CN, cipher, SNI) in tcp mode; TLS half-close passes through.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Config CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/dev1" "$WORK/ca"/ca client "/CN=device-1/OU=fleet"

BP=$(free_port); PP=$(free_port); L1=$(free_port); L2=$(free_port); SP=$(free_port)
start_echo_backend "$BP"
start_bg proxyback python3 -u "$TLSGATE_SRC/tests/e2e/echo_proxy_v2.py" "$PP"
wait_port "$PP"

cat >"$WORK/gw.ini" <<INI
; two listeners, one file
[global]
workers = 2
status = 127.0.0.1:$SP

[listener web]
listen = 127.0.0.1:$L1
target = 127.0.0.1:$BP
mode = http
cert = $WORK/server.crt
key = $WORK/server.key

[listener devices]
listen = 127.0.0.1:$L2
target = 127.0.0.1:$PP
mode = tcp
cert = $WORK/server.crt
key = $WORK/server.key
client-ca = $WORK/ca/ca.crt
verify = verify-full
allow-ou = fleet
proxy-protocol = v2
idle-timeout = 30s
INI

out=$("$TLSGATE" serve --config "$WORK/gw.ini" --test)
assert_contains "$out" "listener web: 127.0.0.1:$L1 -> 127.0.0.1:$BP, http mode" "--test reports listener web"
assert_contains "$out" "listener devices: 127.0.0.1:$L2 -> 127.0.0.1:$PP, tcp mode, client certs verify-full" "--test reports listener devices"
assert_contains "$out" "configuration ok" "--test: ok"

# Broken configs: exit 1 and the reason.
broken() { # NAME SED-EXPR EXPECTED
	sed "$2" "$WORK/gw.ini" >"$WORK/$1.ini"
	set +e
	out=$("$TLSGATE" serve --config "$WORK/$1.ini" --test 2>&1); rc=$?
	set -e
	assert_eq 1 "$rc" "--test $1: exit 1"
	assert_contains "$out" "$3" "--test $1: says why"
}
broken badverify 's/verify = verify-full/verify = sometimes/' "'sometimes' is not one of: none, optional, require, verify-full"
broken nokey "s#key = $WORK/server.key#key = $WORK/missing.key#" "missing.key"
broken norule 's/^allow-ou = fleet$//' "verify-full needs an allow rule"
broken section 's/\[listener web\]/[lisener web]/' "unknown section [lisener web]"
broken syntax 's/^mode = http$/mode http/' "syntax error"
broken globalkey 's/^idle-timeout = 30s$/workers = 3/' "'workers' is a global option"

start_bg gw timeout 60 "$TLSGATE" serve --config "$WORK/gw.ini"
GWPID=$BG_PID
wait_port "$L1"; wait_port "$L2"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" https://localhost:$L1/web)
assert_contains "$out" '"path": "/web"' "listener web serves http"

# tcp + PROXY v2: the backend learns the client address and TLS facts.
tls_line() { # PORT LINE: one line over TLS with dev1's cert, prints the answer line
	python3 - "$1" "$WORK" "$2" <<'PY'
import socket, ssl, sys
port, t, line = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=t + "/ca/ca.crt")
ctx.load_cert_chain(t + "/dev1.crt", t + "/dev1.key")
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost") as s:
    s.sendall(line.encode() + b"\n")
    print(s.makefile("rb").readline().decode().strip())
PY
}
out=$(tls_line "$L2" ping)
j() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$out"; }
assert_eq ping "$(j 'd["line"]')" "bytes pass through after the PROXY header"
assert_eq 33 "$(j 'd["proxy"]["ver_cmd"]')" "PROXY v2, command PROXY"
assert_contains "$(j 'd["proxy"]["src"]')" "127.0.0.1:" "source address is the client's"
assert_eq "127.0.0.1:$L2" "$(j 'd["proxy"]["dst"]')" "destination is the listener"
assert_eq localhost "$(j 'd["proxy"]["authority"]')" "SNI in PP2_TYPE_AUTHORITY"
assert_eq 7 "$(j 'd["proxy"]["ssl_client"]')" "PP2_CLIENT_SSL|CERT_CONN|CERT_SESS"
assert_eq 0 "$(j 'd["proxy"]["ssl_verify"]')" "verify 0: cert verified"
assert_eq device-1 "$(j 'd["proxy"]["ssl_cn"]')" "client CN in PP2_SUBTYPE_SSL_CN"
assert_contains "$(j 'd["proxy"]["ssl_version"]')" "TLSv1." "TLS version TLV"
assert_contains "$(j 'd["proxy"]["ssl_cipher"]')" "_" "cipher TLV"

# A client that forges a PROXY v2 header of its own (source 10.9.9.9, CN
# admin) as its first bytes: the backend reads the gateway's header first,
# and the forged one arrives after it as data.
out=$(python3 - "$L2" "$WORK" <<'PY'
import socket, ssl, struct, sys
port, t = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=t + "/ca/ca.crt")
ctx.load_cert_chain(t + "/dev1.crt", t + "/dev1.key")
cn = b"\x22\x00\x05admin"
tlv = b"\x20" + struct.pack("!H", 5 + len(cn)) + b"\x07\x00\x00\x00\x00" + cn
body = socket.inet_aton("10.9.9.9") + socket.inet_aton("10.9.9.9") + b"\x01\xbb\x01\xbb" + tlv
forged = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", len(body)) + body
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost") as s:
    s.sendall(forged + b"\n")
    f = s.makefile("rb")
    print(f.readline().decode().strip())
PY
)
assert_eq device-1 "$(j 'd["proxy"]["ssl_cn"]')" "the CN the backend reads after a forged header"
assert_contains "$(j 'd["proxy"]["src"]')" "127.0.0.1:" "the source after a forged header"
assert_eq "" "$(j 'd["line"]')" "the forged header's first line is data"

# Half-close: the client sends a line and its close_notify, then keeps
# reading; the backend sees EOF and still answers through the gateway.
out=$(python3 - "$L2" "$WORK" <<'PY'
import socket, ssl, sys
port, t = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=t + "/ca/ca.crt")
ctx.load_cert_chain(t + "/dev1.crt", t + "/dev1.key")
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
def flush():
    data = out.read()
    if data:
        sock.sendall(data)
def pull():
    data = sock.recv(65536)
    if not data:
        inc.write_eof()
    inc.write(data)
    return bool(data)
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        flush()
        pull()
flush()
obj.write(b"half\n")
try:
    obj.unwrap()            # sends our close_notify
except ssl.SSLWantReadError:
    pass
flush()
got = b""
while b"eof-seen" not in got:
    try:
        got += obj.read(65536)
    except ssl.SSLWantReadError:
        if not pull():
            break
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
print(got.decode())
PY
)
assert_contains "$out" '"line": "half"' "TLS half-close: the line sent before close_notify arrives"
assert_contains "$out" "eof-seen" "TLS half-close: the backend saw EOF and its answer still came back"

# Global options reached the master: status endpoint answers.
assert_contains "$(http_get "http://127.0.0.1:$SP/healthz")" '"workers": 2' "[global] workers and status applied"

# Reload changes listeners: drop "web", add "web2" on a new port.
L3=$(free_port)
MASTER=$(child_of "$GWPID")
sed -e "s/^\[listener web\]/[listener web2]/" -e "s/listen = 127.0.0.1:$L1/listen = 127.0.0.1:$L3/" \
	"$WORK/gw.ini" >"$WORK/gw.ini.new"
mv "$WORK/gw.ini.new" "$WORK/gw.ini"
kill -HUP "$MASTER"
wait_metric "http://127.0.0.1:$SP/metrics" 'tlsgate_reloads_total{result="ok"} 1'
wait_port "$L3"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" https://localhost:$L3/web2)
assert_contains "$out" '"path": "/web2"' "reload added listener web2"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$L1") 2>/dev/null || break; sleep 0.1; done
if (exec 3<>"/dev/tcp/127.0.0.1/$L1") 2>/dev/null; then fail "removed listener web still accepts"; fi
pass "reload removed listener web"
assert_contains "$(tls_line "$L2" again)" '"line": "again"' "listener devices kept serving across the reload"
echo "all config and PROXY v2 checks passed"
