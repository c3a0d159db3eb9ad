#!/usr/bin/env bash
# tlsgate check --prosody-config follows what Prosody does with an ssl
# table's `password` (it opens the key with a literal one; a wrong one is
# key-encrypted naming it; one that is Lua tlsgate does not run is a note),
# reads a service's own certificate (https_certificate, per port), and,
# given no --ca, tells a private root it was not given (chain-root-unknown,
# a note) from a missing intermediate (chain-incomplete, an error);
# name-mismatch writes IP SANs as addresses. Prosody's account must read
# the keys (prosody_user, default prosody); and with a certificate in the
# certs dir, Prosody 0.12 serves that on the https port, not the file
# https_certificate names (prosody-service-cert-unused, a warning).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/pki.sh
. "$TLSGATE_SRC/tests/e2e/lib/pki.sh"
cd "$WORK"
P=$WORK/pki
mkdir -p "$P" etc/tls
pki_cert "$P/root" self root "/CN=Private Root"
pki_cert "$P/inter" "$P/root" inter "/CN=Private Inter"
for h in a b c https; do
	pki_cert "$P/$h" "$P/inter" server "/CN=$h.example" "DNS:$h.example,IP:127.0.0.1"
	cat "$P/$h.crt" "$P/inter.crt" >"etc/tls/$h.crt"
	openssl pkey -in "$P/$h.key" -aes256 -passout pass:s3cret -out "etc/tls/$h.key"
