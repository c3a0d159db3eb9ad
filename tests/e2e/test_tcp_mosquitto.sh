#!/usr/bin/env bash
# tcp mode in front of Mosquitto (the EMQX guide's two-way TLS, verify_peer +
# fail_if_no_peer_cert): mosquitto_pub/sub with a client cert exchange a
# message through the gateway; without a cert, or with a cert from another
# CA, or (verify-full) a cert not on the allow list, they are refused in the
# handshake and the log says why.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
command -v mosquitto >/dev/null || command -v /usr/sbin/mosquitto >/dev/null || fail "mosquitto not installed (scripts/deps.sh test)"
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=MQTT CA"
mkdir -p "$WORK/other"
pki_cert "$WORK/other"/ca self root "/CN=Other CA"
pki_cert "$WORK/broker" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
pki_cert "$WORK/client" "$WORK/ca"/ca client "/CN=client"
pki_cert "$WORK/sensor" "$WORK/ca"/ca client "/CN=sensor"
pki_cert "$WORK/rogue" "$WORK/other"/ca client "/CN=client"

MP=$(free_port); GP=$(free_port); GP2=$(free_port)
cat >"$WORK/mosquitto.conf" <<CONF
listener $MP 127.0.0.1
allow_anonymous true
persistence false
CONF
start_bg mosquitto "$MOSQ" -c "$WORK/mosquitto.conf"
wait_port "$MP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$MP \
	--cert "$WORK/broker.crt" --key "$WORK/broker.key" --client-ca "$WORK/ca/ca.crt" --verify require --workers 2
wait_port "$GP"
start_bg gwfull timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP2 --target 127.0.0.1:$MP \
	--cert "$WORK/broker.crt" --key "$WORK/broker.key" --client-ca "$WORK/ca/ca.crt" \
	--verify verify-full --allow-cn sensor --workers 1
wait_port "$GP2"

tls=(-h localhost --cafile "$WORK/ca/ca.crt")
# 1. A message through the gateway, both clients with certs.
mosquitto_sub "${tls[@]}" -p "$GP" --cert "$WORK/client.crt" --key "$WORK/client.key" \
	-t tlsgate/test -C 1 -W 20 >"$WORK/sub.out" 2>"$WORK/sub.err" &
SUB=$!
track "$SUB"
for i in $(seq 100); do
	mosquitto_pub "${tls[@]}" -p "$GP" --cert "$WORK/client.crt" --key "$WORK/client.key" \
		-t tlsgate/test -m "hello through tlsgate" 2>>"$WORK/pub.err" || true
	kill -0 "$SUB" 2>/dev/null || break
	sleep 0.2
done
wait "$SUB" || fail "mosquitto_sub did not get the message: $(cat "$WORK/sub.err")"
assert_eq "hello through tlsgate" "$(cat "$WORK/sub.out")" "mosquitto_sub got mosquitto_pub's message through the gateway"

# 2. Refusals happen in the handshake.
pubtry() { mosquitto_pub "${tls[@]}" "$@" -t tlsgate/test -m nope 2>&1; }
if out=$(pubtry -p "$GP"); then fail "publish without a client cert was accepted"; fi
pass "publish without a client cert refused ($out)"
wait_log "$WORK/gw.log" 'close="handshake failed: no client certificate sent"'
pass "log: no client certificate sent"
if out=$(pubtry -p "$GP" --cert "$WORK/rogue.crt" --key "$WORK/rogue.key"); then fail "cert from another CA accepted"; fi
wait_log "$WORK/gw.log" 'close="handshake failed: client certificate: unable to get local issuer certificate"'
pass "cert from another CA refused, log says why"

# 3. verify-full: the allow list is checked inside the handshake.
if out=$(pubtry -p "$GP2" --cert "$WORK/client.crt" --key "$WORK/client.key"); then fail "CN=client accepted by allow-cn sensor"; fi
wait_log "$WORK/gwfull.log" 'not on the allow list'
pass "verify-full refuses CN=client (not on the allow list)"
mosquitto_pub "${tls[@]}" -p "$GP2" --cert "$WORK/sensor.crt" --key "$WORK/sensor.key" -t tlsgate/test -m ok \
	|| fail "verify-full refused the allowed CN=sensor"
pass "verify-full lets CN=sensor publish"
echo "all tcp/mosquitto checks passed"
