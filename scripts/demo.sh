#!/usr/bin/env bash
# The tlsgate demo: a private CA with mutual TLS, from nothing, in a few
# commands, each result checked by openssl. Uses the embedded SQLite inventory.
# Everything is written under demo-out/ (removed and made anew on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build
T=$PWD/build/tlsgate
OUT=$PWD/demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. A certificate authority (root + intermediate), inventory in SQLite"
run "$T" ca init --dir pki --name "Demo Corp CA" --intermediate

step "2. A server certificate for localhost (DNS and IP SANs) and client certificates"
run "$T" cert issue localhost --dir pki --san 127.0.0.1 --san ::1
run "$T" cert issue alice --dir pki --client --p12
run "$T" cert issue mallory --dir pki --client

step "3. openssl agrees: chains verify strictly, for the right purpose"
run openssl verify -x509_strict -purpose sslserver -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/localhost.crt
run openssl verify -x509_strict -purpose sslclient -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/alice.crt
run openssl pkcs12 -in pki/issued/alice.p12 -passin pass: -noout -info 2>&1 | grep -E 'MAC|PBES2|AES' | head -3

step "4. Revoke mallory, publish the CRL, and openssl now refuses mallory"
run "$T" cert revoke --cert pki/issued/mallory.crt --dir pki --reason keyCompromise
run "$T" crl --dir pki
run openssl verify -crl_check -CRLfile pki/crl.pem -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/alice.crt
if openssl verify -crl_check -CRLfile pki/crl.pem -CAfile pki/root.crt -untrusted pki/intermediate.crt pki/issued/mallory.crt 2>&1; then
	echo "demo: mallory should have been refused" >&2
	exit 1
fi
echo "(mallory refused, as it must be)"

step "5. The inventory"
run "$T" cert list --dir pki

printf '\nDemo complete. Files are in %s.\n' "$OUT"
