#!/usr/bin/env bash
# Client mode against stunnel's client mode, side by side in one run:
# plain HTTP from our load generator (tlsgate-loadgen --plain) into each
# client-mode gateway, which speaks TLS 1.3 with a client certificate
# (EC P-256, verified server chain and name) to the same mutual-TLS server
# (tlsgate serve --verify require, tcp mode) in front of the same nginx
# backend. ghostunnel is not packaged for Debian 12, so stunnel is the
# only peer.
#
# Figures (medians of $REPS runs of $DURATION s after a $WARMUP s warmup):
#   connections/s  one GET per new plain connection (Connection: close):
#                  each is one upstream TLS handshake, resumed when the
#                  gateway keeps sessions (both do)
#   MB/s           a 32 MiB body again and again over one connection
#   client-gateway CPU per connection (µs), from /proc, over the window
#
# Usage: bench/connect_bench.sh
# Environment: TLSGATE=path/to/tlsgate (default: build this tree), WORKERS
#   (default: cores), DURATION (2.5), WARMUP (0.5), REPS (3), LG_THREADS (2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

WORKERS=${WORKERS:-$(nproc)}
DURATION=${DURATION:-2.5}
WARMUP=${WARMUP:-0.5}
REPS=${REPS:-3}
LG_THREADS=${LG_THREADS:-2}
BULK_MIB=32

