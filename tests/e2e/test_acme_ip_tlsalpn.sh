#!/usr/bin/env bash
# tls-alpn-01 for IP identifiers (RFC 8738 6), IPv4 and (when the host has
# it) IPv6: offered next to http-01, validated with the reverse-DNS name as
# SNI, a certificate for another address refused, the issued certificate
# verified by openssl for the address (test_acme_ip_tlsalpn.py).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
ALPN=$(free_port)
V6=
python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null && V6=v6
start_acme acme --tlsalpn01-port "$ALPN" --allow-ip 127.0.0.0/8 --allow-ip ::1
timeout 120 python3 "$TLSGATE_SRC/tests/e2e/test_acme_ip_tlsalpn.py" "https://localhost:$ACME_PORT" \
	pki/root.crt "$ALPN" "$WORK" $V6 || fail "test_acme_ip_tlsalpn.py"
for ip in 127.0.0.1 ${V6:+::1}; do
	f=cert-${ip//:/_}.pem
	out=$(openssl verify -CAfile pki/root.crt -untrusted <(sed '1,/END CERTIFICATE/d' "$f") \
		-verify_ip "$ip" -purpose sslserver <(sed '/END CERTIFICATE/q' "$f") 2>&1) ||
		fail "openssl verify of the certificate for $ip: $out"
	grep -q "tls-alpn-01 ip:$ip for account .*: valid" acme.log || fail "no tls-alpn-01 validation of $ip logged"
done
pass "tls-alpn-01 for IP identifiers${V6:+ (IPv4 and IPv6)}"
