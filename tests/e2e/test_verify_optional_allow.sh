#!/usr/bin/env bash
# --verify optional with an allow list is refused at start: the rules judge
# only the certificates sent, so such a listener let a client that sent
# none through (tcp mode: to the backend with no identity at all) while a
# client with a valid certificate not on the list was refused. Refused on
# the command line, in a config file and by --test, in both modes, with
# the fix; the listener never opens. The same list with --verify require
# starts, refuses the client without a certificate and lets alice through.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

cd "$WORK"
mkdir ca
pki_cert ca/ca self root "/CN=Optional CA"
pki_cert server ca/ca server "/CN=localhost" "DNS:localhost"
pki_cert alice ca/ca client "/CN=alice"
BP=$(free_port)
start_echo_backend "$BP"
WHY="--allow-* with --verify optional would let a client without a certificate through"

for mode in tcp http; do
	G=$(free_port)
	args=(--listen 127.0.0.1:$G --target 127.0.0.1:$BP --mode $mode --cert server.crt --key server.key
		--client-ca ca/ca.crt --verify optional --allow-cn alice --workers 1)
	expect_fail 1 timeout 20 "$TLSGATE" serve "${args[@]}" --test
	assert_contains "$OUT" "listener default: $WHY" "$mode: --test"
	assert_contains "$OUT" "use --verify verify-full" "$mode: the fix"
	expect_fail 2 timeout 20 "$TLSGATE" serve "${args[@]}" # a usage error
	assert_contains "$OUT" "$WHY" "$mode: serve"
	if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$G" 2>/dev/null; then
		fail "$mode: something listens on $G"
	fi
	pass "$mode: --verify optional --allow-cn refused at start, with the fix"
done

cat >gw.ini <<INI
[listener web]
listen = 127.0.0.1:$(free_port)
target = 127.0.0.1:$BP
mode = http
cert = $WORK/server.crt
key = $WORK/server.key
client-ca = $WORK/ca/ca.crt
verify = optional
allow-ou = ops
INI
expect_fail 1 timeout 20 "$TLSGATE" serve --config gw.ini --test
assert_contains "$OUT" "listener web: $WHY" "the config file"
pass "a config file with verify = optional and allow-ou refused by --test"

# The same list with require: no certificate, no request.
G=$(free_port)
start_bg gw timeout 60 "$TLSGATE" serve --listen 127.0.0.1:$G --target 127.0.0.1:$BP --mode http \
	--cert server.crt --key server.key --client-ca ca/ca.crt --verify require --allow-cn alice --workers 1
wait_port "$G"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert ca/ca.crt \
	--resolve "localhost:$G:127.0.0.1" "$@" "https://localhost:$G/x"; }
assert_eq 400 "$(code)" "require + allow-cn: no certificate"
assert_eq 200 "$(code --cert alice.crt --key alice.key)" "require + allow-cn: alice"
pass "--verify require --allow-cn alice: no certificate 400, alice 200"
