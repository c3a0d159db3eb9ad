#!/usr/bin/env bash
# Certificates found per SNI in a certs dir laid out the Prosody way
# (HOST.crt + HOST.key, HOST/fullchain.pem + HOST/privkey.pem), wildcard SANs,
# the default for unknown names, and --strict-sni refusing them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=SNI CA"
D=$WORK/certs
mkdir -p "$D/b.example.test"
pki_cert "$D/a.example.test" "$WORK/ca"/ca server "/CN=a.example.test" "DNS:a.example.test"
pki_cert "$WORK/b" "$WORK/ca"/ca server "/CN=b.example.test" "DNS:b.example.test"
cat "$WORK/b.crt" "$WORK/ca/ca.crt" >"$D/b.example.test/fullchain.pem"
install -m 600 "$WORK/b.key" "$D/b.example.test/privkey.pem"
pki_cert "$D/wild" "$WORK/ca"/ca server "/CN=wild" "DNS:*.wild.test"
pki_cert "$D/default" "$WORK/ca"/ca server "/CN=default.example.test" "DNS:default.example.test"
rm -f "$D"/*.csr "$D"/*.sign.log

BP=$(free_port); GP=$(free_port); GP2=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --certs-dir "$D" --workers 1
start_bg gwstrict timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP2 --target 127.0.0.1:$BP --certs-dir "$D" \
	--strict-sni yes --workers 1
wait_port "$GP"; wait_port "$GP2"

subject_for() { # PORT [SERVERNAME]
	local sn=()
	[ -n "${2:-}" ] && sn=(-servername "$2")
	openssl s_client -connect 127.0.0.1:$1 "${sn[@]}" -CAfile "$WORK/ca/ca.crt" </dev/null 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null | sed 's/^subject= *//; s/ = /=/g'
}
assert_eq "CN=a.example.test" "$(subject_for $GP a.example.test)" "a.example.test gets its HOST.crt"
assert_eq "CN=b.example.test" "$(subject_for $GP b.example.test)" "b.example.test gets HOST/fullchain.pem"
assert_eq "CN=b.example.test" "$(subject_for $GP B.Example.Test)" "SNI matching ignores case"
assert_eq "CN=wild" "$(subject_for $GP x.wild.test)" "wildcard SAN *.wild.test covers x.wild.test"
assert_eq "CN=default.example.test" "$(subject_for $GP y.x.wild.test)" "a wildcard covers one label only"
assert_eq "CN=default.example.test" "$(subject_for $GP unknown.test)" "unknown name: default.crt"
assert_eq "CN=default.example.test" "$(subject_for $GP)" "no SNI: default.crt"
# The chain from fullchain.pem is sent: s_client verifies against the root.
out=$(openssl s_client -connect 127.0.0.1:$GP -servername b.example.test -CAfile "$WORK/ca/ca.crt" \
	-verify_return_error </dev/null 2>&1)
assert_contains "$out" "Verify return code: 0 (ok)" "b.example.test verifies"
# curl over the SNI cert, end to end.
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --resolve a.example.test:$GP:127.0.0.1 https://a.example.test:$GP/sni)
assert_contains "$out" '"path": "/sni"' "curl reaches the backend through the SNI cert"

# Strict SNI: known names work, unknown ones get an alert.
assert_eq "CN=a.example.test" "$(subject_for $GP2 a.example.test)" "strict: known name served"
out=$(openssl s_client -connect 127.0.0.1:$GP2 -servername nope.test </dev/null 2>&1 || true)
assert_contains "$out" "unrecognized name" "strict: unknown name gets the unrecognized_name alert"
echo "all SNI checks passed"
