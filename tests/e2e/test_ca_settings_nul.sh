#!/usr/bin/env bash
# A ca.conf with a NUL byte is refused by every command that opens the CA,
# naming the file and the line: the lines after the NUL (here a setting
# it does not know, refused on its own) were dropped unread, and the CA
# issued as if they were not there. Nothing is issued.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$WORK"

tg ca init --dir pki --crl-url http://127.0.0.1:9/ca.crl >/dev/null
printf 'crl-url = http://127.0.0.1:9/ca.crl\nocsp-url = http://127.0.0.1:9/\n' >pki/ca.conf
before=$(snapshot pki)
expect_fail 1 "$TLSGATE" cert issue a.example --dir pki
assert_contains "$OUT" "ca.conf, line 2: unknown setting 'ocsp-url'" "an unknown setting is refused"

printf 'crl-url = http://127.0.0.1:9/ca.crl\n\0\nocsp-url = http://127.0.0.1:9/\n' >pki/ca.conf
before=$(snapshot pki)
expect_fail 1 "$TLSGATE" cert issue a.example --dir pki
assert_contains "$OUT" "ca.conf, line 2: a NUL byte; the file must be text" \
	"a NUL byte is refused, with its line"
assert_eq "$before" "$(snapshot pki)" "nothing was issued"
pass "a ca.conf with a NUL byte is refused, naming its line; nothing issued"
