#!/usr/bin/env bash
# CRLs along the chain: with a CRL from every CA of the client-CA bundle, a
# client whose intermediate was revoked by the root is refused (the whole
# chain is checked); with only the intermediate's CRL, leaves are checked and
# the gateway does not refuse everyone for want of the root's CRL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

P=$WORK/pki
mkdir -p "$P"
pki_cert "$P/root" self root "/CN=Chain Root"
pki_cert "$P/inter" "$P/root" inter "/CN=Good Intermediate"
pki_cert "$P/bad" "$P/root" inter "/CN=Revoked Intermediate"
pki_cert "$P/server" "$P/inter" server "/CN=localhost" "DNS:localhost"
pki_cert "$P/alice" "$P/inter" client "/CN=alice"
pki_cert "$P/eve" "$P/bad" client "/CN=eve"
cat "$P/server.crt" "$P/inter.crt" >"$P/server-chain.crt"
cat "$P/alice.crt" "$P/inter.crt" >"$P/alice-chain.crt"
cat "$P/eve.crt" "$P/bad.crt" >"$P/eve-chain.crt"
cat "$P/inter.crt" "$P/bad.crt" "$P/root.crt" >"$P/bundle.crt"
pki_crl "$P/root.crl" "$P/root" "" "" "$P/bad.crt"
pki_crl "$P/inter.crl" "$P/inter" "" ""
pki_crl "$P/bad.crl" "$P/bad" "" ""
cat "$P/root.crl" "$P/inter.crl" "$P/bad.crl" >"$P/all.crl"

BP=$(free_port); G1=$(free_port); G2=$(free_port)
start_echo_backend "$BP"
common=(--target 127.0.0.1:$BP --mode http --cert "$P/server-chain.crt" --key "$P/server.key"
	--client-ca "$P/bundle.crt" --verify require --workers 1)
start_bg gwall timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G1 "${common[@]}" --crl "$P/all.crl"
start_bg gwleaf timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G2 "${common[@]}" --crl "$P/inter.crl"
wait_port "$G1"; wait_port "$G2"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$P/root.crt" \
	--cert "$P/$2-chain.crt" --key "$P/$2.key" "https://localhost:$1/"; }
assert_eq 200 "$(code $G1 alice)" "every CA's CRL: alice (good intermediate) gets in"
assert_eq 400 "$(code $G1 eve)" "every CA's CRL: eve (revoked intermediate) refused"
wait_log "$WORK/gwall.log" "cn=eve verify=failed .*certificate revoked"
assert_eq 200 "$(code $G2 alice)" "leaf CRL only: alice still gets in (no CRL demanded for the root)"
pass "CRLs are checked along the whole chain when the file has them"
