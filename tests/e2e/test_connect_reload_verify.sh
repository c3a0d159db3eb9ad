#!/usr/bin/env bash
# Reloads of a client listener (role = client in a config file, SIGHUP) that
# must not weaken it:
# - a key that belongs to another certificate, or a truncated certificate:
#   the reload fails, saying which, and the old client certificate stays
#   in use (the backend behind serve --verify require sees its serial);
# - a new --ca without the server's issuer, or a new verify-name the server
#   does not hold: the next connection is refused and is not resumed,
#   although the sessions from before would have resumed (resumed=1 just
#   before): a session never carries the old verdict past a reload.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Reload CA"
mkdir -p "$WORK/other"
pki_cert "$WORK/other"/ca self root "/CN=Other CA"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
pki_cert "$WORK/bob" "$WORK/ca"/ca client "/CN=bob"
cp "$WORK/ca/ca.crt" "$WORK/trust.crt"
ALICE=$(cert_serial "$WORK/alice.crt")

GP=$(free_port); CP=$(free_port)
start_mtls_gateway "$GP"
conf() { # conf VERIFY-NAME
	cat >"$WORK/cl.ini" <<INI
[global]
workers = 1
[listener db]
role = client
listen = 127.0.0.1:$CP
target = 127.0.0.1:$GP
cert = $WORK/alice.crt
key = $WORK/alice.key
ca = $WORK/trust.crt
verify-name = $1
INI
}
conf localhost
start_bg cl timeout 120 "$TLSGATE" serve --config "$WORK/cl.ini"
MASTER=$(child_of "$BG_PID")
wait_log "$WORK/cl.log" "ready:"
through() { http_get "http://127.0.0.1:$CP/$1" | seen_serial; }
reload() { # reload EXPECTED-LOG: SIGHUP, and PATTERN in what the log says after it
	local n
	n=$(wc -l <"$WORK/cl.log")
	kill -HUP "$MASTER"
	for _ in $(seq 100); do
		tail -n +"$((n + 1))" "$WORK/cl.log" | grep -q -- "$1" && return 0
		sleep 0.1
	done
	fail "'$1' did not follow the SIGHUP: $(tail -n +"$((n + 1))" "$WORK/cl.log")"
}
refused_fresh() { # refused_fresh PATH CHANGE WHY: after a reload that made CHANGE, the
	# next connection fails its check, is not resumed, and the log says WHY
	local n out last
	reload "reload ok"
	n=$(grep -c "conn listener=db" "$WORK/cl.log")
	if out=$(http_get "http://127.0.0.1:$CP/$1" 2>&1); then fail "connected after $2: $out"; fi
	for _ in $(seq 100); do [ "$(grep -c "conn listener=db" "$WORK/cl.log")" -gt "$n" ] && break; sleep 0.1; done
	last=$(grep "conn listener=db" "$WORK/cl.log" | tail -n1)
	assert_contains "$last" "resumed=0" "the connection after $2"
	assert_contains "$last" "$3" "why"
}

assert_eq "$ALICE" "$(through first)" "serial through the gateway"
assert_eq "$ALICE" "$(through second)" "serial on the second connection"
wait_log "$WORK/cl.log" "resumed=1"
pass "alice's certificate goes through; the second connection resumed"

# A key of another certificate, then a truncated certificate.
cp "$WORK/alice.key" "$WORK/alice.key.good"
cp "$WORK/bob.key" "$WORK/alice.key"
reload "reload failed, still serving the previous configuration: listener db: key $WORK/alice.key does not match certificate $WORK/alice.crt"
assert_eq "$ALICE" "$(through mismatched)" "serial after the mismatched key"
cp "$WORK/alice.key.good" "$WORK/alice.key"
cp "$WORK/alice.crt" "$WORK/alice.crt.good"
head -c 300 "$WORK/alice.crt.good" >"$WORK/alice.crt"
reload "reload failed, still serving the previous configuration: listener db: --cert"
assert_eq "$ALICE" "$(through truncated)" "serial after the truncated certificate"
cp "$WORK/alice.crt.good" "$WORK/alice.crt"
pass "a key of another certificate, a truncated certificate: the reload fails, alice's stays in use"

# Sessions do not outlive a stricter check.
reload "reload ok"
through warm >/dev/null
through warm2 >/dev/null
cp "$WORK/other/ca.crt" "$WORK/trust.crt"
refused_fresh otherca "the CA changed to one that does not issue the server's" \
	"server certificate: unable to get local issuer certificate (expected name localhost)"
pass "a new --ca: the next connection is verified again and refused, not resumed"

cp "$WORK/ca/ca.crt" "$WORK/trust.crt"
reload "reload ok"
through warm3 >/dev/null
through warm4 >/dev/null
conf other.example.test
refused_fresh othername "verify-name changed to a name the server does not hold" \
	"hostname mismatch (expected name other.example.test)"
pass "a new verify-name: the next connection is checked against it and refused, not resumed"
