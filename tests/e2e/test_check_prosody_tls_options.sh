#!/usr/bin/env bash
# tlsgate check --prosody-config follows what Prosody does with an ssl
# table's `password` (it opens the key with a literal one; a wrong one is
# key-encrypted naming it; one that is Lua tlsgate does not run is a note),
# reads a service's own certificate (https_certificate, per port), and,
# given no --ca, tells a private root it was not given (chain-root-unknown,
# a note) from a missing intermediate (chain-incomplete, an error);
# name-mismatch writes IP SANs as addresses.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pki.sh
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
cd "$WORK"
P=$WORK/pki
mkdir -p "$P" etc/certs
pki_cert "$P/root" self root "/CN=Private Root"
pki_cert "$P/inter" "$P/root" inter "/CN=Private Inter"
for h in a b c https; do
	pki_cert "$P/$h" "$P/inter" server "/CN=$h.example" "DNS:$h.example,IP:127.0.0.1"
	cat "$P/$h.crt" "$P/inter.crt" >"etc/certs/$h.crt"
	openssl pkey -in "$P/$h.key" -aes256 -passout pass:s3cret -out "etc/certs/$h.key"
done
install -m 600 "$P/https.key" etc/certs/https.key
cat "$P/a.crt" >etc/certs/d.crt # no intermediate
install -m 600 "$P/a.key" etc/certs/d.key
chmod 600 etc/certs/*.key
cat >etc/prosody.cfg.lua <<'EOF'
https_certificate = { [5281] = "certs/https.crt" }
VirtualHost "a.example"
ssl = { certificate = "certs/a.crt"; key = "certs/a.key"; password = "s3cret" }
VirtualHost "b.example"
ssl = { certificate = "certs/b.crt"; key = "certs/b.key"; password = "wrong" }
VirtualHost "c.example"
ssl = { certificate = "certs/c.crt"; key = "certs/c.key"; password = os.getenv("KEYPASS") }
VirtualHost "d.example"
ssl = { certificate = "certs/d.crt"; key = "certs/d.key" }
EOF
rc=0
tg check --prosody-config etc/prosody.cfg.lua --no-system-ca --json >out.json || rc=$?
assert_eq 1 "$rc" "exit: b.example's wrong password, d.example's missing intermediate and name"
findings() { # SUBJECT-SUFFIX: "severity code" lines
	jq -r --arg s "$1" '.subjects[] | select(.subject | endswith($s)) | .findings[] |
		"\(.severity) \(.code)"' out.json | sort | paste -sd, -
}
assert_eq "info chain-root-unknown" "$(findings certs/a.crt)" "a.example: the password opens the key"
assert_eq "error key-encrypted,info chain-root-unknown" "$(findings certs/b.crt)" \
	"b.example: the wrong password"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "key-encrypted") | .message' out.json)" \
	"the passphrase from Prosody's ssl password (etc/prosody.cfg.lua:5) does not decrypt it" \
	"key-encrypted names the password setting"
assert_eq "info chain-root-unknown,info key-passphrase-external" "$(findings certs/c.crt)" \
	"c.example: a password tlsgate does not evaluate"
assert_eq "info chain-root-unknown" "$(findings certs/https.crt)" "https_certificate's pair is checked"
assert_eq "error chain-incomplete,error name-mismatch" "$(findings certs/d.crt)" \
	"d.example: the intermediate is missing, and the certificate is a.example's"
msg=$(jq -r '.subjects[].findings[] | select(.code == "name-mismatch") | .message' out.json)
assert_contains "$msg" "it covers DNS:a.example,IP:127.0.0.1" "an IP SAN written as an address"
assert_not_contains "$msg" "bytes)" "no byte counts for addresses"
pass "password followed, https_certificate checked, a private root not given is a note"

# Given the root, the notes go and the missing intermediate stays an error.
rc=0
tg check --prosody-config etc/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca --json >out.json || rc=$?
assert_eq 1 "$rc" "exit with --ca"
assert_eq "" "$(findings certs/a.crt)" "a.example with --ca"
assert_eq "error chain-incomplete,error name-mismatch" "$(findings certs/d.crt)" "d.example with --ca"
pass "with --ca: a.example clean, d.example's missing intermediate still an error"
