#!/usr/bin/env bash
# The bad-input table: each refusal exits non-zero, names the file, the cause and
# the fix, and leaves everything as it was.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

"$TLSGATE" ca init --dir ca >/dev/null
"$TLSGATE" cert issue exists.example --dir ca >/dev/null
printf 'right\n' > pass
"$TLSGATE" ca init --dir enc --pass-file pass >/dev/null
before=$(snapshot ca)

unchanged() { [ "$(snapshot ca)" = "$before" ] || fail "$1: the CA directory changed"; }

# CA dir missing
expect_fail 2 "$TLSGATE" cert issue x.example --dir nowhere
assert_contains "$OUT" "nowhere does not exist" "missing CA dir"
assert_contains "$OUT" "tlsgate ca init --dir nowhere" "missing CA dir fix"
pass "missing CA dir"

# no --dir and no TLSGATE_DIR
expect_fail 2 env -u TLSGATE_DIR "$TLSGATE" cert issue x.example
assert_contains "$OUT" "TLSGATE_DIR" "no dir"
pass "no CA dir given"

# TLSGATE_DIR replaces --dir
TLSGATE_DIR=ca "$TLSGATE" cert issue env.example >/dev/null
[ -f ca/issued/env.example.crt ] || fail "TLSGATE_DIR not used"
rm ca/issued/env.example.*
before=$(snapshot ca)   # the inventory now holds env.example
pass "TLSGATE_DIR"

# existing output without --force
expect_fail 1 "$TLSGATE" cert issue exists.example --dir ca
assert_contains "$OUT" "exists.example.crt already exists" "existing output"
assert_contains "$OUT" "--force" "existing output fix"
unchanged "existing output"
pass "existing output refused"

# a second CA over the first
expect_fail 1 "$TLSGATE" ca init --dir ca
assert_contains "$OUT" "already holds a CA" "ca over ca"
unchanged "ca over ca"
pass "CA never overwritten"

# unknown key type
expect_fail 2 "$TLSGATE" cert issue k.example --dir ca --key dsa512
assert_contains "$OUT" "unknown key type 'dsa512'" "key type"
assert_contains "$OUT" "ec-p256" "key type fix lists types"
unchanged "key type"
pass "unknown key type"

# malformed SANs
expect_fail 2 "$TLSGATE" cert issue s.example --dir ca --san 'DNS:bad name'
assert_contains "$OUT" "malformed SAN 'DNS:bad name'" "bad SAN"
expect_fail 2 "$TLSGATE" cert issue s.example --dir ca --san DNS:10.1.1.1
assert_contains "$OUT" "write IP:10.1.1.1" "IP as DNS SAN"
expect_fail 2 "$TLSGATE" cert issue s.example --dir ca --san IP:300.1.1.1
assert_contains "$OUT" "not an IPv4 or IPv6 address" "bad IP SAN"
unchanged "bad SAN"
pass "malformed SANs"

# encrypted CA key: missing and wrong passphrase
expect_fail 1 "$TLSGATE" cert issue e.example --dir enc
assert_contains "$OUT" "protected by a passphrase" "missing CA passphrase"
assert_contains "$OUT" "--ca-pass-file" "missing CA passphrase fix"
printf 'wrong\n' > wrong
expect_fail 1 "$TLSGATE" cert issue e.example --dir enc --ca-pass-file wrong
assert_contains "$OUT" "wrong passphrase" "wrong CA passphrase"
assert_contains "$OUT" "enc/private/root.key" "wrong passphrase names the key"
[ ! -e enc/issued/e.example.crt ] || fail "a cert was written with a wrong passphrase"
"$TLSGATE" cert issue e.example --dir enc --ca-pass-file pass >/dev/null
openssl verify -CAfile enc/root.crt enc/issued/e.example.crt >/dev/null
pass "CA passphrase"

# corrupt PEM CSR, DER CSR accepted, CSR with a bad signature
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!!\n-----END CERTIFICATE REQUEST-----\n' > corrupt.csr
expect_fail 1 "$TLSGATE" cert sign corrupt.csr --dir ca --out corrupt.crt
assert_contains "$OUT" "corrupt.csr" "corrupt CSR named"
[ ! -e corrupt.crt ] || fail "corrupt CSR produced output"
"$TLSGATE" cert request good.example --new-key --out good.csr >/dev/null
openssl req -in good.csr -outform DER -out good.der
"$TLSGATE" cert sign good.der --dir ca --out good.crt >/dev/null
openssl verify -CAfile ca/root.crt good.crt >/dev/null
before=$(snapshot ca)
# flip one byte inside the signed part (the CN): the signature breaks
python3 - <<'PY'
d = bytearray(open("good.der", "rb").read())
i = d.find(b"good.example")
d[i] = ord("X")
open("tampered.der", "wb").write(bytes(d))
PY
expect_fail 1 "$TLSGATE" cert sign tampered.der --dir ca --out tampered.crt
assert_contains "$OUT" "signature does not verify" "tampered CSR"
[ ! -e tampered.crt ] || fail "tampered CSR produced output"
unchanged "tampered CSR"
pass "CSR: corrupt, DER, tampered"

