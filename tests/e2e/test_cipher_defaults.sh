#!/usr/bin/env bash
# TLS 1.2 offers AEAD suites only by default (Mozilla "intermediate": ECDHE
# with AES-GCM or ChaCha20-Poly1305): every CBC suite openssl knows is
# refused, with an RSA and an ECDSA certificate (testssl.sh flagged the
# CBC suites of OpenSSL's default list: LUCKY13). --ciphers still enables a
# CBC suite on purpose. TLS 1.3 is unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Cipher CA"
pki_cert "$WORK/rsa" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost" "" "" rsa2048
BP=$(free_port); GE=$(free_port); GR=$(free_port); GC=$(free_port)
start_echo_backend "$BP"
start_bg gwec timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GE --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
start_bg gwrsa timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GR --target 127.0.0.1:$BP \
	--cert "$WORK/rsa.crt" --key "$WORK/rsa.key" --workers 1
start_bg gwcbc timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GC --target 127.0.0.1:$BP \
	--cert "$WORK/rsa.crt" --key "$WORK/rsa.key" --workers 1 \
	--ciphers 'ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE-RSA-AES128-SHA256'
wait_port "$GE"; wait_port "$GR"; wait_port "$GC"

# negotiated PORT ARGS...: the cipher the handshake settled on, or "none".
negotiated() {
	local port=$1 out
	shift
	out=$(timeout 10 openssl s_client -connect 127.0.0.1:$port -servername localhost "$@" </dev/null 2>&1 || true)
	sed -n 's/^New, .*, Cipher is \(.*\)$/\1/p' <<<"$out" | grep -v '^(NONE)$' | head -n1 | grep . || echo none
}

cbc=$(openssl ciphers -v -s -tls1_2 'ALL:COMPLEMENTOFALL' | awk '$2 == "TLSv1.2" || $2 == "SSLv3" { if ($6 != "Mac=AEAD") print $1 }')
[ "$(wc -l <<<"$cbc")" -ge 10 ] || fail "openssl lists only $(wc -l <<<"$cbc") CBC suites"
accepted=""
for c in $cbc; do
	for port in "$GE" "$GR"; do
		got=$(negotiated "$port" -tls1_2 -cipher "$c")
		[ "$got" = none ] || accepted+="$c@$port "
	done
done
assert_eq "" "$accepted" "CBC suites accepted by default"
pass "by default no CBC suite is offered over TLS 1.2 ($(wc -w <<<"$cbc") tried, RSA and ECDSA certificates)"

assert_eq ECDHE-ECDSA-AES128-GCM-SHA256 "$(negotiated "$GE" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" "ECDSA, AES-GCM"
assert_eq ECDHE-ECDSA-CHACHA20-POLY1305 "$(negotiated "$GE" -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305)" "ECDSA, ChaCha20"
assert_eq ECDHE-RSA-AES256-GCM-SHA384 "$(negotiated "$GR" -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384)" "RSA, AES-256-GCM"
assert_eq none "$(negotiated "$GR" -tls1_2 -cipher AES128-GCM-SHA256)" "RSA key exchange (no forward secrecy)"
assert_eq TLS_AES_256_GCM_SHA384 "$(negotiated "$GE" -tls1_3)" "TLS 1.3 default"
assert_eq TLS_CHACHA20_POLY1305_SHA256 "$(negotiated "$GE" -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256)" "TLS 1.3 ChaCha20"
pass "the AEAD suites and TLS 1.3 are served"

assert_eq ECDHE-RSA-AES128-SHA256 "$(negotiated "$GC" -tls1_2 -cipher ECDHE-RSA-AES128-SHA256)" "a CBC suite given in --ciphers"
assert_eq none "$(negotiated "$GC" -tls1_2 -cipher ECDHE-RSA-AES256-SHA)" "a CBC suite not given in --ciphers"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --resolve localhost:$GC:127.0.0.1 https://localhost:$GC/cbc)
assert_contains "$out" '"path": "/cbc"' "requests through the listener with --ciphers"
pass "--ciphers enables a CBC suite when asked"
