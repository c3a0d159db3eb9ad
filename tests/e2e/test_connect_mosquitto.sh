#!/usr/bin/env bash
# An MQTT device that speaks no TLS: mosquitto_pub in plain text into
# `tlsgate connect`, which carries it with the device's certificate to a
# Mosquitto listener with require_certificate true; a subscriber with its
# own certificate gets the message. The same plain publish straight to the
# broker fails, so the TLS is the gateway's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQ" ] || fail "mosquitto not installed (scripts/deps.sh test)"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=MQTT CA"
pki_cert "$WORK/broker" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/device" "$WORK/ca"/ca client "/CN=device"
pki_cert "$WORK/reader" "$WORK/ca"/ca client "/CN=reader"
chmod 644 "$WORK/broker.key" # read by mosquitto's own user when run as root

MP=$(free_port)
CP=$(free_port)
cat >"$WORK/mosquitto.conf" <<CONF
listener $MP 127.0.0.1
allow_anonymous true
persistence false
cafile $WORK/ca/ca.crt
certfile $WORK/broker.crt
keyfile $WORK/broker.key
require_certificate true
CONF
start_bg mosquitto "$MOSQ" -c "$WORK/mosquitto.conf"
wait_port "$MP"
start_bg cl timeout 120 "$TLSGATE" connect --listen 127.0.0.1:$CP --target localhost:$MP \
	--cert "$WORK/device.crt" --key "$WORK/device.key" --ca "$WORK/ca/ca.crt" --workers 1
wait_log "$WORK/cl.log" "ready:"

if out=$(timeout 10 mosquitto_pub -h 127.0.0.1 -p "$MP" -t t -m plain 2>&1); then
	fail "a plain publish straight to the TLS-only broker was accepted"
fi
pass "plain mosquitto_pub straight to the broker fails (${out:-no output})"

mosquitto_sub -h localhost -p "$MP" --cafile "$WORK/ca/ca.crt" --cert "$WORK/reader.crt" \
	--key "$WORK/reader.key" -t tlsgate/connect -C 1 -W 20 >"$WORK/sub.out" 2>"$WORK/sub.err" &
SUB=$!
track "$SUB"
for _ in $(seq 100); do
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$CP" -t tlsgate/connect -m "plain in, TLS out" \
		2>>"$WORK/pub.err" || true
	kill -0 "$SUB" 2>/dev/null || break
	sleep 0.2
done
wait "$SUB" || fail "mosquitto_sub did not get the message: $(cat "$WORK/sub.err")"
assert_eq "plain in, TLS out" "$(cat "$WORK/sub.out")" "the message through tlsgate connect"
wait_log "$WORK/cl.log" "cn=localhost verify=ok"
pass "plain mosquitto_pub through tlsgate connect reaches a require_certificate broker"
