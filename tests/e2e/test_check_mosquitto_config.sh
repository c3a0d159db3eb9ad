#!/usr/bin/env bash
# tlsgate check --mosquitto-config against a real mosquitto (the EMQX guide's
# two-way TLS, seeds/002): a TLS listener with cafile but without
# require_certificate lets mosquitto_pub in without a client certificate,
# and tlsgate warns about exactly that; with require_certificate true the
# broker refuses such a client and the warning is gone. The listener's
# certfile/keyfile pair and cafile are checked; a key that does not match
# is key-mismatch; a listener without TLS is said.
. "$(dirname "$0")/lib.sh"
command -v mosquitto >/dev/null || command -v /usr/sbin/mosquitto >/dev/null ||
	fail "mosquitto not installed (scripts/deps.sh test)"
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
cd "$WORK"

tg ca init --dir ca --name "MQTT e2e CA" >/dev/null
tg cert issue localhost --dir ca --san 127.0.0.1 >/dev/null
tg cert issue sensor --dir ca --client >/dev/null
tg cert issue other --dir ca >/dev/null
mkdir -p conf.d
chmod 755 "$WORK" ca ca/issued
# mosquitto started as root runs as its own user, which must read the key.
if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
	chown mosquitto ca/issued/localhost.key
fi
MP=$(free_port)
cat >mosquitto.conf <<EOF
persistence false
allow_anonymous true
include_dir $WORK/conf.d
EOF
cat >conf.d/tls.conf <<EOF
listener $MP 127.0.0.1
certfile $WORK/ca/issued/localhost.crt
keyfile $WORK/ca/issued/localhost.key
cafile $WORK/ca/root.crt
EOF

# The pitfall, for real: no client certificate, and the broker lets it in.
start_bg mosq1 "$MOSQ" -c "$WORK/mosquitto.conf"
wait_port "$MP"
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$MP" --cafile ca/root.crt -t t -m hello ||
	fail "mosquitto refused a client without a certificate (the pitfall did not show)"
rc=0
tg check --mosquitto-config mosquitto.conf --ca ca/root.crt --no-system-ca --json >check.json || rc=$?
assert_eq 0 "$rc" "a warning only: exit 0"
assert_eq "warning mqtt-client-cert-optional $WORK/conf.d/tls.conf:1: listener $MP 127.0.0.1 verifies client certificates only when a client sends one (require_certificate is not set, so false): clients without a certificate connect" \
	"$(jq -r '.subjects[].findings[] | select(.severity != "info") | "\(.severity) \(.code) \(.message)"' check.json)" \
	"the only finding"
assert_eq "$WORK/ca/issued/localhost.crt $WORK/ca/root.crt" \
	"$(jq -r '[.subjects[] | select(.kind != "other") | .subject] | sort | join(" ")' check.json)" \
	"the listener's certificate and CA were checked"
pass "cafile without require_certificate: mosquitto_pub gets in without a certificate, tlsgate warns"

# Closed: the broker refuses the client without a certificate, tlsgate is quiet.
echo "require_certificate true" >>conf.d/tls.conf
kill "$(pgrep -f "$MOSQ -c $WORK/mosquitto.conf" | head -n 1)"
for _ in $(seq 50); do ss -Hltn "sport = :$MP" | grep -q . || break; sleep 0.1; done
start_bg mosq2 "$MOSQ" -c "$WORK/mosquitto.conf"
wait_port "$MP"
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$MP" --cafile ca/root.crt -t t -m hello 2>pub.err &&
	fail "mosquitto let a client without a certificate in despite require_certificate"
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$MP" --cafile ca/root.crt --cert ca/issued/sensor.crt \
	--key ca/issued/sensor.key -t t -m hello || fail "mosquitto refused the sensor's certificate"
out=$(tg check --mosquitto-config mosquitto.conf --ca ca/root.crt --no-system-ca)
assert_contains "$out" "All checks passed" "require_certificate true"
pass "require_certificate true: the broker wants a certificate, tlsgate finds nothing"

# A key that is not the certificate's.
sed -i "s|keyfile .*|keyfile $WORK/ca/issued/other.key|" conf.d/tls.conf
rc=0
tg check --mosquitto-config mosquitto.conf --ca ca/root.crt --no-system-ca --json >check.json || rc=$?
assert_eq 1 "$rc" "a mismatched key"
assert_contains "$(jq -r '[.subjects[].findings[].code] | join(" ")' check.json)" "key-mismatch" \
	"the mismatched key"
pass "a keyfile that is not the certfile's key is key-mismatch"

# Refusals: no TLS listener; a certfile without a keyfile (mosquitto refuses it).
printf 'listener %s 127.0.0.1\n' "$(free_port)" >plain.conf
expect_fail 2 "$TLSGATE" check --mosquitto-config plain.conf --no-system-ca
assert_contains "$OUT" "plain.conf has no listener with a certfile" "no TLS listener"
printf 'listener 8883\ncertfile %s\n' "$WORK/ca/issued/localhost.crt" >nokey.conf
expect_fail 2 "$TLSGATE" check --mosquitto-config nokey.conf --no-system-ca
assert_contains "$OUT" "nokey.conf:1: listener 8883 has a certfile but no keyfile: mosquitto refuses to start" \
	"a certfile without a keyfile"
pass "no TLS listener, and a certfile without a keyfile, are refused with the reason"
