#!/usr/bin/env bash
# Request forms a desync attack hides a second request behind, against
# raw_backend.py (a lenient keep-alive server that records every byte):
# Expect: 100-continue, HTTP/1.0 keep-alive, bare LF line ends, absolute-form
# and asterisk-form targets, a userinfo '@' in the target, Transfer-Encoding
# spelt in capitals or after a tab, equal Content-Length lines, leading
# zeros in lengths and chunk sizes, chunk extensions after whitespace. Each
# is forwarded as one well-framed request in the gateway's own framing, and
# the request behind it gets the gateway's identity lines, never the
# client's: the backend's bytes are compared whole. Spellings a lenient
# parser reads differently (whitespace before a colon, a NUL in a name,
# two spaces or a trailing space in the request line, a lower-case or
# two-digit version) are refused before anything reaches the backend.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1

ADMIN='GET /admin HTTP/1.1\r\nHost: x\r\nX-Client-Verify: SUCCESS\r\nX-Client-CN: admin\r\n\r\n'
ADMIN_OUT="GET /admin HTTP/1.1\r\nHost: x\r\n$FWD\r\n"
TE='Transfer-Encoding: chunked\r\n'

# name|responses|payload|what the backend must get (printf escapes; $FWD,
# $ADMIN, $ADMIN_OUT and $TE expanded)
while IFS='|' read -r name n payload want; do
	payload=$(eval "printf '%s' \"$payload\"")
	want=$(eval "printf '%s' \"$want\"")
	statuses=$(printf '200 %.0s' $(seq "$n")); statuses=${statuses% }
	attack gw "$n" "$payload"
	assert_eq "$statuses" "$STATUSES" "$name: the client's answers"
	seen_exactly "$name" "$want"
	assert_not_contains "$(cat "$WORK/rec/requests.log")" "cn=admin" "$name: forged identity at the backend"
	pass "$name: one request each, framed by the gateway; the one behind it is not admin"
done <<'EOF_CASES'
Expect 100-continue, then a request|2|POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello$ADMIN|POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n${FWD}\r\nhello$ADMIN_OUT
HTTP/1.0 keep-alive, then a request|2|GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /admin HTTP/1.0\r\nX-Client-CN: admin\r\nConnection: keep-alive\r\n\r\n|GET /a HTTP/1.0\r\nConnection: keep-alive\r\n${FWD}\r\nGET /admin HTTP/1.0\r\nConnection: keep-alive\r\n${FWD}\r\n
bare LF line ends|2|GET /lf HTTP/1.1\nHost: x\nX-Client-CN: admin\n\nGET /lf2 HTTP/1.1\nHost: x\n\n|GET /lf HTTP/1.1\r\nHost: x\r\n${FWD}\r\nGET /lf2 HTTP/1.1\r\nHost: x\r\n${FWD}\r\n
absolute-form with userinfo|1|GET http://admin@internal/x HTTP/1.1\r\nHost: public\r\n\r\n|GET http://admin@internal/x HTTP/1.1\r\nHost: public\r\n${FWD}\r\n
OPTIONS *|1|OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n|OPTIONS * HTTP/1.1\r\nHost: x\r\n${FWD}\r\n
Transfer-Encoding in capitals|2|POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\n${TE}${FWD}\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN_OUT
Transfer-Encoding after a tab|2|POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\n${TE}${FWD}\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN_OUT
two equal Content-Length lines|2|POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n${FWD}\r\nhello$ADMIN_OUT
leading zeros in Content-Length|2|POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n${FWD}\r\nhello$ADMIN_OUT
leading zeros in chunk sizes|2|POST /t HTTP/1.1\r\nHost: x\r\n${TE}\r\n005\r\nhello\r\n0000\r\n\r\n$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\n${TE}${FWD}\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN_OUT
chunk extension after whitespace|2|POST /t HTTP/1.1\r\nHost: x\r\n${TE}\r\n5 ; a=b\r\nhello\r\n0\r\n\r\n$ADMIN|POST /t HTTP/1.1\r\nHost: x\r\n${TE}${FWD}\r\n5\r\nhello\r\n0\r\n\r\n$ADMIN_OUT
EOF_CASES

while IFS='|' read -r name status why payload; do
	attack gw 1 "$payload"
	refused "$name" "$status" "$why"
	pass "$name: $status"
done <<'EOF_CASES'
whitespace before the colon of Transfer-Encoding|400|not a token|POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n
NUL in a header name|400|not a token|GET / HTTP/1.1\r\nHost: x\r\nX-A\x00: b\r\n\r\n
two spaces after the method|400|target is not visible ASCII|GET  / HTTP/1.1\r\nHost: x\r\n\r\n
a space after the version|400|no HTTP version|GET / HTTP/1.1 \r\nHost: x\r\n\r\n
a lower-case version|400|no HTTP version|GET / http/1.1\r\nHost: x\r\n\r\n
a two-digit minor version|400|no HTTP version|GET / HTTP/1.10\r\nHost: x\r\n\r\n
EOF_CASES
