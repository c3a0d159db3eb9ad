#!/usr/bin/env bash
# A worker process whose master dies between fork() and its parent-death
# signal must stop. It checked for a parent of pid 1, but an orphan goes to
# the nearest subreaper (systemd --user, a container's init, tini), so under
# one it kept serving with no master. gdb stops the new worker at prctl, the
# master is killed there, the worker goes on: under a subreaper it must exit.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || fail "no gdb (apt-get install gdb)"
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem \
	-subj /CN=localhost -days 2 2>/dev/null
PORT=$(free_port)
cat >reaper.py <<'PY'
import ctypes, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("cannot become a subreaper")
with open("gdb.log", "w") as log:
    subprocess.run(sys.argv[1:], stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=120)
def alive_children():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open(f"/proc/{p}/stat").read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if st[1] == str(os.getpid()) and st[0] != "Z":
            out.append(int(p))
    return out
deadline = time.time() + 5
while alive_children() and time.time() < deadline:
    time.sleep(0.1)
kids = alive_children()
for k in kids:
    os.kill(k, 9)
print("left running:", len(kids))
PY
python3 reaper.py gdb -batch -ex 'set follow-fork-mode child' -ex 'set detach-on-fork off' \
	-ex 'break prctl' -ex run -ex 'inferior 1' -ex kill -ex 'inferior 2' -ex detach \
	--args "$TLSGATE" serve --listen "127.0.0.1:$PORT" --target "127.0.0.1:$(free_port)" \
	--cert c.pem --key k.pem --workers 1 >reaper.out 2>&1 || fail "reaper: $(cat reaper.out)"
assert_contains "$(cat gdb.log)" "Inferior 1" "gdb killed the master"
assert_contains "$(cat gdb.log)" "detached" "gdb let the worker go on"
assert_eq "left running: 0" "$(tail -n1 reaper.out)" "no worker outlives its master under a subreaper"
pass "a worker whose master died before its parent-death signal stops, also under a subreaper"
