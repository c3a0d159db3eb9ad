#!/usr/bin/env bash
# Two gateways sharing one --ticket-keys file resume each other's sessions
# (openssl s_client -sess_out on one, -sess_in on the other: "Reused"), in
# TLS 1.3 and 1.2; a gateway without the file does not. The tickets open
# with the file's first key in nginx's layout, checked outside tlsgate
# (ticket_check.py). Rotation: new key first, old second, SIGHUP: old
# tickets still resume (and TLS 1.2 renews them under the new key); old key
# removed: they do not. A ticket of a client revoked since is not resumed:
# the full handshake refuses it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/tickets.sh"

cd "$WORK"
tg ca init --dir pki --name "Fleet CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice carol; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg crl --dir pki >/dev/null
(umask 077 && openssl rand 80 >keyA && openssl rand 80 >keyB && cp keyA tickets.key)

BP=$(free_port); G1=$(free_port); G2=$(free_port); G3=$(free_port); S1=$(free_port); S2=$(free_port)
start_echo_backend "$BP"
common=(--target 127.0.0.1:$BP --mode http --cert pki/issued/localhost.crt --key pki/issued/localhost.key
	--client-ca pki/root.crt --verify require --crl pki/crl.pem --workers 2)
start_bg gw1 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G1 --status 127.0.0.1:$S1 "${common[@]}" \
	--ticket-keys tickets.key
M1=$(child_of "$BG_PID")
start_bg gw2 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G2 --status 127.0.0.1:$S2 "${common[@]}" \
	--ticket-keys tickets.key
M2=$(child_of "$BG_PID")
start_bg gw3 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G3 "${common[@]}"
wait_port "$G1"; wait_port "$G2"; wait_port "$G3"; wait_port "$S1"; wait_port "$S2"

ticket() { python3 "$TLSGATE_SRC/tests/e2e/ticket_check.py" "$1" "$2"; }
reloaded() { # N: both gateways have reloaded N times
	kill -HUP "$M1" "$M2"
	wait_metric "http://127.0.0.1:$S1/metrics" "tlsgate_reloads_total{result=\"ok\"} $1"
	wait_metric "http://127.0.0.1:$S2/metrics" "tlsgate_reloads_total{result=\"ok\"} $1"
}

for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_out a-$v.pem)" "$v: a full handshake on gateway 1"
	assert_eq "key=1 hmac=ok session=der" "$(ticket a-$v.pem keyA)" "$v: the ticket opens with the file's key, nginx's layout"
	assert_eq "Reused 200" "$(tls_sess $G2 $v alice -sess_in a-$v.pem)" "$v: gateway 2 resumes gateway 1's session"
	assert_eq "New 200" "$(tls_sess $G3 $v alice -sess_in a-$v.pem)" "$v: a gateway without the file does not"
done
wait_log gw2.log "cn=alice verify=ok resumed=1"
pass "one ticket-keys file: sessions resume across gateways in TLS 1.3 and 1.2"

# TLS 1.2 renewal, seen by a client that keeps its sessions: a session
# under the old key, resumed after the rotation, comes back with a ticket
# under the new key, which still resumes once the old key is gone.
cat >renew.py <<'PY'
import os, socket, ssl, sys, time
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(cert, key)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def once(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost", session=session)
    s.sendall(b"GET /r HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    r = (s.session_reused, s.session)
    s.close()
    return r
def wait(f):
    while not os.path.exists(f):
        time.sleep(0.05)
_, old = once()
print("have old", flush=True)
wait("go1")
r1, renewed = once(old)
print("rotated: old resumed=%s" % r1, flush=True)
wait("go2")
r2, _ = once(renewed)
r3, _ = once(old)
print("old key gone: renewed resumed=%s old resumed=%s" % (r2, r3), flush=True)
PY
start_bg renew python3 -u renew.py "$G2" pki/root.crt pki/issued/alice.crt pki/issued/alice.key
wait_log renew.log "^have old"

# Rotation: the new key first, the old one second.
(umask 077 && cat keyB keyA >tickets.new) && mv tickets.new tickets.key
reloaded 1
for v in tls1_3 tls1_2; do
	assert_eq "Reused 200" "$(tls_sess $G2 $v alice -sess_in a-$v.pem)" \
		"$v: a ticket under the old key still resumes while the old key is listed"
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_out b-$v.pem)" "$v: a new session after the rotation"
	assert_eq "key=1 hmac=ok session=der" "$(ticket b-$v.pem tickets.key)" "$v: new tickets use the new (first) key"
done
touch go1
wait_log renew.log "^rotated: old resumed=True"
pass "after rotation old tickets resume and new ones use the new key"

# The old key removed.
(umask 077 && cp keyB tickets.new) && mv tickets.new tickets.key
reloaded 2
for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G2 $v alice -sess_in a-$v.pem)" "$v: the old key gone, its tickets give a full handshake"
	assert_eq "Reused 200" "$(tls_sess $G2 $v alice -sess_in b-$v.pem)" "$v: tickets under the new key resume"
done
touch go2
wait_log renew.log "^old key gone"
assert_eq "old key gone: renewed resumed=True old resumed=False" "$(tail -n1 renew.log)" \
	"TLS 1.2: a ticket resumed under the old key was renewed under the new one"
pass "once the old key is removed its tickets do not resume; renewed ones do"

# A ticket outlives reloads: the certificate in it is judged again.
for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v carol -sess_out c-$v.pem)" "$v: carol's session"
done
tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
reloaded 3
assert_ticket_refused "$G2" gw2.log carol
pass "a revoked client's ticket does not resume"
