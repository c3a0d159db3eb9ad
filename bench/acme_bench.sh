#!/usr/bin/env bash
# The ACME benchmark: `tlsgate acme serve` against pebble (the Debian
# package: Let's Encrypt's test server, in memory), side by side in one run
# with the same client for the IP identifier 127.0.0.1: by default
# bench/acmeload (tlsgate-acmeload, C: CONC worker threads, each with its own
# account and keep-alive connection, N orders in all through the whole flow:
# newOrder, http-01 answered in-process, finalize with a fresh key and CSR,
# certificate download; the chains of order 0 and every 100th verified
# against the issuing root); CLIENT=py selects bench/acme_bench.py (PROCS
# Python processes, same flow, no chain check). pebble runs without its validation sleep
# (PEBBLE_VA_NOSLEEP=1), validates for real (PEBBLE_VA_ALWAYS_VALID=0),
# rejects no nonces on purpose (PEBBLE_WFE_NONCEREJECT=0) and reuses no
# authorizations (PEBBLE_AUTHZREUSE=0), so both do the same work. tlsgate
# keeps everything in its SQLite inventory (synchronous=FULL: each request's
# nonce and each state change is a durable commit); pebble keeps it in memory.
#
# Figures: orders/s, p50/p99 seconds per order, server CPU per order
# (utime+stime of the server process over the run). Prints a Markdown table
# and keeps it with the raw JSON lines in $OUT_DIR, with each server's log of
# the last run (acme-SERVER-last.log).
#
# Usage: bench/acme_bench.sh
# Environment: TLSGATE (default: build this tree), N (500), CLIENT (c or py),
#   CONC (16, the C client's workers), PROCS (4, the Python client's
#   processes), PEERS ("tlsgate pebble"), OUT_DIR (bench/results), PREFILL
#   (0: certificates already in tlsgate's inventory; needs the sqlite3 shell).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${N:-500}
PROCS=${PROCS:-4}
CONC=${CONC:-16}
CLIENT=${CLIENT:-c}
PEERS=${PEERS:-tlsgate pebble}
OUT_DIR=${OUT_DIR:-$ROOT/bench/results}
mkdir -p "$OUT_DIR"
if [ -z "${TLSGATE:-}" ]; then
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$(nproc)" --target tlsgate >/dev/null
	TLSGATE=$ROOT/build-bench/tlsgate
fi
case "$CLIENT" in
c)
	cmake -S bench/acmeload -B build-bench/acmeload -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench/acmeload -j"$(nproc)" >/dev/null
	ACMELOAD=$ROOT/build-bench/acmeload/tlsgate-acmeload
	;;
py) ;;
*) echo "acme_bench: CLIENT is c or py, not $CLIENT" >&2; exit 2 ;;
esac
command -v pebble >/dev/null || { echo "acme_bench: pebble is not installed (scripts/deps.sh bench)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/acme-bench.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_url() {
	for _ in $(seq 100); do
		curl -s --max-time 2 --cacert "$W/pki/root.crt" "$1" >/dev/null && return 0
		sleep 0.1
	done
	echo "acme_bench: $1 does not answer" >&2
	exit 1
}

"$TLSGATE" ca init --dir "$W/pki" --name "ACME bench Root" >/dev/null
# pebble's own HTTPS certificate, from the same CA, so the client trusts both alike.
"$TLSGATE" cert issue localhost --dir "$W/pki" --out-dir "$W" >/dev/null
# A CA with history: PREFILL copies of that certificate's row (new serials)
# in the inventory, so per-issue costs that grow with it show.
if [ "${PREFILL:-0}" -gt 0 ]; then
	sqlite3 "$W/pki/tlsgate.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
		WHERE i < $PREFILL) INSERT INTO certs (serial, subject, cn, sans, profile, not_before,
		not_after, fingerprint, pem, cert_path, key_path, status, created_at)
		SELECT printf('FF%014X', i), subject, cn, sans, profile, not_before, not_after,
		fingerprint, pem, NULL, NULL, 'valid', created_at FROM (SELECT * FROM certs LIMIT 1), n"
fi

