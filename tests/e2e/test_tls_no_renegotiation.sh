#!/usr/bin/env bash
# TLS 1.2 renegotiation started by the client is refused: a client without
# a certificate (--verify optional) that sends a request, renegotiates
# (openssl s_client's R command) and then sends more gets the
# no_renegotiation alert; no second handshake happens, so no certificate can
# be slipped in mid-connection, and what the backend got is the first
# request alone, as a client without a certificate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1

# s_client reads its R command only without -ign_eof; the pauses keep
# stdin open until each piece is sent.
{
	printf 'GET /first HTTP/1.1\r\nHost: x\r\n\r\n'
	sleep 1
	printf 'R\n'
	sleep 1
	printf 'GET /second HTTP/1.1\r\nHost: x\r\nX-Client-CN: admin\r\n\r\n'
	sleep 1
} | timeout 20 openssl s_client -connect "127.0.0.1:${PORT[gw]}" -tls1_2 -servername localhost \
	-CAfile "$WORK/ca/ca.crt" >"$WORK/client.out" 2>&1 || true
out=$(cat "$WORK/client.out")
assert_contains "$out" "RENEGOTIATING" "the client asked to renegotiate"
assert_contains "$out" "no renegotiation" "the gateway's answer to it"
assert_not_contains "$out" "/second" "an answer to the request after the renegotiation"
wait_log "$WORK/gw.log" "tls=TLSv1.2 .* cn=- verify=none .*alert"
wait_log "$WORK/rec/requests.log" "conn=2 closed"
assert_eq "conn=2 req=1 method=GET path=/first verify=NONE cn=- body=0" \
	"$(grep 'conn=2 req' "$WORK/rec/requests.log")" "what the backend got"
pass "renegotiation refused with no_renegotiation; the backend got the first request alone, without a certificate"
