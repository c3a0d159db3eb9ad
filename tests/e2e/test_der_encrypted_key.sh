#!/usr/bin/env bash
# A private key in DER, encrypted PKCS#8 as `openssl pkcs8 -topk8 -outform
# DER -v2 aes-256-cbc` writes it (and plain), is told by content by src/pki
# in every command that loads keys: inspect (which took it for a broken
# PKCS#12), serve --key, cert import. A wrong passphrase names the file and
# where the passphrase came from; a key derivation above the cap is refused
# before the passphrase is read (its file does not even exist), nothing
# written.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

printf 'secret\n' >pass
printf 'not it\n' >bad
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout plain.pem \
	-out a.crt -subj /CN=a.test -addext subjectAltName=DNS:a.test -days 30 2>/dev/null
openssl pkcs8 -topk8 -outform DER -v2 aes-256-cbc -in plain.pem -out enc.der -passout file:pass
openssl pkey -in plain.pem -outform DER -out plain.der
python3 "$TLSGATE_SRC/tests/e2e/kdf_files.py" pbkdf2 enc.der costly.der 2147483647
chmod 600 ./*.der ./*.pem

OUT=$(tg inspect enc.der --pass-file pass)
assert_contains "$OUT" "enc.der: key" "inspect: the kind"
assert_contains "$OUT" "EC P-256 private key, passphrase-protected" "inspect: the key, decrypted"
OUT=$(tg inspect enc.der --json)
assert_eq '{"type":"key","encrypted":true}' "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ("type","encrypted")}, separators=(",",":")))')" "inspect --json without a passphrase"
OUT=$(tg inspect plain.der)
assert_contains "$OUT" "EC P-256 private key" "inspect: a plain DER key"
pass "inspect reads an encrypted DER PKCS#8 key (and a plain DER key)"

before=$(snapshot .)
expect_fail 1 tg inspect enc.der --pass-file bad
assert_contains "$OUT" "cannot decrypt enc.der: wrong passphrase (the first line of bad, --pass-file)" "inspect: wrong passphrase"
expect_fail 1 timeout 20 "$TLSGATE" inspect costly.der --pass-file missing
assert_contains "$OUT" "costly.der is passphrase-protected with PBKDF2 iterations = 2147483647, above tlsgate's cap of 10000000" "inspect: the cap first"
assert_eq "$before" "$(snapshot .)" "inspect wrote something"
pass "inspect: a wrong passphrase named; a KDF above the cap refused before the passphrase is read"

port=$(free_port)
OUT=$(tg serve --listen "127.0.0.1:$port" --target 127.0.0.1:1 --cert a.crt --key enc.der \
	--pass-file pass --test)
assert_contains "$OUT" "configuration ok" "serve --key enc.der --test"
expect_fail 1 tg serve --listen "127.0.0.1:$port" --target 127.0.0.1:1 --cert a.crt --key enc.der \
	--pass-file bad --test
assert_contains "$OUT" "--key: cannot decrypt enc.der: wrong passphrase (the first line of bad, --pass-file)" "serve: wrong passphrase"
start_bg gw timeout 60 "$TLSGATE" serve --listen "127.0.0.1:$port" --target 127.0.0.1:1 --cert a.crt \
	--key enc.der --pass-file pass --workers 1
wait_port "$port"
OUT=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile a.crt -verify_hostname a.test \
	-verify_return_error </dev/null 2>&1) || true
assert_contains "$OUT" "Verify return code: 0 (ok)" "s_client verifies the gateway that loaded enc.der"
pass "serve --key takes the DER key, and openssl s_client verifies what it serves"

expect_fail 1 tg cert import a.test a.crt enc.der --key-pass-file bad --certs-dir refused
assert_contains "$OUT" "cannot decrypt enc.der: wrong passphrase (the first line of bad, --key-pass-file)" "import: wrong passphrase"
[ ! -e refused ] || fail "the refused import wrote $(ls refused)"
tg cert import a.test a.crt enc.der --key-pass-file pass --certs-dir out >/dev/null
cmp <(openssl pkey -in out/a.test.key) <(openssl pkey -in plain.pem) || fail "imported key differs"
assert_eq 600 "$(stat -c %a out/a.test.key)" "imported key mode"
pass "cert import takes the DER key (written decrypted, 0600); a wrong passphrase changes nothing"
