#!/usr/bin/env bash
# http mode answers a refusal (502 with the backend down, 400 without a
# client cert, 403 off the allow list) only once the request has come, so
# the client is reading. A client that ends before sending one (close_notify,
# or a bare TCP FIN) gets nothing to read: the gateway closes at once and
# logs why, instead of holding the connection until the timeout (30 s here).
# The backend is connected only once a request has come (like nginx), so a
# client that leaves first never meets the dead backend at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Close CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
pki_cert "$WORK/bob" "$WORK/ca"/ca client "/CN=bob"

# Nothing listens on DOWN: every backend connect is refused.
GP=$(free_port); GP2=$(free_port); DOWN=$(free_port)
common=(--mode http --target 127.0.0.1:$DOWN --cert "$WORK/server.crt" --key "$WORK/server.key"
	--client-ca "$WORK/ca/ca.crt" --verify require --allow-cn alice --workers 1)
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP "${common[@]}" \
	--handshake-timeout 30 --idle-timeout 30
start_bg gwshort timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP2 "${common[@]}" \
	--handshake-timeout 1 --idle-timeout 30
GWLOG=$WORK/gw.log
wait_port "$GP"; wait_port "$GP2"
wait_log "$GWLOG" 'close="closed before the handshake"' # wait_port's probe

# conn_lines: how many connections the gateway has logged so far.
conn_lines() { grep -c ' conn listener=' "$GWLOG" || true; }

# closed_within_3s N WHAT: the gateway logs connection number N+1 within 3 s
# of the client's close (the timeouts are 30 s); sets CLOSE_WHY to its reason.
closed_within_3s() {
	local n=$1 what=$2 line dur deadline=$((SECONDS + 3))
	while (($(conn_lines) <= n)); do
		((SECONDS < deadline)) || fail "$what: the gateway still holds the connection 3 s after the client closed"
		sleep 0.05
	done
	line=$(grep ' conn listener=' "$GWLOG" | sed -n "$((n + 1))p")
	dur=$(sed -n 's/.* dur=\([0-9.]*\)s .*/\1/p' <<<"$line")
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)' "$dur" ||
		fail "$what: connection lasted ${dur}s: $line"
	CLOSE_WHY=$(sed -n 's/.* close="\(.*\)"$/\1/p' <<<"$line")
}

# s_client_close [openssl args...]: full handshake, then close_notify and
# exit at once (stdin is empty), no request.
s_client_close() {
	timeout 10 openssl s_client -connect 127.0.0.1:$GP -servername localhost \
		-CAfile "$WORK/ca/ca.crt" "$@" </dev/null >/dev/null 2>&1 || true
}

# py_close MODE: alice completes the handshake, then ends her side without a
# request and keeps reading; prints how long until the gateway closed.
# MODE notify: close_notify (TLS half-close); fin: TCP FIN, no close_notify.
py_close() {
	python3 - "$GP" "$WORK" "$1" <<'PY'
import socket, ssl, sys, time
port, work, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=work + "/ca/ca.crt")
ctx.load_cert_chain(work + "/alice.crt", work + "/alice.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(10)
t0 = time.monotonic()
try:
    if mode == "notify":
        s.unwrap()  # sends close_notify, then reads until the gateway answers or closes
    else:
        s.shutdown(socket.SHUT_WR)  # drops the TLS layer: a bare FIN
        while s.recv(4096):  # session tickets may still be queued
            pass
except socket.timeout:
    pass
except (ssl.SSLError, OSError):
    pass  # the gateway closed without a close_notify of its own
print("%.2f" % (time.monotonic() - t0))
PY
}

# 1. With a request, every refusal is answered.
curl_code() { # curl args... -> HTTP status
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$WORK/ca/ca.crt" \
		--resolve localhost:$GP:127.0.0.1 "$@" https://localhost:$GP/
}
assert_eq 502 "$(curl_code --cert "$WORK/alice.crt" --key "$WORK/alice.key")" "backend down, alice's request: 502"
wait_log "$GWLOG" "cn=alice .*close=\"replied 502: backend 127.0.0.1:$DOWN connect: Connection refused\""
assert_eq 400 "$(curl_code)" "no client cert, a request: 400"
wait_log "$GWLOG" 'cn=- .*close="replied 400 No required SSL certificate was sent"'
assert_eq 403 "$(curl_code --cert "$WORK/bob.crt" --key "$WORK/bob.key")" "bob not allowed, a request: 403"
wait_log "$GWLOG" 'cn=bob .*close="replied 403"'
pass "requests get 502, 400 and 403"

# 2. Backend down, the client ends without a request: closed at once, and
# the backend was never tried.
want502="client closed before a request"
n=$(conn_lines)
s_client_close -cert "$WORK/alice.crt" -key "$WORK/alice.key"
closed_within_3s "$n" "backend down, s_client close_notify"
assert_eq "$want502" "$CLOSE_WHY" "backend down, s_client: close reason"
for mode in notify fin; do
	n=$(conn_lines)
	secs=$(py_close "$mode")
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)' "$secs" ||
		fail "backend down, python $mode: the gateway closed only after ${secs}s"
	closed_within_3s "$n" "backend down, python $mode"
	assert_eq "$want502" "$CLOSE_WHY" "backend down, python $mode: close reason"
	pass "backend down, python $mode without a request: closed after ${secs}s"
done
assert_eq 1 "$(grep -c 'close="replied 502' "$GWLOG")" "only the request got a 502"

# 3. The refusals: no cert (400) and not allowed (403), closed at once too.
n=$(conn_lines)
s_client_close
closed_within_3s "$n" "no cert, s_client close_notify"
assert_eq "client closed before a request (would have replied 400 No required SSL certificate was sent)" \
	"$CLOSE_WHY" "no cert without a request: close reason"
n=$(conn_lines)
s_client_close -cert "$WORK/bob.crt" -key "$WORK/bob.key"
closed_within_3s "$n" "bob, s_client close_notify"
assert_eq "client closed before a request (would have replied 403)" "$CLOSE_WHY" \
	"403 without a request: close reason"
pass "400 and 403 pending, the client closed: closed at once"

# 4. A client that stays silent is cut at the timeout, and the log says so.
sleep 3 | timeout 10 openssl s_client -connect 127.0.0.1:$GP2 -servername localhost \
	-CAfile "$WORK/ca/ca.crt" -ign_eof >/dev/null 2>&1 || true
wait_log "$WORK/gwshort.log" 'cn=- .*close="no request before the timeout (would have replied 400 No required SSL certificate was sent)"'
pass "a silent client is cut at the timeout with the pending refusal in the log"
