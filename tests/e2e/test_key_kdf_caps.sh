#!/usr/bin/env bash
# Encrypted keys and PKCS#12 files from elsewhere carry their own key
# derivation cost: PBKDF2 at 2^31 iterations, scrypt with a huge p or N*r,
# a PKCS#12 MAC or key bag at 2^31 iterations would keep tlsgate busy for
# hours. src/pki reads the parameters before any passphrase is tried and
# refuses them above its caps, naming the file, the parameter, its value,
# the cap and the fix: in `cert import`, `serve --cert/--key`, `inspect` and
# `check`, at once (each command is bounded by `timeout 20`: the old code
# ran for hours), and nothing is written. A key as openssl writes it loads.
# The files are crafted by tests/e2e/kdf_files.py, which rewrites the
# parameters without deriving anything.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"
craft() { python3 "$TLSGATE_SRC/tests/e2e/kdf_files.py" "$@" || fail "kdf_files.py $*"; }
# A refusal within 20 s (the old code: hours), exit CODE, OUT the output.
refused() {
	local code=$1
	shift
	expect_fail "$code" timeout 20 "$TLSGATE" "$@"
}

printf 'secret\n' >pass
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout plain.key \
	-out a.crt -subj /CN=a.test -addext subjectAltName=DNS:a.test -days 30 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in plain.key -out ok.key -passout file:pass
openssl pkcs8 -topk8 -scrypt -in plain.key -out scrypt.key -passout file:pass
openssl pkcs12 -export -in a.crt -inkey plain.key -out ok.p12 -passout file:pass
openssl pkcs12 -export -in a.crt -inkey plain.key -out nomac.p12 -passout file:pass -nomac \
	-certpbe AES-256-CBC
craft pbkdf2 ok.key pbkdf2.key 2147483647
craft scrypt scrypt.key scrypt-p.key 16384 8 1000000
craft scrypt scrypt.key scrypt-n.key 1048576 8 1
craft p12mac ok.p12 mac.p12 2147483647
craft pbkdf2 nomac.p12 bag.p12 2147483647
craft pbkdf2 nomac.p12 parts.p12 6000000 # each part under the cap, both over it
chmod 600 ./*.key
port=$(free_port) # free_port notes it in the work dir
before=$(snapshot .)

refused 1 cert import a.test a.crt pbkdf2.key --key-pass-file pass --certs-dir out
assert_contains "$OUT" "pbkdf2.key is passphrase-protected with PBKDF2 iterations = 2147483647, above tlsgate's cap of 10000000" "import: file, parameter, value, cap"
assert_contains "$OUT" "openssl pkcs8 -topk8 -v2 aes-256-cbc" "import: the fix"
[ ! -e out ] || fail "cert import wrote $(ls out)"
assert_eq "$before" "$(snapshot .)" "nothing written by the refused import"
pass "cert import refuses a key with PBKDF2 at 2^31 iterations at once; nothing written"

refused 1 serve --listen "127.0.0.1:$port" --target 127.0.0.1:1 --cert a.crt --key pbkdf2.key \
	--pass-file pass
assert_contains "$OUT" "pbkdf2.key is passphrase-protected with PBKDF2 iterations = 2147483647" "serve: refused"
assert_eq "$before" "$(snapshot .)" "nothing written by the refused serve"
pass "serve --key refuses it before listening"

refused 1 inspect scrypt-p.key --pass-file pass
assert_contains "$OUT" "scrypt-p.key is passphrase-protected with scrypt p = 1000000, above tlsgate's cap of 16" "scrypt p"
refused 1 inspect scrypt-n.key --pass-file pass
assert_contains "$OUT" "scrypt-n.key is passphrase-protected with scrypt N*r*p = 8388608, above tlsgate's cap of 4194304" "scrypt N*r"
pass "inspect refuses scrypt with a huge p or N*r"

refused 1 inspect mac.p12 --pass-file pass
assert_contains "$OUT" "mac.p12 is passphrase-protected with PKCS#12 MAC iterations = 2147483647, above tlsgate's cap of 10000000" "p12 MAC"
assert_contains "$OUT" "openssl pkcs12 -export" "p12 fix"
refused 1 inspect bag.p12 --pass-file pass
assert_contains "$OUT" "bag.p12 is passphrase-protected with PBKDF2 iterations = 2147483647" "p12 key bag"
refused 1 inspect parts.p12 --pass-file pass
assert_contains "$OUT" "parts.p12 is passphrase-protected with PBKDF2 iterations (all its parts together) = 12000000, above tlsgate's cap of 10000000" "p12 parts add up"
pass "inspect refuses a PKCS#12 MAC and a key bag at 2^31 iterations, and parts that add up"

for f in pbkdf2.key scrypt-p.key mac.p12 bag.p12; do
	refused 1 check "$f" --pass-file pass
	assert_contains "$OUT" "key-encrypted: $f is passphrase-protected with" "check $f"
	assert_contains "$OUT" "above tlsgate's cap" "check $f: the cap"
done
assert_eq "$before" "$(snapshot .)" "nothing written by inspect and check"
pass "check reports each as key-encrypted with the parameter and the cap"

OUT=$(tg inspect ok.key --pass-file pass)
assert_contains "$OUT" "EC P-256 private key" "a key as openssl writes it"
OUT=$(tg inspect scrypt.key --pass-file pass)
assert_contains "$OUT" "EC P-256 private key" "scrypt as openssl writes it"
OUT=$(tg inspect ok.p12 --pass-file pass)
assert_contains "$OUT" "ok.p12: pkcs12" "a PKCS#12 file as openssl writes it"
tg cert import a.test a.crt ok.key --key-pass-file pass --certs-dir out >/dev/null
cmp <(openssl pkey -in out/a.test.key) <(openssl pkey -in plain.key) || fail "imported key differs"
pass "keys and PKCS#12 files with openssl's default parameters still load"
