#!/usr/bin/env bash
# lib.sh's cleanup stops what a test started, also below a wrapper: a
# server behind `timeout` that does not stop on SIGTERM within 5 s used to
# outlive the test (the wrapper was killed, the server left orphaned).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cat >"$WORK/inner.sh" <<'INNER'
set -euo pipefail
. "$TLSGATE_SRC/tests/e2e/lib.sh"
# A server that ignores SIGTERM, as a gateway busy stopping may take longer.
start_bg stubborn timeout 120 bash -c 'trap "" TERM; echo $$ >"$0"; exec sleep 300' "$OUTER/stubborn.pid"
for _ in $(seq 50); do [ -s "$OUTER/stubborn.pid" ] && break; sleep 0.1; done
INNER
OUTER=$WORK TLSGATE_SRC=$TLSGATE_SRC bash "$WORK/inner.sh" >"$WORK/inner.log" 2>&1 ||
	fail "the inner test failed: $(cat "$WORK/inner.log")"
pid=$(cat "$WORK/stubborn.pid")
[ -n "$pid" ] || fail "the inner test started nothing"
# A killed process is gone once its new parent has reaped it.
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	ps -o pid,ppid,stat,args -p "$pid" >&2 || true
	kill -KILL "$pid"
	fail "the process started behind timeout (pid $pid) outlived its test"
fi
pass "a server behind timeout that ignores SIGTERM is stopped with its test"
