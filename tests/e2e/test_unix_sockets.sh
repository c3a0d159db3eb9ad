#!/usr/bin/env bash
# Unix sockets on both sides. A Flask app under gunicorn on a unix socket
# behind `serve --mode http --target unix:...`: curl with a client
# certificate gets in as alice, without one as nobody (verify optional), and
# X-Forwarded-For is still the TCP peer. `connect --listen unix:...` with
# mode= and owner=: curl --unix-socket through it, the socket's mode and
# owner as given, "unix" as the peer in the log, the file removed on exit.
# A stale socket file is replaced; a live one is "address in use"; a regular
# file at the path is refused and left as it was.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
command -v gunicorn >/dev/null || fail "gunicorn not installed (scripts/deps.sh test)"

mkdir -p "$WORK/ca" "$WORK/app" "$WORK/run"
pki_cert "$WORK/ca"/ca self root "/CN=Unix CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

cat >"$WORK/app/app.py" <<'PY'
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/<path:p>")
def who(p):
    h = request.headers
    return jsonify(path=p, verify=h.get("X-Client-Verify"), cn=h.get("X-Client-CN"),
                   xff=h.get("X-Forwarded-For"), forwarded=h.get("Forwarded"))
PY
APP_SOCK=$WORK/run/app.sock
start_bg gunicorn gunicorn --workers 1 --bind "unix:$APP_SOCK" --chdir "$WORK/app" app:app
for _ in $(seq 100); do [ -S "$APP_SOCK" ] && break; sleep 0.1; done
[ -S "$APP_SOCK" ] || fail "gunicorn did not create $APP_SOCK"

GP=$(free_port)
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target "unix:$APP_SOCK" --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify optional --workers 1
wait_port "$GP"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --cert "$WORK/alice.crt" --key "$WORK/alice.key" \
	"https://localhost:$GP/with")
assert_contains "$out" '"cn":"alice"' "Flask behind serve --target unix: with a client cert"
assert_contains "$out" '"verify":"SUCCESS"' "verified"
assert_contains "$out" '"xff":"127.0.0.1"' "X-Forwarded-For is the TCP peer"
out=$(curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" "https://localhost:$GP/without")
assert_contains "$out" '"verify":"NONE"' "Flask without a client cert"
assert_contains "$out" '"cn":null' "no CN without a cert"
pass "gunicorn on a unix socket behind serve --mode http --target unix:, with and without a client cert"

# connect listening on a unix socket, mode and owner given.
CS=$WORK/run/connect.sock
start_bg cl timeout 120 "$TLSGATE" connect --listen "unix:$CS,mode=0660,owner=nobody:nogroup" \
	--target localhost:$GP --cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1
CL=$BG_PID
wait_log "$WORK/cl.log" "ready:"
assert_eq "socket 660 nobody:nogroup" "$(stat -c '%F %a %U:%G' "$CS")" "the socket's type, mode and owner"
out=$(curl -sS --max-time 10 --unix-socket "$CS" http://localhost/through-connect)
assert_contains "$out" '"cn":"alice"' "curl --unix-socket through connect to Flask"
wait_log "$WORK/cl.log" "conn listener=default peer=unix tls=TLSv1.3"
pass "connect on unix:$CS (mode 0660, nobody:nogroup): curl --unix-socket reaches Flask as alice; peer=unix"
kill -TERM "$CL"
wait "$CL" 2>/dev/null || true
[ ! -e "$CS" ] || fail "the socket file is still there after a clean exit"
pass "the socket file is removed on exit"

# A stale socket (its listener died without removing it) is replaced.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$CS"
[ -S "$CS" ] || fail "could not make a stale socket"
start_bg cl2 timeout 120 "$TLSGATE" connect --listen "unix:$CS" --target localhost:$GP \
	--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1
wait_log "$WORK/cl2.log" "ready:"
assert_contains "$(cat "$WORK/cl2.log")" "removed a stale socket file nobody listened on" "stale socket logged"
out=$(curl -sS --max-time 10 --unix-socket "$CS" http://localhost/stale)
assert_contains "$out" '"path":"stale"' "through the replaced socket"
pass "a stale socket file is replaced"

# A socket somebody listens on: address in use, and the socket still works.
expect_fail 1 tg connect --listen "unix:$CS" --target localhost:$GP --ca "$WORK/ca/ca.crt"
assert_contains "$OUT" "address in use: another program (or another tlsgate) listens on $CS" "live socket"
out=$(curl -sS --max-time 10 --unix-socket "$CS" http://localhost/still)
assert_contains "$out" '"path":"still"' "the first gateway still serves"
pass "a socket someone listens on: address in use, left alone"

# A regular file is never removed.
echo "precious data" >"$WORK/run/file.sock"
before=$(snapshot "$WORK/run")
expect_fail 1 tg connect --listen "unix:$WORK/run/file.sock" --target localhost:$GP --ca "$WORK/ca/ca.crt"
assert_contains "$OUT" "$WORK/run/file.sock exists and is not a socket (a regular file); tlsgate does not remove it" "regular file"
assert_eq "$before" "$(snapshot "$WORK/run")" "the directory after the refusal"
assert_eq "precious data" "$(cat "$WORK/run/file.sock")" "the file's content"
pass "a regular file at the path: refused, left intact"
