#!/usr/bin/env bash
# cert import (Prosody layout, certbot deploy hook, chain reordering, key
# mismatch refused, owner/mode), cert renew (in place, --exec), request/sign,
# selfsigned, inspect --json, list --json.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca --intermediate >/dev/null
"$TLSGATE" cert issue example.com --dir ca --san conference.example.com >/dev/null

# A certbot-like live dir whose fullchain is in the wrong order (intermediate first).
mkdir -p live/example.com
awk 'BEGIN{n=0} /BEGIN CERT/{n++} {print > ("part" n ".pem")}' ca/issued/example.com.crt
cat part2.pem part1.pem > live/example.com/fullchain.pem
cp ca/issued/example.com.key live/example.com/privkey.pem
"$TLSGATE" cert import example.com live/example.com --certs-dir certs --reload 'touch reloaded' > import.log
assert_contains "$(cat import.log)" "put in order" "reordered chain reported"
[ -f reloaded ] || fail "reload command not run"
first=$(openssl x509 -in certs/example.com.crt -noout -subject)
assert_eq "subject=CN = example.com" "$first" "leaf first after import"
openssl verify -CAfile ca/root.crt -untrusted certs/example.com.crt certs/example.com.crt >/dev/null
assert_eq 600 "$(stat -c %a certs/example.com.key)" "imported key mode"
pass "import from a certbot dir, chain put in order, reload run"

# root:GROUP -> 0640 root-owned (Prosody's advice); USER -> 0600 owned by USER
if [ "$(id -u)" -eq 0 ]; then
	"$TLSGATE" cert import example.com live/example.com --certs-dir certs2 --owner root:daemon >/dev/null
	assert_eq "640 root daemon" "$(stat -c '%a %U %G' certs2/example.com.key)" "root:GROUP key"
	# Prosody's test: the key must not be readable by nobody.
	if runuser -u nobody -- cat certs2/example.com.key >/dev/null 2>&1; then
		fail "nobody can read the imported key"
	fi
	"$TLSGATE" cert import example.com live/example.com --certs-dir certs3 --owner nobody >/dev/null
	assert_eq "600 nobody" "$(stat -c '%a %U' certs3/example.com.key)" "USER key"
	pass "owner and mode"
fi

# A key that does not match is refused, and nothing is changed.
"$TLSGATE" cert issue other.example --dir ca >/dev/null
before=$(sha256sum certs/example.com.crt certs/example.com.key)
expect_fail 1 "$TLSGATE" cert import example.com live/example.com/fullchain.pem \
	ca/issued/other.example.key --certs-dir certs
assert_contains "$OUT" "does not match any certificate" "mismatch refused"
assert_contains "$OUT" "no shared cipher" "mismatch explains the symptom"
assert_eq "$before" "$(sha256sum certs/example.com.crt certs/example.com.key)" "nothing changed"
pass "mismatched key refused"

# certbot deploy hook: no arguments, RENEWED_* in the environment.
RENEWED_LINEAGE=$PWD/live/example.com RENEWED_DOMAINS="example.com conference.example.com" \
	"$TLSGATE" cert import --certs-dir hook >/dev/null
[ -f hook/example.com.crt ] && [ -f hook/conference.example.com.key ] || fail "deploy hook"
pass "certbot deploy hook"

# request + sign + selfsigned
"$TLSGATE" cert request xmpp.example.org conference.xmpp.example.org --new-key >/dev/null
assert_eq 600 "$(stat -c %a xmpp.example.org.key)" "request key mode"
"$TLSGATE" cert sign xmpp.example.org.csr --dir ca --out xmpp.crt >/dev/null
sans=$(openssl x509 -in xmpp.crt -noout -ext subjectAltName | tail -1 | tr -d ' ')
assert_eq "DNS:xmpp.example.org,DNS:conference.xmpp.example.org" "$sans" "CSR SANs kept"
openssl verify -CAfile ca/root.crt -untrusted xmpp.crt -purpose sslserver xmpp.crt >/dev/null
"$TLSGATE" cert selfsigned localhost --out-dir self >/dev/null
openssl verify -CAfile self/localhost.crt self/localhost.crt >/dev/null
pass "request, sign, selfsigned"

# renew: nothing due, then everything due within 2 years
out=$("$TLSGATE" cert renew --dir ca --within 30d)
assert_contains "$out" "nothing renewed" "renew with nothing due"
old=$(openssl x509 -in ca/issued/example.com.crt -noout -serial)
"$TLSGATE" cert renew --dir ca --within 800d --exec 'echo "$TLSGATE_RENEWED" > renewed.txt' > renew.log
new=$(openssl x509 -in ca/issued/example.com.crt -noout -serial)
[ "$old" != "$new" ] || fail "renew did not replace the certificate"
assert_contains "$(cat renewed.txt)" "example.com" "--exec sees the renewed names"
openssl verify -CAfile ca/root.crt -untrusted ca/issued/example.com.crt ca/issued/example.com.crt >/dev/null
openssl x509 -in ca/issued/example.com.crt -noout -ext subjectAltName | grep -q conference.example.com ||
	fail "renewed cert lost a SAN"
key_pub=$(openssl pkey -in ca/issued/example.com.key -pubout)
cert_pub=$(openssl x509 -in ca/issued/example.com.crt -noout -pubkey)
assert_eq "$key_pub" "$cert_pub" "renewed key matches renewed cert"
pass "renew in place with --exec"

# JSON outputs parse and say what they should
"$TLSGATE" cert list --dir ca --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
names = {r["cn"] for r in rows}
assert "example.com" in names and "other.example" in names, names
assert all(len(r["serial"]) == 32 for r in rows if r["profile"] != "root" and r["profile"] != "intermediate")
'
"$TLSGATE" inspect ca/issued/example.com.crt --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["type"] == "certificates" and len(d["certificates"]) == 2, d
assert d["certificates"][0]["subject"] == "CN=example.com"
assert "DNS:conference.example.com" in d["certificates"][0]["sans"]
'
pass "list --json and inspect --json"
