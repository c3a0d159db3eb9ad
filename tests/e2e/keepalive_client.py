"""A client that keeps one TLS connection open across a gateway reload (for
the e2e tests): GET PATH/1, print its status, wait until the file GO exists,
then (http) GET PATH/2 and print its status, and finally say whether the
gateway closed the connection.

usage: keepalive_client.py PORT CA CERT KEY GO PATH http|tcp|http-open"""
import os
import socket
import ssl
import sys
import time

port, ca, cert, key, go, path, mode = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=30),
                    server_hostname="localhost")


def request(p):
    """The response status ("+close" when the backend was told "Connection:
    close"), or "eof" if the connection ended first."""
    s.sendall(b"GET " + p.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return "eof"
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        d = s.recv(65536)
        if not d:
            break
        body += d
    told = b'["Connection", "close"]' in body
    return head.split(b" ")[1].decode() + ("+close" if told else "")


def closed():
    """Waits (up to the socket timeout) for the gateway to end the connection."""
    try:
        return "closed" if s.recv(1) == b"" else "open"
    except socket.timeout:
        return "open"
    except (ssl.SSLError, ConnectionError):
        return "closed"


print("first", request(path + "/1"), flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
if mode != "tcp":
    try:
        print("second", request(path + "/2"), flush=True)
    except (ssl.SSLError, ConnectionError) as e:
        print("second", type(e).__name__, flush=True)
if mode != "http-open":
    print(closed(), flush=True)
