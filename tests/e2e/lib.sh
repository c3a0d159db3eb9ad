# shellcheck shell=bash
# Shared helpers for the end-to-end tests; source it first thing:
#   . "$(dirname "$0")/lib.sh"
# Gives: $WORK (a fresh temp dir of its own), $TLSGATE (absolute), $TLSGATE_SRC,
# tg (tlsgate with a time limit), fail, pass, assert_eq, assert_contains,
# assert_not_contains, expect_fail, snapshot, start_bg, track, on_exit,
# free_port, wait_port; for the gateway: wait_log, child_of, http_get,
# wait_metric, start_echo_backend, start_mtls_gateway, cert_serial, seen_serial
# (certificates: lib/pki.sh). The cleanup trap stops what the test started; on
# failure it prints every *.log under $WORK and keeps $WORK for a post-mortem
# (KEEP_WORK=1 keeps it on success too).

set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
TLSGATE_SRC=${TLSGATE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TLSGATE=${TLSGATE:-$TLSGATE_SRC/build/tlsgate}
[ -x "$TLSGATE" ] || { echo "$TEST_NAME: no tlsgate binary at $TLSGATE (build first)" >&2; exit 1; }
# Relative paths would break once a test cd's into its work dir.
TLSGATE=$(cd "$(dirname "$TLSGATE")" && pwd)/$(basename "$TLSGATE")

# faketime preloads libfaketime ahead of ASan's runtime, which an ASan build
# refuses by default; the order is harmless here. No effect without ASan.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# tlsgate asks for a missing passphrase when standard input is a terminal; a
# test started from one must fail instead of waiting for a typed answer.
exec </dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tlsgate-e2e.XXXXXX")
# Servers that drop privileges (postgres, nginx workers) must reach their files.
chmod 755 "$WORK"
_PIDS=()
_ON_EXIT=()

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

pass() { echo "ok - $*"; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: expected to find '$2' in:"$'\n'"$1" ;;
	esac
}

# assert_not_contains HAYSTACK NEEDLE WHAT
assert_not_contains() {
	case "$1" in
	*"$2"*) fail "$3: did not expect '$2' in:"$'\n'"$1" ;;
	*) ;;
	esac
}

# expect_fail CODE CMD...: CMD must exit with CODE; its output lands in $OUT
# for the caller to check the reason.
expect_fail() {
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want; output: $OUT"
}

# snapshot DIR: names, modes, sizes and hashes of a tree, to prove that a
# refused command changed nothing.
snapshot() {
	(cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# tlsgate itself, bounded so a hang fails the test instead of CTest's timeout.
tg() {
	timeout 60 "$TLSGATE" "$@"
}

# track PID: cleanup kills PID.
track() { _PIDS+=("$1"); }

# on_exit CMD...: run CMD at cleanup (for servers stopped by their own tool).
on_exit() {
	_ON_EXIT+=("$(printf '%q ' "$@")")
}

# start_bg NAME CMD...: run CMD in the background, output to $WORK/NAME.log;
# cleanup kills it. Sets BG_PID.
start_bg() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	BG_PID=$!
	track "$BG_PID"
}

# _descendants PID: the processes below PID, children first.
_descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null || true); do
		echo "$c"
		_descendants "$c"
	done
}

