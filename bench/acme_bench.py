"""The ACME load generator of bench/acme_bench.sh: PROCS processes, each with
its own account, run orders back to back through the whole flow (newOrder,
authorization, http-01, finalize with a fresh key and CSR, certificate
download) for the IP identifier 127.0.0.1, which needs no DNS at either
server. http-01 answers come from one file server (the key authorizations
written into a directory). Prints one JSON line: orders, seconds, orders/s,
p50/p99 seconds per order, failures."""

import http.server
import json
import multiprocessing as mp
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import acme_client as ac  # noqa: E402


def serve_tokens(port, root):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(h):
            name = os.path.basename(h.path)
            try:
                with open(os.path.join(root, name), "rb") as f:
                    body = f.read()
                h.send_response(200)
            except OSError:
                body = b""
                h.send_response(404)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        def log_message(h, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class FileTokens:
    """What Client.answer_http01 puts into server.tokens goes into files."""

    def __init__(self, root):
        self.tokens = self
        self.root = root

    def __setitem__(self, token, value):
        with open(os.path.join(self.root, token), "w") as f:
            f.write(value)


def one_order(c, tokens):
    loc, order = c.order(["127.0.0.1"], ip=True)
    c.answer_http01(order, tokens)
    order = c.wait(loc, ("ready", "invalid"), timeout=60)
    if order["status"] != "ready":
        raise RuntimeError("order invalid: %s" % order)
    key = ac.new_key()
    b = ac.x509.CertificateSigningRequestBuilder().subject_name(ac.x509.Name([]))
    b = b.add_extension(ac.x509.SubjectAlternativeName(
        [ac.x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
    der = b.sign(key, ac.hashes.SHA256()).public_bytes(ac.serialization.Encoding.DER)
    order = c.finalize(order, der)
    if order["status"] != "valid":
        order = c.wait(loc, ("valid", "invalid"), timeout=60)
    pem = c.post(order["certificate"], None).text
    if "BEGIN CERTIFICATE" not in pem:
        raise RuntimeError("no certificate")


def worker(args):
    base, directory, ca, root, n, start_at = args
    c = ac.Client(base, ca, directory=directory)
    c.reuse_nonces = True
    c.register()
    tokens = FileTokens(root)
    lat, failed = [], 0
    while time.time() < start_at:
        time.sleep(0.005)
    for _ in range(n):
        t = time.time()
        try:
            one_order(c, tokens)
            lat.append(time.time() - t)
        except Exception as e:  # counted, and the first is shown
            if failed == 0:
                print("order failed: %s" % e, file=sys.stderr)
            failed += 1
    return lat, failed, time.time()


def main():
    base, directory, ca = sys.argv[1], sys.argv[2], sys.argv[3]
    port, root, orders, procs = int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    serve_tokens(port, root)
    start_at = time.time() + 2.0  # every process registered before the clock starts
    per = [orders // procs + (1 if i < orders % procs else 0) for i in range(procs)]
    with mp.Pool(procs) as pool:
        res = pool.map(worker, [(base, directory, ca, root, k, start_at) for k in per])
    lat = sorted(x for r in res for x in r[0])
    failed = sum(r[1] for r in res)
    secs = max(r[2] for r in res) - start_at
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
    print(json.dumps({"orders": len(lat), "failed": failed, "seconds": round(secs, 3),
                      "orders_per_s": round(len(lat) / secs, 1), "p50_s": round(pct(0.5), 4),
                      "p99_s": round(pct(0.99), 4)}))


if __name__ == "__main__":
    main()
