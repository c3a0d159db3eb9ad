#!/usr/bin/env bash
# One PEM splitter (src/pki/pem.c) for the loaders and the checker: a block
# of a chain that is cut short, has damaged base64 or ends with the END line
# of another label is refused where the file is loaded (`inspect`, `cert
# import`, `serve --cert`) and reported by `check`, each naming the block's
# number, label and line; nothing is written. OpenSSL's reader used to stop
# at such a block and hand back the certificates before it: a chain missing
# its intermediate, without a word.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

for n in a b; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key \
		-out $n.crt -subj /CN=$n.test -addext subjectAltName=DNS:$n.test -days 30 2>/dev/null
done
lines=$(wc -l <a.crt) # block 2 begins on the line after a.crt
line2=$((lines + 1))
{ cat a.crt; head -n 4 b.crt; } >cut.pem
{ cat a.crt; sed '3s/[A-Za-z]/%/' b.crt; } >bad64.pem
{ cat a.crt; sed 's/END CERTIFICATE/END X509 CRL/' b.crt; } >mismatch.pem
{ head -n 4 a.crt; cat b.crt; } >nested.pem
{ head -n 3 a.key; } >cut.key
chmod 600 ./*.key
port=$(free_port) # free_port notes it in the work dir
before=$(snapshot .)

expect_fail 1 tg inspect cut.pem
assert_contains "$OUT" "cut.pem is damaged: PEM block 2 (CERTIFICATE, line $line2) has no END line: cut short" "cut short"
expect_fail 1 tg inspect bad64.pem
assert_contains "$OUT" "bad64.pem is damaged: PEM block 2 (CERTIFICATE, line $line2) does not decode" "bad base64"
expect_fail 1 tg inspect mismatch.pem
assert_contains "$OUT" "mismatch.pem is damaged: PEM block 2 (CERTIFICATE, line $line2) ends with END X509 CRL, not END CERTIFICATE" "END mismatch"
pass "inspect refuses a chain whose second block is cut short, garbled or mis-ended, naming it"

expect_fail 1 tg cert import a.test cut.pem a.key --certs-dir out
assert_contains "$OUT" "cut.pem is damaged: PEM block 2 (CERTIFICATE, line $line2) has no END line" "import"
expect_fail 1 tg serve --listen "127.0.0.1:$port" --target 127.0.0.1:1 --cert bad64.pem --key a.key
assert_contains "$OUT" "bad64.pem is damaged: PEM block 2 (CERTIFICATE, line $line2) does not decode" "serve"
expect_fail 1 tg inspect cut.key
assert_contains "$OUT" "cut.key is damaged: PEM block 1 (PRIVATE KEY, line 1) has no END line" "key"
assert_eq "$before" "$(snapshot .)" "nothing written"
pass "cert import, serve --cert and a key load refuse them too; nothing written"

expect_fail 1 tg check mismatch.pem
assert_contains "$OUT" "pem-corrupt: mismatch.pem: 1 PEM block(s) (CERTIFICATE) do not decode" "check counts it"
assert_contains "$OUT" "the first: PEM block 2 (CERTIFICATE, line $line2) ends with END X509 CRL, not END CERTIFICATE" "check places it"
expect_fail 1 tg check nested.pem
assert_contains "$OUT" "the first: PEM block 1 (CERTIFICATE, line 1) has no END line: cut short" "BEGIN inside a block"
OUT=$(tg inspect b.crt)
assert_contains "$OUT" "CN=b.test" "a whole certificate loads"
pass "check places the bad block; a BEGIN inside a block ends the one before"
