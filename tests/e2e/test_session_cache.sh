#!/usr/bin/env bash
# Without --ticket-keys or --ticket-key-rotate, sessions stay in the worker
# process's cache, shared by its threads: openssl s_client -sess_out /
# -sess_in reports "Reused" in TLS 1.3 (the ticket is only the 32-byte ID of
# the cached session, nothing sealed) and in TLS 1.2 (a session ID, no
# ticket); a ticket handed out by a resumed connection resumes too, on
# whichever thread. A CRL published with `tlsgate crl` and picked up by
# --watch starts a new cache: the revoked client's sessions do not resume
# and its full handshake is refused, and no session from before the reload
# resumes. --session-cache N bounds the cache: past N the oldest go. A
# reload cannot turn the process's ticket keys on (read at start only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/tickets.sh"

cd "$WORK"
tg ca init --dir pki --name "Session cache CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice bob carol; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg crl --dir pki >/dev/null

BP=$(free_port); G1=$(free_port); G2=$(free_port); S1=$(free_port)
start_echo_backend "$BP"
gw=(--target 127.0.0.1:$BP --mode http --cert pki/issued/localhost.crt --key pki/issued/localhost.key
	--client-ca pki/root.crt --verify require --crl pki/crl.pem)
start_bg gw1 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G1 "${gw[@]}" --workers 2 \
	--status 127.0.0.1:$S1 --watch yes
cat >gw2.ini <<EOF
[global]
workers = 1
[listener small]
listen = 127.0.0.1:$G2
target = 127.0.0.1:$BP
mode = http
cert = pki/issued/localhost.crt
key = pki/issued/localhost.key
client-ca = pki/root.crt
verify = require
crl = pki/crl.pem
session-cache = 2
EOF
start_bg gw2 timeout 120 "$TLSGATE" serve --config gw2.ini
M2=$(child_of "$BG_PID")
wait_port "$G1"; wait_port "$G2"; wait_port "$S1"
wait_log gw1.log "ready: .*watching"

ticket_bytes() { # SESSION_FILE: the length of the ticket it holds (0: none)
	openssl sess_id -in "$1" -noout -text |
		awk '/TLS session ticket:/ { t = 1; next }
			t && /^ *[0-9a-f][0-9a-f][0-9a-f][0-9a-f] - / { h = $0; sub(/^ *[0-9a-f][0-9a-f][0-9a-f][0-9a-f] - /, "", h); sub(/   .*$/, "", h)
				gsub(/[- ]/, "", h); n += length(h) / 2; next }
			{ t = 0 } END { print n + 0 }'
}

for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_out a-$v.pem)" "$v: a full handshake"
	assert_eq "Reused 200" "$(tls_sess $G1 $v alice -sess_in a-$v.pem)" "$v: the session resumes"
	assert_eq "New 200" "$(tls_sess $G1 $v carol -sess_out c-$v.pem)" "$v: carol's session"
	assert_eq "Reused 200" "$(tls_sess $G1 $v carol -sess_in c-$v.pem)" "$v: carol resumes"
done
# Stateless tickets would hold the whole session sealed (well over 100
# bytes); the cache hands out its session's ID only.
assert_eq 32 "$(ticket_bytes a-tls1_3.pem)" "TLS 1.3: the ticket is the ID of a cached session, nothing sealed"
assert_eq 0 "$(ticket_bytes a-tls1_2.pem)" "TLS 1.2: no ticket, a session ID into the cache"
pass "by default sessions resume from the cache in TLS 1.3 and 1.2"

# Each resumption takes the ticket the one before handed out: on two
# worker threads, whichever takes the connection, all resume.
cp a-tls1_3.pem chain-0.pem
got=""
for i in 1 2 3 4 5 6 7 8; do
	got+="$(tls_sess $G1 tls1_3 alice -sess_in chain-$((i - 1)).pem -sess_out chain-$i.pem);"
	cmp -s chain-$((i - 1)).pem chain-$i.pem && fail "resumption $i handed out no new ticket"
done
assert_eq "$(printf 'Reused 200;%.0s' 1 2 3 4 5 6 7 8)" "$got" "8 resumptions in a row, each from the ticket before"
pass "a resumed connection's ticket resumes, on either worker thread"

tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
wait_metric "http://127.0.0.1:$S1/metrics" 'tlsgate_reloads_total{result="ok"} 1' 15
assert_ticket_refused "$G1" gw1.log carol
for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_in a-$v.pem)" \
		"$v: a session from before the reload does not resume (the new runtime's cache is empty)"
done
pass "after the CRL reload by --watch the revoked client cannot resume; no old session resumes"

# --session-cache 2: three clients' sessions, the oldest (alice's) is
# evicted; the newest (carol's) still resumes.
for v in tls1_3 tls1_2; do
	for who in alice bob carol; do
		assert_eq "New 200" "$(tls_sess $G2 $v $who -sess_out b-$who-$v.pem)" "$v: $who's full handshake"
	done
	assert_eq "Reused 200" "$(tls_sess $G2 $v carol -sess_in b-carol-$v.pem)" "$v: the newest session resumes"
	assert_eq "New 200" "$(tls_sess $G2 $v alice -sess_in b-alice-$v.pem)" \
		"$v: with --session-cache 2 the oldest of three sessions was evicted"
done
pass "--session-cache bounds the cache: the oldest session goes first"

# The rotation is read at start only: a reload that asks for it says the
# tickets stay off.
sed -i 's/^workers = 1$/workers = 1\nticket-key-rotate = 1h/' gw2.ini
kill -HUP "$M2"
wait_log gw2.log "reload: the ticket-key rotation changes only on restart; keeping it off (sessions in the cache)"
tls_sess $G2 tls1_3 bob -sess_out r.pem >/dev/null
assert_eq 32 "$(ticket_bytes r.pem)" "after that reload TLS 1.3 tickets still name cached sessions"
pass "a reload cannot turn the process's ticket keys on"
