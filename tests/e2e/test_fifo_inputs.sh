#!/usr/bin/env bash
# A FIFO (or other non-regular file) given as an input used to block
# forever, waiting for a writer. Every command that reads a file refuses it
# at once, naming it; `-` is the way to pass a passphrase through a pipe.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir ca >/dev/null
tg cert issue f.example --dir ca >/dev/null
printf 'secret\n' >pass
openssl pkey -in ca/issued/f.example.key -aes256 -passout file:pass -out enc.key
mkfifo fifo
before=$(snapshot .)

# refused CODE CMD...: exits CODE within the time limit, naming the FIFO.
refused() {
	local want=$1 rc=0
	shift
	OUT=$(timeout 10 "$@" 2>&1) || rc=$?
	[ "$rc" != 124 ] || fail "'$*' blocked on the FIFO"
	assert_eq "$want" "$rc" "'$*' exit"
	assert_contains "$OUT" "fifo is a FIFO (named pipe), not a regular file" "'$*'"
}

refused 1 "$TLSGATE" inspect fifo
refused 1 "$TLSGATE" verify fifo --ca ca/root.crt
refused 1 "$TLSGATE" verify ca/issued/f.example.crt --ca fifo
refused 1 "$TLSGATE" key decrypt fifo --out out.key --pass-file pass
refused 1 "$TLSGATE" key decrypt enc.key --out out.key --pass-file fifo
refused 1 "$TLSGATE" inspect enc.key --pass-file fifo
refused 1 "$TLSGATE" cert p12 --cert fifo --key ca/issued/f.example.key --out f.p12 --no-password
refused 1 "$TLSGATE" cert p12 --cert ca/issued/f.example.crt --key fifo --out f.p12 --no-password
refused 1 "$TLSGATE" cert issue --batch fifo --dir ca
refused 1 "$TLSGATE" cert issue g.example --dir ca --p12 --p12-pass-file fifo
refused 1 "$TLSGATE" cert sign fifo --dir ca
refused 1 "$TLSGATE" cert import f.example fifo ca/issued/f.example.key --certs-dir certs
pass "inspect, verify, key decrypt, cert p12/issue --batch/sign/import and --pass-file refuse a FIFO"

# check reports it as a finding instead of waiting.
rc=0
OUT=$(timeout 10 "$TLSGATE" check fifo 2>&1) || rc=$?
[ "$rc" != 124 ] || fail "check blocked on the FIFO"
assert_eq 1 "$rc" "check exit"
assert_contains "$OUT" "fifo is not a regular file (a FIFO, device or socket)" "check finding"
rc=0
OUT=$(timeout 10 "$TLSGATE" check ca/issued/f.example.crt --pass-file fifo 2>&1) || rc=$?
[ "$rc" != 124 ] || fail "check --pass-file blocked on the FIFO"
assert_contains "$OUT" "fifo is a FIFO (named pipe), not a regular file" "check --pass-file"
pass "check refuses a FIFO"

assert_eq "$before" "$(snapshot .)" "nothing changed"
# The way through a pipe: - for standard input.
printf 'secret\n' | tg key decrypt enc.key --out plain.key --pass-file - >/dev/null
openssl pkey -in plain.key -noout
pass "a passphrase comes through a pipe with -"
