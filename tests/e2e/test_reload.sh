#!/usr/bin/env bash
# Reload on SIGHUP is all-or-nothing: after swapping the cert, new handshakes
# get the new cert while a long transfer started before finishes intact; a
# broken key keeps the old cert serving and the status endpoint reports the
# failed reload. /healthz and /metrics are checked along the way.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Reload CA"
pki_cert "$WORK/one" "$WORK/ca"/ca server "/CN=localhost/OU=one" "DNS:localhost"
pki_cert "$WORK/two" "$WORK/ca"/ca server "/CN=localhost/OU=two" "DNS:localhost"
cp -p "$WORK/one.crt" "$WORK/server.crt"; cp -p "$WORK/one.key" "$WORK/server.key"

BP=$(free_port); GP=$(free_port); SP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --status 127.0.0.1:$SP --workers 2
MASTER=$(child_of "$BG_PID")
wait_port "$GP"; wait_port "$SP"
ST=http://127.0.0.1:$SP

ou() { openssl s_client -connect 127.0.0.1:$GP -servername localhost </dev/null 2>/dev/null |
	openssl x509 -noout -subject | sed 's/.*OU *= *\([a-z]*\).*/\1/'; }
assert_eq one "$(ou)" "before reload: cert one"
h=$(http_get "$ST/healthz")
assert_contains "$h" '"last_reload": "none"' "/healthz before any reload"

# A long transfer over the old cert (8 MB at 2 MB/s: about 4 s).
N=8000000
curl -sS --max-time 60 --limit-rate 2M --cacert "$WORK/ca/ca.crt" -o "$WORK/big.out" \
	"https://localhost:$GP/big?n=$N" 2>"$WORK/big.err" &
BIG=$!
track "$BIG"
for _ in $(seq 100); do [ -s "$WORK/big.out" ] && break; sleep 0.05; done
[ -s "$WORK/big.out" ] || fail "the long transfer did not start"
wait_metric "$ST/metrics" 'tlsgate_bytes_total{direction="backend_to_client"} [0-9]\{6,\}'
pass "/metrics counts the bytes of a running transfer"

