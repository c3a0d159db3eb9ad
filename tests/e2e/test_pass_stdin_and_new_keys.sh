#!/usr/bin/env bash
# `--...-pass-file -` reads the first line of standard input; keys can be
# created passphrase-protected (cert issue / cert request --key-pass-file),
# as `openssl pkey -aes256` would write them, and openssl reads them back.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

printf 'ca secret\n' >ca.pass
printf 'key secret\n' >key.pass
tg ca init --dir enc --pass-file ca.pass >/dev/null

# Standard input: only the first line counts.
printf 'ca secret\nsomething else\n' | tg cert issue a.example --dir enc --ca-pass-file - >/dev/null
openssl verify -CAfile enc/root.crt enc/issued/a.example.crt >/dev/null
expect_fail 1 sh -c 'printf "not it\n" | "$0" cert issue b.example --dir enc --ca-pass-file -' "$TLSGATE"
assert_contains "$OUT" "wrong passphrase (the one read from standard input, --ca-pass-file -)" "wrong stdin"
expect_fail 1 sh -c '"$0" cert issue b.example --dir enc --ca-pass-file - </dev/null' "$TLSGATE"
assert_contains "$OUT" "no passphrase on standard input" "empty stdin"
[ ! -e enc/issued/b.example.crt ] || fail "issued without the passphrase"
pass "--ca-pass-file - reads standard input"

# A new key protected with a passphrase, read back by openssl.
tg cert issue k.example --dir enc --ca-pass-file ca.pass --key-pass-file key.pass >issue.log
assert_contains "$(cat issue.log)" "passphrase-protected" "issue says the key is protected"
head -1 enc/issued/k.example.key | grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' ||
	fail "the new key is not PKCS#8-encrypted"
openssl asn1parse -in enc/issued/k.example.key | grep -q aes-256-cbc || fail "not AES-256-CBC"
if openssl pkey -in enc/issued/k.example.key -passin pass:wrong -noout 2>/dev/null; then
	fail "openssl opened the key with a wrong passphrase"
fi
assert_eq "$(openssl x509 -in enc/issued/k.example.crt -noout -pubkey)" \
	"$(openssl pkey -in enc/issued/k.example.key -passin file:key.pass -pubout)" \
	"the protected key belongs to its certificate"
assert_eq 600 "$(stat -c %a enc/issued/k.example.key)" "protected key mode"
pass "cert issue --key-pass-file writes an AES-256 PKCS#8 key openssl opens"

# The same passphrase from standard input, and a batch: one passphrase for all.
printf 'dev1\ndev2\n' >devices.txt
printf 'key secret\n' | tg cert issue --batch devices.txt --dir enc --client --ca-pass-file ca.pass \
	--key-pass-file - >/dev/null
for d in dev1 dev2; do
	openssl pkey -in "enc/issued/$d.key" -passin file:key.pass -noout || fail "$d key"
done
pass "a batch's keys protected with one passphrase from standard input"

# cert request --new-key --key-pass-file: a protected key and a CSR that
# `cert sign` takes; --key with --key-pass-file opens such a key again.
tg cert request h.example --new-key --key-pass-file key.pass >req.log
assert_contains "$(cat req.log)" "passphrase-protected" "request says the key is protected"
openssl req -in h.example.csr -verify -noout 2>/dev/null || fail "CSR signature"
openssl asn1parse -in h.example.key | grep -q aes-256-cbc || fail "request key not AES-256-CBC"
tg cert sign h.example.csr --dir enc --ca-pass-file ca.pass --out h.example.crt >/dev/null
assert_eq "$(openssl x509 -in h.example.crt -noout -pubkey)" \
	"$(openssl pkey -in h.example.key -passin file:key.pass -pubout)" "signed cert matches the key"
printf 'key secret\n' | tg cert request h2.example --key h.example.key --key-pass-file - --out h2.csr >/dev/null
assert_eq "$(openssl req -in h2.csr -noout -pubkey)" "$(openssl pkey -in h.example.key -passin file:key.pass -pubout)" \
	"a CSR from the protected key"
pass "cert request --new-key --key-pass-file, and --key with it"

# key decrypt and inspect read the passphrase from standard input too.
tg key decrypt h.example.key --out plain.key --pass-file - <key.pass >/dev/null
openssl pkey -in plain.key -noout
tg inspect h.example.key --pass-file - <key.pass | grep -q "EC P-256 private key, passphrase-protected" ||
	fail "inspect --pass-file -"
pass "key decrypt and inspect --pass-file -"

# Two passphrases cannot both come from standard input.
before=$(snapshot .)
expect_fail 2 sh -c 'printf "x\n" | "$0" cert issue --batch devices.txt --dir enc --p12 --p12-pass-file - --key-pass-file -' "$TLSGATE"
assert_contains "$OUT" "cannot both read standard input" "two from stdin"
expect_fail 2 sh -c 'printf "x\n" | "$0" cert p12 --cert h.example.crt --key h.example.key --out h.p12 --pass-file - --key-pass-file -' "$TLSGATE"
assert_contains "$OUT" "cannot both read standard input" "two from stdin (p12)"
assert_eq "$before" "$(snapshot .)" "nothing changed"
pass "two passphrases from standard input refused"
