#!/usr/bin/env bash
# SIGHUP to `tlsgate connect` with a renewed client certificate: a
# keep-alive connection opened before goes on (its next request still
# carries the old certificate's serial), the next connection presents the
# new one (the backend behind serve --verify require sees its serial: no
# session of the old certificate is resumed). A broken key at the next
# reload keeps the renewed certificate in use.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Reload CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/old" "$WORK/ca"/ca client "/CN=alice"
pki_cert "$WORK/new" "$WORK/ca"/ca client "/CN=alice"
cp -p "$WORK/old.crt" "$WORK/alice.crt"
cp -p "$WORK/old.key" "$WORK/alice.key"
OLD=$(cert_serial "$WORK/old.crt")
NEW=$(cert_serial "$WORK/new.crt")

GP=$(free_port); CP=$(free_port)
start_mtls_gateway "$GP"
start_bg cl timeout 120 "$TLSGATE" connect --listen 127.0.0.1:$CP --target localhost:$GP \
	--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1
MASTER=$(child_of "$BG_PID")
wait_log "$WORK/cl.log" "ready:"

# One keep-alive connection: a request now, another once $WORK/go exists.
start_bg keepalive python3 -c '
import http.client, json, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
def serial(path):
    c.request("GET", path)
    h = dict(json.loads(c.getresponse().read())["headers"])
    return h["X-Client-Serial"].lstrip("0")
print("first", serial("/1"), flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
print("second", serial("/2"), flush=True)
' "$CP" "$WORK/go"
KA=$BG_PID
wait_log "$WORK/keepalive.log" "^first "
assert_eq "first $OLD" "$(grep '^first' "$WORK/keepalive.log")" "the open connection's first request"

cp -p "$WORK/new.crt" "$WORK/alice.crt"
cp -p "$WORK/new.key" "$WORK/alice.key"
kill -HUP "$MASTER"
wait_log "$WORK/cl.log" "reload ok"
touch "$WORK/go"
wait "$KA" || fail "the keep-alive client failed: $(cat "$WORK/keepalive.log")"
assert_eq "second $OLD" "$(grep '^second' "$WORK/keepalive.log")" "the open connection after the reload"
pass "the connection opened before the reload goes on, with the old certificate"

got=$(http_get "http://127.0.0.1:$CP/after" | seen_serial)
assert_eq "$NEW" "$got" "the serial the backend sees on a new connection"
pass "a new connection presents the renewed certificate (serial $NEW)"

# A broken key: the reload fails, the renewed certificate stays in use.
echo "not a key" >"$WORK/alice.key"
kill -HUP "$MASTER"
wait_log "$WORK/cl.log" "reload failed, still serving the previous configuration: listener default: .*alice.key"
got=$(http_get "http://127.0.0.1:$CP/broken" | seen_serial)
assert_eq "$NEW" "$got" "the serial after a failed reload"
pass "a broken key at reload keeps the renewed certificate"
