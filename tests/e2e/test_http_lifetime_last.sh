#!/usr/bin/env bash
# max-conn-lifetime in http mode, with the last request pipelined behind
# another: the last one goes out with one Connection line saying close (it
# used to carry the client's "keep-alive" and an added "close" line, two
# lines that disagree), its answer reaches the client (it used to be cut
# off when the next request came before it), and the request after it is
# never sent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

declare -A PORT REC
attack_setup gl --workers 1 --max-conn-lifetime 1s

python3 - "${PORT[gl]}" "$WORK/ca/ca.crt" >"$WORK/life.out" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.settimeout(20)
def until(buf, n):
    while buf.count(b"HTTP/1.1 ") < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf
s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
got = until(b"", 1)
time.sleep(1.5)  # past the lifetime: the next request is the last
s.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
got = until(got, 3)
print("answers=%d b=%s c=%s" % (got.count(b"HTTP/1.1 200"), b"path=/b " in got, b"path=/c " in got))
PY
assert_eq "answers=2 b=True c=False" "$(cat "$WORK/life.out")" "max-conn-lifetime: what the client got"
SEEN=$WORK/rec/conn-2.bin
wait_log "$WORK/rec/requests.log" "conn=2 closed"
assert_eq 1 "$(grep -c '^Connection:' "$SEEN")" "max-conn-lifetime: Connection lines of the last request"
assert_contains "$(cat "$SEEN")" "GET /b HTTP/1.1"$'\r\n'"Host: x"$'\r\n'"Connection: close"$'\r\n' "the last request asks the backend to close"
assert_not_contains "$(cat "$SEEN")" "GET /c" "the request after the last one"
wait_log "$WORK/gl.log" 'close="max-conn-lifetime reached (1s): the next request is sent with Connection: close"'
pass "max-conn-lifetime: the last request says Connection: close once (not keep-alive too), its answer arrives, the next is not sent"
