#!/usr/bin/env bash
# Passphrases typed at a terminal (a pseudo-terminal here, lib/pty_run.py):
# asked on /dev/tty without echo, twice when one is created (a mismatch is
# refused and nothing written), and accepted by openssl afterwards.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

PTY=(python3 "$TLSGATE_SRC/tests/e2e/lib/pty_run.py")
SECRET='Tr0ub4dor&3 horse'

# no_echo TRANSCRIPT WHAT: the typed secret never showed on the terminal.
no_echo() {
	assert_not_contains "$(cat "$1")" "Tr0ub4dor" "$2: the passphrase was echoed"
}

# A new CA key: asked twice, not echoed, and openssl opens it with it.
"${PTY[@]}" init.tty 'New passphrase for the new CA keys: ' "$SECRET" 'Type it again: ' "$SECRET" \
	-- "$TLSGATE" ca init --dir enc --pass-file - || fail "ca init on a terminal: $(cat init.tty)"
no_echo init.tty "ca init"
head -1 enc/private/root.key | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' || fail "root key not encrypted"
openssl pkey -in enc/private/root.key -passin "pass:$SECRET" -noout || fail "openssl cannot open the root key"
pass "ca init --pass-file - on a terminal: asked twice, no echo, openssl agrees"

# Two different answers: refused, no CA created.
rc=0
"${PTY[@]}" mismatch.tty 'New passphrase' "$SECRET" 'again' "${SECRET}x" \
	-- "$TLSGATE" ca init --dir enc2 --pass-file - || rc=$?
assert_eq 2 "$rc" "mismatched passphrases exit"
assert_contains "$(cat mismatch.tty)" "the two passphrases differ" "mismatch reason"
[ ! -e enc2 ] || fail "a CA was created with mismatched passphrases"
pass "a mismatch is refused and nothing is written"

# The CA key's passphrase, asked for when --ca-pass-file is not given.
"${PTY[@]}" issue.tty 'Passphrase for the key enc/private/root.key: ' "$SECRET" \
	-- "$TLSGATE" cert issue a.example --dir enc || fail "issue with a typed CA passphrase: $(cat issue.tty)"
no_echo issue.tty "cert issue"
openssl verify -CAfile enc/root.crt enc/issued/a.example.crt >/dev/null
rc=0
"${PTY[@]}" wrong.tty 'Passphrase for the key' 'not it' -- "$TLSGATE" cert issue b.example --dir enc || rc=$?
assert_eq 1 "$rc" "wrong typed passphrase exit"
assert_contains "$(cat wrong.tty)" "wrong passphrase (the one typed at the prompt)" "wrong typed passphrase"
[ ! -e enc/issued/b.example.crt ] || fail "issued with a wrong passphrase"
pass "the CA key's passphrase is asked for on a terminal"

# A PKCS#12 export password: asked twice; openssl opens the file with it.
"${PTY[@]}" p12.tty 'New passphrase for the PKCS#12 file: ' "$SECRET" 'Type it again: ' "$SECRET" \
	'Passphrase for the key enc/private/root.key: ' "$SECRET" \
	-- "$TLSGATE" cert issue alice --dir enc --client --p12 || fail "p12 on a terminal: $(cat p12.tty)"
no_echo p12.tty "cert issue --p12"
openssl pkcs12 -in enc/issued/alice.p12 -passin "pass:$SECRET" -noout ||
	fail "openssl cannot open the p12 with the typed password"
if openssl pkcs12 -in enc/issued/alice.p12 -passin pass: -noout 2>/dev/null; then
	fail "the p12 opens with an empty password"
fi
pass "cert issue --p12 asks for the export password twice"

# A new key's passphrase (--key-pass-file - on a terminal) and opening it
# again with key decrypt, asked for.
"${PTY[@]}" req.tty 'New passphrase for the new key: ' "$SECRET" 'Type it again: ' "$SECRET" \
	-- "$TLSGATE" cert request h.example --new-key --key-pass-file - || fail "request: $(cat req.tty)"
no_echo req.tty "cert request"
openssl pkey -in h.example.key -passin "pass:$SECRET" -noout || fail "openssl cannot open the new key"
"${PTY[@]}" dec.tty 'Passphrase for the key h.example.key: ' "$SECRET" \
	-- "$TLSGATE" key decrypt h.example.key --out plain.key || fail "key decrypt: $(cat dec.tty)"
no_echo dec.tty "key decrypt"
assert_eq "$(openssl pkey -in h.example.key -passin "pass:$SECRET" -pubout)" \
	"$(openssl pkey -in plain.key -pubout)" "decrypted key is the same key"
pass "new key passphrase and key decrypt asked for on a terminal"
