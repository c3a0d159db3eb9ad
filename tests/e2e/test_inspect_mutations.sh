#!/usr/bin/env bash
# inspect survives damaged input: a certificate whose public key does not
# decode (the byte after 03 42 00 04 of a P-256 key set to 07) used to crash
# it; so ~100 single-byte mutations each of a DER certificate, CSR and CRL
# must end with exit 0 or 1 and no sanitizer report (run it in the ASan build).
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir ca >/dev/null
tg cert issue m.example --dir ca --san www.m.example >/dev/null
tg cert request r.example --new-key --out r.csr >/dev/null
tg cert revoke --cert ca/issued/m.example.crt --dir ca >/dev/null
tg crl --dir ca >/dev/null
openssl x509 -in ca/issued/m.example.crt -outform DER -out cert.der
openssl req -in r.csr -outform DER -out csr.der
openssl crl -in ca/crl.pem -outform DER -out crl.der

# run_inspect FILE [--json]: exit 0 or 1, never a crash or a sanitizer report.
run_inspect() {
	local f=$1 mode=${2:-} rc=0
	# shellcheck disable=SC2086
	timeout 20 "$TLSGATE" inspect "$f" $mode >"$f.out" 2>"$f.log" || rc=$?
	case $rc in
	0 | 1) ;;
	*) fail "inspect $f $mode exited $rc: $(head -c 2000 "$f.log")" ;;
	esac
	if grep -qE "Sanitizer|runtime error:" "$f.log"; then
		fail "inspect $f $mode: sanitizer report: $(head -c 4000 "$f.log")"
	fi
	rm -f "$f.log"
}

# The public key that does not decode: shown as unreadable, no crash.
python3 - <<'PY'
d = bytearray(open("cert.der", "rb").read())
i = d.find(bytes.fromhex("03420004"))
assert i > 0, "no P-256 key in the certificate"
d[i + 4] = 0x07
open("badkey.der", "wb").write(d)
PY
out=$(tg inspect badkey.der) || fail "inspect of the undecodable key failed: $out"
assert_contains "$out" "unreadable public key" "the key is said to be unreadable"
assert_contains "$out" "CN=m.example" "the rest is shown"
tg inspect badkey.der --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["certificates"][0]["key"] == "unreadable public key"'
pass "a certificate whose public key does not decode"

# DER CSRs and CRLs are recognised, as the help says.
assert_contains "$(tg inspect csr.der)" "csr.der: csr" "DER CSR"
assert_contains "$(tg inspect crl.der)" "crl.der: crl" "DER CRL"
pass "DER CSR and CRL inspected"

# ~100 random single-byte mutations of each (a fixed seed: the same inputs
# every run, so a failure can be replayed).
mkdir mut
python3 - <<'PY'
import random
rng = random.Random(20261205)
for name in ("cert", "csr", "crl"):
    d = open(name + ".der", "rb").read()
    for n in range(100):
        m = bytearray(d)
        i = rng.randrange(len(m))
        m[i] = rng.choice([0x00, 0x07, 0x7f, 0x80, 0xff, rng.randrange(256)])
        open("mut/%s-%03d-at%d.der" % (name, n, i), "wb").write(m)
PY
# Text and JSON output take turns (an ASan build starts slowly).
count=0
for f in mut/*.der; do
	run_inspect "$f" "$([ $((count % 2)) = 1 ] && echo --json)"
	count=$((count + 1))
done
assert_eq 300 "$count" "mutations run"
pass "300 mutated DER certificates, CSRs and CRLs: exit 0 or 1, no sanitizer report"
