#!/usr/bin/env python3
"""Finalizes that meet in the ACME server's group commit, for
test_acme_group_commit and test_acme_group_crash.

  acme_group.py start BASE CAFILE HTTP01PORT N LOCK STATE.json
      N accounts, each with an order for gI.example.test answered over
      http-01 and ready, and one more order (gbad.example.test) ready. With
      the CA's writer lock held (LOCK: flock:PATH, SQLite's lock file, or
      pg:PSQL-ARGS:CA-ID, PostgreSQL's advisory lock through psql, with
      PSQL-ARGS blank-separated), so that none can be
      signed yet, all N finalize at once, with a second finalize of order 0
      (another client of the same account) among them; gbad's finalize
      names an extra name and is refused before it waits. Once every
      request has been sent and a second has passed, the lock is released.
  acme_group.py finish BASE CAFILE STATE.json
      After a restart of the server: finalizes the orders that are still
      ready, and downloads every certificate.
STATE.json keeps the account keys, order URLs and every answer (status,
problem type and detail, the certificate's PEM, serial and SHA-256
fingerprint), for the shell script to check against the inventory."""

import fcntl
import json
import subprocess
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from acme_client import Challenges, Client, b64u, csr_der, new_key


def answer(resp):
    """What the test checks of one finalize's answer (or the error it met)."""
    if isinstance(resp, Exception):
        return {"http": 0, "error": type(resp).__name__}
    out = {"http": resp.status_code}
    try:
        body = resp.json()
    except ValueError:
        body = {}
    out["type"] = body.get("type")
    out["detail"] = body.get("detail")
    out["status"] = body.get("status")
    return out


def cert_info(pem):
    c = x509.load_pem_x509_certificate(pem.encode())
    return {"pem": pem, "serial": "%032X" % c.serial_number,
            "sha256": c.fingerprint(hashes.SHA256()).hex(),
            "sans": c.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)}


def client(base, ca, key):
    c = Client(base, ca, key=key)
    c.register()
    return c


def ready_order(c, name, http01):
    loc, order = c.order([name])
    c.answer_http01(order, http01)
    order = c.wait(loc, ("ready", "invalid"))
    if order["status"] != "ready":
        raise RuntimeError("order for %s: %s" % (name, order))
    return loc, order


class WriterLock:
    """The CA's writer lock as tlsgate takes it (src/store)."""

    def __init__(self, spec):
        self.kind, _, rest = spec.partition(":")
        if self.kind == "flock":
            self.f = open(rest, "rb")
            fcntl.flock(self.f, fcntl.LOCK_EX)
            return
        args, _, ca = rest.rpartition(":")
        h = 2166136261  # store_pg.c's lock_key_of: FNV-1a of the CA's id, as an int4
        for ch in ca.encode():
            h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
        self.key = "1953264487, %d" % (h - (1 << 32) if h >= 1 << 31 else h)
        self.psql = subprocess.Popen(["psql", "-X", "-q", "-tA"] + args.split(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.psql.stdin.write("SELECT pg_advisory_lock(%s), 'held';\n" % self.key)
        self.psql.stdin.flush()
        if "held" not in self.psql.stdout.readline():
            raise RuntimeError("psql did not take the advisory lock")

    def release(self):
        if self.kind == "flock":
            fcntl.flock(self.f, fcntl.LOCK_UN)
            self.f.close()
            return
        self.psql.stdin.write("SELECT pg_advisory_unlock(%s);\n\\q\n" % self.key)
        self.psql.stdin.close()
        self.psql.wait(30)


def start(base, ca, port, n, lockspec, state_path):
    http01 = Challenges(port)
    state = {"orders": [], "bad": None}
    clients = []
    for i in range(n):
        key = new_key()
        c = client(base, ca, key)
        name = "g%d.example.test" % i
        loc, order = ready_order(c, name, http01)
        clients.append((c, order))
        state["orders"].append({"name": name, "url": loc, "key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(), "answers": []})
    bad_loc, bad_order = ready_order(clients[0][0], "gbad.example.test", http01)
    # The same account as order 0, another client: a second finalize of it.
    twin = client(base, ca, clients[0][0].key)
    calls = [(c, o, state["orders"][i]) for i, (c, o) in enumerate(clients)]
    calls.append((twin, clients[0][1], state["orders"][0]))
    sent = threading.Barrier(len(calls) + 1)

    def finalize(c, order, rec):
        nonce = c.nonce(c.bases[0])
        der = csr_der([rec["name"]])
        sent.wait()
        try:
            r = c.post(order["finalize"], {"csr": b64u(der)},
                       check=False, nonce=nonce)
        except Exception as e:  # the server killed mid-group
            r = e
        rec["answers"].append(answer(r))

    lock = WriterLock(lockspec)
    try:
        threads = [threading.Thread(target=finalize, args=a) for a in calls]
        for t in threads:
            t.start()
        sent.wait()
        # Refused before it waits for the lock: a name the order lacks.
        r = clients[0][0].post(bad_order["finalize"], {"csr": b64u(
            csr_der(["gbad.example.test", "other.example.test"]))}, check=False)
        state["bad"] = {"url": bad_loc, "answer": answer(r),
                        "status": clients[0][0].get(bad_loc)["status"]}
        time.sleep(1)
    finally:
        lock.release()
    for t in threads:
        t.join(60)
    json.dump(state, open(state_path, "w"), indent=1)


def finish(base, ca, state_path):
    state = json.load(open(state_path))
    for rec in state["orders"]:
        key = serialization.load_pem_private_key(rec["key"].encode(), None)
        c = client(base, ca, key)
        order = c.get(rec["url"])
        rec["status_before"] = order["status"]
        if order["status"] == "ready":
            rec["answers"].append(answer(c.post(order["finalize"], {
                "csr": b64u(csr_der([rec["name"]]))}, check=False)))
            order = c.wait(rec["url"], ("valid", "invalid"))
        rec["status"] = order["status"]
        if order["status"] == "valid":
            rec["cert"] = cert_info(c.post(order["certificate"], None).text)
    json.dump(state, open(state_path, "w"), indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
              sys.argv[7])
    else:
        finish(sys.argv[2], sys.argv[3], sys.argv[4])
