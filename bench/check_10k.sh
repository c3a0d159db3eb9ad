#!/usr/bin/env bash
# Benchmark: `tlsgate check` over a Prosody-style certs dir of N cert/key
# pairs (default 10,000): HOST.crt (leaf + intermediate) + HOST.key, all
# issued by one tlsgate CA with `tlsgate cert issue --batch`. Prints the wall
# time, CPU time and peak RSS of the check, best of RUNS (default 5), and
# pairs/second. With prosodyctl installed, also times `prosodyctl check certs`
# over the same dir for comparison (PROSODY=0 to skip; it is much slower, so
# it runs once).
#
#   bench/check_10k.sh [BUILD_DIR]      N=10000 RUNS=5 KEEP=1 to keep the dir
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
TLSGATE=${TLSGATE:-$BUILD/tlsgate}
N=${N:-10000}
RUNS=${RUNS:-5}
PROSODY=${PROSODY:-1}
[ -x "$TLSGATE" ] || { echo "build first: cmake --build $BUILD (no $TLSGATE)" >&2; exit 2; }

W=$(mktemp -d /tmp/tlsgate-bench-check.XXXXXX)
chmod 755 "$W"
cleanup() { [ "${KEEP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"; }
trap cleanup EXIT

echo "== setup: $N pairs in $W/certs"
t0=$(date +%s.%N)
"$TLSGATE" ca init --dir "$W/ca" --name "bench CA" --intermediate >/dev/null
for i in $(seq -w 1 "$N"); do echo "host$i.example.com"; done >"$W/names.txt"
"$TLSGATE" cert issue --batch "$W/names.txt" --dir "$W/ca" --out-dir "$W/certs" >/dev/null
t1=$(date +%s.%N)
echo "   issued in $(echo "$t1 - $t0" | bc) s"
CA=(--ca "$W/ca/root.crt" --no-system-ca)

# One warm-up run fills the page cache; then the best of RUNS.
"$TLSGATE" check "$W/certs" "${CA[@]}" >"$W/out.txt" || { tail -n 5 "$W/out.txt"; exit 1; }
tail -n 1 "$W/out.txt"
best=""
for r in $(seq "$RUNS"); do
	/usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" "$TLSGATE" check "$W/certs" "${CA[@]}" >/dev/null
	read -r wall user sys rss <"$W/time.txt"
	echo "   run $r: wall ${wall}s user ${user}s sys ${sys}s maxrss ${rss}KiB"
	if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then best=$wall bu=$user bs=$sys brss=$rss; fi
done
rate=$(echo "scale=0; $N / $best" | bc 2>/dev/null || echo "?")
echo "tlsgate check, $N pairs: best wall ${best}s (user ${bu}s, sys ${bs}s), peak RSS ${brss} KiB, $rate pairs/s"

/usr/bin/time -f "%e" -o "$W/time.txt" "$TLSGATE" check "$W/certs" "${CA[@]}" --json >"$W/out.json"
echo "tlsgate check --json, $N pairs: wall $(cat "$W/time.txt")s, $(wc -c <"$W/out.json") bytes"

if [ "$PROSODY" = 1 ] && command -v prosodyctl >/dev/null && id prosody >/dev/null 2>&1; then
	mkdir -p "$W/data"
	chown -R prosody "$W/data" "$W/certs"
	{
		echo "pidfile = \"$W/prosody.pid\""
		echo "data_path = \"$W/data\""
		echo "certificates = \"$W/certs\""
		echo "log = { error = \"$W/prosody.log\" }"
		sed 's/.*/VirtualHost "&"/' "$W/names.txt"
	} >"$W/prosody.cfg.lua"
	chmod 644 "$W/prosody.cfg.lua"
	/usr/bin/time -f "%e %U %S %M" -o "$W/time.txt" \
		prosodyctl --config "$W/prosody.cfg.lua" check certs >"$W/prosody.txt" 2>&1 || true
	read -r wall user sys rss <"$W/time.txt"
	checked=$(grep -c '^Checking certificate for' "$W/prosody.txt" || true)
	echo "prosodyctl check certs, $checked hosts: wall ${wall}s (user ${user}s, sys ${sys}s), peak RSS ${rss} KiB"
	echo "ratio prosodyctl/tlsgate (wall): $(echo "scale=1; $wall / $best" | bc)x"
fi
