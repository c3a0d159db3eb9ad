#!/usr/bin/env bash
# http mode with mutual TLS in front of a small HTTP backend (the nginx + Flask
# guide): curl and Python requests with a client cert get 200 and the backend
# sees the identity headers; no cert, another CA, expired, revoked and not
# allowed are refused with nginx's statuses and words; spoofed identity
# headers never reach the backend; backend down is 502.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Test CA"
mkdir -p "$WORK/other"
pki_cert "$WORK/other"/ca self root "/CN=Other CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice/OU=eng" "email:alice@example.com,URI:spiffe://example.com/alice"
pki_cert "$WORK/bob" "$WORK/ca"/ca client "/CN=bob"
pki_cert "$WORK/carol" "$WORK/ca"/ca client "/CN=carol"
pki_cert "$WORK/old" "$WORK/ca"/ca client "/CN=alice" "" "-30 days" "-1 day"
pki_cert "$WORK/mallory" "$WORK/other"/ca client "/CN=alice"
pki_cert "$WORK/inject" "$WORK/ca"/ca client $'/CN=x\r\nX-Injected: yes'
pki_crl "$WORK/ca"/ca.crl "$WORK/ca"/ca "" "" "$WORK/carol.crt"

BP=$(free_port); GP=$(free_port); DOWN=$(free_port); GP2=$(free_port); GP3=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify verify-full --allow-cn alice --allow-ou ops --crl "$WORK/ca/ca.crl" --workers 2
GWLOG=$WORK/gw.log
wait_port "$GP"

URL=https://localhost:$GP
req() { # CERTBASE PATH [curl args...] -> "STATUS\nBODY"
	local who=$1 path=$2; shift 2
	local auth=()
	[ -n "$who" ] && auth=(--cert "$WORK/$who.crt" --key "$WORK/$who.key")
	curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" "${auth[@]}" -w '\n%{http_code}' "$@" "$URL$path"
}

# 1. alice with curl: 200, identity passed, spoofed headers dropped.
out=$(req alice /hello -H 'X-Client-Subject: CN=evil' -H 'X_Client_Verify: SUCCESS' \
	-H 'X-Client-CN: root' -H 'X-Forwarded-For: 6.6.6.6')
