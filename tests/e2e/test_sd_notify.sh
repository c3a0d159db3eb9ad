#!/usr/bin/env bash
# The gateway tells systemd (Type=notify) what it does, through a
# NOTIFY_SOCKET this test listens on as systemd would: READY=1 once the
# listeners accept, RELOADING=1 then READY=1 around a SIGHUP reload (also a
# failed one, with its reason in STATUS=), STOPPING=1 on SIGTERM. An
# abstract-namespace socket ("@name") works too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Notify CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
BP=$(free_port); GP=$(free_port)
start_echo_backend "$BP"
cat >"$WORK/gw.ini" <<INI
[global]
workers = 1
[listener web]
listen = 127.0.0.1:$GP
target = 127.0.0.1:$BP
mode = http
cert = $WORK/server.crt
key = $WORK/server.key
INI

# messages N: the number of lines the listener printed so far
messages() { grep -c . "$WORK/notify.log" || true; }
# wait_message PATTERN: wait for a message matching PATTERN
wait_message() { wait_log "$WORK/notify.log" "$1"; }

start_bg notify python3 -u "$TLSGATE_SRC/tests/e2e/notify_listener.py" "$WORK/notify.sock" "$GP"
wait_log "$WORK/notify.log" listening
NOTIFY_SOCKET=$WORK/notify.sock start_bg gw timeout 120 "$TLSGATE" serve --config "$WORK/gw.ini"
MASTER=$(child_of "$BG_PID")
wait_message 'READY=1'
ready=$(grep 'READY=1' "$WORK/notify.log")
assert_contains "$ready" "port=open" "READY=1 comes once the listener accepts"
assert_contains "$ready" "STATUS=serving 1 listener with 1 worker thread" "READY=1 carries a STATUS"
assert_eq 2 "$(messages)" "before a reload: the listener's own line and READY=1, nothing else"
curl -sS --max-time 5 --cacert "$WORK/ca/ca.crt" "https://localhost:$GP/" >/dev/null
pass "READY=1 after the listeners are up; a request is served"

kill -HUP "$MASTER"
wait_log "$WORK/gw.log" "reload ok"
wait_message 'STATUS=serving, reloaded'
tail -n 2 "$WORK/notify.log" >"$WORK/reload.txt"
assert_contains "$(sed -n 1p "$WORK/reload.txt")" "RELOADING=1|MONOTONIC_USEC=" "a reload starts with RELOADING=1"
assert_contains "$(sed -n 2p "$WORK/reload.txt")" "READY=1|STATUS=serving, reloaded (generation 1)" \
	"a reload ends with READY=1"
pass "SIGHUP: RELOADING=1, then READY=1 once the new configuration serves"

# A broken configuration: the reload fails, the old one keeps serving, and
# systemd hears it is ready again, with the reason.
echo "verify = sometimes" >>"$WORK/gw.ini"
kill -HUP "$MASTER"
wait_message 'STATUS=reload failed'
tail -n 2 "$WORK/notify.log" >"$WORK/reload.txt"
assert_contains "$(sed -n 1p "$WORK/reload.txt")" "RELOADING=1" "a failing reload starts with RELOADING=1"
assert_contains "$(sed -n 2p "$WORK/reload.txt")" "READY=1|STATUS=reload failed, serving the previous configuration: " \
	"a failing reload ends with READY=1 and the reason"
assert_contains "$(sed -n 2p "$WORK/reload.txt")" "sometimes" "the reason names the bad value"
curl -sS --max-time 5 --cacert "$WORK/ca/ca.crt" "https://localhost:$GP/" >/dev/null
pass "a failed reload: READY=1 with the reason in STATUS=, still serving"

kill -TERM "$MASTER"
wait_message 'STOPPING=1'
wait "$BG_PID" 2>/dev/null || true
assert_contains "$(tail -n 1 "$WORK/notify.log")" "STOPPING=1|STATUS=stopping" "SIGTERM"
pass "SIGTERM: STOPPING=1"

# The abstract namespace, as systemd may hand out.
name="@tlsgate-test-$$-$RANDOM"
start_bg notify2 python3 -u "$TLSGATE_SRC/tests/e2e/notify_listener.py" "$name" "$GP"
wait_log "$WORK/notify2.log" listening
sed -i '$d' "$WORK/gw.ini"
NOTIFY_SOCKET=$name start_bg gw2 timeout 120 "$TLSGATE" serve --config "$WORK/gw.ini"
wait_log "$WORK/notify2.log" 'READY=1.*port=open'
pass "an abstract NOTIFY_SOCKET gets READY=1 too"