_stop_pids() {
	local pid i below=()
	# What runs below a tracked process (a gateway behind `timeout`, and its
	# worker processes) is taken now: forcing the wrapper would leave them
	# running, orphaned, after the test.
	for pid in "${_PIDS[@]}"; do
		mapfile -t -O "${#below[@]}" below < <(_descendants "$pid")
	done
	for pid in "${_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	# Give each up to 5 s to exit cleanly, then force it.
	for pid in "${_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for pid in "${below[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

_dump_logs() {
	local f
	while IFS= read -r f; do
		echo "----- $f (last 60 lines) -----" >&2
		tail -n 60 "$f" >&2 || true
	done < <(find "$WORK" -name '*.log' -type f 2>/dev/null | sort)
}

_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_ON_EXIT[i]}" >/dev/null 2>&1
	done
	_stop_pids
	# Sanitizer builds: a report in any log fails the test, even a passing one.
	if grep -qrE --include='*.log' "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK" 2>/dev/null; then
		echo "$TEST_NAME: sanitizer report in: $(grep -lrE --include='*.log' 'Sanitizer|runtime error:' "$WORK" | tr '\n' ' ')" >&2
		[ "$rc" -ne 0 ] || rc=1
	fi
	if [ "$rc" -ne 0 ]; then
		_dump_logs
		echo "FAIL: $TEST_NAME (exit $rc); work dir kept: $WORK" >&2
	else
		echo "PASS: $TEST_NAME"
		if [ "${KEEP_WORK:-0}" = 1 ]; then
			echo "$TEST_NAME: work dir kept: $WORK" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# free_port: print a 127.0.0.1 TCP port nobody listens on. Drawn below the
# kernel's ephemeral range so outgoing connections do not take it meanwhile.
free_port() {
	local port i
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % 12000))
		# Not one this test already handed out (and has perhaps not bound
		# yet), and no socket of any state on it.
		grep -qx "$port" "$WORK/.ports" 2>/dev/null && continue
		if ! ss -Htan "sport = :$port" | grep -q .; then
			echo "$port" >>"$WORK/.ports"
			echo "$port"
			return 0
		fi
	done
	fail "free_port: no free port found in 100 tries"
}

# wait_port PORT [TIMEOUT_SECS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 deadline=$((SECONDS + ${2:-10}))
	while ((SECONDS < deadline)); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "nothing listening on 127.0.0.1:$port after ${2:-10} s"
}

# --- Gateway tests ---

# wait_log FILE PATTERN [TIMEOUT_SECS]: wait until PATTERN shows in FILE.
wait_log() {
	local f=$1 pat=$2 deadline=$((SECONDS + ${3:-10}))
	while ((SECONDS < deadline)); do
		grep -q -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "'$pat' did not appear in $f after ${3:-10} s"
}

# child_of PID: the process `timeout` started (the gateway's master).
child_of() {
	local c deadline=$((SECONDS + 5))
	while ((SECONDS < deadline)); do
		c=$(pgrep -P "$1" | head -n1 || true)
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.05
	done
	fail "no child of $1"
}

# http_get URL: plain HTTP GET, body on stdout.
http_get() {
	curl -sS --max-time 5 "$1"
}

# wait_metric URL PATTERN [TIMEOUT_SECS]: wait until PATTERN shows at URL.
wait_metric() {
	local url=$1 pat=$2 deadline=$((SECONDS + ${3:-10}))
	while ((SECONDS < deadline)); do
		curl -s --max-time 2 "$url" 2>/dev/null | grep -q -- "$pat" && return 0
		sleep 0.1
	done
	fail "'$pat' did not show on $url after ${3:-10} s"
}

# start_echo_backend PORT: an HTTP backend answering with the request's
# headers as JSON (tests/e2e/echo_backend.py).
start_echo_backend() {
	start_bg "backend-$1" python3 -u "$TLSGATE_SRC/tests/e2e/echo_backend.py" "$1"
	wait_port "$1"
}

# start_mtls_gateway PORT: `tlsgate serve --mode http --verify require` on
# 127.0.0.1:PORT (log gw.log) with $WORK/server.crt and .key, client
# certificates of $WORK/ca/ca.crt (lib/pki.sh's pki_gateway), in front of an
# echo_backend on a port of its own, whose answers name the client's serial.
start_mtls_gateway() {
	local bp
	bp=$(free_port)
	start_echo_backend "$bp"
	start_bg gw timeout 120 "$TLSGATE" serve --listen "127.0.0.1:$1" --target "127.0.0.1:$bp" \
		--mode http --cert "$WORK/server.crt" --key "$WORK/server.key" \
		--client-ca "$WORK/ca/ca.crt" --verify require --workers 1
	wait_port "$1"
}

# cert_serial CRT: its serial in hex without leading zeros, as seen_serial prints it.
cert_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/serial=0*//'
}

# seen_serial: the X-Client-Serial of the echo_backend answer on standard
# input, without leading zeros.
seen_serial() {
	python3 -c 'import json,sys; print(dict(json.load(sys.stdin)["headers"])["X-Client-Serial"].lstrip("0"))'
}
