#!/usr/bin/env bash
# Internationalised host names: `tlsgate cert issue bücher.example` puts the
# name in the certificate as clients send and compare it (IDNA A-labels,
# xn--bcher-kva.example), as Python's idna codec and openssl's hostname
# check agree; curl, given the Unicode URL, reaches the gateway serving that
# certificate and verifies it; the checker takes Unicode --host names and
# Unicode file names (a Prosody certs dir) the same way.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir pki --name "IDN CA" >/dev/null
tg cert issue bücher.example --dir pki --san "*.münchen.example" >issue.out
assert_contains "$(cat issue.out)" "pki/issued/bücher.example.crt" "the files keep the name as given"
CRT=pki/issued/bücher.example.crt
KEY=pki/issued/bücher.example.key
want=$(python3 -c 'print("DNS:%s, DNS:*.%s" % ("bücher.example".encode("idna").decode(), "münchen.example".encode("idna").decode()))')
assert_eq "DNS:xn--bcher-kva.example, DNS:*.xn--mnchen-3ya.example" "$want" "Python's idna codec"
assert_eq "$want" "$(openssl x509 -in "$CRT" -noout -ext subjectAltName | tail -n 1 | sed 's/^ *//')" \
	"the SANs are the A-labels Python computes"
out=$(openssl verify -CAfile pki/root.crt -verify_hostname xn--bcher-kva.example "$CRT" 2>&1)
assert_eq "$CRT: OK" "$out" "openssl verifies the A-label host name"
out=$(openssl verify -CAfile pki/root.crt -verify_hostname zug.xn--mnchen-3ya.example "$CRT" 2>&1)
assert_eq "$CRT: OK" "$out" "openssl verifies a name under the wildcard"
pass "cert issue: internationalised names become A-labels, as Python and openssl compute them"

# --- the gateway with that certificate, curl given the Unicode URL ---
BP=$(free_port)
GP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 60 "$TLSGATE" serve --listen "127.0.0.1:$GP" --target "127.0.0.1:$BP" \
	--mode http --cert "$CRT" --key "$KEY" --workers 1
wait_port "$GP"
body=$(curl -sS --max-time 10 --cacert pki/root.crt --resolve "xn--bcher-kva.example:$GP:127.0.0.1" \
	"https://bücher.example:$GP/idn")
assert_contains "$body" '"path": "/idn"' "curl reaches the backend through the gateway"
# (the gateway logs a connection once it has closed)
wait_log "$WORK/gw.log" "sni=xn--bcher-kva.example"
rc=0
curl -sS --max-time 10 --cacert pki/root.crt --resolve "xn--mller-kva.example:$GP:127.0.0.1" \
	-o /dev/null "https://müller.example:$GP/" 2>curl.err || rc=$?
assert_eq 60 "$rc" "curl refuses the certificate for another internationalised name"
assert_contains "$(cat curl.err)" "no alternative certificate subject name matches target host name 'müller.example'" "curl says why"
pass "curl, given https://bücher.example, verifies the certificate the gateway serves"

# --- the checker: Unicode --host, Unicode file names ---
out=$(tg check pki/issued --host bücher.example --host zug.münchen.example --ca pki/root.crt \
	--no-system-ca)
assert_contains "$out" "All checks passed" "--host with Unicode names"
rc=0
tg check pki/issued --host müller.example --ca pki/root.crt --no-system-ca --json >mismatch.json || rc=$?
assert_eq 1 "$rc" "a name the certificate does not cover"
assert_eq "host-uncovered: no certificate in sight is for xn--mller-kva.example" \
	"$(jq -r '.subjects[].findings[] | "\(.code): \(.message)"' mismatch.json | cut -d: -f1-2)" \
	"the host no certificate covers, by its A-label"
mkdir -p certs
cp "$CRT" "$KEY" certs/
assert_eq "xn--bcher-kva.example" \
	"$(tg check certs --ca pki/root.crt --no-system-ca --json | jq -r '.subjects[0].hosts | join(",")')" \
	"certs/bücher.example.crt is for xn--bcher-kva.example"
expect_fail 2 "$TLSGATE" check pki/issued --host "$(printf 'b\xfccher.example')" --no-system-ca
assert_contains "$OUT" "is not valid UTF-8 (byte 2)" "a Latin-1 host name"
pass "check: Unicode host names and file names are compared as A-labels; bad UTF-8 is refused"
