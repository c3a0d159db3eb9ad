#!/usr/bin/env bash
# --ticket-key-rotate S: a gateway seals tickets under keys of its own,
# random, shared by its worker threads and kept across reloads: sessions
# resume (openssl s_client -sess_out/-sess_in: "Reused") in TLS 1.3 and
# 1.2, also after a SIGHUP; a client revoked since is judged again and
# refused; a reload that adds --ticket-keys leaves the old tickets behind.
# --ticket-key-rotate off (the default): no ticket, the cache
# (test_session_cache). Rotation (--ticket-key-rotate 3s): a ticket from
# one rotation ago still resumes, one from before two rotations does not.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/tickets.sh"

cd "$WORK"
tg ca init --dir pki --name "Tickets CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice carol; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg crl --dir pki >/dev/null
(umask 077 && openssl rand 80 >fleet.key)

BP=$(free_port); G1=$(free_port); G2=$(free_port); G3=$(free_port); S1=$(free_port)
start_echo_backend "$BP"
cat >gw.ini <<EOF
[global]
workers = 2
status = 127.0.0.1:$S1
ticket-key-rotate = 1h
[listener web]
listen = 127.0.0.1:$G1
target = 127.0.0.1:$BP
mode = http
cert = pki/issued/localhost.crt
key = pki/issued/localhost.key
client-ca = pki/root.crt
verify = require
crl = pki/crl.pem
EOF
start_bg gw1 timeout 120 "$TLSGATE" serve --config gw.ini
M1=$(child_of "$BG_PID")
start_bg gw2 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G2 --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
	--verify require --workers 2 --ticket-key-rotate 3s
start_bg gw3 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G3 --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
	--verify require --workers 1 --ticket-key-rotate off
wait_port "$G1"; wait_port "$G2"; wait_port "$G3"; wait_port "$S1"

reloaded() { # N: gateway 1 has reloaded N times
	kill -HUP "$M1"
	wait_metric "http://127.0.0.1:$S1/metrics" "tlsgate_reloads_total{result=\"ok\"} $1"
}

for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_out a-$v.pem)" "$v: a full handshake"
	assert_eq "Reused 200" "$(tls_sess $G1 $v alice -sess_in a-$v.pem)" "$v: the ticket resumes"
	assert_eq "New 200" "$(tls_sess $G2 $v alice -sess_in a-$v.pem)" "$v: another gateway's keys do not open it"
	assert_eq "New 200" "$(tls_sess $G1 $v carol -sess_out c-$v.pem)" "$v: carol's session"
done
# TLS 1.3: a resumed connection hands out a new ticket, and that one
# resumes too (a client keeping only its newest ticket resumed every other
# connection when none came).
rm -f chain1.pem chain2.pem
assert_eq "Reused 200" "$(tls_sess $G1 tls1_3 alice -sess_in a-tls1_3.pem -sess_out chain1.pem)" \
	"tls1_3: resumed, keeping the ticket that comes with it"
[ -s chain1.pem ] || fail "tls1_3: a resumed connection gave no new ticket"
assert_eq "Reused 200" "$(tls_sess $G1 tls1_3 alice -sess_in chain1.pem -sess_out chain2.pem)" \
	"tls1_3: the ticket from a resumed connection resumes"
[ -s chain2.pem ] && ! cmp -s chain1.pem chain2.pem || fail "tls1_3: no fresh ticket on the second resumption"
assert_contains "$(openssl sess_id -in a-tls1_2.pem -noout -text)" "TLS session ticket:" \
	"TLS 1.2: a stateless ticket, not a session ID into the cache"
pass "with --ticket-key-rotate sessions resume from the process's tickets in TLS 1.3 and 1.2"

assert_eq "New 200" "$(tls_sess $G3 tls1_2 alice -sess_out off.pem)" "--ticket-key-rotate off: a full handshake"
assert_not_contains "$(openssl sess_id -in off.pem -noout -text)" "TLS session ticket:" \
	"--ticket-key-rotate off: no ticket, a session ID"
assert_eq "Reused 200" "$(tls_sess $G3 tls1_2 alice -sess_in off.pem)" "--ticket-key-rotate off: resumed from the cache"
pass "--ticket-key-rotate off: sessions stay in the cache"

reloaded 1
for v in tls1_3 tls1_2; do
	assert_eq "Reused 200" "$(tls_sess $G1 $v alice -sess_in a-$v.pem)" "$v: the ticket resumes after a reload"
done
tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
reloaded 2
assert_ticket_refused "$G1" gw1.log carol
pass "the process's keys survive a reload; a revoked client's ticket does not resume"

echo "ticket-keys = fleet.key" >>gw.ini
reloaded 3
for v in tls1_3 tls1_2; do
	assert_eq "New 200" "$(tls_sess $G1 $v alice -sess_in a-$v.pem)" \
		"$v: --ticket-keys added by a reload: the process's tickets no longer resume"
done
pass "a reload that adds --ticket-keys leaves the process's tickets behind"

# Rotation every 3 s. rotations: how many the log shows. A ticket is taken
# between two rotations; then, within the next period, it still resumes
# (its key is the previous one); after the second rotation it does not.
rotations() { grep -c 'ticket keys: rotated' gw2.log || true; }
wait_rotations() { # N: the log shows N rotations (10 s at most)
	local deadline=$((SECONDS + 10))
	while [ "$(rotations)" -lt "$1" ]; do
		((SECONDS < deadline)) || fail "no rotation $1 after 10 s"
		sleep 0.05
	done
}
wait_log gw2.log 'ticket keys: rotated; the previous key decrypts for 3s more'
one_ago=""
for try in 1 2 3 4 5; do
	r0=$(rotations)
	t13=$(tls_sess $G2 tls1_3 alice -sess_out r-tls1_3.pem); t12=$(tls_sess $G2 tls1_2 alice -sess_out r-tls1_2.pem)
	[ "$(rotations)" = "$r0" ] || continue # a rotation came between the two: take them again
	wait_rotations $((r0 + 1))
	got="$(tls_sess $G2 tls1_3 alice -sess_in r-tls1_3.pem) $(tls_sess $G2 tls1_2 alice -sess_in r-tls1_2.pem)"
	# Only a check made within the period counts.
	[ "$(rotations)" = $((r0 + 1)) ] || continue
	one_ago=$got
	break
done
assert_eq "New 200 New 200" "$t13 $t12" "a full handshake each on gateway 2"
assert_eq "Reused 200 Reused 200" "$one_ago" "tickets from one rotation ago resume (TLS 1.3, 1.2; $try tries)"
wait_rotations $((r0 + 2))
assert_eq "New 200 New 200" "$(tls_sess $G2 tls1_3 alice -sess_in r-tls1_3.pem) $(tls_sess $G2 tls1_2 alice -sess_in r-tls1_2.pem)" \
	"tickets from before two rotations do not resume"
pass "rotation: the previous key decrypts for one period, then is dropped"
