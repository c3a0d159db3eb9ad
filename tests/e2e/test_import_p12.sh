#!/usr/bin/env bash
# cert import takes a PKCS#12 file (.p12/.pfx, told by content) as its one
# SRC: files written by `openssl pkcs12 -export` with its defaults, with
# -keypbe/-certpbe AES-256-CBC, with an empty passphrase, and with one typed
# at a terminal are installed as the PEM files are (leaf, then its chain; key
# 0600 matching the leaf), and openssl s_server serves what was installed to
# an s_client that verifies it. Refused, each with the file, the cause and
# the fix, the certs dir unchanged: a wrong or missing passphrase, a bundle
# without a key, one whose key has no certificate in it, a keystore of two
# entries (keytool), a MAC that fails with the right passphrase (the file
# was altered), a MAC above the KDF cap (refused before the passphrase is
# read), a PKCS#12 given with other files.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir ca --intermediate >/dev/null
tg cert issue localhost --dir ca >/dev/null
# The chain as issued (leaf, intermediate) and the root after it.
cat ca/issued/localhost.crt ca/root.crt >full.crt
printf 'secret\n' >pass
printf 'not it\n' >bad
export_p12() { # export_p12 OUT [openssl pkcs12 -export options...]
	local out=$1
	shift
	openssl pkcs12 -export -in full.crt -inkey ca/issued/localhost.key -out "$out" "$@" ||
		fail "openssl pkcs12 -export $*"
}
export_p12 default.p12 -passout file:pass
export_p12 aes.p12 -passout file:pass -keypbe AES-256-CBC -certpbe AES-256-CBC
export_p12 empty.p12 -passout pass:
export_p12 typed.p12 -passout file:pass

# imported DIR: DIR/localhost.{crt,key} hold the leaf first, its chain, and
# the key of the leaf, with the modes the PEM import gives.
imported() {
	local d=$1
	assert_eq 600 "$(stat -c %a "$d/localhost.key")" "$d: key mode"
	assert_eq 644 "$(stat -c %a "$d/localhost.crt")" "$d: certificate mode"
	cmp <(openssl x509 -in "$d/localhost.crt" -outform DER) \
		<(openssl x509 -in ca/issued/localhost.crt -outform DER) || fail "$d: the leaf is not first"
	assert_eq 3 "$(grep -c 'BEGIN CERTIFICATE' "$d/localhost.crt")" "$d: leaf, intermediate, root"
	cmp <(openssl pkey -in "$d/localhost.key" -pubout) \
		<(openssl x509 -in "$d/localhost.crt" -pubkey -noout) || fail "$d: key of another certificate"
	openssl verify -CAfile ca/root.crt -untrusted "$d/localhost.crt" "$d/localhost.crt" >/dev/null ||
		fail "$d: the chain does not verify"
}

for f in default aes; do
	OUT=$(tg cert import localhost "$f.p12" --key-pass-file pass --certs-dir "$f")
	assert_contains "$OUT" "Imported localhost: $f/localhost.crt and $f/localhost.key (key mode 0600)" "$f.p12"
	imported "$f"
done
OUT=$(tg cert import localhost empty.p12 --certs-dir empty)
imported empty
python3 "$TLSGATE_SRC/tests/e2e/lib/pty_run.py" typed.tty 'Passphrase for the PKCS#12 file typed.p12: ' \
	secret -- "$TLSGATE" cert import localhost typed.p12 --certs-dir typed ||
	fail "import with a typed passphrase: $(cat typed.tty)"
assert_not_contains "$(cat typed.tty)" "secret" "the typed passphrase was echoed"
imported typed
pass "PKCS#12 from openssl pkcs12 -export (defaults, AES-256-CBC, empty passphrase, typed) imported"

port=$(free_port)
start_bg s_server openssl s_server -accept "$port" -cert aes/localhost.crt \
	-key aes/localhost.key -cert_chain aes/localhost.crt -www
wait_port "$port"
OUT=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile ca/root.crt \
	-verify_hostname localhost -verify_return_error </dev/null 2>&1) || fail "s_client: $OUT"
