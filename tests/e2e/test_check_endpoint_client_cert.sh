#!/usr/bin/env bash
# tlsgate check endpoint --cert/--key against a real nginx that requires
# client certificates (ssl_verify_client on): a certificate from the CA
# nginx trusts is accepted (and said so), one from another CA is the
# client-cert-refused error (nginx finishes the handshake and answers 400;
# the CAs it lists decide), as curl finds with the same
# files; the key goes through the project's loader (--pass-file opens an
# encrypted one; a key that is not the certificate's is refused).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pki.sh
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx (apt-get install nginx-light)"
cd "$WORK"
P=$WORK/pki
mkdir -p "$P" "$WORK/ng/logs"
pki_cert "$P/root" self root "/CN=Client Test Root"
pki_cert "$P/server" "$P/root" server "/CN=a.example" "DNS:a.example"
pki_cert "$P/alice" "$P/root" client "/CN=alice"
pki_cert "$P/stranger-ca" self root "/CN=Stranger CA"
pki_cert "$P/mallory" "$P/stranger-ca" client "/CN=mallory"
openssl pkey -in "$P/alice.key" -aes256 -passout pass:s3cret -out "$P/alice-enc.key"
echo s3cret >"$WORK/pass.txt"
PORT=$(free_port)
cat >"$WORK/ng/nginx.conf" <<EOF
events { worker_connections 16; }
pid $WORK/ng/nginx.pid;
error_log $WORK/ng/logs/error.log;
daemon off;
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT ssl;
        server_name a.example;
        ssl_certificate $P/server.crt;
        ssl_certificate_key $P/server.key;
        ssl_client_certificate $P/root.crt;
        ssl_verify_client on;
        location / { return 200 "hello \$ssl_client_s_dn\n"; }
    }
}
EOF
start_bg nginx "$NGINX" -p "$WORK/ng" -c "$WORK/ng/nginx.conf"
wait_port "$PORT"
EP=(check endpoint "127.0.0.1:$PORT" --sni a.example --ca "$P/root.crt" --no-system-ca --json)
curl_as() { curl -sS --max-time 10 --cacert "$P/root.crt" --resolve "a.example:$PORT:127.0.0.1" \
	--cert "$1" --key "$2" "https://a.example:$PORT/" 2>&1; }

# alice's certificate: curl gets in, tlsgate presents it and says it was accepted.
assert_eq "hello CN=alice" "$(curl_as "$P/alice.crt" "$P/alice.key")" "curl as alice"
tg "${EP[@]}" --cert "$P/alice.crt" --key "$P/alice.key" >ok.json || fail "exit $? with alice's certificate"
assert_eq "client-cert-requested" "$(jq -r '[.subjects[].findings[].code] | join(" ")' ok.json)" \
	"the only finding with alice's certificate"
assert_contains "$(jq -r '.subjects[].findings[].message' ok.json)" "the one given (--cert) was accepted" \
	"the request says the certificate was accepted"
pass "a client certificate nginx trusts: presented, accepted, said so"

# mallory's, from a CA nginx does not trust: curl is refused, tlsgate says why.
assert_contains "$(curl_as "$P/mallory.crt" "$P/mallory.key")" "400" "curl as mallory"
rc=0
tg "${EP[@]}" --cert "$P/mallory.crt" --key "$P/mallory.key" >bad.json || rc=$?
assert_eq 1 "$rc" "exit with a certificate nginx does not trust"
msg=$(jq -r '.subjects[].findings[] | select(.code == "client-cert-refused") | .message' bad.json)
assert_contains "$msg" "refused the client certificate $P/mallory.crt" "the refusal names the file"
assert_contains "$msg" "its issuer /CN=Stranger CA is not among the CAs the server accepts" \
	"the refusal says why"
pass "a client certificate from another CA: client-cert-refused, as curl is refused"

# The key through the project's loader: encrypted with --pass-file, or refused.
tg "${EP[@]}" --cert "$P/alice.crt" --key "$P/alice-enc.key" --pass-file "$WORK/pass.txt" >enc.json ||
	fail "exit $? with an encrypted key and its passphrase"
assert_contains "$(jq -r '.subjects[].findings[].message' enc.json)" "was accepted" "encrypted key opened"
expect_fail 2 "$TLSGATE" "${EP[@]}" --cert "$P/alice.crt" --key "$P/alice-enc.key"
assert_contains "$OUT" "--key: $P/alice-enc.key is protected by a passphrase; give --pass-file FILE (the passphrase on its first line" "no passphrase given: how to give it"
expect_fail 2 "$TLSGATE" "${EP[@]}" --cert "$P/alice.crt" --key "$P/mallory.key"
assert_contains "$OUT" "key $P/mallory.key does not match certificate $P/alice.crt: give --key the key this certificate was issued for" "a key of another"
echo wrong >"$WORK/wrong.txt"
expect_fail 2 "$TLSGATE" "${EP[@]}" --cert "$P/alice.crt" --key "$P/alice-enc.key" --pass-file "$WORK/wrong.txt"
assert_contains "$OUT" "--key: cannot decrypt $P/alice-enc.key: wrong passphrase (--pass-file)" "a wrong passphrase"
expect_fail 2 "$TLSGATE" "${EP[@]}" --cert "$P/alice.key" --key "$P/alice.crt"
assert_contains "$OUT" "certificate and key are swapped: $P/alice.key holds a private key and $P/alice.crt a certificate; pass --cert $P/alice.crt --key $P/alice.key" "swapped files"
expect_fail 2 "$TLSGATE" "${EP[@]}" --cert "$P/alice.crt"
assert_contains "$OUT" "--cert and --key go together" "--cert alone"
expect_fail 2 "$TLSGATE" check "$P/alice.crt" --cert "$P/alice.crt" --key "$P/alice.key"
assert_contains "$OUT" "--cert and --key are for check endpoint" "--cert outside endpoint"
pass "the key: an encrypted one with --pass-file; refused without it (saying how to give it), with a wrong one, swapped, when another's, or alone"
