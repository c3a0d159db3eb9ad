#!/usr/bin/env bash
# TLS 1.3 early data (0-RTT) is off: data sent before the handshake ends
# could be replayed, and in http mode it would come before the client
# certificate is judged. The gateway's session tickets allow no early data
# (max_early_data 0, read from the ticket openssl keeps), so a resuming
# client sends none and its request goes after the handshake, once,
# with the identity of the resumed session.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1 --verify require
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

# s PATH [s_client options]: one GET as alice over TLS 1.3.
s() {
	local path=$1
	shift
	printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$path" |
		timeout 20 openssl s_client -connect "127.0.0.1:${PORT[gw]}" -tls1_3 -servername localhost \
			-CAfile "$WORK/ca/ca.crt" -cert "$WORK/alice.crt" -key "$WORK/alice.key" -ign_eof "$@" 2>&1
}

out=$(s /full -sess_out "$WORK/sess.pem")
assert_contains "$out" "HTTP/1.1 200" "the full handshake's request"
assert_contains "$(openssl sess_id -in "$WORK/sess.pem" -noout -text)" "Max Early Data: 0" \
	"the ticket's early data limit"
printf 'GET /early HTTP/1.1\r\nHost: x\r\nX-Client-CN: admin\r\n\r\n' >"$WORK/early.txt"
out=$(s /after -sess_in "$WORK/sess.pem" -early_data "$WORK/early.txt")
assert_contains "$out" "Reused, TLSv1.3" "the resumption"
assert_contains "$out" "Early data was not sent" "the client's early data"
assert_contains "$out" "HTTP/1.1 200" "the request after the handshake"
wait_log "$WORK/gw.log" "cn=alice verify=ok resumed=1 "
wait_log "$WORK/rec/requests.log" "conn=3 closed"
assert_eq "path=/full verify=SUCCESS cn=alice|path=/after verify=SUCCESS cn=alice" \
	"$(sed -n 's/.* method=GET \(path=.* cn=[^ ]*\) .*/\1/p' "$WORK/rec/requests.log" | paste -sd'|')" \
	"what the backend got"
pass "no early data invited or sent; the resumed request came after the handshake, once, as alice"
