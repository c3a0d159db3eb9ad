#!/usr/bin/env bash
# A CRL's nextUpdate: /healthz shows each listener's CRL (number,
# next_update) and /metrics the seconds left. When nextUpdate passes while
# the gateway runs, the log warns and tlsgate_crl_expired turns 1; clients
# are still checked against the list (a revoked one stays refused, others
# get in), except with --crl-strict, which refuses every client and logs why.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Next Update CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
for who in alice carol; do tg cert issue "$who" --dir pki --client >/dev/null; done
tg cert revoke --cert pki/issued/carol.crt --dir pki --reason keyCompromise >/dev/null
# A one-day CRL made a day minus 25 s ago: its nextUpdate is 40 s away.
faketime -f "-86360" "$TLSGATE" crl --dir pki --days 1 >/dev/null
next=$(openssl crl -in pki/crl.pem -noout -nextupdate | sed 's/^nextUpdate=//')
next_iso=$(date -u -d "$next" +%Y-%m-%dT%H:%M:%SZ)
number=$(openssl crl -in pki/crl.pem -noout -crlnumber | sed 's/^crlNumber=0x//')
number=$((16#$number))

BP=$(free_port); G1=$(free_port); G2=$(free_port); S1=$(free_port); S2=$(free_port)
start_bg backend python3 -u "$TLSGATE_SRC/tests/e2e/stream_backend.py" "$BP"
wait_port "$BP"
common=(--target 127.0.0.1:$BP --cert pki/issued/localhost.crt --key pki/issued/localhost.key
	--client-ca pki/root.crt --verify require --crl pki/crl.pem --workers 1)
start_bg lenient timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G1 --status 127.0.0.1:$S1 "${common[@]}"
start_bg strict timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$G2 --status 127.0.0.1:$S2 "${common[@]}" \
	--crl-strict yes
wait_port "$G1"; wait_port "$G2"; wait_port "$S1"; wait_port "$S2"

once() { python3 "$TLSGATE_SRC/tests/e2e/stream_client.py" "$1" pki/root.crt \
	"pki/issued/$2.crt" "pki/issued/$2.key" once; }

health=$(http_get "http://127.0.0.1:$S1/healthz")
crl=$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["listeners"][0]["crls"][0], sort_keys=True))' <<<"$health")
assert_contains "$crl" "\"number\": $number," "/healthz: the CRL's number"
assert_contains "$crl" "\"next_update\": \"$next_iso\"" "/healthz: the CRL's nextUpdate"
assert_contains "$crl" '"expired": false' "/healthz: not past nextUpdate yet"
assert_contains "$crl" '"file": "pki/crl.pem"' "/healthz: the file"
m=$(http_get "http://127.0.0.1:$S1/metrics")
assert_contains "$m" 'tlsgate_crl_expired{listener="default",crl="pki/crl.pem",issuer="CN=Next Update CA"} 0' \
	"/metrics: tlsgate_crl_expired 0"
left=$(sed -n 's/^tlsgate_crl_next_update_seconds{listener="default",crl="pki\/crl.pem",issuer="CN=Next Update CA"} //p' <<<"$m")
{ [ "$left" -gt 0 ] && [ "$left" -le 40 ]; } || fail "seconds to nextUpdate: '$left'"
assert_eq ok "$(once "$G2" alice)" "--crl-strict: alice gets in while the CRL is current"
pass "/healthz shows CRL number $number and next_update $next_iso; /metrics ${left}s left"

# nextUpdate passes.
wait_log lenient.log "warning: listener default: CRL pki/crl.pem (CN=Next Update CA) is past its next update .*clients are still checked against it" 60
wait_log strict.log "warning: listener default: CRL pki/crl.pem .*--crl-strict refuses every client" 5
wait_metric "http://127.0.0.1:$S1/metrics" 'tlsgate_crl_expired{listener="default",crl="pki/crl.pem",issuer="CN=Next Update CA"} 1'
assert_contains "$(http_get "http://127.0.0.1:$S1/healthz")" '"expired": true' "/healthz: past nextUpdate"
pass "the log warns and /metrics says tlsgate_crl_expired 1 once nextUpdate passed"

assert_eq ok "$(once "$G1" alice)" "an expired CRL without --crl-strict: alice still gets in"
assert_contains "$(once "$G1" carol)" "refused" "... and carol, on the expired list, stays refused"
wait_log lenient.log 'close="handshake failed: client certificate: certificate revoked"'
assert_contains "$(once "$G2" alice)" "refused" "--crl-strict: alice refused past nextUpdate"
wait_log strict.log 'close="handshake failed: client certificate: CRL has expired"'
pass "--crl-strict refuses every client past nextUpdate (CRL has expired); without it the list still applies"

# Restarting on the expired CRL warns at once, too.
G3=$(free_port)
start_bg again timeout 30 "$TLSGATE" serve --listen 127.0.0.1:$G3 "${common[@]}"
wait_log again.log "warning: CRL pki/crl.pem (CN=Next Update CA) is past its next update"
pass "a gateway started on an expired CRL says so"
