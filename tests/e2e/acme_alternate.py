"""One ACME client served alternately by several `acme serve` processes on
one PostgreSQL store (test_acme_pg_multi.sh): every request goes to the next
server, with a nonce from another one; each order is created on one server
and finalized on another. Prints ORDER lines for the shell to check against
the servers' logs."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import acme_client as ac  # noqa: E402

bases = os.environ["ACME_BASES"].split()
external = os.environ["ACME_EXTERNAL"]
ca = os.environ["CA"]
ch = ac.Challenges(int(os.environ["HTTP01"]))

c = ac.Client(bases, ca, external=external, cross_nonce=True)
c.register(contact=["mailto:ops@example.test"])

# A nonce handed out by one server is good once on any: used at the second,
# refused at the first.
n = c.nonce(bases[0])
c.post(c.kid, None, base=bases[1], nonce=n)
try:
    c.post(c.kid, None, base=bases[0], nonce=n)
    raise AssertionError("a nonce was accepted twice")
except ac.Problem as p:
    assert p.type == "badNonce", p
print("ok - a nonce from server 1 was taken once by server 2 and refused by server 1 after")

for i in range(4):
    names = ["alt%d.example.test" % i]
    c.route = []
    pem, loc = c.issue(names, ch)
    made = [b for p, b in c.route if p == "/acme/new-order"][0]
    fin = [b for p, b in c.route if p.startswith("/acme/finalize/")][0]
    if made == fin:
        # Make the next order cross over: one request more on this one.
        c.get(loc)
    cert = ac.x509.load_pem_x509_certificate(pem.encode())
    serial = "%X" % cert.serial_number
    serial = "0" * (len(serial) % 2) + serial  # whole octets, as the inventory has it
    print("ORDER %s %s %s %s" % (loc.rsplit("/", 1)[1], made, fin, serial))
    print("ok - %s issued, %d requests over %d servers" %
          (names[0], len(c.route), len({b for _, b in c.route})))