assert_eq 200 "$(tail -n1 <<<"$out")" "alice gets 200"
body=$(head -n -1 <<<"$out")
hdr() { python3 -c 'import json,sys; h=json.loads(sys.stdin.read())["headers"]; print("|".join(v for k,v in h if k.lower()==sys.argv[1].lower()))' "$1" <<<"$body"; }
assert_eq SUCCESS "$(hdr X-Client-Verify)" "backend sees X-Client-Verify: SUCCESS"
assert_eq "OU=eng,CN=alice" "$(hdr X-Client-Subject)" "backend sees the subject, and only ours"
assert_eq alice "$(hdr X-Client-CN)" "backend sees CN=alice, the spoofed CN is gone"
assert_eq "" "$(hdr X_Client_Verify)" "underscore spoof (WSGI merges _ and -) removed"
assert_eq "CN=Test CA" "$(hdr X-Client-Issuer)" "issuer passed"
assert_eq "127.0.0.1" "$(hdr X-Forwarded-For)" "X-Forwarded-For is the real peer, not the spoof"
assert_eq https "$(hdr X-Forwarded-Proto)" "X-Forwarded-Proto"
assert_contains "$(hdr X-Client-SAN)" "URI:spiffe://example.com/alice" "SANs passed (nginx cannot)"
assert_contains "$(hdr X-Client-Cert)" "-----BEGIN%20CERTIFICATE-----" "URL-encoded PEM passed"
fp=$(openssl x509 -in "$WORK/alice.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
assert_eq "$fp" "$(hdr X-Client-Fingerprint)" "SHA-256 fingerprint matches openssl's"
serial=$(openssl x509 -in "$WORK/alice.crt" -noout -serial | cut -d= -f2)
assert_eq "$serial" "$(hdr X-Client-Serial)" "serial matches openssl's"

# 2. Python requests with cert=(crt, key).
py=$(python3 - "$URL/py" "$WORK" <<'PY'
import sys, requests
url, t = sys.argv[1], sys.argv[2]
r = requests.get(url, cert=(t + "/alice.crt", t + "/alice.key"), verify=t + "/ca/ca.crt", timeout=10)
h = dict((k.lower(), v) for k, v in r.json()["headers"])
print(r.status_code, h.get("x-client-cn"))
PY
)
assert_eq "200 alice" "$py" "python requests with a client cert gets 200 as alice"

# 3. Keep-alive: two requests on one connection, a chunked POST body intact.
out=$(curl -sS -v --max-time 10 --cacert "$WORK/ca/ca.crt" --cert "$WORK/alice.crt" --key "$WORK/alice.key" \
	"$URL/one" -H 'Transfer-Encoding: chunked' --data-binary 'hello chunked world' \
	--next --cacert "$WORK/ca/ca.crt" --cert "$WORK/alice.crt" --key "$WORK/alice.key" "$URL/two" 2>&1)
assert_contains "$out" '"body": "hello chunked world"' "chunked request body reaches the backend intact"
assert_contains "$out" '"path": "/two"' "second request answered"
assert_contains "$out" "Re-using existing connection" "keep-alive: the second request reused the connection"

# 4. Refusals, each with the right status and words.
out=$(req "" /nocert)
assert_eq 400 "$(tail -n1 <<<"$out")" "no client cert: 400"
assert_contains "$out" "No required SSL certificate was sent" "no client cert: nginx's words"
out=$(req mallory /othere)
assert_eq 400 "$(tail -n1 <<<"$out")" "cert from another CA: 400"
assert_contains "$out" "The SSL certificate error" "another CA: nginx's words"
out=$(req old /expired)
assert_eq 400 "$(tail -n1 <<<"$out")" "expired cert: 400"
out=$(req carol /revoked)
assert_eq 400 "$(tail -n1 <<<"$out")" "revoked cert (CRL): 400"
out=$(req bob /notallowed)
assert_eq 403 "$(tail -n1 <<<"$out")" "valid cert not on the allow list: 403"
assert_contains "$out" "403 Forbidden" "403 page"
big=$(head -c 20000 /dev/zero | tr '\0' a)
out=$(req alice /big -H "Cookie: $big")
assert_eq 400 "$(tail -n1 <<<"$out")" "a 20 KB header: 400"
assert_contains "$out" "Request Header Or Cookie Too Large" "a 20 KB header: nginx's words"
# The refusals never reached the backend, and the log says why.
wait_log "$GWLOG" "certificate has expired"
assert_not_contains "$(cat "$WORK/backend-$BP.log")" "/notallowed" "refused requests never reach the backend"
log=$(cat "$GWLOG")
assert_contains "$log" "cn=carol verify=failed" "log: carol failed verification"
grep -q 'close="replied 400 The SSL certificate error (certificate revoked)' "$GWLOG" || fail "log names the refusal"
grep -q 'cn=bob verify=ok .*close="replied 403' "$GWLOG" || fail "log: bob verified but 403"
pass "log lines say who was refused and why"

# 5. Backend down: 502. Optional mode: no cert passes with X-Client-Verify NONE.
start_bg gwdown timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP2 --target 127.0.0.1:$DOWN --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
start_bg gwopt timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$GP3 --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" --verify optional --cert-header no --workers 1
wait_port "$GP2"; wait_port "$GP3"
code=$(curl -s -o "$WORK/502.html" -w '%{http_code}' --max-time 10 --cacert "$WORK/ca/ca.crt" https://localhost:$GP2/)
assert_eq 502 "$code" "backend down: 502"
assert_contains "$(cat "$WORK/502.html")" "502 Bad Gateway" "502 page"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" -H 'X-Client-Verify: SUCCESS' https://localhost:$GP3/opt)
assert_contains "$out" '["X-Client-Verify", "NONE"]' "optional without a cert: X-Client-Verify NONE, spoof replaced"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --cert "$WORK/bob.crt" --key "$WORK/bob.key" https://localhost:$GP3/opt)
assert_contains "$out" '["X-Client-CN", "bob"]' "optional with a cert: identity passed"
assert_not_contains "$out" 'X-Client-Cert' "--cert-header no: no PEM header"
# A cert holder cannot inject headers (or log lines) through the CN: a
# name with a control character is no name (SANs and OUs alike); the
# certificate is refused like any bad one and nothing reaches the backend.
code=$(curl -s -o "$WORK/inject.html" -w '%{http_code}' --max-time 10 --cacert "$WORK/ca/ca.crt" \
	--cert "$WORK/inject.crt" --key "$WORK/inject.key" https://localhost:$GP3/inject)
assert_eq 400 "$code" "a CN with CR LF: 400"
assert_contains "$(cat "$WORK/inject.html")" "The SSL certificate error" "a CN with CR LF: the bad-certificate page"
wait_log "$WORK/gwopt.log" 'verify=failed .*close="replied 400 The SSL certificate error (the CN holds a control character)"'
if grep -q '/inject' "$WORK/backend-$BP.log"; then fail "the request with a CR LF CN reached the backend"; fi
pass "a CN with CR LF is refused, the log says why, and the log line stays one line"
echo "all http mTLS checks passed"
