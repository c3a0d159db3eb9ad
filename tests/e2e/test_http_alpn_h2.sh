#!/usr/bin/env bash
# ALPN h2 offered to http mode: the gateway speaks HTTP/1.1 only and selects
# no protocol, so an HTTP/2 client falls back to HTTP/1.1 (curl --http2
# gets its answer over 1.1, with its identity), and one that offers h2
# alone gets no protocol selected (openssl s_client: "No ALPN negotiated")
# rather than a connection where the two sides speak different protocols.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

out=$(curl -sS -v --http2 --max-time 10 --cacert "$WORK/ca/ca.crt" --cert "$WORK/alice.crt" \
	--key "$WORK/alice.key" --resolve "localhost:${PORT[gw]}:127.0.0.1" \
	"https://localhost:${PORT[gw]}/h2" 2>&1)
assert_contains "$out" "ALPN: offers h2" "curl offered h2"
assert_contains "$out" "< HTTP/1.1 200" "curl's answer"
assert_not_contains "$out" "< HTTP/2" "an HTTP/2 answer"
assert_contains "$out" "path=/h2 verify=SUCCESS cn=alice" "what the backend saw"
pass "curl --http2: no h2 selected, HTTP/1.1 200 as alice"

out=$(printf 'GET /alpn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	timeout 10 openssl s_client -connect "127.0.0.1:${PORT[gw]}" -servername localhost -alpn h2 \
		-CAfile "$WORK/ca/ca.crt" -ign_eof 2>&1)
assert_contains "$out" "No ALPN negotiated" "s_client -alpn h2"
assert_contains "$out" "HTTP/1.1 200" "s_client's HTTP/1.1 request"
pass "ALPN h2 alone: no protocol selected; HTTP/1.1 still answered"
