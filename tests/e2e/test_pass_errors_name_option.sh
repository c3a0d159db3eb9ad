#!/usr/bin/env bash
# A missing or wrong passphrase is reported with the option of the command
# that was run (from its own option table): --key-pass-file for cert import
# and cert p12's key, --pass-file for key decrypt, --ca-pass-file (or
# $TLSGATE_CA_PASS_FILE) for a CA key, never another command's option and
# never "decrypt the CA key". Nothing is written.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

printf 'right\n' >pass
printf 'wrong\n' >wrong
tg ca init --dir enc --intermediate --pass-file pass >/dev/null
tg cert issue a.example --dir enc --ca-pass-file pass >/dev/null
openssl pkey -in enc/issued/a.example.key -aes256 -passout file:pass -out a.key
mv a.key enc/issued/a.example.key
before=$(snapshot .)

# no_other_option WHAT: the message names no option but its own.
no_other_option() {
	local own=$1 what=$2 o
	for o in --pass-file --key-pass-file --ca-pass-file --p12-pass-file; do
		[ "$o" = "$own" ] && continue
		case "$OUT" in *" $o "* | *" $o)"* | *" $o,"*) fail "$what names $o: $OUT" ;; esac
	done
	assert_not_contains "$OUT" "key decrypt" "$what suggests key decrypt"
}

expect_fail 1 tg cert import a.example enc/issued/a.example.crt enc/issued/a.example.key \
	--certs-dir certs
assert_contains "$OUT" "enc/issued/a.example.key is protected by a passphrase; give --key-pass-file FILE" "import"
no_other_option --key-pass-file "import"
expect_fail 1 tg cert import a.example enc/issued/a.example.crt enc/issued/a.example.key \
	--certs-dir certs --key-pass-file wrong
assert_contains "$OUT" "wrong passphrase (the first line of wrong, --key-pass-file)" "import, wrong"
pass "cert import names --key-pass-file"

expect_fail 1 tg cert p12 --cert enc/issued/a.example.crt --key enc/issued/a.example.key \
	--out a.p12 --pass-file pass
assert_contains "$OUT" "is protected by a passphrase; give --key-pass-file FILE" "p12 key"
no_other_option --key-pass-file "cert p12"
pass "cert p12 names --key-pass-file for the key (--pass-file is the export password)"

expect_fail 1 tg key decrypt enc/issued/a.example.key --out plain.key
assert_contains "$OUT" "is protected by a passphrase; give --pass-file FILE" "key decrypt"
no_other_option --pass-file "key decrypt"
pass "key decrypt names --pass-file"

expect_fail 1 env -u TLSGATE_CA_PASS_FILE "$TLSGATE" cert issue b.example --dir enc
assert_contains "$OUT" "enc/private/intermediate.key is protected by a passphrase; give --ca-pass-file FILE" "CA key"
assert_contains "$OUT" "or set \$TLSGATE_CA_PASS_FILE" "CA key: the variable"
no_other_option --ca-pass-file "CA key"
expect_fail 1 env TLSGATE_CA_PASS_FILE=wrong "$TLSGATE" cert issue b.example --dir enc
assert_contains "$OUT" "wrong passphrase (the first line of wrong, \$TLSGATE_CA_PASS_FILE)" "CA, wrong via env"
expect_fail 1 tg crl --dir enc
assert_contains "$OUT" "give --ca-pass-file FILE" "crl"
no_other_option --ca-pass-file "crl"
pass "a CA key names --ca-pass-file and \$TLSGATE_CA_PASS_FILE, never key decrypt"

assert_eq "$before" "$(snapshot .)" "nothing changed"
pass "nothing written by the refusals"
