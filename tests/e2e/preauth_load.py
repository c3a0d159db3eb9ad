#!/usr/bin/env python3
"""Holds many connections to a gateway that have not authenticated yet, for
the resource test (test_preauth_limits.sh).

    preauth_load.py KIND PORT COUNT HOLD_SECS [ADDRS]

KIND:
  idle       connect and send nothing
  hello      send the first bytes of a real TLS ClientHello, then one more
             byte a second (a slow ClientHello)
  head       complete the TLS handshake (no client certificate), then send a
             request head one byte a second (a slow header; http mode)

Connections come from ADDRS source addresses (127.0.0.2, 127.0.0.3, ...),
spread evenly, so per-address limits can be tested apart from per-listener
ones. Prints "open N" once COUNT connections are set up (N: how many the
gateway has not closed), then keeps them for HOLD_SECS, feeding the slow
kinds, and prints "closed-by-peer M" (how many the gateway closed meanwhile)
and, for head, "status-408 K" (how many got a 408 answer)."""
import selectors
import socket
import ssl
import sys
import time


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def connect(port, src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def main():
    kind, port, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    naddrs = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    hello = client_hello()
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    socks, pos = [], {}
    tctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tctx.check_hostname = False
    tctx.verify_mode = ssl.CERT_NONE
    for i in range(count):
        src = "127.0.0.%d" % (2 + i % naddrs)
        s = connect(port, src)
        if kind == "hello":
            s.sendall(hello[:8])
            pos[s] = 8
        elif kind == "head":
            s = tctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(head[:1])
            # Readable also means a session ticket came, with no data for
            # recv(): non-blocking, so that waits for nothing.
            s.setblocking(False)
            pos[s] = 1
        socks.append(s)
    alive = set(socks)
    got408 = 0

    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)

    def reap(timeout):
        nonlocal got408
        for key, _ in sel.select(timeout):
            s = key.fileobj
            if s not in alive:
                continue
            try:
                data = s.recv(4096)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                data = b""
            if data.startswith(b"HTTP/1.1 408"):
                got408 += 1
            if not data or data.startswith(b"HTTP/"):
                alive.discard(s)
                sel.unregister(s)

    # Refusals come as closes right after the connect: wait a second for
    # them before counting what stays open.
    settle = time.time() + 1.0
    while time.time() < settle and alive:
        reap(max(0.0, settle - time.time()))
    print("open %d" % len(alive), flush=True)
    deadline = time.time() + hold
    while time.time() < deadline and alive:
        step_end = min(deadline, time.time() + 1.0)
        while time.time() < step_end and alive:
            reap(max(0.0, step_end - time.time()))
        for s in list(alive):
            try:
                if kind == "hello" and pos[s] < len(hello):
                    s.sendall(hello[pos[s]:pos[s] + 1])
                    pos[s] += 1
                elif kind == "head" and pos[s] < len(head):
                    s.sendall(head[pos[s]:pos[s] + 1])
                    pos[s] += 1
            except (ConnectionError, ssl.SSLError, OSError):
                alive.discard(s)
                sel.unregister(s)
    print("closed-by-peer %d" % (len(socks) - len(alive)), flush=True)
    if kind == "head":
        print("status-408 %d" % got408, flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
