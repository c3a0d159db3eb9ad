#!/usr/bin/env bash
# serve reads its certificate, key and passphrase through src/pki, as every
# command does: a wrong --pass-file names the option, the file and the key;
# a --pass-command that fails says how (its status), never what it printed
# or the command line; an encrypted key without a passphrase says how to
# give one (not --pass-file -: a reload has no standard input); the command
# runs only for an encrypted key; a DER certificate is read like PEM; a FIFO
# as --cert fails at once. Nothing listens after a refusal, no file changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Pass CA"
openssl pkey -in "$WORK/server.key" -aes256 -passout pass:s3cret -out "$WORK/enc.key"
chmod 600 "$WORK/enc.key"
echo s3cret >"$WORK/good.pass"
echo wrong >"$WORK/wrong.pass"
P=$(free_port); BP=$(free_port)
base=(serve --listen 127.0.0.1:$P --target 127.0.0.1:$BP --workers 1)
run() { timeout 20 "$TLSGATE" "${base[@]}" "$@"; }
before=$(snapshot "$WORK")

expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-file "$WORK/wrong.pass" --test
assert_contains "$OUT" "--key: cannot decrypt $WORK/enc.key: wrong passphrase (the first line of $WORK/wrong.pass, --pass-file)" "wrong --pass-file"
assert_not_contains "$OUT" "configuration ok" "wrong --pass-file"
expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-command "echo wrong" --test
assert_contains "$OUT" "cannot decrypt $WORK/enc.key: wrong passphrase (the first line printed by --pass-command)" "wrong --pass-command"
pass "a wrong passphrase names the key and where the passphrase came from"

expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-command "echo s3cret; exit 3" --test
assert_contains "$OUT" "--pass-command: the command exited with status 3; it must print the passphrase on its first line and exit 0" "failing --pass-command"
assert_not_contains "$OUT" "s3cret" "failing --pass-command: its output"
expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-command "true" --test
assert_contains "$OUT" "--pass-command: the command printed nothing on its first line" "silent --pass-command"
expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-command 'kill -9 $$' --test
assert_contains "$OUT" "--pass-command: the command was killed by signal 9" "killed --pass-command"
pass "a failing --pass-command says how it failed, not what it printed"

expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --test
assert_contains "$OUT" "--key: $WORK/enc.key is protected by a passphrase; give --pass-file FILE (the passphrase on its first line) or --pass-command CMD (the first line it prints)" "no passphrase"
assert_not_contains "$OUT" "standard input" "no passphrase: stdin is no source for serve"
expect_fail 1 run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-file - --test
assert_contains "$OUT" "--pass-file -: the gateway reads the passphrase again at every reload, when standard input is gone; give --pass-file FILE or --pass-command CMD" "--pass-file -"
pass "no passphrase: says how to give one; --pass-file - refused"

if ss -Hltn "sport = :$P" | grep -q .; then fail "something listens on $P after the refusals"; fi
assert_eq "$before" "$(snapshot "$WORK")" "the refusals changed no file"

out=$(run --cert "$WORK/server.crt" --key "$WORK/enc.key" --pass-file "$WORK/good.pass" --test 2>&1)
assert_contains "$out" "configuration ok" "the right --pass-file"
out=$(run --cert "$WORK/server.crt" --key "$WORK/server.key" --pass-command "touch $WORK/ran; echo x" --test 2>&1)
assert_contains "$out" "configuration ok" "a plain key with --pass-command"
[ ! -e "$WORK/ran" ] || fail "--pass-command ran for a key that is not encrypted"
pass "the right passphrase opens the key; the command runs only for an encrypted key"

openssl x509 -in "$WORK/server.crt" -outform der -out "$WORK/server.der"
start_echo_backend "$BP"
start_bg gw "$TLSGATE" "${base[@]}" --cert "$WORK/server.der" --key "$WORK/enc.key" \
	--pass-command "cat $WORK/good.pass"
wait_port "$P"
got=$(echo | openssl s_client -connect "127.0.0.1:$P" -servername localhost 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256)
assert_eq "$(openssl x509 -in "$WORK/server.crt" -noout -fingerprint -sha256)" "$got" "served a DER --cert"
pass "a DER certificate is served as it is checked"

mkfifo "$WORK/fifo.crt"
expect_fail 1 timeout 20 "$TLSGATE" serve --listen 127.0.0.1:$(free_port) --target 127.0.0.1:$BP \
	--cert "$WORK/fifo.crt" --key "$WORK/server.key" --test
assert_contains "$OUT" "--cert: $WORK/fifo.crt" "a FIFO as --cert"
pass "a FIFO as --cert fails at once"
