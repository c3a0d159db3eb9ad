#!/usr/bin/env bash
# Long options match only by their exact name, in every command: an
# abbreviation (which getopt_long would take) or a typo is a usage error that
# names the nearest real option, and nothing is written.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir pki >/dev/null
tg cert issue srv.example --dir pki >/dev/null
before=$(snapshot .)

# `--ou` was taken as --out-dir: the key went to ./Finance.
expect_fail 2 tg cert issue x --dir pki --client --ou Finance
assert_contains "$OUT" "unknown option --ou; did you mean --out-dir?" "--ou"
[ ! -e Finance ] || fail "--ou wrote into ./Finance"
[ ! -e pki/issued/x.crt ] || fail "--ou issued a certificate"
assert_eq "$before" "$(snapshot .)" "nothing changed after --ou"
pass "cert issue --ou refused, nearest option named, nothing written"

# Every command, an abbreviation of one of its own options: exit 2, the
# real option named, the command's help pointed at, nothing changed.
# (help name | the rest of the command | typed | suggested)
while IFS='|' read -r name rest typed want; do
	# shellcheck disable=SC2086
	expect_fail 2 tg $name $rest $typed
	assert_contains "$OUT" "unknown option ${typed%%=*}" "$name $typed"
	assert_contains "$OUT" "did you mean $want?" "$name $typed"
	assert_contains "$OUT" "tlsgate help $name\`" "$name $typed points at its help"
done <<'EOF'
ca init|--dir pki2|--intermed|--intermediate
ca store|--dir pki|--move|--move-to
cert issue|y --dir pki|--sna=DNS:a.example|--san
cert issue|y --dir pki|--p12-pass|--p12-pass-file
cert sign|x.csr --dir pki|--ou=x.crt|--out
cert request|h.example --new-key|--key-typ=rsa2048|--key-type
cert selfsigned|h.example|--out=self|--out-dir
cert import|h.example a b|--certs=certs|--certs-dir
cert p12|--cert a --key b --out c|--leg|--legacy
cert revoke|01 --dir pki|--reas=superseded|--reason
cert list|--dir pki|--exp=30d|--expiring
cert renew|--dir pki|--dry|--dry-run
crl|--dir pki|--day=3|--days
key decrypt|a --out b|--pass=p|--pass-file
inspect|pki/root.crt|--js|--json
verify|pki/root.crt --ca pki/root.crt|--purp=server|--purpose
check|pki/root.crt|--hots=x|--host
check|endpoint 127.0.0.1:1|--sn=x|--sni
serve|--listen 127.0.0.1:1|--targ=127.0.0.1:2|--target
serve|--listen 127.0.0.1:1|--ciphers-x|--ciphers
EOF
[ ! -e pki2 ] && [ ! -e self ] && [ ! -e certs ] || fail "an abbreviated option wrote something"
assert_eq "$before" "$(snapshot .)" "nothing changed after the abbreviations"
pass "abbreviations refused in every command, serve included"

# A typo is answered by edit distance; a prefix of several options lists them.
expect_fail 2 tg cert issue y --dir pki --clinet
assert_contains "$OUT" "did you mean --client?" "typo"
expect_fail 2 tg cert issue y --dir pki --p
assert_contains "$OUT" "did you mean --p12, --p12-pass-file or --p12-no-password?" "prefix of three"
expect_fail 2 tg cert issue y --dir pki --hel
assert_contains "$OUT" "did you mean --help?" "help is an option too"
expect_fail 2 tg cert issue y --dir pki --zzzzzzzz
assert_contains "$OUT" "unknown option --zzzzzzzz" "far from everything"
assert_not_contains "$OUT" "did you mean" "no far-fetched suggestion"
expect_fail 2 tg cert issue y --dir pki --client=yes
assert_contains "$OUT" "option --client takes no value" "a value for a flag"
assert_eq "$before" "$(snapshot .)" "nothing changed after the typos"
pass "typos: nearest option by edit distance, a value for a flag refused"

# Exact names still work, with a separate value, with =, and after operands;
# `--` ends the options.
tg cert issue z.example --dir=pki --out-dir out --san=DNS:www.z.example >/dev/null
[ -f out/z.example.crt ] || fail "exact options did not work"
tg inspect --json -- out/z.example.crt | grep -q www.z.example || fail "-- before FILE"
pass "exact names, NAME=VALUE and -- work"
