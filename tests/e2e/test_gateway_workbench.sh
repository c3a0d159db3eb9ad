#!/usr/bin/env bash
# The whole story with tlsgate alone: a CA with an intermediate, a server and
# client certs from `tlsgate cert issue`, the gateway verifying clients against
# the CA bundle (root + intermediate) and the CA's CRL; a revocation published
# with `tlsgate crl` takes effect on SIGHUP.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Gateway Test CA" --intermediate >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
tg cert issue alice --dir pki --client >/dev/null
tg cert issue mallory --dir pki --client >/dev/null
tg crl --dir pki >/dev/null

BP=$(free_port); GP=$(free_port); SP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert pki/issued/localhost.crt --key pki/issued/localhost.key \
	--client-ca pki/ca-bundle.crt --verify require --crl pki/crl.pem --status 127.0.0.1:$SP --workers 1
MASTER=$(child_of "$BG_PID")
wait_port "$GP"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert pki/root.crt \
	--cert "pki/issued/$1.crt" --key "pki/issued/$1.key" "https://localhost:$GP/$1"; }
assert_eq 200 "$(code alice)" "alice (issued by the intermediate) gets in"
assert_eq 200 "$(code mallory)" "mallory gets in before the revocation"
out=$(curl -sS --max-time 10 --cacert pki/root.crt --cert pki/issued/alice.crt --key pki/issued/alice.key \
	"https://localhost:$GP/who")
assert_contains "$out" '["X-Client-CN", "alice"]' "the backend sees CN=alice"
assert_contains "$out" "Intermediate" "the issuer passed on is the intermediate"

tg cert revoke --cert pki/issued/mallory.crt --dir pki --reason keyCompromise >/dev/null
tg crl --dir pki >/dev/null
kill -HUP "$MASTER"
wait_metric "http://127.0.0.1:$SP/metrics" 'tlsgate_reloads_total{result="ok"} 1'
assert_eq 400 "$(code mallory)" "mallory refused after revoke + crl + SIGHUP"
wait_log "$WORK/gw.log" "cn=mallory verify=failed .*certificate revoked"
assert_eq 200 "$(code alice)" "alice still gets in"
pass "tlsgate issues, revokes and publishes; tlsgate serve enforces it"
