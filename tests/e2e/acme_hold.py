#!/usr/bin/env python3
"""Holds connections open to a server and does nothing with them, the way a
client that ties up a server's threads does; reports how many it opened and
how many the server closed.

  acme_hold.py PORT MODE N SRC CAFILE HOLD STATUS
    MODE  tcp (connect, send nothing), tls (complete a TLS handshake, then
          nothing), req (one GET /directory kept alive, then nothing), part
          (the first line of a request head, then nothing)
    SRC   the source address to bind (127.0.0.2: another peer than 127.0.0.1);
          ending in a dot, a prefix: connection i from SRC + i (127.0.1.1...)
    HOLD  seconds to wait for the server to close them before giving up
STATUS gets "opened K" once all are set up (after at most 5 s, or 1 s
for every 25 connections past 125), then "closed M" when all are closed or
HOLD is over, and the program exits. Thousands of connections are fine: the
open files limit is raised to its hard limit, and they are watched with
poll, not select.
"""
import concurrent.futures
import os
import resource
import select
import socket
import ssl
import sys
import time


def open_one(port, mode, src, ctx, out):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        if mode != "tcp":
            s = ctx.wrap_socket(s, server_hostname="localhost")
        if mode == "part":
            s.sendall(b"GET /directory HTTP/1.1\r\n")
        if mode == "req":
            s.sendall(b"GET /directory HTTP/1.1\r\nHost: localhost\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                got += s.recv(4096)
            head, body = got.split(b"\r\n\r\n", 1)
            length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")][0]
            while len(body) < length:
                body += s.recv(4096)
        out.append(s)
    except (OSError, IndexError, ValueError):
        pass


def main():
    port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    src, cafile, hold, status = sys.argv[4], sys.argv[5], float(sys.argv[6]), sys.argv[7]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.create_default_context(cafile=cafile)
    socks = []
    srcs = [src + str(i + 1) if src.endswith(".") else src for i in range(n)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(n, 64))
    jobs = [pool.submit(open_one, port, mode, a, ctx, socks) for a in srcs]
    concurrent.futures.wait(jobs, timeout=max(5, n / 25))
    pool.shutdown(wait=False, cancel_futures=True)
    with open(status, "w") as f:
        f.write("opened %d\n" % len(socks))
    # From here on the bytes are not TLS any more to us: read the raw
    # sockets (session tickets, then the end) until each one closes.
    raws = [socket.socket(fileno=os.dup(s.fileno())) for s in list(socks)]
    by_fd = {s.fileno(): s for s in raws}
    open_ = set(raws)
    watch = select.poll()
    for fd in by_fd:
        watch.register(fd, select.POLLIN)
    end = time.monotonic() + hold
    while open_ and time.monotonic() < end:
        for fd, _ in watch.poll(200):
            s = by_fd[fd]
            try:
                if s.recv(4096, socket.MSG_DONTWAIT) != b"":
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            watch.unregister(fd)
            open_.discard(s)
    with open(status, "a") as f:
        f.write("closed %d\n" % (len(raws) - len(open_)))


main()