# Swap the cert (new files moved into place) and reload.
cp -p "$WORK/two.crt" "$WORK/server.crt.new"; mv "$WORK/server.crt.new" "$WORK/server.crt"
cp -p "$WORK/two.key" "$WORK/server.key.new"; mv "$WORK/server.key.new" "$WORK/server.key"
kill -HUP "$MASTER"
wait_metric "$ST/metrics" 'tlsgate_reloads_total{result="ok"} 1'
assert_eq two "$(ou)" "after reload: new handshakes get cert two"
kill -0 "$BIG" 2>/dev/null || fail "the long transfer ended before the reload was checked"
pass "the long transfer is still running during the reload"
wait "$BIG" || fail "the long transfer failed: $(cat "$WORK/big.err")"
python3 - "$WORK/big.out" "$N" <<'PY' || fail "the long transfer's bytes differ"
import sys
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
want = (bytes(range(256)) * 256 * (n // 65536 + 1))[:n]
sys.exit(0 if data == want else 1)
PY
pass "the long transfer started before the reload finished intact ($N bytes)"

# A broken key: the reload fails, the old runtime keeps serving.
echo "not a key" >"$WORK/server.key.new"; chmod 600 "$WORK/server.key.new"; mv "$WORK/server.key.new" "$WORK/server.key"
kill -HUP "$MASTER"
wait_metric "$ST/metrics" 'tlsgate_reloads_total{result="failed"} 1'
h=$(http_get "$ST/healthz")
assert_contains "$h" '"last_reload": "failed"' "/healthz reports the failed reload"
assert_contains "$h" "$WORK/server.key" "/healthz names the broken file"
m=$(http_get "$ST/metrics")
assert_contains "$m" "tlsgate_last_reload_success 0" "/metrics: last reload failed"
wait_log "$WORK/gw.log" "reload failed, still serving the previous configuration"
assert_eq two "$(ou)" "after the failed reload: still cert two"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" https://localhost:$GP/still)
assert_contains "$out" '"path": "/still"' "requests still served after the failed reload"

# A loose key is refused on reload too.
cp -p "$WORK/one.key" "$WORK/server.key"; chmod 644 "$WORK/server.key"; cp -p "$WORK/one.crt" "$WORK/server.crt"
kill -HUP "$MASTER"
wait_metric "$ST/metrics" 'tlsgate_reloads_total{result="failed"} 2'
assert_contains "$(http_get "$ST/healthz")" "has mode 0644" "reload refuses a 0644 key and says so"
chmod 600 "$WORK/server.key"
kill -HUP "$MASTER"
wait_metric "$ST/metrics" 'tlsgate_reloads_total{result="ok"} 2'
assert_eq one "$(ou)" "fixed: the next reload works"
m=$(http_get "$ST/metrics")
assert_contains "$m" 'tlsgate_handshakes_total{outcome="ok"}' "/metrics: handshakes by outcome"
assert_contains "$m" "tlsgate_cert_expiry_seconds{listener=\"default\",cert=\"$WORK/server.crt\"" "/metrics: cert expiry"
total=$(sed -n 's/^tlsgate_connections_total //p' <<<"$m")
[ "$total" -ge 5 ] || fail "connections_total is $total"
pass "/metrics counts connections ($total)"
assert_contains "$(http_get "$ST/healthz")" '"last_reload": "ok"' "/healthz: ok again"

# Sessions stay in the cache every worker thread of the process shares: 12
# resumptions in a row (each with the ticket of the connection before,
# whichever worker thread takes it) all resume. A reload starts a new
# process with new contexts and an empty cache, so a session from before
# it does not resume (it was judged by the old CA and rules; tickets kept
# across reloads and judged again: test_ticket_keys_process).
out=$(python3 - "$GP" "$WORK/ca/ca.crt" "$MASTER" "$ST/metrics" <<'PY'
import os, signal, socket, ssl, sys, time, urllib.request
port, ca, master, metrics = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
def get(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost", session=session)
    s.sendall(b"GET /resume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    reused, sess = s.session_reused, s.session
    s.close()
    return reused, sess
_, first = get()
chain, sess = [], first
for _ in range(12):
    r, sess = get(sess)
    chain.append(r)
again, sess = get(sess)
os.kill(master, signal.SIGHUP)
for _ in range(100):
    if 'tlsgate_reloads_total{result="ok"} 3' in urllib.request.urlopen(metrics).read().decode():
        break
    time.sleep(0.1)
after, _ = get(sess)
print("chain=%s before-reload-resumed=%s after-reload-resumed=%s" % (all(chain), again, after))
PY
)
assert_eq "chain=True before-reload-resumed=True after-reload-resumed=False" "$out" \
	"sessions resume across worker threads; a reload starts an empty cache"
assert_contains "$(http_get "$ST/metrics")" "tlsgate_handshakes_resumed_total" "/metrics counts resumed handshakes"

# SIGQUIT: a graceful stop lets a running transfer finish, then the gateway exits.
curl -sS --max-time 60 --limit-rate 4M --cacert "$WORK/ca/ca.crt" -o "$WORK/big2.out" \
	"https://localhost:$GP/big?n=$N" 2>"$WORK/big2.err" &
BIG=$!
track "$BIG"
for _ in $(seq 100); do [ -s "$WORK/big2.out" ] && break; sleep 0.05; done
kill -QUIT "$MASTER"
wait_log "$WORK/gw.log" "finishing open connections first"
wait "$BIG" || fail "the transfer was cut by the graceful stop: $(cat "$WORK/big2.err")"
assert_eq "$N" "$(stat -c %s "$WORK/big2.out")" "SIGQUIT: the running transfer finished ($N bytes)"
for _ in $(seq 100); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MASTER" 2>/dev/null; then fail "the gateway did not exit after the graceful stop"; fi
pass "SIGQUIT: the gateway exited once its connections were done"
echo "all reload checks passed"
