#!/usr/bin/env bash
# The ACME server's connections: clients that connect and then say nothing
# (raw TCP, or a finished TLS handshake, or a kept-alive connection) wait
# parked, not in a worker thread, so a real client is still answered with
# every worker's worth of them open; parked ones are closed at their
# deadline; one address gets --max-conns-per-ip connections, the extra ones
# closed, logged and counted; at --max-conns the longest idle kept-alive
# connection makes room, and with none idle a new connection is refused;
# a half-sent head gives its worker up after 2 s when others wait for one.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
# directory [curl options]: a real client's request from 127.0.0.1, with
# time to spare for a loaded machine but less than any idle timeout.
directory() {
	curl -sS --max-time 8 --cacert pki/root.crt "$@" "$ACME_DIR" | jq -r .newNonce
}

metric() {
	curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$1/metrics" |
		sed -n "s/^tlsgate_acme_connections_closed_total{reason=\"$2\"} //p"
}

start_acme acme --workers 4
PORT=$ACME_PORT
NONCE_URL="https://localhost:$PORT/acme/new-nonce"

# (a) 40 finished TLS handshakes, ten times the workers, from 40 addresses
# (under the per-address limit): a client is still answered.
hold tls "$PORT" tls 40 127.0.1.
assert_eq "$NONCE_URL" "$(directory)" "the directory with 40 idle TLS connections open"
# Their deadline (no request within 10 s of the handshake) closes them,
# though no worker looks at them.
assert_eq 40 "$(closed tls)" "idle TLS connections closed by the server at their deadline"

# (b) 40 raw TCP connections that never send a byte.
hold tcp "$PORT" tcp 40 127.0.2.
assert_eq "$NONCE_URL" "$(directory)" "the directory with 40 silent TCP connections open"
assert_eq 40 "$(closed tcp)" "silent TCP connections closed by the server at their deadline"
assert_eq 80 "$(metric "$PORT" idle)" "connections closed for idling on /metrics"

# (c) One address over the limit (default 8): the extra four are closed at
# once, logged and counted; another address is served.
hold many "$PORT" tcp 12 127.0.0.2
assert_eq "$NONCE_URL" "$(directory)" "the directory from 127.0.0.1 while 127.0.0.2 is at its limit"
wait_log acme.log "127.0.0.2: connection refused: 8 already open from this address (--max-conns-per-ip 8)"
assert_eq 4 "$(metric "$PORT" per_ip)" "connections refused for the per-address limit on /metrics"
assert_eq 12 "$(closed many)" "all of 127.0.0.2's connections closed (4 at once, 8 at the deadline)"
assert_eq 4 "$(grep -c '127.0.0.2: connection refused' acme.log)" "refusals logged, one each"

# (d) --max-conns 3: three kept-alive connections fill it; a new client
# takes the longest idle one's place.
start_acme small --max-conns 3 --max-conns-per-ip 0
SMALL=$ACME_PORT
hold kept "$SMALL" req 3 127.0.0.1
assert_eq "$(jq -r .newNonce <<<"$(curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$SMALL/directory")")" \
	"https://localhost:$SMALL/acme/new-nonce" "a new client at --max-conns with idle connections"
assert_eq 1 "$(metric "$SMALL" reclaimed)" "the idle connection reclaimed on /metrics"
# With three silent new connections (none idle) a fourth is refused.
hold silent "$SMALL" tcp 3 127.0.0.3
if curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$SMALL/directory" >refused.out 2>&1; then
	fail "a client answered at --max-conns with no connection idle: $(cat refused.out)"
fi
wait_log small.log "connection refused: 3 connections open, none idle (--max-conns)"
closed silent >/dev/null
assert_eq 1 "$(curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$SMALL/metrics" |
	sed -n 's/^tlsgate_acme_connections_closed_total{reason="max_conns"} //p')" \
	"the refusal at --max-conns on /metrics"

# (e) One worker, held by a head that stopped halfway: while another client
# waits for the worker the head gets 2 s, not 10, and is answered 408.
start_acme one --workers 1
hold half "$ACME_PORT" part 1 127.0.0.4
sleep 0.5
assert_eq "https://localhost:$ACME_PORT/acme/new-nonce" \
	"$(curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$ACME_PORT/directory" | jq -r .newNonce)" \
	"a client while the only worker holds a half-sent head"
assert_eq 1 "$(closed half)" "the half-sent head's connection closed"
wait_log one.log "127.0.0.4 - - 408"
pass "acme connection limits"
