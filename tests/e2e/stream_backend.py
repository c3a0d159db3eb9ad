"""A tcp backend for the e2e tests that streams slowly and never ends: each
connection gets a numbered line every 50 ms until the client goes away, so
a transfer is still running while the gateway reloads.

usage: stream_backend.py PORT"""
import socket
import socketserver
import sys
import time


class Stream(socketserver.BaseRequestHandler):
    def handle(self):
        i = 0
        try:
            while True:
                self.request.sendall(b"%d\n" % i)
                i += 1
                time.sleep(0.05)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Stream).serve_forever()
