#!/usr/bin/env bash
# Client mode refuses servers it cannot verify: a certificate for another
# name, for an IP address the target does not use, or from another CA; the
# reason (the verify error and the expected name) is in the log and the
# client's connection is closed. Without --ca it does not start unless
# --insecure says so, which it logs loudly at start and per connection.
# Options of the other role are refused by name.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca" "$WORK/other"
pki_cert "$WORK/ca"/ca self root "/CN=Connect CA"
pki_cert "$WORK/other"/ca self root "/CN=Other CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

BP=$(free_port); GP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --workers 1
wait_port "$GP"

id=(--cert "$WORK/alice.crt" --key "$WORK/alice.key")
# refused NAME EXPECTED-LOG CONNECT-ARGS...: a client listener whose server
# check fails: curl gets nothing, the log says why.
refused() {
	local name=$1 want=$2 port rc=0
	shift 2
	port=$(free_port)
	start_bg "$name" timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$port "${id[@]}" --workers 1 "$@"
	wait_log "$WORK/$name.log" "ready:"
	curl -sS --max-time 5 "http://127.0.0.1:$port/" >"$WORK/$name.out" 2>&1 || rc=$?
	[ "$rc" != 0 ] || fail "$name: curl got an answer through an unverified server: $(cat "$WORK/$name.out")"
	assert_not_contains "$(cat "$WORK/backend-$BP.log")" "GET / " "$name: nothing reached the backend"
	wait_log "$WORK/$name.log" "$want"
	pass "$name: refused, curl's connection closed (curl exit $rc), log: $want"
}
refused wrongname "TLS to localhost:$GP failed: server certificate: hostname mismatch (expected name db.example.com)" \
	--target localhost:$GP --ca "$WORK/ca/ca.crt" --verify-name db.example.com
refused ipname "server certificate: IP address mismatch (expected name 127.0.0.1)" \
	--target 127.0.0.1:$GP --ca "$WORK/ca/ca.crt"
refused otherca "server certificate: unable to get local issuer certificate (expected name localhost)" \
	--target localhost:$GP --ca "$WORK/other/ca.crt"

# No --ca: no start, and the message says what to do.
expect_fail 2 tg connect --listen 127.0.0.1:$(free_port) --target localhost:$GP "${id[@]}"
assert_contains "$OUT" "no --ca: the server's certificate cannot be verified; pass --ca FILE" "no --ca"
assert_contains "$OUT" "or --insecure" "no --ca names the way out"
expect_fail 2 tg connect --listen 127.0.0.1:$(free_port) --target localhost:$GP "${id[@]}" \
	--ca "$WORK/ca/ca.crt" --insecure
assert_contains "$OUT" "--insecure turns off the server check that --ca is for" "--insecure with --ca"
pass "no --ca refused unless --insecure; --insecure with --ca refused"

# --insecure: a warning at start and a rate-limited one per connection.
IP=$(free_port)
start_bg insecure timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$IP --target 127.0.0.1:$GP "${id[@]}" \
	--insecure --workers 1
wait_log "$WORK/insecure.log" "WARNING: listener default: --insecure: the certificate of 127.0.0.1:$GP is NOT verified"
body=$(http_get "http://127.0.0.1:$IP/insecure")
assert_contains "$body" '"path": "/insecure"' "--insecure connects"
wait_log "$WORK/insecure.log" "WARNING: listener default: connected to 127.0.0.1:$GP without verifying its certificate (--insecure)"
wait_log "$WORK/insecure.log" "verify=insecure"
pass "--insecure: loud at start, per connection, and verify=insecure in the connection log"

# Options of the other role, by name.
expect_fail 2 tg serve --listen 127.0.0.1:1 --target 127.0.0.1:2 --cert "$WORK/server.crt" \
	--key "$WORK/server.key" --ca "$WORK/ca/ca.crt"
assert_contains "$OUT" "--ca is for client listeners (tlsgate connect, or role = client)" "serve --ca"
expect_fail 2 tg connect --listen 127.0.0.1:1 --target localhost:2 --ca "$WORK/ca/ca.crt" --verify require
assert_contains "$OUT" "--verify" "connect --verify"
cat >"$WORK/mixed.ini" <<INI
[listener db]
role = client
listen = 127.0.0.1:1
target = localhost:2
ca = $WORK/ca/ca.crt
client-ca = $WORK/ca/ca.crt
INI
expect_fail 1 tg serve --config "$WORK/mixed.ini" --test
assert_contains "$OUT" "listener db: --client-ca is for server listeners (tlsgate serve)" "client-ca on a client listener"
expect_fail 2 tg connect --listen 127.0.0.1:1 --target unix:/run/x.sock --ca "$WORK/ca/ca.crt"
assert_contains "$OUT" "is a unix socket, which names no server: pass --verify-name NAME" "unix target without a name"
pass "options of the other role refused, naming them; a unix target needs --verify-name"
