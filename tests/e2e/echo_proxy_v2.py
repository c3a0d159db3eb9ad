"""TCP backend for the e2e tests that reads a PROXY protocol v2 header, then
answers every line with a JSON description of the header (addresses, TLVs)
and the line itself."""
import json
import socket
import struct
import sys
import threading

from loopback import listener

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            raise EOFError
        buf += part
    return buf


def tlvs(data):
    out = {}
    while data:
        t, n = data[0], struct.unpack("!H", data[1:3])[0]
        out[t] = data[3:3 + n]
        data = data[3 + n:]
    return out


def parse(conn):
    head = read_exact(conn, 16)
    if head[:12] != SIG:
        return {"error": "no PROXY v2 signature"}
    ver_cmd, fam = head[12], head[13]
    body = read_exact(conn, struct.unpack("!H", head[14:16])[0])
    info = {"ver_cmd": ver_cmd, "family": fam}
    if fam == 0x11:
        info["src"] = "%s:%d" % (socket.inet_ntoa(body[0:4]), struct.unpack("!H", body[8:10])[0])
        info["dst"] = "%s:%d" % (socket.inet_ntoa(body[4:8]), struct.unpack("!H", body[10:12])[0])
        rest = body[12:]
    else:
        rest = body
    t = tlvs(rest)
    if 0x02 in t:
        info["authority"] = t[0x02].decode()
    if 0x20 in t:
        ssl = t[0x20]
        info["ssl_client"] = ssl[0]
        info["ssl_verify"] = struct.unpack("!I", ssl[1:5])[0]
        sub = tlvs(ssl[5:])
        info["ssl_version"] = sub.get(0x21, b"").decode()
        info["ssl_cn"] = sub.get(0x22, b"").decode()
        info["ssl_cipher"] = sub.get(0x23, b"").decode()
    return info


def serve(conn):
    with conn:
        try:
            info = parse(conn)
        except EOFError:
            return
        f = conn.makefile("rwb")
        for line in f:
            f.write((json.dumps({"proxy": info, "line": line.decode().strip()}) + "\n").encode())
            f.flush()
        # The client closed its side; answering now shows half-close works.
        f.write(b"eof-seen\n")
        f.flush()


srv = listener(int(sys.argv[1]), 16)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
