# Session resumption seen by openssl s_client, for the ticket tests. Sourced
# after lib.sh, in a work dir holding a workbench CA in pki/ (root.crt,
# issued/NAME.crt and .key) and a gateway in http mode before an echo
# backend.
#
#   tls_sess PORT VERSION CLIENT [s_client options]
#     one GET as CLIENT over tls1_3 or tls1_2: "New 200", "Reused 200",
#     "New 400"... (-sess_out F keeps the session, -sess_in F resumes it);
#     CLIENT's certificate and key are in $TLS_SESS_DIR (pki/issued), the
#     server's CA is $TLS_SESS_CA (pki/root.crt)
#   assert_ticket_refused PORT LOG CLIENT
#     CLIENT's tickets c-tls1_3.pem and c-tls1_2.pem, taken before CLIENT
#     was revoked, do not resume: the full handshake refuses CLIENT (400),
#     and LOG says so.

tls_sess() {
	local port=$1 v=$2 who=$3
	shift 3
	printf 'GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 20 openssl s_client -connect "127.0.0.1:$port" "-$v" -servername localhost \
			-CAfile "${TLS_SESS_CA:-pki/root.crt}" -cert "${TLS_SESS_DIR:-pki/issued}/$who.crt" \
			-key "${TLS_SESS_DIR:-pki/issued}/$who.key" -ign_eof "$@" 2>/dev/null |
		sed -nE 's/^(New|Reused), .*/\1/p; s/^HTTP\/1.1 ([0-9]+).*/\1/p' | paste -sd' '
}

assert_ticket_refused() {
	local port=$1 log=$2 who=$3 v
	for v in tls1_3 tls1_2; do
		assert_eq "New 400" "$(tls_sess "$port" $v "$who" -sess_in "c-$v.pem")" \
			"$v: $who's ticket from before the revocation is not resumed; the full handshake refuses $who"
	done
	wait_log "$log" "cn=$who verify=failed resumed=0 .*certificate revoked"
}
