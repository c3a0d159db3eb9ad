#!/usr/bin/env bash
# tlsgate check --nginx-config against a real nginx (seeds/003): servers that
# listen with ssl, one inline and one from `include servers/*.conf`, with
# their server_names, certificates and client CA. A server whose certificate
# does not cover its server_name is flagged, and curl to that name fails
# verification against the running nginx; a key that does not match is
# key-mismatch, as `nginx -t` refuses it; nginx -t and tlsgate agree on what
# they refuse to read.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || fail "no nginx (apt-get install nginx-light)"
NG=$WORK/nginx
mkdir -p "$NG/certs" "$NG/servers" "$NG/logs"
cd "$WORK"

tg ca init --dir ca --name "nginx e2e CA" --intermediate >/dev/null
tg cert issue a.example --dir ca --san www.a.example >/dev/null
tg cert issue other.example --dir ca >/dev/null
tg cert issue alice --dir ca --client >/dev/null
cp ca/issued/a.example.* ca/issued/other.example.* "$NG/certs/"
cp ca/root.crt "$NG/certs/clients-ca.crt"
PA=$(free_port)
PB=$(free_port)

cat >"$NG/nginx.conf" <<EOF
# nginx + Flask, client certificates required (seeds/003)
events { worker_connections 64; }
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
daemon off;
http {
    access_log off;
    include servers/*.conf;
    server {
        listen 127.0.0.1:$PA ssl;
        server_name a.example "www.a.example";
        ssl_certificate     certs/a.example.crt;    # leaf + intermediate
        ssl_certificate_key certs/a.example.key;
        ssl_client_certificate certs/clients-ca.crt;
        ssl_verify_client on;
        location / { return 200 "hello from a\n"; }
    }
    server { listen 127.0.0.1:$(free_port); server_name plain.example; }
}
EOF
cat >"$NG/servers/b.conf" <<EOF
server {
    listen 127.0.0.1:$PB ssl;
    server_name b.example;
    ssl_certificate certs/other.example.crt;
    ssl_certificate_key certs/other.example.key;
    location / { return 200 "hello from b\n"; }
}
EOF
out=$("$NGINX" -t -p "$NG" -c "$NG/nginx.conf" 2>&1) || fail "nginx -t: $out"
start_bg nginx timeout 60 "$NGINX" -p "$NG" -c "$NG/nginx.conf"
wait_port "$PA"
wait_port "$PB"

# What nginx serves, with real clients: a.example verifies (and wants alice's
# certificate); b.example gets other.example's certificate.
body=$(curl -sS --max-time 10 --cacert ca/root.crt --cert ca/issued/alice.crt \
	--key ca/issued/alice.key --resolve "a.example:$PA:127.0.0.1" "https://a.example:$PA/")
assert_eq "hello from a" "$body" "curl to a.example"
rc=0
curl -sS --max-time 10 --cacert ca/root.crt --resolve "b.example:$PB:127.0.0.1" \
	"https://b.example:$PB/" >/dev/null 2>curl.err || rc=$?
assert_eq 60 "$rc" "curl to b.example: the certificate does not match the name"
assert_contains "$(cat curl.err)" "b.example" "curl names the host it checked"

rc=0
tg check --nginx-config "$NG/nginx.conf" --ca ca/root.crt --no-system-ca --json >check.json || rc=$?
assert_eq 1 "$rc" "tlsgate exit"
assert_eq "$NG/certs/a.example.crt:a.example,www.a.example: $NG/certs/clients-ca.crt:: $NG/certs/other.example.crt:b.example:name-mismatch" \
	"$(jq -r '[.subjects[] | "\(.subject):\(.hosts | sort | join(",")):\([.findings[] | select(.severity != "info") | .code] | join(","))"] | sort | join(" ")' check.json)" \
	"each server's names against its own certificate; the client CA as a CA"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "name-mismatch") | .message' check.json)" \
	"does not cover b.example" "the mismatch names the server_name"
pass "servers inline and from include: names, certificates and client CA checked; b.example flagged as curl finds"

# A key that does not go with its certificate: nginx -t refuses, tlsgate says which.
sed -i 's|certs/other.example.key|certs/a.example.key|' "$NG/servers/b.conf"
out=$("$NGINX" -t -p "$NG" -c "$NG/nginx.conf" 2>&1) && fail "nginx -t accepted a mismatched key"
assert_contains "$out" "key values mismatch" "nginx -t on the mismatched key"
rc=0
tg check --nginx-config "$NG/nginx.conf" --ca ca/root.crt --no-system-ca --json >check.json || rc=$?
assert_eq 1 "$rc" "tlsgate exit with the mismatched key"
assert_contains "$(jq -r '[.subjects[].findings[].code] | join(" ")' check.json)" "key-mismatch" \
	"tlsgate on the mismatched key"
pass "a mismatched key: nginx -t refuses it, tlsgate reports key-mismatch"

# A certificate file that is not there: the file and the host both say so.
sed -i 's|certs/other.example.crt|certs/missing.crt|' "$NG/servers/b.conf"
rc=0
tg check --nginx-config "$NG/nginx.conf" --ca ca/root.crt --no-system-ca --json >check.json || rc=$?
assert_eq 1 "$rc" "tlsgate exit with a missing certificate"
assert_eq "host-uncovered: no certificate in sight is for b.example: its config names $NG/certs/missing.crt, which could not be used (see that file's findings)
unreadable: $NG/certs/missing.crt does not exist" \
	"$(jq -r '.subjects[].findings[] | select(.code == "host-uncovered" or .code == "unreadable") | "\(.code): \(.message)"' check.json)" \
	"the missing file, and the host it was for"
sed -i 's|certs/missing.crt|certs/other.example.crt|; s|certs/a.example.key;|certs/other.example.key;|' "$NG/servers/b.conf"
pass "a certificate file the config names but that is missing: unreadable, and the host says which file"

# Configs nginx -t refuses to read: tlsgate refuses them too, with file and line.
printf 'server {\n    listen 127.0.0.1:1 ssl;\n' >"$NG/servers/zz-broken.conf"
out=$("$NGINX" -t -p "$NG" -c "$NG/nginx.conf" 2>&1) && fail "nginx -t accepted an unclosed block"
expect_fail 2 "$TLSGATE" check --nginx-config "$NG/nginx.conf" --no-system-ca
assert_contains "$OUT" "$NG/servers/zz-broken.conf:3: a block is not closed" "an unclosed block"
rm "$NG/servers/zz-broken.conf"
sed -i 's|include servers/\*.conf;|include servers/*.conf; include missing.conf;|' "$NG/nginx.conf"
out=$("$NGINX" -t -p "$NG" -c "$NG/nginx.conf" 2>&1) && fail "nginx -t accepted a missing include"
expect_fail 2 "$TLSGATE" check --nginx-config "$NG/nginx.conf" --no-system-ca
assert_contains "$OUT" "include $NG/missing.conf: no such file" "a missing include"
printf 'events {}\nhttp { server { listen 127.0.0.1:1; } }\n' >"$NG/plain.conf"
expect_fail 2 "$TLSGATE" check --nginx-config "$NG/plain.conf" --no-system-ca
assert_contains "$OUT" "has no server that listens with ssl" "a config without TLS"
pass "what nginx -t refuses to read, tlsgate refuses with file and line; no TLS server is said"
