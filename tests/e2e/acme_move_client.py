"""The ACME side of test_acme_store_move.sh, with Debian's python3-acme.
`before` (the server on the SQLite inventory): registers an account with an
EAB key, gets a certificate and leaves a second order pending; writes the
account key, its URL and its order URLs to $STATE. `after` (the server on
the PostgreSQL the inventory moved to): the same key finds the same account
with onlyReturnExisting, its orders are listed, the pending order is still
there; the used EAB key is refused as bound, the unused one registers a new
account."""

import json
import os
import sys

import josepy as jose
from acme import messages
from cryptography.hazmat.primitives import serialization

from pyacme import Account, csr_pem, deadline, ec_key, http01, rsa_key

BASE = os.environ["ACME"]
STATE = os.environ["STATE"]
EAB1 = (os.environ["EAB_KID"], os.environ["EAB_KEY"])
EAB2 = (os.environ["EAB_KID2"], os.environ["EAB_KEY2"])


def before():
    alice = Account(BASE, rsa_key(), jose.RS256, eab=EAB1, contact=["alice@example.test"])
    alice.register()
    done = alice.acme.new_order(csr_pem(["moved.example.test"]))
    http01(alice, done)
    done = alice.acme.poll_and_finalize(done, deadline())
    pending = alice.acme.new_order(csr_pem(["pending.example.test"]))
    pem = alice.key.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    with open(STATE, "w") as f:
        json.dump({"key": pem.decode(), "account": alice.regr.uri,
                   "orders": sorted([done.uri, pending.uri]), "pending": pending.uri}, f)
    print("before: account %s, orders %s and %s" % (alice.regr.uri, done.uri, pending.uri))


def after():
    with open(STATE) as f:
        st = json.load(f)
    key = jose.JWKRSA(key=serialization.load_pem_private_key(st["key"].encode(), None))
    alice = Account(BASE, key, jose.RS256)
    # onlyReturnExisting, as the library asks it.
    regr = alice.acme.query_registration(messages.RegistrationResource(
        body=messages.Registration(), uri=None))
    assert regr.uri == st["account"], "the key found %s, not %s" % (regr.uri, st["account"])
    assert regr.body.status == "valid", regr.body
    # The library does not decode the account's "orders": from its answer.
    orders = alice.acme._post_as_get(alice.net.last.json()["orders"]).json()["orders"]
    assert sorted(orders) == st["orders"], (orders, st["orders"])
    pending = messages.Order.from_json(alice.acme._post_as_get(st["pending"]).json())
    assert pending.status == messages.STATUS_PENDING, pending
    print("after: account %s found by its key, orders %s" % (regr.uri, orders))
    # The EAB binding moved: the used key is refused, the unused one works.
    key2 = ec_key()
    try:
        Account(BASE, key2, jose.ES256, eab=EAB1).register()
        raise AssertionError("the EAB key bound before the move bound another account")
    except messages.Error as e:
        assert e.code == "unauthorized" and "bound to another account already" in e.detail, e
    bob = Account(BASE, key2, jose.ES256, eab=EAB2).register()
    assert bob.regr.uri != regr.uri, bob.regr.uri
    print("after: EAB key %s refused as bound; %s registered %s" % (EAB1[0], EAB2[0],
                                                                  bob.regr.uri))


{"before": before, "after": after}[sys.argv[1]]()
