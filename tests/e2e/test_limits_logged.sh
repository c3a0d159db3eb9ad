#!/usr/bin/env bash
# Reaching --max-conns is logged, and both it and running out of
# descriptors (EMFILE) are logged at most once per 10 s per listener, with
# the count of the repeats held back in the next line (the EMFILE line used
# to repeat 114 times in 12 s).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

pki_gateway "Limits CA"
BP=$(free_port); GP=$(free_port); GP2=$(free_port)
start_echo_backend "$BP"
cert=(--cert "$WORK/server.crt" --key "$WORK/server.key")
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP "${cert[@]}" \
	--max-conns 2 --workers 1
start_bg gwfd bash -c "ulimit -n 24; exec timeout 120 '$TLSGATE' serve --listen 127.0.0.1:$GP2 --target 127.0.0.1:$BP ${cert[*]} --workers 1"
wait_port "$GP"; wait_port "$GP2"

# ROUNDS rounds of COUNT connections held for a moment, then closed.
burst() { # PORT COUNT ROUNDS
	python3 - "$@" <<'PY'
import socket, sys, time
port, count, rounds = (int(a) for a in sys.argv[1:])
for _ in range(rounds):
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    time.sleep(0.3)
    for s in held:
        s.close()
    time.sleep(0.1)
PY
}
burst "$GP" 6 5
burst "$GP2" 30 5
sleep 0.5
full=$(grep -c "listener default: max-conns 2 reached" "$WORK/gw.log" || true)
assert_eq 1 "$full" "max-conns lines after 5 bursts in ~2 s"
assert_contains "$(cat "$WORK/gw.log")" "new clients wait in the listen queue until a connection ends" "the max-conns line says what happens"
emfile=$(grep -c "pausing accepts" "$WORK/gwfd.log" || true)
assert_eq 1 "$emfile" "EMFILE lines after 5 bursts in ~2 s"
pass "max-conns and EMFILE are each logged once in a burst"

# After the 10 s window the next line counts what was held back.
sleep 9
burst "$GP" 6 1
burst "$GP2" 30 1
wait_log "$WORK/gw.log" "max-conns 2 reached.* more since the previous such line"
wait_log "$WORK/gwfd.log" "pausing accepts.* more since the previous such line"
assert_eq 2 "$(grep -c "max-conns 2 reached" "$WORK/gw.log")" "max-conns lines after the window"
pass "the next line after 10 s counts the repeats held back"
