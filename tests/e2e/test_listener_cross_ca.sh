#!/usr/bin/env bash
# Two listeners of one gateway with their own client CAs (the "partners"
# listener trusts Partner CA, "staff" trusts Staff CA): a partner's
# certificate, and a partner's TLS session, get nowhere on the staff
# listener. Sessions are resumed under the process's ticket keys, which
# every listener shares, or under a --ticket-keys file the two listeners
# share here on purpose; either way a partner's ticket offered to "staff"
# must not resume (OpenSSL binds a session to its listener's session ID
# context, and the ticket hook judges the certificate inside by the staff
# CA): a full handshake follows and refuses the partner (400), and the
# backend sees no request from the partner through "staff". In TLS 1.3
# and 1.2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/tickets.sh"

cd "$WORK"
mkdir -p partner staff
pki_cert partner/ca self root "/CN=Partner CA"
pki_cert staff/ca self root "/CN=Staff CA"
pki_cert server staff/ca server "/CN=localhost" "DNS:localhost"
pki_cert partner/pat partner/ca client "/CN=pat"
pki_cert staff/sam staff/ca client "/CN=sam"
(umask 077 && openssl rand 80 >tickets.key)

BP=$(free_port)
start_echo_backend "$BP"

# section NAME PORT CA EXTRA: one listener's section.
section() {
	printf '\n[listener %s]\nlisten = 127.0.0.1:%s\ntarget = 127.0.0.1:%s\nmode = http\n' "$1" "$2" "$BP"
	printf 'cert = %s\nkey = %s\nclient-ca = %s\nverify = require\n%s\n' \
		"$WORK/server.crt" "$WORK/server.key" "$WORK/$3" "$4"
}

# gateway NAME [EXTRA INI LINE]: both listeners, each with the extra line.
gateway() {
	local name=$1 extra=${2:-}
	P_PORT=$(free_port); S_PORT=$(free_port)
	{
		printf '[global]\nworkers = 1\n'
		section partners "$P_PORT" partner/ca.crt "$extra"
		section staff "$S_PORT" staff/ca.crt "$extra"
	} >"$name.ini"
	start_bg "$name" timeout 120 "$TLSGATE" serve --config "$name.ini"
	wait_port "$P_PORT"; wait_port "$S_PORT"
}

# tls_sess (lib/tickets.sh) as WHO: partner/pat or staff/sam.
TLS_SESS_CA=staff/ca.crt TLS_SESS_DIR=.

for setup in "process keys|" "one ticket-keys file|ticket-keys = $WORK/tickets.key"; do
	label=${setup%%|*}
	gw=gw$((${gw_n:-0} + 1)); gw_n=${gw#gw}
	gateway "$gw" "${setup#*|}"
	for v in tls1_3 tls1_2; do
		assert_eq "New 200" "$(tls_sess "$P_PORT" $v partner/pat -sess_out "pat-$gw-$v.pem")" \
			"$label, $v: pat on the partner listener"
		assert_eq "Reused 200" "$(tls_sess "$P_PORT" $v partner/pat -sess_in "pat-$gw-$v.pem")" \
			"$label, $v: pat resumes on the partner listener"
		assert_eq "New 200" "$(tls_sess "$S_PORT" $v staff/sam)" "$label, $v: sam on the staff listener"
		assert_eq "New 400" "$(tls_sess "$S_PORT" $v partner/pat)" \
			"$label, $v: pat's certificate on the staff listener"
		assert_eq "New 400" "$(tls_sess "$S_PORT" $v partner/pat -sess_in "pat-$gw-$v.pem")" \
			"$label, $v: pat's partner session offered to the staff listener"
	done
	wait_log "$gw.log" "listener=staff .* cn=pat verify=failed resumed=0 .*replied 400"
	if grep -E "listener=staff .* cn=pat .*resumed=1" "$gw.log"; then
		fail "$label: a partner session was resumed on the staff listener"
	fi
	grep -q "listener=staff .* cn=pat verify=ok" "$gw.log" &&
		fail "$label: pat passed on the staff listener"
	pass "$label: a partner's certificate and session are refused on the staff listener (TLS 1.3 and 1.2)"
done
# The backend answered the 200s only (pat twice and sam once per version
# and gateway); every 400 was the gateway's.
assert_eq 12 "$(grep -c '"GET /t HTTP/1.1" 200' "backend-$BP.log")" "requests the backend answered"
pass "the backend saw no request of pat's through the staff listener"
