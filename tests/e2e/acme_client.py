"""A small ACME client (RFC 8555) over requests and cryptography, for the
tests and the benchmark: it can send what real clients never do (a replayed
nonce, a wrong url, a bad signature, another account's kid), answers http-01
from its own little HTTP server, and can send each request to another server
of a list (several `acme serve` on one store)."""

import base64
import hashlib
import hmac
import http.server
import itertools
import json
import threading
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of(key):
    n = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


def thumbprint(key):
    j = json.dumps(jwk_of(key), sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(j.encode()).digest())


def es256(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def csr_der(names, key=None, cn=None):
    key = key or new_key()
    sans = [x509.DNSName(n) for n in names]
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or names[0])]))
    b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class Challenges(http.server.ThreadingHTTPServer):
    """Answers http-01 for the tokens put into .tokens."""

    daemon_threads = True

    def __init__(self, port):
        self.tokens = {}

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(h):
                tok = h.path.rsplit("/", 1)[-1]
                body = self.tokens.get(tok)
                h.send_response(200 if body else 404)
                h.send_header("Content-Length", str(len(body or "")))
                h.end_headers()
                if body:
                    h.wfile.write(body.encode())

            def log_message(h, *a):
                pass

        super().__init__(("127.0.0.1", port), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Problem(Exception):
    def __init__(self, resp):
        self.status = resp.status_code
        try:
            self.doc = resp.json()
        except ValueError:
            self.doc = {"type": "", "detail": resp.text}
        self.type = self.doc.get("type", "").replace("urn:ietf:params:acme:error:", "")
        super().__init__("%d %s: %s" % (self.status, self.type, self.doc.get("detail")))


class _Session(requests.Session):
    """Every request verified against ca (a session's own verify setting is
    not honoured by every requests version)."""

    def __init__(self, ca):
        super().__init__()
        self.ca = ca

    def request(self, method, url, **kw):
        kw.setdefault("verify", self.ca)
        return super().request(method, url, **kw)


class Client:
    """bases: one or more https://HOST:PORT of servers sharing a store; each
    request goes to the next (round robin) unless one is pinned. external:
    the URL all of them are configured with (--external-url), which requests
    are signed for, as behind a load balancer; by default each server's own."""

    def __init__(self, bases, ca, key=None, external=None, cross_nonce=False,
                 directory="/directory"):
        self.bases = bases if isinstance(bases, list) else [bases]
        self.external = external
        self.cross_nonce = cross_nonce
        self.route = []
        self.saved = {}
        self.reuse_nonces = False
        self.turn = itertools.cycle(range(len(self.bases)))
        self.s = _Session(ca)
        self.key = key or new_key()
        self.kid = None
        self.nonces = []
        self.last_base = self.bases[0]
        self.dir = self.s.get(self.bases[0] + directory, timeout=10).json()

    def path(self, url):
        for b in [self.external] + self.bases:
            if b and url.startswith(b):
                return url[len(b):]
        return url

    def url(self, name, base=None):
        return (self.external or base or self.bases[0]) + self.path(self.dir[name])

    def nonce(self, base):
        r = self.s.head(base + self.path(self.dir["newNonce"]), timeout=10)
        return r.headers["Replay-Nonce"]

    def signed(self, url, payload, nonce, kid=None, jwk=False, key=None, sign=None):
        key = key or self.key
        prot = {"alg": "ES256", "nonce": nonce, "url": url}
        if jwk or (kid is None and self.kid is None):
            prot["jwk"] = jwk_of(key)
        else:
            prot["kid"] = kid or self.kid
        p64 = b64u(json.dumps(prot))
        pl64 = "" if payload is None else b64u(json.dumps(payload))
        sig = (sign or (lambda d: es256(key, d)))((p64 + "." + pl64).encode())
        return {"protected": p64, "payload": pl64, "signature": b64u(sig)}

    def post(self, url, payload, check=True, base=None, nonce=None, body=None, **kw):
        """url names the resource at the first server; it is sent to base
        (default: the next server), signed with the url that server sees."""
        i = self.bases.index(base) if base else next(self.turn)
        base = self.bases[i]
        path = self.path(url)
        target = base + path
        if "signed_url" not in kw:
            kw["signed_url"] = (self.external or base) + path
        # A nonce from another server of the store, when asked to show they share them.
        nbase = self.bases[(i + 1) % len(self.bases)] if self.cross_nonce else base
        # The Replay-Nonce of the last answer from that server, as clients do.
        self.last_nonce = nonce or self.saved.pop(nbase, None) or self.nonce(nbase)
        self.route.append((path, base))
        if body is None:
            body = json.dumps(self.signed(kw.pop("signed_url"), payload, self.last_nonce, **kw))
        r = self.s.post(target, data=body, timeout=30,
                        headers={"Content-Type": "application/jose+json"})
        self.last = r
        if self.reuse_nonces and "Replay-Nonce" in r.headers:
            self.saved[base] = r.headers["Replay-Nonce"]
        if check and r.status_code >= 400:
            raise Problem(r)
        return r

    def register(self, eab=None, **payload):
        payload.setdefault("termsOfServiceAgreed", True)
        if eab is not None:
            kid, mac = eab
            url = self.url("newAccount")
            prot = b64u(json.dumps({"alg": "HS256", "kid": kid, "url": url}))
            pl = b64u(json.dumps(jwk_of(self.key)))
            keyb = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            sig = hmac.new(keyb, (prot + "." + pl).encode(), hashlib.sha256).digest()
            payload["externalAccountBinding"] = {"protected": prot, "payload": pl,
                                                 "signature": b64u(sig)}
        r = self.post(self.url("newAccount"), payload, jwk=True, base=self.bases[0])
        self.kid = r.headers["Location"]
        return r

    def order(self, names, ip=False):
        ids = [{"type": "ip" if ip else "dns", "value": n} for n in names]
        r = self.post(self.url("newOrder"), {"identifiers": ids})
        return r.headers["Location"], r.json()

    def get(self, url):
        return self.post(url, None).json()

    def dns01_value(self, token):
        """The TXT value dns-01 wants (RFC 8555 8.4)."""
        ka = token + "." + thumbprint(self.key)
        return b64u(hashlib.sha256(ka.encode()).digest())

    def answer_http01(self, order, server):
        for a in order["authorizations"]:
            authz = self.get(a)
            ch = [c for c in authz["challenges"] if c["type"] == "http-01"][0]
            server.tokens[ch["token"]] = ch["token"] + "." + thumbprint(self.key)
            self.post(ch["url"], {})

    def wait(self, url, want, timeout=30):
        end = time.time() + timeout
        while True:
            obj = self.get(url)
            if obj["status"] in want:
                return obj
            if time.time() > end:
                raise TimeoutError("%s stayed %s" % (url, obj["status"]))
            time.sleep(0.05)

    def finalize(self, order, der):
        return self.post(order["finalize"], {"csr": b64u(der)}).json()

    def issue(self, names, server):
        """The whole flow: order, http-01, finalize, download. Returns the
        PEM chain and the order URL."""
        loc, order = self.order(names)
        self.answer_http01(order, server)
        order = self.wait(loc, ("ready", "invalid"))
        if order["status"] != "ready":
            raise RuntimeError("order %s: %s" % (loc, order))
        order = self.finalize(order, csr_der(names))
        if order["status"] != "valid":
            order = self.wait(loc, ("valid", "invalid"))
        pem = self.post(order["certificate"], None).text
        return pem, loc
