#!/usr/bin/env bash
# What `tlsgate connect` accepts as the server's identity (openssl s_server
# presenting each certificate): a name only in the subject CN (no SAN) is
# refused with the way out in the log, as are a DNS SAN spelling the target's
# IP address, an IP SAN for a DNS target, a wildcard for two labels or a
# partial one, an expired certificate, and a client certificate (EKU
# clientAuth) holding the right name. A wildcard for one label and the IP SAN
# of an IP target pass. --sni changes what is sent, never what is checked.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Names CA"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
pki_cert "$WORK/cnonly" "$WORK/ca"/ca server "/CN=db.example.test" ""
pki_cert "$WORK/dnsip" "$WORK/ca"/ca server "/CN=x" "DNS:127.0.0.1"
pki_cert "$WORK/ipsan" "$WORK/ca"/ca server "/CN=x" "IP:127.0.0.1"
pki_cert "$WORK/wild" "$WORK/ca"/ca server "/CN=x" "DNS:*.example.test"
pki_cert "$WORK/partial" "$WORK/ca"/ca server "/CN=x" "DNS:db*.example.test"
pki_cert "$WORK/expired" "$WORK/ca"/ca server "/CN=x" "DNS:db.example.test" "-30 days" "-1 day"
pki_cert "$WORK/clientcert" "$WORK/ca"/ca client "/CN=x" "DNS:db.example.test"

# server NAME: openssl s_server with NAME.crt answering HTTP; sets SP.
server() {
	SP=$(free_port)
	start_bg "s_$1" openssl s_server -accept 127.0.0.1:$SP -cert "$WORK/$1.crt" -key "$WORK/$1.key" \
		-www -naccept 100
	wait_port "$SP"
}
# through NAME TARGET-HOST [ARGS...]: a connect listener to the current
# server, and curl through it; prints curl's exit code. Log in NAME.log.
through() {
	local name=$1 host=$2 cp rc=0
	shift 2
	cp=$(free_port)
	start_bg "$name" timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$cp --target "$host:$SP" \
		--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1 "$@"
	wait_log "$WORK/$name.log" "ready:"
	curl -sS --max-time 10 -o "$WORK/$name.out" "http://127.0.0.1:$cp/" 2>/dev/null || rc=$?
	echo "$rc"
}
accepted() {
	[ "$1" = 0 ] || fail "$2: refused (curl $1): $(grep -o 'close="[^"]*"' "$WORK/$3.log")"
	assert_contains "$(cat "$WORK/$3.out")" "s_server" "$2: s_server's page"
}
refused() { # refused RC WHAT LOGNAME PATTERN
	[ "$1" != 0 ] || fail "$2: accepted"
	wait_log "$WORK/$3.log" "$4"
}

server cnonly
rc=$(through cnonly localhost --verify-name db.example.test)
refused "$rc" "a name only in the CN" cnonly \
	"hostname mismatch (expected name db.example.test): it has no DNS or IP subjectAltName, and a name only in the subject CN is not accepted; re-issue it with subjectAltName DNS:db.example.test"
pass "a name only in the subject CN (no SAN) is refused, the log says to add a SAN"

server dnsip
rc=$(through dnsip 127.0.0.1)
refused "$rc" "an IP address spelled as a DNS SAN" dnsip "IP address mismatch (expected name 127.0.0.1)"
server ipsan
rc=$(through ipsan 127.0.0.1)
accepted "$rc" "an IP SAN for an IP target" ipsan
rc=$(through ipsan-dns localhost --verify-name localhost)
refused "$rc" "an IP SAN for a DNS name" ipsan-dns "hostname mismatch (expected name localhost)"
pass "IP targets need an IP SAN, DNS names a DNS SAN"

server wild
rc=$(through wild localhost --verify-name db.example.test)
accepted "$rc" "*.example.test for db.example.test" wild
rc=$(through wild2 localhost --verify-name a.db.example.test)
refused "$rc" "*.example.test for two labels" wild2 "hostname mismatch (expected name a.db.example.test)"
server partial
rc=$(through partial localhost --verify-name db1.example.test)
refused "$rc" "a partial wildcard" partial "hostname mismatch (expected name db1.example.test)"
pass "wildcards: one whole label only"

server expired
rc=$(through expired localhost --verify-name db.example.test)
refused "$rc" "an expired certificate" expired "server certificate: certificate has expired (expected name db.example.test)"
server clientcert
rc=$(through clientcert localhost --verify-name db.example.test)
refused "$rc" "a client certificate as the server's" clientcert \
	"server certificate: unsuitable certificate purpose (expected name db.example.test)"
pass "an expired certificate and a client certificate (EKU clientAuth) are refused"

# --sni other than --verify-name: sent as given, the check stays on the name.
server wild
rc=$(through sni localhost --verify-name db.example.test --sni other.invalid)
accepted "$rc" "--sni other.invalid, --verify-name db.example.test" sni
wait_log "$WORK/sni.log" "sni=other.invalid"
rc=$(through sni2 localhost --verify-name other.invalid --sni db.example.test)
refused "$rc" "--verify-name other.invalid" sni2 "hostname mismatch (expected name other.invalid)"
pass "--sni is only what is sent: the check follows --verify-name"