# DER certificate is read where PEM is expected
openssl x509 -in good.crt -outform DER -out good.crt.der
"$TLSGATE" verify good.crt.der --ca ca/root.crt >/dev/null
pass "DER accepted"

# corrupt and truncated certificate PEM
printf -- '-----BEGIN CERTIFICATE-----\nMIIBbad!!\n-----END CERTIFICATE-----\n' > corrupt.crt
head -c 300 ca/root.crt > truncated.crt
for f in corrupt.crt truncated.crt; do
	expect_fail 1 "$TLSGATE" verify "$f" --ca ca/root.crt
	assert_contains "$OUT" "$f is damaged" "damaged PEM named"
	expect_fail 1 "$TLSGATE" inspect "$f"
	assert_contains "$OUT" "$f is damaged" "inspect names damaged PEM"
done
pass "corrupt and truncated certificate PEM"

# a key where a cert is expected
expect_fail 1 "$TLSGATE" verify good.key --ca ca/root.crt
assert_contains "$OUT" "good.key holds a private key, not a certificate" "key as cert"
pass "key given as a certificate"

# expired CA: issuing is refused (the CA is made in 2020, valid one day)
# libfaketime is preloaded; under ASan its runtime must be allowed to come second.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	faketime '2020-01-01 00:00:00' "$TLSGATE" ca init --dir expired --days 1 >/dev/null
expect_fail 1 "$TLSGATE" cert issue late.example --dir expired
assert_contains "$OUT" "expired on 2020-01-02" "expired CA"
assert_contains "$OUT" "tlsgate ca init" "expired CA fix"
[ ! -e expired/issued/late.example.crt ] || fail "expired CA issued a cert"
pass "expired CA refused"

# unwritable output directory
mkdir ro && chmod 555 ro
if [ "$(id -u)" -ne 0 ]; then
	expect_fail 1 "$TLSGATE" cert issue ro.example --dir ca --out-dir ro
	assert_contains "$OUT" "ro" "unwritable dir"
	unchanged "unwritable dir"
	pass "unwritable dir"
else
	# root writes anywhere; use a path under a regular file instead
	touch notadir
	expect_fail 1 "$TLSGATE" cert issue ro.example --dir ca --out-dir notadir/sub
	assert_contains "$OUT" "notadir" "unwritable dir"
	unchanged "unwritable dir"
	pass "unwritable dir"
fi

# a batch with one bad line writes nothing
printf 'dev-1\ndev-2 DNS:bad_name_!\ndev-3\n' > bad.batch
expect_fail 2 "$TLSGATE" cert issue --batch bad.batch --dir ca --client --out-dir fleet
assert_contains "$OUT" "bad.batch:2" "batch line named"
[ -z "$(ls -A fleet 2>/dev/null)" ] || fail "a failed batch left files: $(ls fleet)"
unchanged "failed batch"
pass "failed batch is all or nothing"

# a NUL byte in a batch line is refused with its line, not read as the
# shorter name before it (the last line, without a newline, once was)
printf 'dev-1\nalice\000.evil.example' > nul.batch
expect_fail 1 "$TLSGATE" cert issue --batch nul.batch --dir ca --client --out-dir fleet
assert_contains "$OUT" "nul.batch:2: holds a NUL byte" "NUL in a batch line"
[ -z "$(ls -A fleet 2>/dev/null)" ] || fail "a refused batch left files: $(ls fleet)"
unchanged "NUL in a batch line"
pass "a NUL byte in a batch line is refused"

# store.conf: a bad line is named by its own number (blank lines count;
# they were skipped in the count)
cp -a ca sc
printf '# the inventory\n\n\nurl = sqlite:sc/tlsgate.db\n\nbogus line\n' > sc/store.conf
sc_before=$(snapshot sc)
expect_fail 1 "$TLSGATE" cert list --dir sc
assert_contains "$OUT" "sc/store.conf, line 6: expected one \`url = URL\` line" "store.conf line"
[ "$(snapshot sc)" = "$sc_before" ] || fail "a refused store.conf changed the CA directory"
pass "store.conf names the bad line by its number"

# passphrase-protected leaf key import without passphrase
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:pw -out enc.key 2>/dev/null
expect_fail 1 "$TLSGATE" key decrypt enc.key --out dec.key
assert_contains "$OUT" "protected by a passphrase" "key decrypt without pass"
[ ! -e dec.key ] || fail "key decrypt wrote without a passphrase"
printf 'pw\n' > pw
"$TLSGATE" key decrypt enc.key --out dec.key --pass-file pw >/dev/null
assert_eq 600 "$(stat -c %a dec.key)" "decrypted key mode"
openssl pkey -in dec.key -noout
pass "key decrypt"

# unknown option and missing argument are usage errors (exit 2)
expect_fail 2 "$TLSGATE" cert issue a.example --dir ca --bogus
assert_contains "$OUT" "unknown option" "unknown option"
expect_fail 2 "$TLSGATE" cert issue --dir ca
assert_contains "$OUT" "missing NAME" "missing NAME"
pass "usage errors"

# inventory still sound
sqlite3 ca/tlsgate.db 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"
echo "all refusals checked"
