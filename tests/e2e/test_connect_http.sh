#!/usr/bin/env bash
# Client mode in front of an mTLS gateway: curl speaks plain HTTP to
# `tlsgate connect`, which carries it over TLS with alice's certificate to a
# `tlsgate serve --verify require --mode http`, whose backend sees alice's
# identity headers. The second connection resumes the TLS session (log and
# /metrics), and --test reports the client listener.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Connect CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

GP=$(free_port); CP=$(free_port); SP=$(free_port)
start_mtls_gateway "$GP"

out=$(tg connect --listen 127.0.0.1:$CP --target localhost:$GP --cert "$WORK/alice.crt" \
	--key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --test)
assert_contains "$out" "client mode: TLS to the target, server verified as localhost" "--test describes the client listener"
assert_contains "$out" "alice.crt: CN=alice" "--test names the client certificate"

start_bg cl timeout 120 "$TLSGATE" connect --listen 127.0.0.1:$CP --target localhost:$GP \
	--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" \
	--status 127.0.0.1:$SP --workers 2
wait_port "$CP"; wait_port "$SP"

body=$(http_get "http://127.0.0.1:$CP/one")
assert_contains "$body" '["X-Client-Verify", "SUCCESS"]' "the server verified the client certificate"
assert_contains "$body" '["X-Client-CN", "alice"]' "the backend sees alice"
pass "curl http:// through tlsgate connect: the backend behind serve --verify require sees CN=alice"
wait_log "$WORK/cl.log" 'conn listener=default .* tls=TLSv1.3 sni=localhost cn=localhost verify=ok resumed=0'
pass "log: TLS 1.3 to the server, its CN, verified, a full handshake"

# The session the server gave is used by the next connection.
body=$(http_get "http://127.0.0.1:$CP/two")
assert_contains "$body" '["X-Client-CN", "alice"]' "second request"
wait_log "$WORK/cl.log" 'verify=ok resumed=1'
wait_log "$WORK/gw.log" 'cn=alice verify=ok resumed=1'
wait_metric "http://127.0.0.1:$SP/metrics" '^tlsgate_handshakes_resumed_total [1-9]'
pass "the second connection resumed the session (both logs and /metrics)"
