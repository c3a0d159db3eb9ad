#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal, as a person at a terminal would.

    pty_run.py TRANSCRIPT [EXPECT SEND]... -- CMD [ARG]...

The command gets the terminal as its controlling terminal and as stdin,
stdout and stderr (so /dev/tty is the terminal). For each EXPECT/SEND pair,
waits until EXPECT (a Python regular expression) shows in the output since
the previous match, then types SEND and Enter. Everything the terminal
showed is written to TRANSCRIPT: with echo off, typed text must not be in
it. Exits with the command's exit status; 124 when an EXPECT did not show
within 20 s or the command did not end within 30 s (the transcript then
says which).
"""
import os
import pty
import re
import select
import sys
import time


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    transcript, pairs, cmd = args[0], args[1:sep], args[sep + 1:]
    if len(pairs) % 2:
        sys.exit("pty_run.py: EXPECT without SEND")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    out = b""
    pos = 0
    status = None

    def read_some(deadline):
        nonlocal out
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the command closed the terminal
                return None
            if not data:
                return None
            out += data
        return True

    def finish(code, why=""):
        with open(transcript, "wb") as f:
            f.write(out)
            if why:
                f.write(b"\n[pty_run: " + why.encode() + b"]\n")
        sys.exit(code)

    for i in range(0, len(pairs), 2):
        want = re.compile(pairs[i].encode())
        deadline = time.monotonic() + 20
        while True:
            m = want.search(out, pos)
            if m:
                pos = m.end()
                break
            if not read_some(deadline):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                finish(124, "no %r in the output" % pairs[i])
        os.write(fd, pairs[i + 1].encode() + b"\r")
    deadline = time.monotonic() + 30
    while status is None:
        got = read_some(deadline)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            while read_some(time.monotonic() + 0.2):
                pass
        elif got is False:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            finish(124, "the command did not end")
        elif got is None:
            _, status = os.waitpid(pid, 0)
    finish(os.waitstatus_to_exitcode(status))


main()
