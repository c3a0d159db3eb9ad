#!/usr/bin/env bash
# A request refused in the middle of a pipeline is answered after the
# responses owed to the requests before it, which reach the client whole
# and in order (they used to be cut off with the backend: the client got
# the refusal alone); the backend gets nothing after the refused request.
# And a pipelined head that had to wait for room in the backend buffer is
# sent once there is room (it used to wait for the client's next bytes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

declare -A PORT REC
attack_setup g --workers 1

GET1='GET /1 HTTP/1.1\r\nHost: x\r\n\r\n'
GET1_OUT="GET /1 HTTP/1.1\r\nHost: x\r\n$FWD\r\n"

attack g 2 "$GET1"'GET /2 HTTP/1.1\r\n\r\n'
assert_eq "200 400" "$STATUSES" "a request without Host after a good one: the client's answers"
seen_exactly "a request without Host after a good one" "$GET1_OUT"
assert_contains "$CLOSE" "replied 400: HTTP/1.1 request without Host" "a request without Host after a good one: log"
assert_contains "$(cat "$WORK/got")" "path=/1 " "the first response's body"
pass "the answer to the request before the refused one comes first, then the 400"

attack g 4 "$GET1"'GET /2 HTTP/1.1\r\nHost: x\r\n\r\nPOST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq "200 200 400" "$STATUSES" "bad chunk framing after two good requests: the client's answers"
seen_exactly "bad chunk framing after two good requests" "$GET1_OUT""GET /2 HTTP/1.1\r\nHost: x\r\n$FWD\r\nPOST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n$FWD\r\n3\r\nabc"
assert_contains "$CLOSE" "replied 400: chunk data not followed by CRLF" "bad chunk framing: log"
assert_not_contains "$(cat "$WORK/rec/requests.log")" "path=/admin" "the request after the refused one"
pass "two answers, then the 400 for the broken chunked body; nothing after it reaches the backend"

# 13000 bytes of body fill the backend buffer so far that the next head
# (3 KB) does not fit behind them; the whole pipeline is one TLS record, so
# nothing more comes from the client.
body=$(head -c 13000 /dev/zero | tr '\0' b)
pad=$(head -c 3000 /dev/zero | tr '\0' p)
attack g 2 'POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 13000\r\n\r\n'"$body"'GET /2 HTTP/1.1\r\nHost: x\r\nX-Pad: '"$pad"'\r\n\r\n'
assert_eq "200 200" "$STATUSES" "a head waiting for room: the client's answers"
assert_contains "$(cat "$WORK/rec/requests.log")" "path=/2 " "the second request at the backend"
pass "a pipelined head that waited for room in the backend buffer goes out once there is room"
