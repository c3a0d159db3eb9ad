#!/usr/bin/env bash
# Runs testssl.sh (Debian's testssl.sh package) against the gateway with its
# defaults, on loopback: one listener with an RSA certificate, one with an
# ECDSA one, http mode in front of Python's http.server. Prints testssl's
# report for each and a summary of the findings rated LOW or worse (from its
# JSON); docs/SECURITY.md lists what it found. Takes several minutes per
# listener.
#   scripts/testssl.sh [BUILD_DIR]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
tlsgate=$(pwd)/${1:-build}/tlsgate
[ -x "$tlsgate" ] || { echo "testssl.sh: no tlsgate at $tlsgate (build first)" >&2; exit 1; }
scripts/deps.sh audit
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tlsgate-testssl.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
. tests/e2e/lib/pki.sh

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pki_cert "$WORK/ca" self root "/CN=testssl CA"
pki_cert "$WORK/rsa" "$WORK/ca" server "/CN=localhost" "DNS:localhost" "" "" rsa2048
pki_cert "$WORK/ec" "$WORK/ca" server "/CN=localhost" "DNS:localhost"
BP=$(port); RP=$(port); EP=$(port)
python3 -m http.server "$BP" --bind 127.0.0.1 --directory "$WORK" >"$WORK/backend.log" 2>&1 &
pids+=($!)
for l in "rsa $RP" "ec $EP"; do
	set -- $l
	"$tlsgate" serve --listen 127.0.0.1:$2 --target 127.0.0.1:$BP --mode http \
		--cert "$WORK/$1.crt" --key "$WORK/$1.key" --workers 1 >"$WORK/gw-$1.log" 2>&1 &
	pids+=($!)
done
sleep 1
for l in "rsa $RP" "ec $EP"; do
	set -- $l
	echo "== testssl.sh against the gateway with its defaults, $1 certificate (127.0.0.1:$2)"
	testssl --quiet --color 0 --warnings off --jsonfile "$WORK/$1.json" 127.0.0.1:$2 || true
	echo "== findings rated LOW or worse ($1 certificate)"
	python3 - "$WORK/$1.json" <<'PY'
import json, sys
rank = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
for f in json.load(open(sys.argv[1])):
    if rank.get(f.get("severity"), 0) >= 1:
        print("%-8s %-28s %s" % (f["severity"], f["id"], f["finding"]))
PY
done
