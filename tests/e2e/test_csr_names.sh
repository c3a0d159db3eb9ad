#!/usr/bin/env bash
# cert sign refuses a CSR with a control character in any name field (a NUL
# made "alice<NUL>.evil.example" CN=alice; CR/LF rewrote the terminal) or with
# two CNs, naming the field, and issues nothing. Text from certificates and
# CSRs reaches the terminal with its control characters escaped.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

python3 "$TLSGATE_SRC/tests/e2e/lib/hostile_names.py" .
tg ca init --dir ca >/dev/null
before=$(snapshot ca)

# refused CSR WHY: refused with WHY, nothing issued, no raw control byte shown.
refused() {
	local csr=$1 why=$2
	expect_fail 1 tg cert sign "$csr" --dir ca --client --out "$csr.crt"
	assert_contains "$OUT" "$csr: $why" "$csr"
	[ ! -e "$csr.crt" ] || fail "$csr: a certificate was written"
	assert_eq "$before" "$(snapshot ca)" "$csr: the CA changed"
	if printf '%s' "$OUT" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'; then
		fail "$csr: a control character reached the terminal: $(printf '%s' "$OUT" | od -c | head)"
	fi
}

refused nul.csr "the subject's CN holds a control character (byte 0x00 at offset 5)"
refused crlf.csr "the subject's CN holds a control character (byte 0x0D at offset 3)"
refused two-cn.csr "the subject holds 2 CNs"
refused esc-ou.csr "the subject's OU holds a control character (byte 0x1B at offset 3)"
refused crlf-uri.csr "malformed SAN 'URI:spiffe://a/b\\x0D\\x0Ax': it holds a control character"
pass "CSRs with control characters or two CNs refused, naming the field"

tg cert sign fine.csr --dir ca --client --out fine.crt >/dev/null
assert_eq "subject=CN = erin" "$(openssl x509 -in fine.crt -noout -subject)" "a clean CSR is signed"
pass "a clean CSR is still signed"

# inspect shows a certificate's hostile names escaped (%XX in SANs, \XX in
# the subject as OpenSSL's RFC 2253 form writes it).
out=$(tg inspect esc.crt)
if printf '%s' "$out" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'; then
	fail "inspect printed a control character: $(printf '%s' "$out" | od -c | head -20)"
fi
assert_contains "$out" 'DNS:a%1B[2Jb.example' "the SAN escaped"
assert_contains "$out" 'O=Evil\1B]0\;pwned\07Corp' "the subject escaped"
tg inspect esc.crt --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["certificates"][0]
assert "\x1b" not in c["sans"] and "\x1b" not in c["subject"], c
'
pass "inspect shows control characters in names escaped, text and JSON"
