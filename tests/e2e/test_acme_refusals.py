"""The ACME server's refusals, one request each: the problem type and HTTP
status, the reason in the detail, and the store unchanged (accounts, orders
and certificates as `tlsgate acme accounts/orders --json` and `tlsgate cert
list --json` show them). Run by test_acme_refusals.sh, which starts two
servers on one CA: A (EAB optional) and B (--eab-required)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import acme_client as ac  # noqa: E402
from acme_refusal import passed, refused  # noqa: E402
from acme_store import only_an_invalid_order  # noqa: E402

CA = os.path.join(os.environ["PKI"], "root.crt")
A = os.environ["ACME_A"]
B = os.environ["ACME_B"]
CH = ac.Challenges(int(os.environ["HTTP01"]))
EAB_KID, EAB_KEY = os.environ["EAB_KID"], os.environ["EAB_KEY"]



def raw_post(c, url, body, ctype="application/jose+json"):
    r = c.s.post(url, data=body, headers={"Content-Type": ctype}, timeout=10)
    if r.status_code >= 400:
        raise ac.Problem(r)
    return r


alice = ac.Client(A, CA)
alice.register(contact=["mailto:alice@example.test"])
bob = ac.Client(A, CA)
bob.register()

# A certificate of alice's, to steal and to revoke.
pem, alice_order = alice.issue(["alice.example.test"], CH)
der = ac.x509.load_pem_x509_certificate(pem.encode()).public_bytes(
    ac.serialization.Encoding.DER)

# --- the JWS gate --------------------------------------------------------

def replay():
    body = json.dumps(alice.signed(alice_order, None, alice.nonce(A)))
    raw_post(alice, alice_order, body)
    p = None
    try:
        raw_post(alice, alice_order, body)
    except ac.Problem as e:
        p = e
        assert e.doc and "Replay-Nonce" in alice.s.post(
            alice_order, data=body, headers={"Content-Type": "application/jose+json"}).headers
        raise
    return p


refused("replayed nonce", replay, "badNonce", 400, "used already")
refused("made-up nonce", lambda: alice.post(alice_order, None, nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "badNonce", 400, "not one this server handed out")
refused("wrong url", lambda: alice.post(alice.url("newOrder"),
                                        {"identifiers": [{"type": "dns", "value": "x.example.test"}]},
                                        signed_url=alice.url("revokeCert")),
        "unauthorized", 403, "is not this request's URL")
refused("bad signature", lambda: alice.post(
    alice.url("newOrder"), {"identifiers": [{"type": "dns", "value": "x.example.test"}]},
    sign=lambda d: bytes(64)), "malformed", 400, "signature")
refused("kid of another account", lambda: bob.post(
    alice.url("newOrder"), {"identifiers": [{"type": "dns", "value": "x.example.test"}]},
    kid=alice.kid), "malformed", 400, "signature")
refused("another account's order", lambda: bob.post(alice_order, None),
        "unauthorized", 403, "belongs to another account")
refused("unknown account", lambda: bob.post(
    alice.url("newOrder"), {"identifiers": [{"type": "dns", "value": "x.example.test"}]},
    kid=A + "/acme/acct/nosuchaccount00000000"), "accountDoesNotExist", 400, "no account")
refused("jwk where a kid is needed", lambda: bob.post(
    alice.url("newOrder"), {"identifiers": [{"type": "dns", "value": "x.example.test"}]},
    jwk=True), "malformed", 400, "kid")
def plain_get():
    r = alice.s.get(alice_order, timeout=10)
    assert r.status_code >= 400 and r.headers.get("Allow") == "POST", r.headers
    raise ac.Problem(r)


refused("plain GET of a resource", plain_get, "malformed", 405, "POST-as-GET")
refused("wrong content type", lambda: raw_post(
    alice, alice_order, json.dumps(alice.signed(alice_order, None, alice.nonce(A))),
    ctype="application/json"), "malformed", 415, "application/jose+json")
refused("body over the limit", lambda: raw_post(alice, alice.url("newOrder"), "x" * (65 * 1024)),
        "malformed", 413, "over the limit")

# --- orders and policy -----------------------------------------------------

def new_order(names, ip=False):
    return lambda: alice.order(names, ip=ip)


refused("name outside the policy", new_order(["www.example.org"]), "rejectedIdentifier", 400,
        "outside this CA's policy")
refused("address outside the policy", new_order(["192.0.2.1"], ip=True), "rejectedIdentifier",
        400, "outside this CA's policy")
refused("wildcard", new_order(["*.example.test"]), "rejectedIdentifier", 400, "dns-01")
refused("capital letters", new_order(["WWW.example.test"]), "malformed", 400, "lower case")
refused("unsupported identifier type", lambda: alice.post(
    alice.url("newOrder"), {"identifiers": [{"type": "email", "value": "a@example.test"}]}),
    "unsupportedIdentifier", 400, "not supported")
refused("contact that is not mailto", lambda: ac.Client(A, CA).register(
    contact=["tel:+1555"]), "unsupportedContact", 400, "only mailto")

# An order whose challenges were not answered: finalize is refused.
loc, order = alice.order(["early.example.test"])
refused("finalize before ready", lambda: alice.finalize(order, ac.csr_der(["early.example.test"])),
        "orderNotReady", 403, "not ready")

# A ready order; its finalize with the wrong names is refused, then with the
# right ones it issues.
loc, order = alice.order(["csr.example.test"])
alice.answer_http01(order, CH)
order = alice.wait(loc, ("ready",))
refused("CSR with an extra name", lambda: alice.finalize(
    order, ac.csr_der(["csr.example.test", "extra.example.test"])), "badCSR", 400,
    "not an identifier of the order")
refused("CSR with a name missing", lambda: alice.finalize(
    order, ac.csr_der(["other.example.test"], cn="other.example.test")), "badCSR", 400,
    "not an identifier of the order")
refused("CSR signed by the account key", lambda: alice.finalize(
    order, ac.csr_der(["csr.example.test"], key=alice.key)), "badCSR", 400, "account key")
bad = bytearray(ac.csr_der(["csr.example.test"]))
bad[-5] ^= 0xFF
refused("CSR with a bad signature", lambda: alice.finalize(order, bytes(bad)), "badCSR", 400,
        "signature")
assert alice.finalize(order, ac.csr_der(["csr.example.test"]))["status"] == "valid"
refused("finalize twice", lambda: alice.finalize(order, ac.csr_der(["csr.example.test"])),
        "orderNotReady", 403, "cannot be finalized again")
print("ok - the refused finalizes left the order ready; the right CSR was issued")


# A wrong answer to http-01: the challenge, authorization and order become
# invalid (that is the change), and nothing is issued.
def wrong_answer():
    loc, order = alice.order(["wrong.example.test"])
    authz = alice.get(order["authorizations"][0])
    ch = [c for c in authz["challenges"] if c["type"] == "http-01"][0]
    CH.tokens[ch["token"]] = ch["token"] + ".not-the-thumbprint"
    alice.post(ch["url"], {})
    order = alice.wait(loc, ("invalid",))
    ch = alice.get(ch["url"])
    assert ch["status"] == "invalid", ch
    raise ac.Problem(type("R", (), {"status_code": 400, "json": lambda s: ch["error"],
                                    "text": ""})())


refused("wrong challenge response", wrong_answer, "incorrectResponse", 400, "",
        changes=only_an_invalid_order)

# --- revocation ---------------------------------------------------------------

def revoke(c, **kw):
    return lambda: c.post(c.url("revokeCert"), {"certificate": ac.b64u(der)}, **kw)


refused("revocation by another account", revoke(bob), "unauthorized", 403,
        "neither ordered this certificate")
refused("revocation with another key as jwk", revoke(bob, jwk=True), "unauthorized", 403,
        "not the certificate's key")
refused("revocation reason not allowed", lambda: alice.post(
    alice.url("revokeCert"), {"certificate": ac.b64u(der), "reason": 8}),
    "badRevocationReason", 400, "reason must be one of")

# --- external account binding (server B requires it) ---------------------------

carol = ac.Client(B, CA)
refused("EAB required but absent", lambda: carol.register(), "externalAccountRequired", 403,
        "requires an external account binding")
refused("EAB with a wrong MAC", lambda: carol.register(eab=(EAB_KID, ac.b64u(b"x" * 32))),
        "unauthorized", 403, "MAC does not verify")
refused("EAB with an unknown kid", lambda: carol.register(eab=("nosuchkid", EAB_KEY)),
        "unauthorized", 403, "kid")
refused("EAB key revoked", lambda: carol.register(
    eab=(os.environ["EAB_KID2"], os.environ["EAB_KEY2"])), "unauthorized", 403,
    "revoked or bound to another account already")
carol.register(eab=(EAB_KID, EAB_KEY))
dave = ac.Client(B, CA)
refused("EAB key used twice", lambda: dave.register(eab=(EAB_KID, EAB_KEY)), "unauthorized",
        403, "bound to another account already")
print("ok - EAB: the right key binds carol's account, once")

print("%d refusals checked" % len(passed))