assert_contains "$OUT" "Verify return code: 0 (ok)" "s_client verifies what was imported"
pass "openssl s_server serves the imported files, s_client verifies them as localhost"

# The refusals: the certs dir holds an earlier import and stays as it was.
mkdir certs
tg cert import localhost default.p12 --key-pass-file pass --certs-dir certs >/dev/null
before=$(snapshot certs)
refused() { # refused WHAT NEEDLE... : OUT names each NEEDLE; nothing changed
	local what=$1 n
	shift
	for n in "$@"; do assert_contains "$OUT" "$n" "$what"; done
	assert_eq "$before" "$(snapshot certs)" "$what: the certs dir changed"
}

expect_fail 1 tg cert import localhost default.p12 --key-pass-file bad --certs-dir certs
refused "wrong passphrase" "cannot open PKCS#12 default.p12: wrong passphrase (the first line of bad, --key-pass-file)" \
	"give the passphrase it was exported with"
expect_fail 1 tg cert import localhost default.p12 --certs-dir certs
refused "no passphrase" "PKCS#12 default.p12 is protected by a passphrase; give --key-pass-file FILE"
pass "a wrong or missing passphrase is refused, naming the option"

openssl pkcs12 -export -nokeys -in full.crt -out nokey.p12 -passout file:pass
expect_fail 1 tg cert import localhost nokey.p12 --key-pass-file pass --certs-dir certs
refused "no key" "nokey.p12 holds no private key (3 certificate(s) only): export it again with the key"
# A key with a certificate of another key (openssl will not write one).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
python3 - <<'EOF' || fail "cryptography could not write mismatch.p12"
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption,
                                                          load_pem_private_key, pkcs12)
key = load_pem_private_key(open("other.key", "rb").read(), None)
cert = x509.load_pem_x509_certificate(open("ca/issued/localhost.crt", "rb").read())
der = pkcs12.serialize_key_and_certificates(b"x", key, None, [cert], BestAvailableEncryption(b"secret"))
open("mismatch.p12", "wb").write(der)
EOF
expect_fail 1 tg cert import localhost mismatch.p12 --key-pass-file pass --certs-dir certs
refused "key without its certificate" "mismatch.p12 holds a private key but not its certificate: the certificates it holds (CN=localhost) belong to other keys" \
	"export the key together with the certificate issued for it"
for alias in a b; do
	keytool -genkeypair -keystore two.p12 -storetype PKCS12 -storepass secret -alias "$alias" \
		-dname "CN=$alias.localhost" -keyalg EC -groupname secp256r1 >keytool.log 2>&1 ||
		fail "keytool: $(cat keytool.log)"
done
expect_fail 1 tg cert import localhost two.p12 --key-pass-file pass --certs-dir certs
refused "two keys" "two.p12 holds 2 private keys (a keystore of several entries)" "-srcalias ALIAS"
pass "no key, a key without its certificate, two keys: each refused, nothing changed"

# One byte of the MAC's salt changed: the passphrase still decrypts the
# contents, the MAC fails.
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-8] ^= 1; open(sys.argv[2], "wb").write(d)' \
	default.p12 altered.p12
expect_fail 1 tg cert import localhost altered.p12 --key-pass-file pass --certs-dir certs
refused "altered" "PKCS#12 altered.p12 was altered or damaged after it was exported: the passphrase decrypts it, but its integrity check (MAC) fails" \
	"export it again from its source"
# The cost is read before the passphrase: a passphrase file that does not
# exist is never reached.
python3 "$TLSGATE_SRC/tests/e2e/kdf_files.py" p12mac default.p12 costly.p12 2147483647
expect_fail 1 timeout 20 "$TLSGATE" cert import localhost costly.p12 --key-pass-file missing --certs-dir certs
refused "KDF cap" "costly.p12 is passphrase-protected with PKCS#12 MAC iterations = 2147483647, above tlsgate's cap of 10000000"
expect_fail 2 tg cert import localhost default.p12 ca/issued/localhost.key --certs-dir certs
refused "with other files" "default.p12 is a PKCS#12 file, which holds the certificate and key both: give it alone as SRC"
pass "an altered MAC, a MAC above the cap (before the passphrase), a PKCS#12 among other files: refused"
