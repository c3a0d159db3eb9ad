#!/usr/bin/env bash
# A valid client certificate whose names are written to break the fields
# they land in: a CN with quotes and spaces that spell log fields
# (`alice" verify=ok close="forged`) and an OU holding ", CN=admin". The
# connection's log line keeps one field per name (quotes and spaces become
# '?', so no forged close= or verify=), X-Client-CN carries the CN as it
# is, and X-Client-Subject escapes the OU's comma the RFC 2253 way, so a
# backend reading the subject properly finds no second CN.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"
attack_setup gw --workers 1
pki_cert "$WORK/evil" "$WORK/ca"/ca client '/CN=alice" verify=ok close="forged/OU=a, CN=admin'

attack gw 1 'GET /evil HTTP/1.1\r\nHost: x\r\n\r\n' "$WORK/evil.crt" "$WORK/evil.key"
assert_eq 200 "$STATUSES" "the client's answer"
assert_contains "$LINE" ' cn=alice??verify=ok?close=?forged verify=ok ' "the log line's cn field"
assert_eq 1 "$(grep -o ' close="' <<<"$LINE" | wc -l)" "close fields in the log line"
assert_eq 1 "$(grep -o ' verify=' <<<"$LINE" | wc -l)" "verify fields in the log line"
head=$(cat "$SEEN")
assert_contains "$head" $'X-Client-CN: alice" verify=ok close="forged\r\n' "X-Client-CN at the backend"
assert_contains "$head" $'X-Client-Subject: OU=a\\, CN=admin,CN=alice\\" verify=ok close=\\"forged\r\n' \
	"X-Client-Subject at the backend"
assert_eq 1 "$(grep -c '^X-Client-CN:' "$SEEN")" "X-Client-CN lines at the backend"
pass "hostile CN and OU: one log field each, X-Client-CN as written, the subject RFC 2253-escaped"
