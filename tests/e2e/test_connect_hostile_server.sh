#!/usr/bin/env bash
# `tlsgate connect` against servers that misbehave (tests/e2e/hostile_server.py):
# - --starttls postgres: 'S' with plaintext after it (a forged ReadyForQuery,
#   CVE-2021-23222's class) fails the handshake and none of it reaches the
#   plain client; 'N', an ErrorResponse and garbage close the client with
#   nothing sent to it and the reason in the log; a silent server is closed
#   at the handshake timeout.
# - a server that drips a record header a byte a second is closed at the
#   handshake timeout (the bound does not move with each byte); one that
#   hangs up after the ClientHello is logged as such.
# - truncation: a server that closes TCP without a close_notify after some
#   data: the plain client gets that data and then a reset, not an end that
#   would look complete; with a close_notify it gets a clean end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Hostile CA"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"
HOSTILE=$TLSGATE_SRC/tests/e2e/hostile_server.py

# plain PORT: a plain client of the connect listener; prints what it got
# and how the stream ended (eof, reset, or timeout).
plain() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
got, end = b"", "eof"
try:
    while True:
        part = s.recv(4096)
        if not part:
            break
        got += part
except ConnectionResetError:
    end = "reset"
except socket.timeout:
    end = "timeout"
print("got=%r end=%s" % (got, end))
PY
}

# against NAME MODE [CONNECT-ARGS...]: a hostile server in MODE and a
# connect listener in front of it; sets CP (its port) and SLOG, CLOG.
against() {
	local name=$1 mode=$2 sp
	shift 2
	sp=$(free_port)
	CP=$(free_port)
	start_bg "srv-$name" python3 -u "$HOSTILE" "$sp" "$WORK/server.crt" "$WORK/server.key" "$mode"
	wait_port "$sp" 30
	start_bg "cl-$name" timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$CP --target localhost:$sp \
		--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1 \
		--handshake-timeout 2 "$@"
	wait_log "$WORK/cl-$name.log" "ready:"
	SLOG=$WORK/srv-$name.log
	CLOG=$WORK/cl-$name.log
}

# STARTTLS answers: nothing of the server's reaches the client.
against inject pg-inject --starttls postgres
assert_eq "got=b'' end=eof" "$(plain "$CP")" "plain client behind an 'S'+plaintext answer"
wait_log "$SLOG" "SSLRequest ok"
wait_log "$CLOG" 'close="TLS to localhost:[0-9]* failed: .*wrong version number (after its .S. the server sent something that is not TLS: bytes slipped in'
assert_not_contains "$(cat "$CLOG")" "forged" "the injected bytes are not in the log"
pass "'S' with plaintext after it: the handshake fails, the client gets none of it ($(grep -o 'close="[^"]*"' "$CLOG"))"

# closed_quietly NAME MODE LOG-PATTERN [CONNECT-ARGS...]: the plain client
# gets nothing but an end, the log says why.
closed_quietly() {
	local name=$1 mode=$2 pat=$3
	shift 3
	against "$name" "$mode" "$@"
	assert_eq "got=b'' end=eof" "$(plain "$CP")" "plain client behind $mode"
	wait_log "$CLOG" "$pat"
}
closed_quietly refusing pg-n "refused TLS: it answered 'N' to the SSLRequest" --starttls postgres
pass "'N': the client is closed with nothing, the log says the server refused TLS"
closed_quietly error pg-error \
	"answered the PostgreSQL SSLRequest with an error message ('E', not read: it came before TLS" \
	--starttls postgres
assert_not_contains "$(cat "$CLOG")" "forged-error-text" "the pre-TLS error text is not relayed"
pass "an ErrorResponse: the client gets none of it, the log says what came"
closed_quietly garbage pg-garbage "answered 0x58 to the PostgreSQL SSLRequest, not 'S': is it PostgreSQL?" \
	--starttls postgres
pass "garbage: the client is closed, the log names the byte"
closed_quietly silent pg-silent 'close="no answer to the PostgreSQL SSLRequest before the timeout"' \
	--starttls postgres
pass "a silent server: closed at the handshake timeout"

# Handshake stalls.
closed_quietly drip drip 'close="TLS handshake with the target timed out"'
pass "a server dripping a byte a second: closed at the handshake timeout"
closed_quietly hangup hangup "failed: the server closed the connection"
pass "a server that hangs up after the ClientHello: closed, logged"

# Truncation.
against truncate truncate
assert_eq "got=b'part-one\\n' end=reset" "$(plain "$CP")" "plain client behind a truncating server"
wait_log "$CLOG" 'backend read: the server closed TCP without a TLS close_notify: what came may be cut short; the client is reset, not sent an end'
pass "TCP closed without close_notify: the data, then a reset to the plain client, logged"

against clean clean
assert_eq "got=b'part-one\\n' end=eof" "$(plain "$CP")" "plain client behind a clean close"
wait_log "$CLOG" 'close="backend closed"'
pass "close_notify: the data, then a clean end"

# A certificate chain of 160 KB (the CA 300 times): refused at OpenSSL's
# 100 KB limit on a handshake message, nothing reaches the client.
for _ in $(seq 300); do cat "$WORK/ca/ca.crt"; done >"$WORK/bigchain.pem"
sp=$(free_port)
CP=$(free_port)
start_bg s_big openssl s_server -accept 127.0.0.1:$sp -cert "$WORK/server.crt" -key "$WORK/server.key" \
	-cert_chain "$WORK/bigchain.pem" -www -naccept 10
wait_port "$sp" 30
start_bg cl-big timeout 60 "$TLSGATE" connect --listen 127.0.0.1:$CP --target localhost:$sp \
	--cert "$WORK/alice.crt" --key "$WORK/alice.key" --ca "$WORK/ca/ca.crt" --workers 1
wait_log "$WORK/cl-big.log" "ready:"
assert_contains "$(plain "$CP")" "got=b''" "plain client behind a huge chain"
wait_log "$WORK/cl-big.log" 'failed: .*excessive message size'
pass "a 160 KB certificate chain: refused (excessive message size)"
