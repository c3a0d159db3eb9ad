#!/usr/bin/env bash
# The gateway benchmark: tlsgate serve against nginx, HAProxy, hitch and
# stunnel, side by side in one run, each with the same certificates (tlsgate
# ca init + cert issue, EC P-256), TLS 1.3 only, a client certificate required
# and verified against the CA (hitch cannot: it does less work), the same
# backend and the same worker count. Load comes from our own generator,
# bench/loadgen (tlsgate-loadgen), on 127.0.0.1 only.
#
# Figures (medians of $REPS runs of $DURATION s after a $WARMUP s warmup):
#   full mutual-TLS handshakes/s and server CPU per handshake, resumed
#   handshakes/s (TLS 1.3 tickets), keep-alive requests/s with p50/p99 latency
#   and server CPU per request, MB/s on one connection, and server RSS per idle
#   mutual-TLS connection ($IDLE_CONNS connections).
# Prints a Markdown table with ratios to the best peer per figure, and keeps
# it with the raw JSON lines in $OUT_DIR.
#
# Usage: bench/gateway_bench.sh
# Environment: TLSGATE=path/to/tlsgate (default: build this tree), WORKERS (default:
#   cores), PEERS (default: all, space-separated names below), DURATION (2.5),
#   WARMUP (0.5), REPS (5), IDLE_CONNS (2000), LG_THREADS (2), OUT_DIR (bench/results),
#   LOADS (default: all, space-separated: handshake resume requests bulk idle),
#   TLSGATE_OLD=path/to/another/tlsgate for the peer tlsgate-http-old (not in the
#   default list): the same http-mode setup with that binary, so a change is
#   measured side by side with the build before it, interleaved in one run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

WORKERS=${WORKERS:-$(nproc)}
DURATION=${DURATION:-2.5}
WARMUP=${WARMUP:-0.5}
REPS=${REPS:-5}
IDLE_CONNS=${IDLE_CONNS:-2000}
LG_THREADS=${LG_THREADS:-2}
OUT_DIR=${OUT_DIR:-$ROOT/bench/results}
ALL_PEERS="tlsgate-http tlsgate-tcp nginx haproxy hitch stunnel tlsgate-tcp-nocert"
# Peers that ask for no client certificate: hitch cannot; tlsgate-tcp-nocert
# is tlsgate doing hitch's work (--verify none), the fair match for it.
NOCERT_PEERS="hitch tlsgate-tcp-nocert"
PEERS=${PEERS:-$ALL_PEERS}
ALL_LOADS="handshake resume requests bulk idle"
LOADS=${LOADS:-$ALL_LOADS}
BULK_MIB=32

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
wants() { [[ " $LOADS " == *" $1 "* ]]; } # LOAD: is it to be measured?

for l in $LOADS; do
	[[ " $ALL_LOADS " == *" $l "* ]] || die "unknown load $l (known: $ALL_LOADS)"
done

scripts/deps.sh build bench >/dev/null

# Our load generator, built on its own so the main build is untouched.
cmake -S bench/loadgen -B build-bench/loadgen -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench/loadgen -j"$(nproc)" >/dev/null
LG=$ROOT/build-bench/loadgen/tlsgate-loadgen

if [ -z "${TLSGATE:-}" ]; then
	scripts/build.sh build-bench -DTLSGATE_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
	TLSGATE=$ROOT/build-bench/tlsgate
fi
"$TLSGATE" serve --help >/dev/null 2>&1 ||
	die "$TLSGATE has no 'serve' command: build the gateway branch and set TLSGATE=/path/to/tlsgate"

W=$(mktemp -d /var/tmp/tlsgate-gwbench.XXXXXX)
chmod 755 "$W" # nginx workers (nobody) read the backend's pages; keys stay 0600
STARTED=() # PIDs of everything we start, stopped in reverse by the trap

