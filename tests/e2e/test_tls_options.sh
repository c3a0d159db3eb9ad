#!/usr/bin/env bash
# Protocol safety: TLS 1.2+ by default (1.1 refused), --min-tls 1.3 refuses
# 1.2, --ciphers limits the TLS 1.2 suites, client-initiated renegotiation is
# refused, sessions resume unless --session-cache 0, and a bad --ciphers
# value is a config error that says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Opt CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); G1=$(free_port); G2=$(free_port); G3=$(free_port); G4=$(free_port); G5=$(free_port)
start_echo_backend "$BP"
cert=(--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1 --target 127.0.0.1:$BP)
start_bg gwdef timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G1 "${cert[@]}"
start_bg gw13 timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G2 "${cert[@]}" --min-tls 1.3
start_bg gwciph timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G3 "${cert[@]}" \
	--ciphers ECDHE-ECDSA-AES128-GCM-SHA256
start_bg gwnocache timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G4 "${cert[@]}" --session-cache 0
start_bg gwidle timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G5 "${cert[@]}" --idle-timeout 1
wait_port "$G1"; wait_port "$G2"; wait_port "$G3"; wait_port "$G4"; wait_port "$G5"

proto() { # PORT openssl-args...: prints the negotiated protocol or "refused"
	local port=$1 out p
	shift
	out=$(timeout 10 openssl s_client -connect 127.0.0.1:$port -servername localhost "$@" </dev/null 2>&1 || true)
	p=$(sed -n 's/^New, \(TLSv1\.[0-9]\), Cipher is .*/\1/p' <<<"$out" | head -n1)
	echo "${p:-refused}"
}
assert_eq TLSv1.3 "$(proto $G1)" "default: TLS 1.3 negotiated"
assert_eq TLSv1.2 "$(proto $G1 -tls1_2)" "default: TLS 1.2 accepted"
assert_eq refused "$(proto $G1 -tls1_1 -cipher 'DEFAULT@SECLEVEL=0')" "default: TLS 1.1 refused"
assert_eq refused "$(proto $G2 -tls1_2)" "--min-tls 1.3: TLS 1.2 refused"
assert_eq TLSv1.3 "$(proto $G2)" "--min-tls 1.3: TLS 1.3 accepted"
assert_eq refused "$(proto $G3 -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305)" "--ciphers: other TLS 1.2 suites refused"
assert_eq TLSv1.2 "$(proto $G3 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" "--ciphers: the chosen suite works"

# Resumption (TLS 1.3): the second connection presents the first one's
# ticket. With --session-cache 0 the gateway sends no ticket at all. The
# first connection ends without a close_notify either way: the client just
# closes its socket (most do), or it stays silent until the gateway's idle
# timeout cuts it; neither may cost the session.
resume() { # PORT silent|close: "ticket=<bool> reused=<bool>"
	python3 - "$1" "$WORK/ca/ca.crt" "$2" <<'PY'
import socket, ssl, sys
port, ca, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
def once(session=None, silent=False):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost", session=session)
    if silent:
        try:
            s.recv(100)  # takes in the ticket, then waits for the idle timeout
        except OSError:
            pass
    else:
        s.sendall(b"ping\n")
        s.recv(100)  # the backend's answer; the ticket came before it
    r = (s.session_reused, s.session)
    s.close()
    return r
_, sess = once(silent=how == "silent")
reused, _ = once(sess)
print("ticket=%s reused=%s" % (sess.has_ticket, reused))
PY
}
assert_eq "ticket=True reused=True" "$(resume $G1 close)" "default: a session resumes from the cache"
assert_eq "ticket=True reused=True" "$(resume $G5 silent)" "a session cut by the idle timeout still resumes"
wait_log "$WORK/gwidle.log" 'resumed=0 .*close="idle timeout"'
assert_eq "ticket=False reused=False" "$(resume $G4 close)" "--session-cache 0: no ticket, no resumption"

# Renegotiation: s_client's "R" asks for it; the gateway must refuse.
out=$( (sleep 1; echo R; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$G1 -tls1_2 2>&1 || true)
assert_contains "$out" "RENEGOTIATING" "the client asked to renegotiate"
assert_contains "$out" "no renegotiation" "the gateway refused it"

# A bare TCP connect (wait_port's probe, a load balancer's health check) is
# not a failed handshake; plain HTTP sent to the TLS port is.
wait_log "$WORK/gwdef.log" 'close="closed before the handshake"'
curl -s --max-time 5 "http://127.0.0.1:$G1/" >/dev/null || true
wait_log "$WORK/gwdef.log" 'close="handshake failed: .*http request"'
pass "health-check connects and plain HTTP are told apart in the log"

expect_fail 1 "$TLSGATE" serve --listen 127.0.0.1:1 "${cert[@]}" --ciphers NOPE-NOTHING --test
assert_contains "$OUT" "--ciphers 'NOPE-NOTHING' selects no cipher" "a bad --ciphers value is reported"
pass "protocol options hold"