log() { printf '[connect-bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

scripts/deps.sh build bench >/dev/null
cmake -S bench/loadgen -B build-bench/loadgen -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench/loadgen -j"$(nproc)" >/dev/null
LG=$ROOT/build-bench/loadgen/tlsgate-loadgen
if [ -z "${TLSGATE:-}" ]; then
	scripts/build.sh build-bench -DTLSGATE_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
	TLSGATE=$ROOT/build-bench/tlsgate
fi
"$TLSGATE" connect --help >/dev/null 2>&1 || die "$TLSGATE has no 'connect' command"

W=$(mktemp -d /var/tmp/tlsgate-connectbench.XXXXXX)
chmod 755 "$W" # nginx's workers read the pages
STARTED=()
cleanup() {
	local pid
	for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${STARTED[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # PORT NAME
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$2 did not listen on 127.0.0.1:$1 (log: $(tail -n 5 "$W/$2.log" 2>/dev/null))"
}
tree_pids() {
	local p c
	for p in "$@"; do
		echo "$p"
		for c in $(pgrep -P "$p" || true); do tree_pids "$c"; done
	done
}

log "certificates (tlsgate ca init + cert issue, EC P-256)"
"$TLSGATE" ca init --dir "$W/ca" --name "bench CA" >/dev/null
"$TLSGATE" cert issue localhost --dir "$W/ca" --san 127.0.0.1 --key ec-p256 >/dev/null
"$TLSGATE" cert issue bench-client --dir "$W/ca" --client --key ec-p256 >/dev/null
CA=$W/ca/root.crt
CRT=$W/ca/issued/localhost.crt
KEY=$W/ca/issued/localhost.key
CCRT=$W/ca/issued/bench-client.crt
CKEY=$W/ca/issued/bench-client.key

# The backend: nginx with a small page and a large file.
BP=$(free_port)
mkdir -p "$W/backend/html"
printf 'hello from the benchmark backend\n' >"$W/backend/html/index.html"
head -c $((BULK_MIB << 20)) /dev/zero | tr '\0' 'x' >"$W/backend/html/big"
cat >"$W/backend/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $W/backend/nginx.pid;
error_log $W/backend/error.log;
events { worker_connections 4000; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$BP;
		root $W/backend/html;
		default_type application/octet-stream;
	}
}
EOF
nginx -p "$W/backend" -c "$W/backend/nginx.conf" -e "$W/backend/error.log" >"$W/backend.log" 2>&1 &
STARTED+=($!)
wait_port "$BP" backend

# The mutual-TLS server both clients talk to.
SP=$(free_port)
"$TLSGATE" serve --listen 127.0.0.1:$SP --target 127.0.0.1:$BP --cert "$CRT" --key "$KEY" \
	--client-ca "$CA" --verify require --min-tls 1.3 --workers "$WORKERS" >"$W/server.log" 2>&1 &
STARTED+=($!)
wait_port "$SP" server

declare -A PORT PID
TP=$(free_port)
"$TLSGATE" connect --listen 127.0.0.1:$TP --target 127.0.0.1:$SP --cert "$CCRT" --key "$CKEY" \
	--ca "$CA" --min-tls 1.3 --workers "$WORKERS" >"$W/tlsgate.log" 2>&1 &
PID[tlsgate]=$!
PORT[tlsgate]=$TP
STARTED+=($!)
UP=$(free_port)
cat >"$W/stunnel.conf" <<EOF
foreground = yes
pid = $W/stunnel.pid
output = $W/stunnel.out
debug = warning
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
[client]
client = yes
accept = 127.0.0.1:$UP
connect = 127.0.0.1:$SP
cert = $CCRT
key = $CKEY
CAfile = $CA
verifyChain = yes
checkIP = 127.0.0.1
sslVersionMin = TLSv1.3
EOF
stunnel4 "$W/stunnel.conf" >"$W/stunnel.log" 2>&1 &
PID[stunnel]=$!
PORT[stunnel]=$UP
STARTED+=($!)
PEERS="tlsgate stunnel"
for n in $PEERS; do
	wait_port "${PORT[$n]}" "$n"
	out=$(curl -sS --max-time 5 "http://127.0.0.1:${PORT[$n]}/") || die "$n: no answer"
	[ "$out" = "hello from the benchmark backend" ] || die "$n: unexpected answer: $out"
done
log "both client-mode gateways answer; $REPS runs of ${DURATION}s per figure, $WORKERS tlsgate workers"

RES=$W/results.jsonl
run() { # PEER LOAD LOADGEN-ARGS...
	local n=$1 load=$2 pids line
	shift 2
	pids=$(tree_pids "${PID[$n]}" | paste -sd,)
	line=$("$LG" --plain --port "${PORT[$n]}" --threads "$LG_THREADS" --pids "$pids" \
		--warmup "$WARMUP" --duration "$DURATION" "$@") || log "$n $load: loadgen reported a failure"
	printf '{"peer":"%s","load":"%s","r":%s}\n' "$n" "$load" "$line" >>"$RES"
}
for ((r = 1; r <= REPS; r++)); do
	for n in $PEERS; do
		run "$n" conns --mode resume --conns 32 --path /
		run "$n" bulk --mode bulk --path /big
	done
done

python3 - "$RES" "$PEERS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peers = sys.argv[2].split()
def med(peer, load, key):
    v = [r["r"].get(key, 0) for r in rows if r["peer"] == peer and r["load"] == load]
    return statistics.median(v) if v else 0
figs = [("connections/s (one GET each)", "conns", "rate", True, "%.0f"),
        ("client-gateway CPU per connection (µs)", "conns", "server_cpu_us_per_op", False, "%.0f"),
        ("errors per run (connections)", "conns", "errors", False, "%.0f"),
        ("MB/s, one connection", "bulk", "mb_s", True, "%.0f")]
print("| figure | " + " | ".join(peers) + " |")
print("|---|" + "---|" * len(peers))
for title, load, key, hib, fmt in figs:
    vals = [med(p, load, key) for p in peers]
    best = max(vals) if hib else min(vals)
    cells = []
    for v in vals:
        ratio = (v / best if hib else (best / v if v else 1.0)) if best else 1.0
        cells.append((fmt % v) + ("" if key == "errors" else " (%.2f)" % ratio))
    print("| %s | %s |" % (title, " | ".join(cells)))
PY