cleanup() {
	local i pid
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		pid=${STARTED[i]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${STARTED[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Many idle connections: raise our limit; the peers inherit it.
ulimit -n "$(ulimit -Hn)" # 20000 here: enough for IDLE_CONNS and the peers

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
# All PIDs of a process tree (master, workers, their children).
tree_pids() {
	local p c
	for p in "$@"; do
		echo "$p"
		for c in $(pgrep -P "$p" || true); do tree_pids "$c"; done
	done
}
rss_kib() { # sum of VmRSS over a process tree
	local sum=0 p v
	for p in $(tree_pids "$1"); do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# --- certificates: one CA, one server cert, one client cert, all EC P-256
log "certificates (tlsgate ca init + cert issue, EC P-256)"
"$TLSGATE" ca init --dir "$W/ca" --name "bench CA" >/dev/null
"$TLSGATE" cert issue localhost --dir "$W/ca" --san 127.0.0.1 --key ec-p256 >/dev/null
"$TLSGATE" cert issue bench-client --dir "$W/ca" --client --key ec-p256 >/dev/null
CA=$W/ca/root.crt
CRT=$W/ca/issued/localhost.crt
KEY=$W/ca/issued/localhost.key
CCRT=$W/ca/issued/bench-client.crt
CKEY=$W/ca/issued/bench-client.key
PEM=$W/server.pem # cert + key in one file, for HAProxy and hitch
(umask 077 && cat "$CRT" "$KEY" >"$PEM")
openssl x509 -in "$CRT" -noout -text | grep -q "NIST CURVE: P-256" || die "server key is not P-256"

# --- the backend: nginx serving a small page and a large file, one worker
BP=$(free_port)
mkdir -p "$W/backend/html"
printf 'hello from the benchmark backend\n' >"$W/backend/html/index.html"
head -c $((BULK_MIB << 20)) /dev/zero | tr '\0' 'x' >"$W/backend/html/big"
cat >"$W/backend/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $W/backend/nginx.pid;
error_log $W/backend/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 9000; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 100000000;
	keepalive_timeout 600s;
	server {
		listen 127.0.0.1:$BP reuseport;
		root $W/backend/html;
		default_type application/octet-stream;
	}
}
EOF
nginx -p "$W/backend" -c "$W/backend/nginx.conf" -e "$W/backend/error.log" >"$W/backend.log" 2>&1 &
STARTED+=($!)
wait_port "$BP" backend

# --- the peers
declare -A PORT PID
peer_start() { # NAME
	local n=$1 p
	p=$(free_port)
	PORT[$n]=$p
	mkdir -p "$W/$n"
	case "$n" in
	tlsgate-http | tlsgate-tcp | tlsgate-tcp-nocert | tlsgate-http-old)
		local mode=tcp verify=(--client-ca "$CA" --verify require) bin=$TLSGATE
		[ "$n" != tlsgate-http ] && [ "$n" != tlsgate-http-old ] || mode=http
		[ "$n" != tlsgate-http-old ] || bin=${TLSGATE_OLD:?tlsgate-http-old needs TLSGATE_OLD=/path/to/tlsgate}
		[ "$n" != tlsgate-tcp-nocert ] || verify=(--verify none)
		"$bin" serve --listen "127.0.0.1:$p" --target "127.0.0.1:$BP" --mode "$mode" \
			--cert "$CRT" --key "$KEY" "${verify[@]}" --min-tls 1.3 \
			--workers "$WORKERS" --idle-timeout 600 >"$W/$n.log" 2>&1 &
		;;
	nginx)
		sed -e "s|@W@|$W/$n|g" -e "s|@PORT@|$p|g" -e "s|@BP@|$BP|g" -e "s|@WORKERS@|$WORKERS|g" \
			-e "s|@CRT@|$CRT|g" -e "s|@KEY@|$KEY|g" -e "s|@CA@|$CA|g" \
			bench/peers/nginx.conf >"$W/$n/nginx.conf"
		nginx -p "$W/$n" -c "$W/$n/nginx.conf" -e "$W/$n/error.log" >"$W/$n.log" 2>&1 &
		;;
	haproxy)
		sed -e "s|@PORT@|$p|g" -e "s|@BP@|$BP|g" -e "s|@WORKERS@|$WORKERS|g" \
			-e "s|@PEM@|$PEM|g" -e "s|@CA@|$CA|g" bench/peers/haproxy.cfg >"$W/$n/haproxy.cfg"
		haproxy -db -f "$W/$n/haproxy.cfg" >"$W/$n.log" 2>&1 &
		;;
	hitch)
		sed -e "s|@PORT@|$p|g" -e "s|@BP@|$BP|g" -e "s|@WORKERS@|$WORKERS|g" \
			-e "s|@PEM@|$PEM|g" bench/peers/hitch.conf >"$W/$n/hitch.conf"
		# hitch refuses to run its workers as root
		[ "$(id -u)" -ne 0 ] || echo 'user = "nobody"' >>"$W/$n/hitch.conf"
		hitch --config="$W/$n/hitch.conf" >"$W/$n.log" 2>&1 &
		;;
	stunnel)
		sed -e "s|@W@|$W/$n|g" -e "s|@PORT@|$p|g" -e "s|@BP@|$BP|g" \
			-e "s|@CRT@|$CRT|g" -e "s|@KEY@|$KEY|g" -e "s|@CA@|$CA|g" \
			bench/peers/stunnel.conf >"$W/$n/stunnel.conf"
		stunnel4 "$W/$n/stunnel.conf" >"$W/$n.log" 2>&1 &
		;;
	*) die "unknown peer $n (known: $ALL_PEERS)" ;;
	esac
	PID[$n]=$!
	STARTED+=($!)
	wait_port "$p" "$n"
}

