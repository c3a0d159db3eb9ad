"""Debian's python3-acme for the e2e tests (run with /usr/bin/python3): an
account on the library's ClientV2 and ClientNetwork, keeping the last
response (for a refusal's HTTP status) and able to send a JWS made by hand
through the library's network layer; keys, CSRs, and http-01 answered by
the library's own responder (acme.standalone) on $HTTP01."""

import datetime
import os
import threading

import josepy as jose
from acme import challenges, client, messages, standalone
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

JOSE = client.ClientNetwork.JOSE_CONTENT_TYPE
_resources = None


class Network(client.ClientNetwork):
    """The library's network layer, keeping the last response so that a
    refusal's HTTP status can be checked next to its problem document."""

    last = None

    def _send_request(self, method, url, *args, **kwargs):
        self.last = super()._send_request(method, url, *args, **kwargs)
        return self.last


class Account:
    """An account's key and the library's client for it (regr once
    registered)."""

    def __init__(self, base, key, alg, eab=None, contact=()):
        self.key = key
        self.net = Network(key, alg=alg, user_agent="tlsgate-e2e python3-acme")
        self.acme = client.ClientV2(client.ClientV2.get_directory(base + "/directory", self.net),
                                    self.net)
        self.regr = None
        if eab is not None:
            eab = messages.ExternalAccountBinding.from_data(
                key.public_key(), eab[0], eab[1], self.acme.directory)
        self.new_reg = messages.NewRegistration.from_data(
            email=",".join(contact) or None, terms_of_service_agreed=True,
            external_account_binding=eab)

    def register(self):
        self.regr = self.acme.new_account(self.new_reg)
        return self

    def nonce(self):
        return self.net._get_nonce(None, self.acme.directory["newNonce"])

    def jws(self, obj, url, nonce=None):
        """A JWS as the library signs it, for url (and a fresh nonce)."""
        return self.net._wrap_in_jws(obj, nonce or self.nonce(), url)

    def send(self, url, data):
        """POSTs a JWS made by hand through the library's network layer:
        its response check raises the problem as messages.Error."""
        r = self.net._send_request("POST", url, data=data, headers={"Content-Type": JOSE})
        self.net._check_response(r, content_type=JOSE)
        self.net._add_nonce(r)
        return r


def rsa_key():
    return jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key():
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def csr_pem(names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                        critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def deadline(seconds=60):
    return datetime.datetime.now() + datetime.timedelta(seconds=seconds)


def _responder():
    """The library's http-01 responder, started on first use; resources
    join its set as orders come."""
    global _resources
    if _resources is None:
        _resources = set()
        httpd = standalone.HTTP01Server(("127.0.0.1", int(os.environ["HTTP01"])), _resources)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return _resources


def http01(acct, orderr, key=None):
    """Serves and answers every order's http-01 challenge, with the key
    authorization of key (the account's own key by default)."""
    for authzr in orderr.authorizations:
        challb = [c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)][0]
        response, validation = challb.chall.response_and_validation(key or acct.key)
        _responder().add(standalone.HTTP01RequestHandler.HTTP01Resource(
            chall=challb.chall, response=response, validation=validation))
        acct.acme.answer_challenge(challb, response)
