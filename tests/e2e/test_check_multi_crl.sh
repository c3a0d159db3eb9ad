#!/usr/bin/env bash
# A CRL file with several CRLs (tlsgate writes the intermediate's and the
# root's together): every one of them is checked.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca --intermediate >/dev/null
"$TLSGATE" cert issue srv.example --dir ca >/dev/null
"$TLSGATE" cert issue gone.example --dir ca >/dev/null
"$TLSGATE" cert revoke --cert ca/issued/gone.example.crt --dir ca >/dev/null
"$TLSGATE" crl --dir ca >/dev/null
assert_eq 2 "$(grep -c 'BEGIN X509 CRL' ca/crl.pem)" "tlsgate writes two CRLs"

# Fresh CRLs: only the revoked cert is an error.
rc=0
"$TLSGATE" check ca --json > fresh.json || rc=$?
assert_eq 1 "$rc" "exit with a revoked cert"
assert_eq '["revoked"]' "$(jq -c '[.subjects[].findings[] | select(.severity=="error") | .code] | unique' fresh.json)" \
	"only the revocation is an error"
pass "fresh CRL pair: revocation found, nothing else"

# Both CRLs expired (published 40 days ago, valid 1 day): each is reported.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	faketime -f '-40d' "$TLSGATE" crl --dir ca --days 1 --out old.pem >/dev/null
rc=0
"$TLSGATE" check old.pem --ca ca/root.crt --json > old.json || rc=$?
assert_eq 1 "$rc" "exit with expired CRLs"
assert_eq 2 "$(jq '[.subjects[].findings[] | select(.code=="crl-expired")] | length' old.json)" \
	"one crl-expired per CRL in the file"
msgs=$(jq -r '.subjects[].findings[] | select(.code=="crl-expired") | .message' old.json)
assert_contains "$msgs" "Intermediate" "the intermediate's CRL is named"
assert_contains "$msgs" "Root CA" "the root's CRL is named"
pass "every CRL of a multi-CRL file is checked"
