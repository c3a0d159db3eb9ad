#!/usr/bin/env bash
# --max-conns counts the connections of all worker threads: with 1 and two
# threads, a second client waits in the listen queue until the first ends
# (each thread used to allow max-conns / threads rounded up: one each).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"
. "$(dirname "$0")/lib/http_attack.sh"

declare -A PORT REC
attack_setup gm --workers 2 --max-conns 1

python3 - "${PORT[gm]}" "$WORK/ca/ca.crt" >"$WORK/max.out" <<'PY'
import socket, ssl, sys, threading, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
first = conn()
second_in = []
def second():
    s = conn()  # waits in the listen queue while the first holds the only place
    second_in.append(True)
    s.close()
th = threading.Thread(target=second); th.start()
time.sleep(1)
print("second-in-while-first-open=%s" % bool(second_in))
first.close()
th.join(10)
print("second-in-after-first=%s" % bool(second_in))
PY
assert_eq "second-in-while-first-open=False"$'\n'"second-in-after-first=True" "$(cat "$WORK/max.out")" \
	"--max-conns 1 with 2 worker threads"
wait_log "$WORK/gm.log" "listener default: max-conns 1 reached; new clients wait"
pass "--max-conns 1 with two worker threads: one connection at a time"
