#!/usr/bin/env bash
# Mix-ups named as such: a client's own certificate given as --client-ca is
# refused (it used to pass --test with "configuration ok"), naming the
# certificate that is not a CA; --cert and --key given the other way round
# say "swapped" (not "chmod 600", then "convert DER"); a key or certificate
# given where the other belongs says so. Nothing starts listening.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Mixup CA"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
pki_cert "$WORK/inter" "$WORK/ca"/ca inter "/CN=Mixup Intermediate"
P=$(free_port); BP=$(free_port)
base=(serve --listen 127.0.0.1:$P --target 127.0.0.1:$BP)
cat "$WORK/ca/ca.crt" "$WORK/alice.crt" >"$WORK/mixed.pem"
cat "$WORK/ca/ca.crt" "$WORK/inter.crt" >"$WORK/cas.pem"
before=$(snapshot "$WORK")

expect_fail 1 "$TLSGATE" "${base[@]}" --cert "$WORK/server.crt" --key "$WORK/server.key" \
	--client-ca "$WORK/alice.crt" --verify require --test
assert_contains "$OUT" "client CA $WORK/alice.crt: certificate 1 (CN=alice) is not a CA certificate" "leaf as --client-ca"
assert_contains "$OUT" "--client-ca takes the CA that issued the client certificates" "leaf as --client-ca: the fix"
assert_not_contains "$OUT" "configuration ok" "leaf as --client-ca"
expect_fail 1 "$TLSGATE" "${base[@]}" --cert "$WORK/server.crt" --key "$WORK/server.key" \
	--client-ca "$WORK/mixed.pem" --verify require --test
assert_contains "$OUT" "certificate 2 (CN=alice) is not a CA certificate" "a bundle with a leaf in it"
out=$("$TLSGATE" "${base[@]}" --cert "$WORK/server.crt" --key "$WORK/server.key" \
	--client-ca "$WORK/cas.pem" --verify require --test) || fail "a root + intermediate bundle was refused"
assert_contains "$out" "configuration ok" "root + intermediate as --client-ca"
pass "a client CA file must hold CA certificates"

expect_fail 1 "$TLSGATE" "${base[@]}" --cert "$WORK/server.key" --key "$WORK/server.crt" --test
assert_contains "$OUT" "certificate and key are swapped: $WORK/server.key holds a private key and $WORK/server.crt a certificate; pass --cert $WORK/server.crt --key $WORK/server.key" "swapped --cert/--key"
assert_not_contains "$OUT" "chmod" "swapped --cert/--key"
expect_fail 1 timeout 10 "$TLSGATE" "${base[@]}" --cert "$WORK/server.key" --key "$WORK/server.crt"
assert_contains "$OUT" "are swapped" "swapped --cert/--key (serve)"
expect_fail 1 "$TLSGATE" "${base[@]}" --cert "$WORK/server.crt" --key "$WORK/alice.crt" --test
assert_contains "$OUT" "key $WORK/alice.crt holds a certificate, not a private key" "a certificate as --key"
expect_fail 1 "$TLSGATE" "${base[@]}" --cert "$WORK/alice.key" --key "$WORK/server.key" --test
assert_contains "$OUT" "certificate $WORK/alice.key holds a private key, not a certificate" "a key as --cert"
pass "swapped or misplaced certificate and key files are named as such"

if ss -Hltn "sport = :$P" | grep -q .; then fail "something listens on $P after the refusals"; fi
assert_eq "$before" "$(snapshot "$WORK")" "the refusals changed no file"
