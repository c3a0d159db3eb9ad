#!/usr/bin/env bash
# Revocation and rule changes reach connections that are already open: after
# `tlsgate cert revoke`, `tlsgate crl` and SIGHUP, a keep-alive client that
# got 200 as carol gets 400 on its next request on the same connection, and
# the connection closes (http mode); in tcp mode the connection is closed. A
# client still allowed keeps its connection. An allow list changed in the
# config file denies an open connection (403). max-conn-lifetime ends old
# connections: http at its next request (sent with Connection: close), tcp
# at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Revoke Test CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice carol erin; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg crl --dir pki >/dev/null

BP=$(free_port); G1=$(free_port); S1=$(free_port)
W2=$(free_port); R2=$(free_port); S2=$(free_port); G3=$(free_port); G4=$(free_port)
start_echo_backend "$BP"
start_bg gw1 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G1 --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
	--verify require --crl pki/crl.pem --status 127.0.0.1:$S1 --workers 2
GW1=$(child_of "$BG_PID")
write_conf() { # ALLOWED_CN
	cat >gw2.ini.new <<INI
[global]
workers = 2
status = 127.0.0.1:$S2
[listener web]
listen = 127.0.0.1:$W2
target = 127.0.0.1:$BP
mode = http
cert = pki/issued/localhost.crt
key = pki/issued/localhost.key
client-ca = pki/root.crt
crl = pki/crl.pem
verify = verify-full
allow-cn = $1
[listener raw]
listen = 127.0.0.1:$R2
target = 127.0.0.1:$BP
cert = pki/issued/localhost.crt
key = pki/issued/localhost.key
client-ca = pki/root.crt
crl = pki/crl.pem
verify = require
INI
	mv gw2.ini.new gw2.ini
}
write_conf alice
start_bg gw2 timeout 120 "$TLSGATE" serve --config gw2.ini
GW2=$(child_of "$BG_PID")
wait_port "$G1"; wait_port "$W2"; wait_port "$R2"; wait_port "$S1"; wait_port "$S2"

client() { # NAME PORT CERT GO PATH MODE: a keep-alive client in the background
	start_bg "$1" python3 -u "$TLSGATE_SRC/tests/e2e/keepalive_client.py" "$2" pki/root.crt \
		"pki/issued/$3.crt" "pki/issued/$3.key" "$4" "$5" "$6"
	wait_log "$WORK/$1.log" "^first 200"
}
client carol-http "$G1" carol go1 /carol http
client alice-http "$G1" alice go1 /alice http-open
client erin-tcp "$R2" erin go2 /erin tcp
client alice-web "$W2" alice go3 /alice http
pass "four keep-alive clients got 200 on their connections"

# 3. Revoke carol and erin, publish the CRL, reload both gateways.
tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
tg cert revoke --cert pki/issued/erin.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
kill -HUP "$GW1" "$GW2"
wait_metric "http://127.0.0.1:$S1/metrics" 'tlsgate_reloads_total{result="ok"} 1'
wait_metric "http://127.0.0.1:$S2/metrics" 'tlsgate_reloads_total{result="ok"} 1'
touch go1 go2
wait_log carol-http.log "^closed"
assert_eq "first 200|second 400|closed" "$(paste -sd'|' carol-http.log)" \
	"carol's open http connection: 400 on the next request, then closed"
wait_log gw1.log 'cn=carol .*close="replied 400 The SSL certificate error: revoked after reload: certificate revoked"'
if grep -q '/carol/2' "backend-$BP.log"; then fail "carol's request after the revocation reached the backend"; fi
wait_log alice-http.log "^second"
assert_eq "first 200|second 200" "$(paste -sd'|' alice-http.log)" "alice's open connection goes on"
pass "http (flags): a revoked certificate's open connection is refused at its next request"

wait_log erin-tcp.log "^closed"
assert_eq "first 200|closed" "$(paste -sd'|' erin-tcp.log)" "erin's open tcp connection is closed"
wait_log gw2.log 'listener=raw .*cn=erin .*close="revoked after reload: certificate revoked"'
pass "tcp (config file): a revoked certificate's open connection is closed, logged with the reason"

# An allow list changed in the config file: alice's open connection is denied.
write_conf carol
kill -HUP "$GW2"
wait_metric "http://127.0.0.1:$S2/metrics" 'tlsgate_reloads_total{result="ok"} 2'
touch go3
wait_log alice-web.log "^closed"
assert_eq "first 200|second 403|closed" "$(paste -sd'|' alice-web.log)" \
	"alice, no longer on the allow list: 403 on the next request, then closed"
wait_log gw2.log 'listener=web .*cn=alice .*close="replied 403: revoked after reload: not on the allow list"'
pass "an allow-list change on reload denies an open connection (403)"

# A listener gone from the new configuration: its open connections have no
# rules to answer to, so they are closed, saying why.
client alice-gone "$R2" alice go4 /gone tcp
sed -i 's/^\[listener raw\]/[listener raw2]/' gw2.ini
kill -HUP "$GW2"
wait_metric "http://127.0.0.1:$S2/metrics" 'tlsgate_reloads_total{result="ok"} 3'
touch go4
wait_log alice-gone.log "^closed"
wait_log gw2.log 'listener=raw .*cn=alice .*close="closed after reload: listener raw is not in the new configuration"'
pass "a listener gone from the configuration: its open connections are closed, saying why"

# max-conn-lifetime: http ends at the next request, tcp at once.
cat >gw4.ini <<INI
[listener life-raw]
listen = 127.0.0.1:$G4
target = 127.0.0.1:$BP
cert = pki/issued/localhost.crt
key = pki/issued/localhost.key
client-ca = pki/root.crt
verify = require
max-conn-lifetime = 2s
INI
start_bg gw3 timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G3 --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
	--verify require --max-conn-lifetime 2s --workers 1
start_bg gw4 timeout 120 "$TLSGATE" serve --config gw4.ini
wait_port "$G3"; wait_port "$G4"
client life-http "$G3" alice go5 /life http
client life-tcp "$G4" alice go6 /life tcp
touch go6
wait_log life-tcp.log "^closed" 30
wait_log gw4.log 'listener=life-raw .*close="max-conn-lifetime reached (2s)"'
pass "tcp: a connection older than max-conn-lifetime is closed"
sleep 2.5 # past the lifetime: the connection's next request is its last
touch go5
wait_log life-http.log "^closed"
assert_eq "first 200|second 200+close|closed" "$(paste -sd'|' life-http.log)" \
	"http: past max-conn-lifetime the next request goes with Connection: close, then the connection ends"
wait_log gw3.log 'close="max-conn-lifetime reached (2s): the next request is sent with Connection: close"'
pass "http: a connection older than max-conn-lifetime ends after its next request"
echo "all open-connection revocation checks passed"
