"""The ACME server's refusals as Debian's python3-acme sees them: the
library's ClientV2 and ClientNetwork do the normal parts (accounts, orders,
http-01 from acme.standalone, finalize, revoke), and its JWS machinery
(ClientNetwork._wrap_in_jws, josepy) makes the bad requests: a replayed
nonce, a signed url that is not the request's, a tampered signature,
another account's kid. Each refusal: the HTTP status, the problem type, a
reason in the detail, and the store unchanged (`tlsgate acme accounts`,
`acme orders`, `cert list --json`). Run by test_acme_refusals_pyacme.sh with
/usr/bin/python3 (the Debian interpreter that has the library): server A
(EAB optional) and B (--eab-required) on one CA."""

import base64
import json
import os

import josepy as jose
import OpenSSL
from acme import errors, messages
from cryptography import x509

from acme_store import check_after, PREFIX, only_an_invalid_order, state
from pyacme import Account, csr_pem, deadline, ec_key, http01, rsa_key

A = os.environ["ACME_A"]
B = os.environ["ACME_B"]
EAB_KID, EAB_KEY = os.environ["EAB_KID"], os.environ["EAB_KEY"]
passed = []

def refused(name, acct, fn, ptype, status, reason, changes=None):
    """fn must raise the problem ptype (as the library decodes it) in a
    response with the HTTP status and reason in its detail; the store must
    be as before (or as changes() says)."""
    before = state()
    acct.net.last = None
    try:
        fn()
    except messages.Error as e:
        got = acct.net.last.status_code if acct.net.last is not None else None
        assert e.typ == PREFIX + ptype, "%s: type %s, wanted %s (%s)" % (name, e.typ, ptype, e)
        assert e.code == ptype, "%s: python3-acme does not know the code %s" % (name, e.typ)
        assert got == status, "%s: HTTP status %s, wanted %d (%s)" % (name, got, status, e)
        assert reason in (e.detail or ""), "%s: detail %r lacks %r" % (name, e.detail, reason)
        check_after(name, before, changes)
        passed.append(name)
        print("ok - %s: %d %s: %s" % (name, got, e.typ, e.detail))
        return e
    raise AssertionError("%s was not refused" % name)


alice = Account(A, rsa_key(), jose.RS256, contact=["alice@example.test"]).register()
bob = Account(A, ec_key(), jose.ES256).register()
assert alice.regr.uri != bob.regr.uri, (alice.regr.uri, bob.regr.uri)

# A certificate of alice's, to revoke without the right; and its order, to
# POST-as-GET with crafted requests.
orderr = alice.acme.new_order(csr_pem(["alice.example.test"]))
http01(alice, orderr)
orderr = alice.acme.poll_and_finalize(orderr, deadline())
cert = x509.load_pem_x509_certificate(orderr.fullchain_pem.encode())
alice_order = orderr.uri
new_order = messages.NewOrder(identifiers=[messages.Identifier(
    typ=messages.IDENTIFIER_FQDN, value="x.example.test")])

# --- the JWS gate, with requests the library signs -------------------------


def replay():
    body = alice.jws(None, alice_order)
    alice.send(alice_order, body)
    alice.send(alice_order, body)


refused("replayed nonce", alice, replay, "badNonce", 400, "used already")
assert "Replay-Nonce" in alice.net.last.headers, "a badNonce refusal carries a fresh nonce"


def wrong_url():
    alice.send(alice.acme.directory["newOrder"],
               alice.jws(new_order, alice.acme.directory["revokeCert"]))


refused("wrong url", alice, wrong_url, "unauthorized", 403, "is not this request's URL")