done
install -m 600 "$P/https.key" etc/tls/https.key
cat "$P/a.crt" >etc/tls/d.crt # no intermediate
install -m 600 "$P/a.key" etc/tls/d.key
# As `prosodyctl cert import` leaves keys: root:prosody 0640, so the
# prosody account (whose reading is checked by default) opens them.
chmod 640 etc/tls/*.key
! id prosody >/dev/null 2>&1 || chgrp prosody etc/tls/*.key
cat >etc/prosody.cfg.lua <<'EOF'
https_certificate = { [5281] = "tls/https.crt" }
VirtualHost "a.example"
ssl = { certificate = "tls/a.crt"; key = "tls/a.key"; password = "s3cret" }
VirtualHost "b.example"
ssl = { certificate = "tls/b.crt"; key = "tls/b.key"; password = "wrong" }
VirtualHost "c.example"
ssl = { certificate = "tls/c.crt"; key = "tls/c.key"; password = os.getenv("KEYPASS") }
VirtualHost "d.example"
ssl = { certificate = "tls/d.crt"; key = "tls/d.key" }
EOF
rc=0
tg check --prosody-config etc/prosody.cfg.lua --no-system-ca --json >out.json || rc=$?
assert_eq 1 "$rc" "exit: b.example's wrong password, d.example's missing intermediate and name"
findings() { # SUBJECT-SUFFIX: "severity code" lines
	jq -r --arg s "$1" '.subjects[] | select(.subject | endswith($s)) | .findings[] |
		"\(.severity) \(.code)"' out.json | sort | paste -sd, -
}
assert_eq "info chain-root-unknown" "$(findings tls/a.crt)" "a.example: the password opens the key"
assert_eq "error key-encrypted,info chain-root-unknown" "$(findings tls/b.crt)" \
	"b.example: the wrong password"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "key-encrypted") | .message' out.json)" \
	"the passphrase from Prosody's ssl password (etc/prosody.cfg.lua:5) does not decrypt it" \
	"key-encrypted names the password setting"
assert_eq "info chain-root-unknown,info key-passphrase-external" "$(findings tls/c.crt)" \
	"c.example: a password tlsgate does not evaluate"
assert_eq "info chain-root-unknown" "$(findings tls/https.crt)" "https_certificate's pair is checked"
assert_eq "error chain-incomplete,error name-mismatch" "$(findings tls/d.crt)" \
	"d.example: the intermediate is missing, and the certificate is a.example's"
msg=$(jq -r '.subjects[].findings[] | select(.code == "name-mismatch") | .message' out.json)
assert_contains "$msg" "it covers DNS:a.example,IP:127.0.0.1" "an IP SAN written as an address"
assert_not_contains "$msg" "bytes)" "no byte counts for addresses"
pass "password followed, https_certificate checked, a private root not given is a note"

# Given the root, the notes go and the missing intermediate stays an error.
rc=0
tg check --prosody-config etc/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca --json >out.json || rc=$?
assert_eq 1 "$rc" "exit with --ca"
assert_eq "" "$(findings tls/a.crt)" "a.example with --ca"
assert_eq "error chain-incomplete,error name-mismatch" "$(findings tls/d.crt)" "d.example with --ca"
pass "with --ca: a.example clean, d.example's missing intermediate still an error"

# Prosody's account reads the keys: a 0600 root key is an error naming it,
# prosody_user changes the account, --owner overrides both.
id prosody >/dev/null 2>&1 || fail "no prosody account (apt-get install prosody)"
mkdir -p own/certs
cp etc/tls/a.crt own/certs/a.example.crt
install -m 600 "$P/a.key" own/certs/a.example.key
printf 'VirtualHost "a.example"\n' >own/prosody.cfg.lua
rc=0
tg check --prosody-config own/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca --json >own.json || rc=$?
assert_eq 1 "$rc" "a key the prosody account cannot open"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "key-service-unreadable") | .message' own.json)" \
	"(Prosody's account: its service runs it as prosody; give --owner when it runs as another account)" \
	"key-service-unreadable names Prosody's account"
printf 'prosody_user = "root"\nVirtualHost "a.example"\n' >own/prosody.cfg.lua
tg check --prosody-config own/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca >/dev/null ||
	fail "prosody_user = \"root\": root reads the key"
printf 'VirtualHost "a.example"\n' >own/prosody.cfg.lua
tg check --prosody-config own/prosody.cfg.lua --owner root --ca "$P/root.crt" --no-system-ca >/dev/null ||
	fail "--owner root: root reads the key"
pass "the prosody account must read the key; prosody_user and --owner say otherwise"

# https_certificate while the certs dir holds a certificate: Prosody serves
# that one on the https port, never the file named (an expired one here).
mkdir -p shadow/certs shadow/tls
pki_cert "$P/old" "$P/inter" server "/CN=https.example" "DNS:https.example" "-400 days" "-1 day"
cat "$P/old.crt" "$P/inter.crt" >shadow/tls/https.crt
install -m 600 "$P/old.key" shadow/tls/https.key
cp etc/tls/a.crt shadow/certs/a.example.crt
install -m 640 -g prosody "$P/a.key" shadow/certs/a.example.key
chmod 644 shadow/tls/https.key # prosody may read it: only its use is in question
printf 'https_certificate = { [5281] = "tls/https.crt" }\nVirtualHost "a.example"\n' >shadow/prosody.cfg.lua
rc=0
tg check --prosody-config shadow/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca --json >shadow.json || rc=$?
assert_eq 0 "$rc" "the expired https_certificate is never served"
assert_eq "prosody-service-cert-unused" \
	"$(jq -r '[.subjects[].findings[] | select(.severity != "info") | .code] | unique | join(" ")' shadow.json)" \
	"shadowed https_certificate"
assert_contains "$(jq -r '.subjects[].findings[] | select(.code == "prosody-service-cert-unused") | .message' shadow.json)" \
	"shadow/prosody.cfg.lua:1: https_certificate (port 5281) names shadow/tls/https.crt, which Prosody may not use: while its certs dir shadow/certs holds another certificate (shadow/certs/a.example.crt), it serves the https port one from there, whatever its names" \
	"the warning names both files"
# Without a usable certificate in the certs dir (an expired one does not
# count, nor one without its key), the file named is served and checked.
rm shadow/certs/a.example.key
rc=0
tg check --prosody-config shadow/prosody.cfg.lua --ca "$P/root.crt" --no-system-ca --json >shadow.json || rc=$?
assert_eq 1 "$rc" "with no key beside it the certs dir's certificate is not indexed"
assert_contains "$(jq -r '[.subjects[].findings[].code] | join(" ")' shadow.json)" "expired" \
	"the https_certificate's expired leaf"
pass "https_certificate behind a certs dir certificate is a warning, else checked"
