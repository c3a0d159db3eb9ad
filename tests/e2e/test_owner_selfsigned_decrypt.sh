#!/usr/bin/env bash
# cert selfsigned and key decrypt take --owner USER[:GROUP] as cert import
# does: USER gets the key 0600, root:GROUP or :GROUP gets it 0640 root-owned
# with GROUP; an unknown user is a usage error and nothing is written.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

if [ "$(id -u)" -ne 0 ]; then
	echo "ok - skipped: --owner needs root"
	exit 0
fi

# owned FILE "MODE USER GROUP"
owned() { assert_eq "$2" "$(stat -c '%a %U %G' "$1")" "$1 owner and mode"; }

tg cert selfsigned svc.example --out-dir prosody --owner root:daemon >out.log
owned prosody/svc.example.key "640 root daemon"
owned prosody/svc.example.crt "644 root daemon"
assert_contains "$(cat out.log)" "(0640)" "selfsigned reports the key mode"
# Prosody's test: nobody else reads the key.
if runuser -u nobody -- cat prosody/svc.example.key >/dev/null 2>&1; then
	fail "nobody can read the key"
fi
tg cert selfsigned group.example --out-dir g --owner :daemon >/dev/null
owned g/group.example.key "640 root daemon"
tg cert selfsigned pg.example --out-dir pg --owner nobody >/dev/null
owned pg/pg.example.key "600 nobody nogroup"
runuser -u nobody -- openssl pkey -in pg/pg.example.key -noout || fail "nobody cannot read its own key"
pass "cert selfsigned --owner"

printf 'secret\n' >pass
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass file:pass -out enc.key 2>/dev/null
tg key decrypt enc.key --out plain.key --pass-file pass --owner nobody >dec.log
owned plain.key "600 nobody nogroup"
assert_contains "$(cat dec.log)" "(0600)" "decrypt reports the mode"
tg key decrypt enc.key --out plain2.key --pass-file pass --owner root:daemon >/dev/null
owned plain2.key "640 root daemon"
assert_eq "$(openssl pkey -in enc.key -passin file:pass -pubout)" "$(openssl pkey -in plain2.key -pubout)" \
	"the decrypted key is the same key"
pass "key decrypt --owner"

before=$(snapshot .)
expect_fail 2 tg key decrypt enc.key --out x.key --pass-file pass --owner no-such-user-here
assert_contains "$OUT" "--owner: no user 'no-such-user-here' on this system" "unknown user"
expect_fail 2 tg cert selfsigned x.example --out-dir x --owner root:no-such-group-here
assert_contains "$OUT" "--owner: no group 'no-such-group-here' on this system" "unknown group"
assert_eq "$before" "$(snapshot .)" "nothing written"
pass "an unknown owner is refused before anything is written"