def bad_signature(acct):
    def fn():
        jws = json.loads(acct.jws(new_order, acct.acme.directory["newOrder"]))
        sig = bytearray(jose.b64.b64decode(jws["signature"]))
        sig[len(sig) // 2] ^= 0x01
        jws["signature"] = jose.b64.b64encode(bytes(sig)).decode()
        acct.send(acct.acme.directory["newOrder"], json.dumps(jws))
    return fn


refused("bad signature (RS256)", alice, bad_signature(alice), "malformed", 400, "signature")
refused("bad signature (ES256)", bob, bad_signature(bob), "malformed", 400, "signature")

# Another account's key with alice's account URL as kid: the library's own
# client, set up with the wrong account. An RSA key signs as RS256 (the
# signature is checked against alice's key and fails); bob's P-256 key signs
# as ES256, which does not fit alice's RSA key at all.
mallory = Account(A, rsa_key(), jose.RS256).register()
mallory.net.account = alice.regr
refused("kid of another account", mallory,
        lambda: mallory.acme.new_order(csr_pem(["x.example.test"])), "malformed", 400,
        "signature does not verify")
bob_as_alice = Account(A, bob.key, jose.ES256)
bob_as_alice.net.account = alice.regr
e = refused("kid of another account, another key type", bob_as_alice,
            lambda: bob_as_alice.acme.new_order(csr_pem(["x.example.test"])),
            "badSignatureAlgorithm", 400, "does not fit the account's key")
assert "RS256" in bob_as_alice.net.last.json().get("algorithms", []), bob_as_alice.net.last.text
refused("another account's order", bob, lambda: bob.acme._post_as_get(alice_order),
        "unauthorized", 403, "belongs to another account")

# --- orders and policy ---------------------------------------------------------

refused("name outside the policy", alice,
        lambda: alice.acme.new_order(csr_pem(["www.example.org"])), "rejectedIdentifier", 400,
        "outside this CA's policy")

early = alice.acme.new_order(csr_pem(["early.example.test"]))
refused("finalize before ready", alice, lambda: alice.acme.finalize_order(early, deadline()),
        "orderNotReady", 403, "not ready")

ready = alice.acme.new_order(csr_pem(["csr.example.test"]))
http01(alice, ready)
ready = alice.acme.poll_authorizations(ready, deadline())
extra = ready.update(csr_pem=csr_pem(["csr.example.test", "extra.example.test"]))
refused("CSR with an extra name", alice, lambda: alice.acme.finalize_order(extra, deadline()),
        "badCSR", 400, "not an identifier of the order")
done = alice.acme.finalize_order(ready, deadline())
assert done.body.status == messages.STATUS_VALID and done.fullchain_pem, done.body
print("ok - the order refused with the extra name was issued with the right CSR")


# A wrong answer to http-01 (the key authorization of another account's
# key): the challenge, authorization and order become invalid (that is the
# change); nothing is issued. The library raises the validation error.
def wrong_answer():
    o = alice.acme.new_order(csr_pem(["wrong.example.test"]))
    http01(alice, o, key=bob.key)
    try:
        alice.acme.poll_authorizations(o, deadline())
    except errors.ValidationError as e:
        ch = [c for c in e.failed_authzrs[0].body.challenges if c.error is not None][0]
        assert ch.status == messages.STATUS_INVALID, ch
        assert alice.acme._post_as_get(o.uri).json()["status"] == "invalid"
        # The status the problem document carries (RFC 7807 "status"), which
        # the library does not decode: from the challenge as the server sent it.
        raw = alice.acme._post_as_get(ch.uri).json()["error"]
        alice.net.last = type("R", (), {"status_code": raw.get("status")})
        raise ch.error
    raise AssertionError("the wrong http-01 answer validated")


refused("wrong challenge response", alice, wrong_answer, "incorrectResponse", 400,
        "wrong.example.test", changes=only_an_invalid_order)

# --- revocation -----------------------------------------------------------------

wrapped = jose.ComparableX509(OpenSSL.crypto.X509.from_cryptography(cert))
refused("revocation by another account", bob, lambda: bob.acme.revoke(wrapped, 0),
        "unauthorized", 403, "neither ordered this certificate")
stranger = Account(A, ec_key(), jose.ES256)
refused("revocation signed with another key as jwk", stranger,
        lambda: stranger.acme.revoke(wrapped, 0), "unauthorized", 403,
        "not the certificate's key")

# --- external account binding (server B requires it) ------------------------------

wrong_mac = base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode()
carol = Account(B, ec_key(), jose.ES256, eab=(EAB_KID, wrong_mac))
assert carol.acme.external_account_required(), "B's directory does not say EAB is required"
refused("EAB with a wrong MAC", carol, carol.register, "unauthorized", 403,
        "MAC does not verify")
carol = Account(B, carol.key, jose.ES256, eab=(EAB_KID, EAB_KEY)).register()
print("ok - EAB: the right key binds carol's account (%s)" % carol.regr.uri)

print("%d refusals checked with python3-acme" % len(passed))
