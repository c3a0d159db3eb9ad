#!/usr/bin/env bash
# tlsgate check endpoint against a real mosquitto whose certfile holds only
# the leaf: the broker sends leaf, intermediate and root, completed from its
# cafile (OpenSSL's automatic chain building). The check names what was
# sent and where it comes from (endpoint-root-sent, a note), not a file
# problem; with --cert the broker's verdict on a client certificate is
# read: accepted, or refused with its TLS alert (client-cert-refused), as
# mosquitto_pub finds with the same files.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pki.sh
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQ" ] || fail "mosquitto not installed (scripts/deps.sh test)"
cd "$WORK"
P=$WORK/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=MQ Root"
pki_cert "$P/inter" "$P/root" inter "/CN=MQ Inter"
pki_cert "$P/leaf" "$P/inter" server "/CN=localhost" "DNS:localhost"
pki_cert "$P/sensor" "$P/inter" client "/CN=sensor"
pki_cert "$P/stranger" self root "/CN=Stranger CA"
pki_cert "$P/mallory" "$P/stranger" client "/CN=mallory"
cat "$P/root.crt" "$P/inter.crt" >"$P/ca.crt"
cat "$P/sensor.crt" "$P/inter.crt" >"$P/sensor-chain.crt"
chmod 755 "$P"
chmod 644 "$P"/*.crt
if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then chown mosquitto "$P/leaf.key"; fi
PORT=$(free_port)
cat >mosquitto.conf <<EOF
persistence false
allow_anonymous true
listener $PORT 127.0.0.1
certfile $P/leaf.crt
keyfile $P/leaf.key
cafile $P/ca.crt
require_certificate true
EOF
start_bg mosquitto "$MOSQ" -c "$WORK/mosquitto.conf"
wait_port "$PORT"
pub() { timeout 10 mosquitto_pub -h localhost -p "$PORT" --cafile "$P/root.crt" --cert "$1" --key "$2" \
	-t t -m hi 2>&1; }
EP=(check endpoint "127.0.0.1:$PORT" --sni localhost --ca "$P/root.crt" --no-system-ca --json)

pub "$P/sensor-chain.crt" "$P/sensor.key" || fail "mosquitto_pub as the sensor was refused"
tg "${EP[@]}" --cert "$P/sensor-chain.crt" --key "$P/sensor.key" >ok.json || fail "exit $?"
assert_eq "client-cert-requested endpoint-root-sent" \
	"$(jq -r '[.subjects[].findings[].code] | sort | join(" ")' ok.json)" "notes only, no warning"
msg=$(jq -r '.subjects[].findings[] | select(.code == "endpoint-root-sent") | .message' ok.json)
assert_contains "$msg" "sent 3 certificates: #1 CN=localhost, #2 CN=MQ Inter, #3 CN=MQ Root (the root)" \
	"what the broker sent"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "endpoint-root-sent") | .fix' ok.json)" \
	"mosquitto: cafile" "where it comes from"
assert_contains "$(jq -r '.subjects[].findings[].message' ok.json)" "was accepted" "the sensor accepted"
pass "leaf-only certfile: the chain the broker completes is named, not called a file problem"

out=$(pub "$P/mallory.crt" "$P/mallory.key") && fail "mosquitto_pub as mallory got in: $out"
rc=0
tg "${EP[@]}" --cert "$P/mallory.crt" --key "$P/mallory.key" >bad.json || rc=$?
assert_eq 1 "$rc" "exit with a certificate the broker does not trust"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "client-cert-refused") | .message' bad.json)" \
	"alert" "the refusal is the broker's TLS alert"
pass "a client certificate from another CA: client-cert-refused with the broker's alert"
