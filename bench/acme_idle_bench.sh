#!/usr/bin/env bash
# What idle connections cost the ACME server's front end: server CPU for R
# kept-alive requests (curl, one connection, GET /directory) with 0 and
# with IDLE silent kept-alive connections parked (tests/e2e/acme_hold.py),
# for each binary given. A poller whose wake costs what it holds (a poll
# array rebuilt every pass) shows in the second column; one whose wake costs
# what woke (epoll, deadline heaps) does not.
#
# Usage: TLSGATE=build/tlsgate [OLD=/path/to/other/tlsgate] bench/acme_idle_bench.sh
# Environment: IDLE (4000), R (2000). Prints a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IDLE=${IDLE:-4000}
R=${R:-2000}
# shellcheck source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
# shellcheck source=../tests/e2e/lib/acme.sh
. "$ROOT/tests/e2e/lib/acme.sh"
cd "$WORK"
acme_ca

# run BINARY N: server CPU ms and wall s for R requests with N parked.
run() {
	local pid c0 c1 t0 t1 hz
	TLSGATE=$1
	start_acme "acme-$2" --max-conns $(($2 + 500)) --max-conns-per-ip 0
	pid=$(child_of "$ACME_PID")
	[ "$2" -eq 0 ] || hold "idle-$2" "$ACME_PORT" req "$2" 127.0.0.2 60
	for _ in $(seq "$R"); do
		printf 'url = "https://localhost:%s/directory"\noutput = "/dev/null"\n' "$ACME_PORT"
	done >urls.cfg
	hz=$(getconf CLK_TCK)
	c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	t0=$(date +%s.%N)
	curl -sS --cacert pki/root.crt -K urls.cfg
	t1=$(date +%s.%N)
	c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	kill "$ACME_PID"
	wait "$ACME_PID" 2>/dev/null || true
	echo "$(((c1 - c0) * 1000 / hz)) $(echo "$t1 - $t0" | bc)"
}

echo "| binary | server CPU ms, 0 idle | server CPU ms, $IDLE idle | wall s, 0 idle | wall s, $IDLE idle |"
echo "|---|---:|---:|---:|---:|"
for bin in "$TLSGATE" ${OLD:+"$OLD"}; do
	read -r c0 w0 < <(run "$bin" 0)
	read -r c1 w1 < <(run "$bin" "$IDLE")
	echo "| $bin | $c0 | $c1 | $w0 | $w1 |"
done
