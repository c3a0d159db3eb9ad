"""A mutual-TLS client of stream_backend.py through the gateway (tcp mode).

usage: stream_client.py PORT CA CERT KEY once
         prints "ok" once a line came through, else "refused: REASON"
       stream_client.py PORT CA CERT KEY stream STOPFILE
         reads until STOPFILE exists, printing "connected", then "lines N"
         every 20 lines, and at the end "stopped after N lines" or
         "closed after N lines: REASON" if the gateway ended it"""
import os
import socket
import ssl
import sys

port, ca, cert, key, mode = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
n = 0
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10),
                        server_hostname="localhost")
    f = s.makefile("rb")
    if mode == "once":
        print("ok" if f.readline() else "refused: eof")
        sys.exit(0)
    print("connected", flush=True)
    while not os.path.exists(sys.argv[6]):
        if not f.readline():
            raise OSError("eof")
        n += 1
        if n % 20 == 0:
            print("lines %d" % n, flush=True)
    print("stopped after %d lines" % n, flush=True)
except (OSError, ssl.SSLError) as e:
    print(("refused: %s" if mode == "once" else "closed after %d lines: %%s" % n) % e, flush=True)
