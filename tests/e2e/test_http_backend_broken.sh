#!/usr/bin/env bash
# A backend that breaks HTTP: the responses that ended before the break
# reach the client (they used to be cut off with the connection when they
# came in the same read), then a 502 in place of the broken response if the
# client had no byte of it, then the close. What the backend sent after the
# break reaches nobody. Responses with both Content-Length and
# Transfer-Encoding (which RFC 9112 lets a gateway forward only without
# Content-Length; tlsgate forwards heads unchanged) and with a bare CR in a
# header are refused; they used to be forwarded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

declare -A PORT REC
attack_setup g --workers 1

attack g 2 'GET /extra HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 200 "$STATUSES" "a second response nobody asked for: the client's answers"
assert_contains "$(cat "$WORK/got")" "first" "the asked-for response's body"
assert_not_contains "$(cat "$WORK/got")" "extra" "the unasked response"
assert_contains "$CLOSE" "backend 127.0.0.1:$B: a response to no request" "unasked response: log"
pass "a response nobody asked for: the one asked for reaches the client, the other does not, then the close"

attack g 2 'HEAD /headbody HTTP/1.1\r\nHost: x\r\n\r\n'
assert_eq 200 "$STATUSES" "a HEAD response with a body: the client's answers"
assert_not_contains "$(cat "$WORK/got")" "first" "the body of the HEAD response"
assert_contains "$CLOSE" "a response to no request" "HEAD response with a body: log"
pass "a body after a HEAD response does not reach the client"

while IFS='|' read -r path why; do
	attack g 2 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET '"$path"' HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_eq "200 502" "$STATUSES" "$path: the client's answers"
	assert_contains "$CLOSE" "replied 502: backend 127.0.0.1:$B: $why" "$path: log"
	assert_not_contains "$(cat "$WORK/got")" "first" "$path: the broken response's body"
	pass "$path: the good response, then 502 in place of the broken one ($why)"
done <<'EOF2'
/clte|Transfer-Encoding with Content-Length in a response
/crhead|bare CR in a response head
EOF2