# One request with the client cert must get the backend's page; one without
# must be refused, except by the peers that ask for none ($NOCERT_PEERS).
peer_check() { # NAME
	local n=$1 url="https://localhost:${PORT[$1]}/" out
	out=$(curl -sS --max-time 10 --cacert "$CA" --cert "$CCRT" --key "$CKEY" \
		--resolve "localhost:${PORT[$n]}:127.0.0.1" --tlsv1.3 "$url") ||
		die "$n: request with a client cert failed"
	[ "$out" = "hello from the benchmark backend" ] || die "$n: unexpected answer: $out"
	if curl -sS --max-time 10 --cacert "$CA" --resolve "localhost:${PORT[$n]}:127.0.0.1" \
		--tlsv1.3 -o /dev/null -w '%{http_code}' "$url" 2>/dev/null | grep -q '^200$'; then
		[[ " $NOCERT_PEERS " == *" $n "* ]] || die "$n: served a client without a certificate"
		VERIFIES[$n]=no
	else
		[[ " $NOCERT_PEERS " != *" $n "* ]] || die "$n: refused a client without a certificate"
		VERIFIES[$n]=yes
	fi
	curl -sS --max-time 30 --cacert "$CA" --cert "$CCRT" --key "$CKEY" -o "$W/big.out" \
		--resolve "localhost:${PORT[$n]}:127.0.0.1" "https://localhost:${PORT[$n]}/big"
	[ "$(stat -c %s "$W/big.out")" -eq $((BULK_MIB << 20)) ] || die "$n: /big came back truncated"
}
declare -A VERIFIES

lg() { # PEER MODE [args...]: one loadgen run, its JSON line tagged with the peer
	local n=$1 mode=$2 pids line
	shift 2
	pids=$(tree_pids "${PID[$n]}" | paste -sd, -)
	line=$("$LG" --mode "$mode" --port "${PORT[$n]}" --cert "$CCRT" --key "$CKEY" \
		--threads "$LG_THREADS" --pids "$pids" "$@") || log "$n $mode: loadgen reported a failure"
	[ -n "$line" ] || die "$n $mode: no result"
	printf '{"peer":"%s",%s\n' "$n" "${line#\{}" >>"$RESULTS"
	printf '%s\n' "$line" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
if r.get("errors"):
    print("[bench] warning:", r["errors"], "errors:", r.get("last_error", ""), file=sys.stderr)'
}

mkdir -p "$OUT_DIR"
RESULTS=$W/results.jsonl
: >"$RESULTS"
for n in $PEERS; do
	log "start $n"
	peer_start "$n"
	peer_check "$n"
done

# Memory first, on fresh servers, before any load has grown their pools.
if wants idle; then
	for n in $PEERS; do
		log "$n: $IDLE_CONNS idle mutual-TLS connections"
		sleep 0.5
		before=$(rss_kib "${PID[$n]}")
		rm -f "$W/ready"
		"$LG" --mode idle --port "${PORT[$n]}" --cert "$CCRT" --key "$CKEY" --threads "$LG_THREADS" \
			--conns "$IDLE_CONNS" --hold 4 --ready-file "$W/ready" >"$W/idle.json" &
		lgpid=$!
		for _ in $(seq 1200); do [ -e "$W/ready" ] && break; sleep 0.1; done
		sleep 1
		after=$(rss_kib "${PID[$n]}")
		wait "$lgpid" || log "$n: not all idle connections held ($(cat "$W/idle.json"))"
		printf '{"peer":"%s",%s,"before_kib":%s,"after_kib":%s}\n' \
			"$n" "$(sed -e 's/^{//' -e 's/}$//' "$W/idle.json")" "$before" "$after" >>"$RESULTS"
	done
fi

# Load, one peer at a time; repetitions interleaved across peers so a noisy
# moment on the shared machine does not land on one peer only.
ROUNDS=$REPS
wants handshake || wants resume || wants requests || wants bulk || ROUNDS=0 # LOADS=idle
for rep in $(seq "$ROUNDS"); do
	for n in $PEERS; do
		log "round $rep/$REPS: $n"
		common=(--warmup "$WARMUP" --duration "$DURATION")
		! wants handshake || lg "$n" handshake "${common[@]}" --conns 32
		! wants resume || lg "$n" resume "${common[@]}" --conns 32
		! wants requests || lg "$n" requests "${common[@]}" --conns 64
		! wants bulk || lg "$n" bulk "${common[@]}" --conns 1 --path /big
	done
done

stamp=$(date -u +%Y-%m-%dT%H:%MZ)
{
	echo "Gateway benchmark, $stamp: $(nproc) cores, workers=$WORKERS, median of $REPS x ${DURATION}s," \
		"$IDLE_CONNS idle connections; $(openssl version | cut -d' ' -f1-2)."
	[ "$LOADS" = "$ALL_LOADS" ] || echo "Loads measured: $LOADS."
	echo
	python3 bench/peers/table.py "$RESULTS" "$PEERS" "$(for n in $PEERS; do echo "$n=${VERIFIES[$n]}"; done)"
} >"$W/table.md"
cp "$RESULTS" "$OUT_DIR/gateway.jsonl"
cp "$W/table.md" "$OUT_DIR/gateway.md"
cat "$W/table.md"
log "results in $OUT_DIR/gateway.md and gateway.jsonl"
