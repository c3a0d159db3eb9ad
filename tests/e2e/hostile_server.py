"""A server that misbehaves toward `tlsgate connect`, for the e2e tests.

  hostile_server.py PORT CERT KEY MODE

One connection at a time, each handled the MODE way:
  pg-inject   answers the PostgreSQL SSLRequest with 'S' and a forged
              ReadyForQuery before its TLS handshake (CVE-2021-23222's class)
  pg-n        answers 'N'
  pg-error    answers with an ErrorResponse ('E' ...)
  pg-garbage  answers 'X' and a line
  pg-silent   reads the SSLRequest and says nothing
  drip        sends a TLS record header one byte a second, never a handshake
  hangup      reads the ClientHello and closes
  truncate    TLS, sends "part-one\\n", closes TCP without a close_notify
  clean       TLS, sends "part-one\\n", then a close_notify
Prints "SSLRequest ok" when the 8 bytes it read were an SSLRequest."""
import socket
import ssl
import sys
import time

from loopback import listener

SSLREQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
FORGED = b"Z\x00\x00\x00\x05I" + b"forged-plaintext"


def read_sslrequest(c):
    got = b""
    while len(got) < 8:
        part = c.recv(8 - len(got))
        if not part:
            break
        got += part
    if got:  # nothing: wait_port looking
        print("SSLRequest ok" if got == SSLREQUEST else "not an SSLRequest: %r" % got, flush=True)
    return got != b""


def tls(c, ctx):
    s = ctx.wrap_socket(c, server_side=True)
    s.sendall(b"part-one\n")
    time.sleep(0.3)
    return s


def handle(c, mode, ctx):
    if mode.startswith("pg-") and not read_sslrequest(c):
        c.close()
        return
    if mode == "pg-inject":
        c.sendall(b"S" + FORGED)
        try:
            tls(c, ctx)
        except (ssl.SSLError, OSError) as e:
            print("handshake failed: %s" % e, flush=True)
    elif mode == "pg-n":
        c.sendall(b"N")
    elif mode == "pg-error":
        msg = b"SFATAL\x00C08P01\x00Mforged-error-text\x00\x00"
        c.sendall(b"E" + (len(msg) + 4).to_bytes(4, "big") + msg)
    elif mode == "pg-garbage":
        c.sendall(b"X garbage line\r\n")
    elif mode in ("pg-silent",):
        time.sleep(30)
    elif mode == "drip":
        for b in b"\x16\x03\x03\x40\x00" * 10:
            c.sendall(bytes([b]))
            time.sleep(1)
    elif mode == "hangup":
        c.recv(4096)
    elif mode == "truncate":
        s = tls(c, ctx)
        s.shutdown(socket.SHUT_RDWR)  # the SSL object is dropped unsent: no close_notify
    elif mode == "clean":
        s = tls(c, ctx)
        s.unwrap()
    time.sleep(0.5)
    c.close()


def main():
    port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = listener(port, 8)
    while True:
        c, _ = ls.accept()
        try:
            handle(c, mode, ctx)
        except OSError as e:
            print("connection: %s" % e, flush=True)
            c.close()


main()
