#!/usr/bin/env bash
# A config file is read strictly, each refusal naming the file and line:
# a [listener NAME] given twice (it used to merge, the later listen winning),
# an empty [listener NAME] (it used to be ignored), a key set twice in one
# section. Values longer than 200 bytes are read (inih called them syntax
# errors); lines over 4096 bytes are refused with the limit. A refused file
# does not start the gateway.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Config CA"
P1=$(free_port); P2=$(free_port); BP=$(free_port)
listener() { # NAME PORT
	printf '[listener %s]\nlisten = 127.0.0.1:%s\ntarget = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
		"$1" "$2" "$BP" "$WORK/server.crt" "$WORK/server.key"
}
refused() { # FILE EXPECTED WHAT
	expect_fail 1 timeout 10 "$TLSGATE" serve --config "$1" --test
	assert_contains "$OUT" "$2" "$3"
	assert_not_contains "$OUT" "configuration ok" "$3"
	expect_fail 1 timeout 10 "$TLSGATE" serve --config "$1"
	assert_contains "$OUT" "$2" "$3 (serve)"
	if ss -Hltn "sport = :$P1" | grep -q . || ss -Hltn "sport = :$P2" | grep -q .; then
		fail "$3: something listens after the refusal"
	fi
}

{ listener a "$P1"; listener a "$P2"; } >"$WORK/dup.ini"
refused "$WORK/dup.ini" "$WORK/dup.ini:6: [listener a] again (first at line 1): one section per listener; merge the two or rename one" \
	"a duplicated [listener a]"
{ listener a "$P1"; echo "[listener b]"; } >"$WORK/empty.ini"
refused "$WORK/empty.ini" "$WORK/empty.ini:6: [listener b] is empty: give it listen, target and a certificate, or remove it" \
	"an empty [listener b]"
{ listener a "$P1"; echo "listen = 127.0.0.1:$P2"; } >"$WORK/twice.ini"
refused "$WORK/twice.ini" "$WORK/twice.ini:6: [listener a] sets 'listen' again (first at line 2); it takes one value: remove one" \
	"listen twice in one section"
pass "duplicated and empty sections and repeated keys are refused with their line"

# A 300-byte value: a passphrase command (the key is not encrypted, so it
# is never run, but it is read).
long="echo $(printf 'x%.0s' $(seq 295))"
{ listener a "$P1"; echo "pass-command = $long"; } >"$WORK/long.ini"
out=$("$TLSGATE" serve --config "$WORK/long.ini" --test 2>&1) || fail "a 300-byte value was refused: $out"
assert_contains "$out" "configuration ok" "a 300-byte value"
{ listener a "$P1"; echo "pass-command = echo $(printf 'x%.0s' $(seq 4100))"; } >"$WORK/toolong.ini"
refused "$WORK/toolong.ini" "$WORK/toolong.ini:6: line longer than 4096 bytes, the longest the reader takes" \
	"a 4100-byte line"
pass "long values are read; lines over 4096 bytes are refused with the limit"
