#!/usr/bin/env python3
"""Stands in for systemd's notification socket (sd_notify(3)).

    notify_listener.py PATH [PORT]

Binds a unix datagram socket at PATH ("@name": the abstract namespace), mode
0777 so that a gateway running as another user can send, and prints every
message as one line, its KEY=VALUE fields joined by '|'. With PORT, a message
holding READY=1 gets "|port=open" or "|port=closed": whether 127.0.0.1:PORT
accepted a connection when the message arrived.
"""
import os
import socket
import sys

path = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if path.startswith("@"):
    sock.bind("\0" + path[1:])
else:
    sock.bind(path)
    os.chmod(path, 0o777)
print("listening", flush=True)
while True:
    msg = sock.recv(65536)
    fields = [f for f in msg.decode(errors="replace").split("\n") if f]
    line = "|".join(fields)
    if port and "READY=1" in fields:
        probe = socket.socket()
        probe.settimeout(2)
        try:
            probe.connect(("127.0.0.1", port))
            line += "|port=open"
        except OSError:
            line += "|port=closed"
        finally:
            probe.close()
    print(line, flush=True)