run() { # NAME BASE DIRECTORY-PATH PID HTTP01-PORT CHAIN-ROOT: the client against one server; one JSON line
	local name=$1 base=$2 dir=$3 pid=$4 http=$5 chain_root=$6 t0 t1 tokens=$W/tokens-$1 out
	mkdir -p "$tokens"
	t0=$(cpu_ticks "$pid")
	if [ "$CLIENT" = c ]; then
		# The clock (and the CPU reading) includes the CONC newAccounts; the
		# client's own clock starts after them.
		out=$("$ACMELOAD" --server "$base" --directory "$dir" --ca "$W/pki/root.crt" \
			--chain-root "$chain_root" --http01-port "$http" --orders "$N" --concurrency "$CONC") || true
	else
		out=$(python3 "$ROOT/bench/acme_bench.py" "$base" "$dir" "$W/pki/root.crt" "$http" "$tokens" "$N" "$PROCS")
	fi
	[ -n "$out" ] || { echo "acme_bench: the client gave no result against $name" >&2; exit 1; }
	t1=$(cpu_ticks "$pid")
	python3 - "$name" "$out" "$t0" "$t1" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
name, out, t0, t1, hz = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out["server"] = name
out["server_cpu_ms_per_order"] = round((t1 - t0) * 1000 / hz / max(out["orders"], 1), 2)
out["loadavg_1m"] = float(open("/proc/loadavg").read().split()[0])
print(json.dumps(out))
EOF
}

RESULTS=()
for peer in $PEERS; do
	HTTP01=$(port)
	P=$(port)
	case "$peer" in
	tlsgate)
		"$TLSGATE" acme serve --dir "$W/pki" --listen "127.0.0.1:$P" --name localhost \
			--allow-ip 127.0.0.1 --http01-port "$HTTP01" --orders-per-minute 1000000 \
			--max-conns-per-ip 0 \
			>"$W/tlsgate.log" 2>&1 &
		;;
	pebble)
		M=$(port)
		cat >"$W/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$P", "managementListenAddress": "127.0.0.1:$M",
 "certificate": "$W/localhost.crt", "privateKey": "$W/localhost.key",
 "httpPort": $HTTP01, "tlsPort": $(port), "ocspResponderURL": "",
 "externalAccountBindingRequired": false}}
EOF
		PEBBLE_VA_NOSLEEP=1 PEBBLE_VA_ALWAYS_VALID=0 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
			pebble -config "$W/pebble.json" -strict=false >"$W/pebble.log" 2>&1 &
		;;
	*) echo "acme_bench: unknown peer $peer" >&2; exit 2 ;;
	esac
	pid=$!
	PIDS+=("$pid")
	DIRPATH=/directory
	CHAIN_ROOT=$W/pki/root.crt
	[ "$peer" != pebble ] || DIRPATH=/dir
	wait_url "https://localhost:$P$DIRPATH"
	if [ "$peer" = pebble ]; then # pebble issues from a CA of its own, made at start
		CHAIN_ROOT=$W/pebble-root.pem
		curl -sf --cacert "$W/pki/root.crt" "https://localhost:$M/roots/0" >"$CHAIN_ROOT"
	fi
	line=$(run "$peer" "https://localhost:$P" "$DIRPATH" "$pid" "$HTTP01" "$CHAIN_ROOT")
	echo "$line"
	RESULTS+=("$line")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	# The server's log, for its per-request times (tlsgate: ms= on each line).
	cp "$W/$peer.log" "$OUT_DIR/acme-$peer-last.log"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
printf '%s\n' "${RESULTS[@]}" >"$OUT_DIR/acme-$stamp.jsonl"
printf '%s\n' "${RESULTS[@]}" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
best = {r["server"]: r for r in rows}
peb = best.get("pebble")
print("| server | orders | failed | orders/s | p50 s | p99 s | server CPU ms/order | requests/order | badNonce retries | load avg | vs pebble (orders/s) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    ratio = "%.2fx" % (r["orders_per_s"] / peb["orders_per_s"]) if peb and peb["orders_per_s"] else "-"
    opt = lambda k, f: f % r[k] if k in r else "-"  # the Python client counts neither
    print("| %s | %d | %d | %.1f | %.3f | %.3f | %.2f | %s | %s | %.1f | %s |" % (r["server"], r["orders"],
        r["failed"], r["orders_per_s"], r["p50_s"], r["p99_s"], r["server_cpu_ms_per_order"],
        opt("requests_per_order", "%.2f"), opt("bad_nonce_retries", "%d"), r["loadavg_1m"], ratio))
' | tee "$OUT_DIR/acme-$stamp.md"
