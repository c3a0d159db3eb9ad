"""An ACME account's life against `acme serve` (test_acme_account_life.sh):
key rollover (the old key no longer signs, the new one does; a key of
another account is a 409 naming that account), contact update, revocation
by the certificate's own key and by an account holding valid authorizations
for its names, authorization deactivation, account deactivation."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import acme_client as ac  # noqa: E402

TLSGATE, PKI = os.environ["TLSGATE"], os.environ["PKI"]
A = os.environ["ACME_A"]
CA = os.path.join(PKI, "root.crt")
CH = ac.Challenges(int(os.environ["HTTP01"]))


def status_of(serial):
    r = subprocess.run([TLSGATE, "cert", "list", "--dir", PKI, "--json"], check=True,
                       capture_output=True, text=True, timeout=60)
    return {c["serial"]: c for c in json.loads(r.stdout)}[serial]


def expect(fn, ptype, status, reason):
    try:
        fn()
    except ac.Problem as p:
        assert (p.type, p.status) == (ptype, status), p
        assert reason in p.doc.get("detail", ""), p
        return p
    raise AssertionError("not refused: wanted %s" % ptype)


def der_of(pem):
    return ac.x509.load_pem_x509_certificate(pem.encode()).public_bytes(
        ac.serialization.Encoding.DER)


def serial_of(pem):
    """Whole octets in upper-case hex, as the inventory writes serials."""
    s = "%X" % ac.x509.load_pem_x509_certificate(pem.encode()).serial_number
    return "0" * (len(s) % 2) + s


def keychange(c, new):
    """RFC 8555 7.3.5: the inner JWS, signed by the new key with its jwk and
    the same url, no nonce; payload the account URL and the old key."""
    url = c.url("keyChange")
    prot = ac.b64u(json.dumps({"alg": "ES256", "jwk": ac.jwk_of(new), "url": url}))
    pl = ac.b64u(json.dumps({"account": c.kid, "oldKey": ac.jwk_of(c.key)}))
    inner = {"protected": prot, "payload": pl,
             "signature": ac.b64u(ac.es256(new, (prot + "." + pl).encode()))}
    return c.post(url, inner)


alice = ac.Client(A, CA)
alice.register(contact=["mailto:alice@example.test"])
bob = ac.Client(A, CA)
bob.register()

# Contact update.
acct = alice.post(alice.kid, {"contact": ["mailto:ops@example.test"]}).json()
assert acct["contact"] == ["mailto:ops@example.test"], acct
print("ok - contact updated")

# Key rollover.
old = alice.key
new = ac.new_key()
keychange(alice, new)
alice.key = new
assert alice.post(alice.kid, None).json()["status"] == "valid"
alice.key = old
expect(lambda: alice.post(alice.kid, None), "malformed", 400, "signature")
alice.key = new
print("ok - keyChange: the new key signs for the account, the old one no longer does")
p = expect(lambda: keychange(alice, bob.key), "malformed", 409, "another account")
assert p.doc and alice.last.headers.get("Location") == bob.kid, alice.last.headers
print("ok - keyChange to bob's key: 409 with bob's account as Location")

# Revocation by the certificate's own key (a jwk request; no account needed).
key = ac.new_key()
loc, order = alice.order(["life1.example.test"])
alice.answer_http01(order, CH)
order = alice.wait(loc, ("ready",))
order = alice.finalize(order, ac.csr_der(["life1.example.test"], key=key))
pem = alice.post(order["certificate"], None).text
s1 = serial_of(pem)
stranger = ac.Client(A, CA, key=key)
stranger.post(stranger.url("revokeCert"), {"certificate": ac.b64u(der_of(pem)), "reason": 1},
              jwk=True)
assert status_of(s1)["status"] == "revoked" and status_of(s1)["reason"] == "keyCompromise"
print("ok - revoked %s by its own key (keyCompromise)" % s1)

# Revocation by another account that holds valid authorizations for the name.
pem2, _ = alice.issue(["life2.example.test"], CH)
s2 = serial_of(pem2)
loc, order = bob.order(["life2.example.test"])
bob.answer_http01(order, CH)
bob.wait(loc, ("ready",))
bob.post(bob.url("revokeCert"), {"certificate": ac.b64u(der_of(pem2))})
assert status_of(s2)["status"] == "revoked"
print("ok - bob, holding a valid authorization for life2.example.test, revoked alice's %s" % s2)

# Authorization deactivation: the order becomes invalid.
loc, order = bob.order(["life3.example.test"])
authz = bob.post(order["authorizations"][0], {"status": "deactivated"}).json()
assert authz["status"] == "deactivated", authz
assert bob.get(loc)["status"] == "invalid"
print("ok - a deactivated authorization invalidates its order")

# Account deactivation: the account can no longer be used.
assert bob.post(bob.kid, {"status": "deactivated"}).json()["status"] == "deactivated"
expect(lambda: bob.order(["life4.example.test"]), "unauthorized", 403, "deactivated")
print("ok - a deactivated account is refused")
