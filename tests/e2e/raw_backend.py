"""Raw HTTP/1.1 backend for the smuggling tests.

Records exactly the bytes each connection brings (DIR/conn-N.bin, N from 1)
and answers like a lenient keep-alive HTTP/1.1 server (Python's
ThreadingHTTPServer with protocol_version HTTP/1.1 reads the same way: lines
end at LF, a folded line joins the header before it, the body follows
Content-Length or chunked framing). Every request it frames gets a 200 whose
body names it and the identity it carried; DIR/requests.log gets the same
line, and "conn=N closed" when the connection ends.

An upgrade request (any Upgrade header) gets, with --upgrade 101, a 101
Switching Protocols, and from then on every byte is echoed back; with
--upgrade 200, an ordinary 200 and the connection stays HTTP (a backend that
does not speak the protocol asked for). A request for /bogus101 gets a 101
whatever it asked for (a broken backend). Other broken answers, each sent
in one write: /extra a 200 and a second response nobody asked
for, /clte a 200 with both Content-Length and Transfer-Encoding, /crhead a
200 whose Content-Length line holds a bare CR, /headbody (for a HEAD) a 200
with a body.

usage: raw_backend.py PORT DIR --upgrade 101|200
"""
import os
import sys
import threading

from loopback import listener

port, rec_dir, upgrade_mode = int(sys.argv[1]), sys.argv[2], sys.argv[4]
log_lock = threading.Lock()
counter = [0]


def log(line):
    with log_lock:
        with open(os.path.join(rec_dir, "requests.log"), "a") as f:
            f.write(line + "\n")


class Conn:
    def __init__(self, sock, n):
        self.sock, self.n, self.buf = sock, n, b""
        self.rec = open(os.path.join(rec_dir, "conn-%d.bin" % n), "wb")

    def fill(self):
        data = self.sock.recv(65536)
        if data:
            self.rec.write(data)
            self.rec.flush()
            self.buf += data
        return bool(data)

    def line(self):
        while b"\n" not in self.buf:
            if not self.fill():
                raise EOFError
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise EOFError
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self):
        line = self.line()
        while line == b"":
            line = self.line()
        parts = line.split(b" ")
        headers = []
        while True:
            h = self.line()
            if h == b"":
                break
            if h[:1] in (b" ", b"\t") and headers:  # obs-fold joins the previous
                headers[-1] = (headers[-1][0], headers[-1][1] + b" " + h.strip())
            elif b":" in h:
                k, v = h.split(b":", 1)
                headers.append((k.strip().lower(), v.strip()))
        hd = dict(headers)
        body = b""
        if b"chunked" in hd.get(b"transfer-encoding", b"").lower():
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line() != b"":
                        pass
                    break
                body += self.read(size)
                self.line()
        elif hd.get(b"content-length"):
            body = self.read(int(hd[b"content-length"]))
        return parts, hd, body

    def answer(self, status, text, body=b""):
        self.sock.sendall(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s" %
                          (status, text, len(body), body))

    def tunnel(self):
        self.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\n\r\n")
        if self.buf:
            self.sock.sendall(self.buf)
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            self.rec.write(data)
            self.rec.flush()
            self.sock.sendall(data)

    def serve(self):
        k = 0
        while True:
            parts, hd, body = self.request()
            k += 1
            desc = "conn=%d req=%d method=%s path=%s verify=%s cn=%s body=%d" % (
                self.n, k, parts[0].decode("latin-1"),
                (parts[1] if len(parts) > 1 else b"").decode("latin-1"),
                hd.get(b"x-client-verify", b"-").decode("latin-1"),
                hd.get(b"x-client-cn", b"-").decode("latin-1"), len(body))
            log(desc)
            path = parts[1] if len(parts) > 1 else b""
            if path == b"/bogus101" or (b"upgrade" in hd and upgrade_mode == "101"):
                self.tunnel()
                return
            if path in BROKEN:
                self.sock.sendall(BROKEN[path])
            elif parts[0] == b"HEAD":
                self.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(desc) + 1))
            else:
                self.answer(200, b"OK", desc.encode() + b"\n")
            if b"close" in hd.get(b"connection", b"").lower():
                return


OK5 = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
BROKEN = {
    b"/extra": OK5 + b"first" + OK5 + b"extra",
    b"/clte": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nfirst\r\n0\r\n\r\n",
    b"/crhead": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r0\r\n\r\nfirst",
    b"/headbody": OK5 + b"first",
}


def handle(c):
    sock, n = c.sock, c.n
    try:
        c.serve()
    except (EOFError, ConnectionError, ValueError, IndexError):
        pass
    finally:
        c.rec.close()
        sock.close()
        log("conn=%d closed" % n)


srv = listener(port, 64)
while True:
    s, _ = srv.accept()
    counter[0] += 1
    # The record exists from the accept on, before its thread runs.
    threading.Thread(target=handle, args=(Conn(s, counter[0]),), daemon=True).start()
