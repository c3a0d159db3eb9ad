#!/usr/bin/env bash
# `acme serve` fails to start, clearly, with nothing left listening and the
# CA unchanged: when the open files limit cannot hold --max-conns (the hard
# limit too low to raise the soft one), and when the connection poller's
# memory cannot be had (the second calloc of its size fails, through an
# LD_PRELOAD shim). Without --max-conns the same limit is no failure: the
# default shrinks to fit, with a warning.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib/acme.sh
. "$TLSGATE_SRC/tests/e2e/lib/acme.sh"
cd "$WORK"

acme_ca
# The server's own certificate is issued by a first start, so the refused
# starts below have nothing to write.
start_acme first
kill "$ACME_PID"
wait "$ACME_PID" 2>/dev/null || true
before=$(snapshot pki)

# serve_fails NAME CMD...: CMD (an acme serve on $PORT) must exit 1 within
# 20 s (a server that stays up is killed and fails the test); its output
# lands in $OUT, and nothing may listen on $PORT afterwards.
serve_fails() {
	local name=$1 rc=0
	shift
	timeout 20 "$@" >"$name.out" 2>&1 || rc=$?
	OUT=$(cat "$name.out")
	[ "$rc" = 1 ] || fail "$name: exited $rc, expected 1 (124: still serving after 20 s); output: $OUT"
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		fail "$name: something listens on $PORT after the failed start"
	fi
}

# (a) A hard limit of 512 open files cannot hold --max-conns 2000.
PORT=$(free_port)
serve_fails nofile bash -c 'ulimit -n 512 && exec "$@"' _ "$TLSGATE" acme serve --dir pki \
	--listen "127.0.0.1:$PORT" --name localhost --allow-domain example.test --max-conns 2000
assert_contains "$OUT" "--max-conns 2000 needs about" "the fd limit refusal names the option"
assert_contains "$OUT" "the hard limit on open files is 512 (\`ulimit -Hn\`)" "the fd limit refusal names the limit"
assert_contains "$OUT" "or lower --max-conns to " "the fd limit refusal says what would fit"
assert_not_contains "$OUT" "serving https://" "no serving with too few descriptors"

# (b) The poller's memory: --max-conns 2000 takes 2000 slots of 8 bytes (16000
# bytes) per table; the second such calloc fails.
if ldd "$TLSGATE" | grep -q 'libasan\|libtsan'; then
	echo "# the allocation failure needs LD_PRELOAD, which a sanitizer build does not take: skipped"
else
	cc -shared -fPIC -O1 -o failcalloc.so "$TLSGATE_SRC/tests/e2e/lib/failcalloc.c" ||
		fail "cannot build the calloc shim"
	PORT=$(free_port)
	serve_fails nomem env LD_PRELOAD="$WORK/failcalloc.so" FAILCALLOC_MIN=16000 FAILCALLOC_MAX=16100 \
		FAILCALLOC_NTH=2 "$TLSGATE" acme serve --dir pki --listen "127.0.0.1:$PORT" --name localhost \
		--allow-domain example.test --max-conns 2000
	assert_contains "$OUT" "cannot set up the connection poller for --max-conns 2000: out of memory" \
		"the poller's allocation failure"
	assert_not_contains "$OUT" "serving https://" "no serving without a poller"
fi
assert_eq "$before" "$(snapshot pki)" "the CA after the failed starts"

# (c) Under the same hard limit, the default --max-conns (1024) is not an
# error: it shrinks to what fits, with a warning, and the server serves.
ACME_PORT=$(free_port)
start_bg small bash -c 'ulimit -n 512 && exec "$@"' _ "$TLSGATE" acme serve --dir pki \
	--listen "127.0.0.1:$ACME_PORT" --name localhost --allow-domain example.test
wait_port "$ACME_PORT" 20
wait_log small.log "the hard limit on open files (512) holds about [0-9]* connections, not the default 1024: --max-conns is [0-9]*"
fits=$(sed -n 's/.*--max-conns is \([0-9]*\).*/\1/p' small.log)
wait_log small.log "(16 workers, $fits connections"
[ "$(curl -sS --max-time 8 --cacert pki/root.crt "https://localhost:$ACME_PORT/directory" | jq -r .newNonce)" = \
	"https://localhost:$ACME_PORT/acme/new-nonce" ] || fail "the directory from the server with a shrunk --max-conns"
pass "acme serve start-up failures: exit 1, a clear message, nothing listening; the default --max-conns fitted to the limit"
