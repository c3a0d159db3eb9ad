# Shared helpers for the end-to-end tests. Source it first:
#   . "$(dirname "$0")/lib.sh"
# It gives each test its own work dir ($WORK), a cleanup trap that stops what
# the test started (register with `track PID`), and logs on failure.
set -euo pipefail

TLSGATE_SRC=${TLSGATE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TLSGATE=${TLSGATE:-$TLSGATE_SRC/build/tlsgate}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tlsgate-e2e.XXXXXX")
chmod 755 "$WORK"
_PIDS=()
_TEST=$(basename "$0" .sh)

track() { _PIDS+=("$1"); }

_cleanup() {
	local rc=$?
	for pid in "${_PIDS[@]:-}"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	done
	for pid in "${_PIDS[@]:-}"; do
		[ -n "$pid" ] && wait "$pid" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "--- $_TEST failed (rc=$rc); logs in $WORK:" >&2
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f" >&2
			tail -n 40 "$f" >&2
		done
	fi
	[ "${KEEP_WORK:-}" = 1 ] || [ $rc -ne 0 ] || rm -rf "$WORK"
	exit $rc
}
trap _cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

assert_eq() { # expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # haystack needle what
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: expected to contain '$2', got: $1" ;;
	esac
}

# Runs a command that must fail with the given exit code; its stderr goes to
# $OUT for the caller to check the reason.
expect_fail() { # code cmd...
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want; output: $OUT"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port [seconds]
	local port=$1 tries=$(( ${2:-10} * 20 ))
	while [ $tries -gt 0 ]; do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	fail "nothing listens on 127.0.0.1:$port"
}

# A snapshot of a directory tree (names, modes, sizes, hashes) to prove that a
# refused command changed nothing.
snapshot() {
	(cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort)
}
