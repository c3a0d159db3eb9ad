#!/usr/bin/env bash
# A --crl file that cannot be used stops the gateway at start with a
# message naming the file and what is wrong: a garbled or cut-short CRL
# after good ones (named by its place in the file: it used to be dropped
# silently, with every CRL after it), a CRL from another CA, and one from
# another CA of the same name. Nothing is left listening. (On reload the
# same files keep the running configuration: test_crl_watch.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$WORK"
tg ca init --dir pki --name "Files CA" >/dev/null
tg cert issue localhost --dir pki --san 127.0.0.1 >/dev/null
tg crl --dir pki >/dev/null
tg ca init --dir other --name "Other CA" >/dev/null
tg crl --dir other >/dev/null
tg ca init --dir twin --name "Files CA" >/dev/null
tg crl --dir twin >/dev/null
head -c 300 /dev/urandom | base64 | sed '1i -----BEGIN X509 CRL-----' | sed '$a -----END X509 CRL-----' >garbage.crl
cat pki/crl.pem garbage.crl >good-garbled.crl
cat pki/crl.pem pki/crl.pem garbage.crl pki/crl.pem >third-garbled.crl
{ cat pki/crl.pem; head -n 3 pki/crl.pem; } >good-cut.crl

G=$(free_port)
serve() { # CRL-FILE: start the gateway with it; must fail
	expect_fail 1 timeout 10 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:1 \
		--cert pki/issued/localhost.crt --key pki/issued/localhost.key --client-ca pki/root.crt \
		--verify require --crl "$1" --workers 1
	if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$G" 2>/dev/null; then
		fail "--crl $1: something listens on $G after the refusal"
	fi
}
serve good-garbled.crl
assert_contains "$OUT" "--crl: good-garbled.crl: CRL 2 of the file (counted from the top, after 1 that parse) does not parse (garbled, or cut short while copied)" \
	"a garbled CRL after a good one"
serve third-garbled.crl
assert_contains "$OUT" "third-garbled.crl: CRL 3 of the file (counted from the top, after 2 that parse) does not parse" \
	"a garbled CRL between good ones is named by its place"
serve good-cut.crl
assert_contains "$OUT" "good-cut.crl: CRL 2 of the file (counted from the top, after 1 that parse) does not parse" \
	"a CRL cut short after a good one"
serve garbage.crl
assert_contains "$OUT" "garbage.crl: its CRL does not parse" "a file of one garbled CRL"
pass "a CRL that does not parse, wherever it is in the file, stops the start and is named"

serve other/crl.pem
assert_contains "$OUT" "issued by" "a CRL from another CA"
assert_contains "$OUT" "Other CA" "the message names the CRL's issuer"
assert_contains "$OUT" "which is not a CA of --client-ca pki/root.crt" "... and the option it is not in"
serve twin/crl.pem
assert_contains "$OUT" "its signature does not verify with the key of CN=Files CA in --client-ca pki/root.crt" \
	"a CRL from another CA of the same name"
pass "a CRL signed by another CA stops the start with a clear error"
