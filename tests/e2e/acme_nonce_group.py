#!/usr/bin/env python3
"""One nonce sent in K requests at once, for test_acme_nonce_group: while
SQLite's write lock is held (DB, a transaction of this script), a first
request with a nonce of its own waits for it, the used nonces of those
after it queue behind, and then go into the store in one transaction.
Exactly one of the K may pass; the others must get badNonce.

  acme_nonce_group.py BASE CAFILE DB K
Prints the K answers' "STATUS TYPE" sorted, one a line."""

import sqlite3
import sys
import threading
import time

from acme_client import Client

base, ca, dbpath, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
clients = [Client(base, ca) for _ in range(k + 1)]
key = clients[0].key
for c in clients:
    c.key = key
    c.register()
acct = clients[0].kid
shared = clients[0].nonce(base)
own = clients[0].nonce(base)
answers = []


def post(c, nonce):
    r = c.post(acct, None, check=False, nonce=nonce)
    answers.append("%d %s" % (r.status_code, r.json().get("type", "-") if r.status_code >= 400
                              else r.json().get("status")))


db = sqlite3.connect(dbpath, timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
plug = threading.Thread(target=post, args=(clients[k], own))
plug.start()
time.sleep(0.5)
threads = [threading.Thread(target=post, args=(clients[i], shared)) for i in range(k)]
for t in threads:
    t.start()
time.sleep(1)
db.execute("ROLLBACK")
for t in threads + [plug]:
    t.join(60)
print("\n".join(sorted(answers)))
