"""Sends stdin's bytes, as they are, over TLS to 127.0.0.1:PORT and reads
HTTP responses until it has N of them, a 101 (the rest is another
protocol), or the server closes. Prints its own port (to find the
connection in the server's log) and the status codes on one line ("none"
if there was none); the bytes received go to OUT.

usage: tls_raw_client.py PORT CAFILE N OUT [CERT KEY]
"""
import re
import socket
import ssl
import sys

port, ca, want, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if len(sys.argv) > 6:
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(20)
port_used = s.getsockname()[1]
s.sendall(sys.stdin.buffer.read())
raw, buf, got = b"", b"", []


def more():
    global raw, buf
    try:
        d = s.recv(65536)
    except (ssl.SSLError, ConnectionError):
        d = b""
    raw += d
    buf += d
    return bool(d)


while len(got) < want:
    while b"\r\n\r\n" not in buf:
        if not more():
            break
    if b"\r\n\r\n" not in buf:
        break
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ")[1])
    got.append(str(status))
    if status == 101:
        break
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(buf) < n and more():
        pass
    buf = buf[n:]
open(out, "wb").write(raw)
print(port_used, " ".join(got) or "none")
