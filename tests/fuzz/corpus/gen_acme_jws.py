#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_acme_jws: valid ACME requests signed with
each alg (ES256, ES384, RS256, EdDSA) in the jwk and kid forms, a
POST-as-GET, a newAccount with external account binding (HS256, key 32 x
0x42, kid "kid-1", as the target's lookup knows it) and a keyChange.
  tests/fuzz/corpus/gen_acme_jws.py tests/fuzz/corpus/fuzz_acme_jws"""
import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

URL = "https://ca.example/acme/new-acct"
KID = "https://ca.example/acme/acct/1"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwk(key):
    pub = key.public_key()
    if isinstance(key, rsa.RSAPrivateKey):
        n = pub.public_numbers()
        return {"kty": "RSA", "n": uint(n.n), "e": uint(n.e)}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        from cryptography.hazmat.primitives import serialization
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    size = key.curve.key_size // 8
    n = pub.public_numbers()
    return {"kty": "EC", "crv": "P-%d" % key.curve.key_size,
            "x": b64(n.x.to_bytes(size, "big")), "y": b64(n.y.to_bytes(size, "big"))}


def sign(key, alg, data):
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "EdDSA":
        return key.sign(data)
    h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    size = key.curve.key_size // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def jws(key, alg, header, payload):
    p = b64(json.dumps(header, separators=(",", ":")).encode())
    y = "" if payload is None else b64(json.dumps(payload, separators=(",", ":")).encode())
    return {"protected": p, "payload": y,
            "signature": b64(sign(key, alg, (p + "." + y).encode()))}


def main(out):
    os.makedirs(out, exist_ok=True)
    keys = {"ES256": ec.generate_private_key(ec.SECP256R1()),
            "ES384": ec.generate_private_key(ec.SECP384R1()),
            "RS256": rsa.generate_private_key(65537, 2048),
            "EdDSA": ed25519.Ed25519PrivateKey.generate()}
    seeds = {}
    for alg, key in keys.items():
        h = {"alg": alg, "nonce": "bm9uY2U", "url": URL, "jwk": jwk(key)}
        seeds["jwk-" + alg] = jws(key, alg, h, {"termsOfServiceAgreed": True,
                                                "contact": ["mailto:a@example.com"]})
        h = {"alg": alg, "nonce": "bm9uY2U", "url": URL, "kid": KID}
        seeds["kid-" + alg] = jws(key, alg, h, {"identifiers": [{"type": "dns",
                                                                 "value": "a.example"}]})
    seeds["post-as-get"] = jws(keys["ES256"], "ES256",
                               {"alg": "ES256", "nonce": "bm9uY2U", "url": URL, "kid": KID}, None)
    acct = keys["ES256"]
    inner_h = b64(json.dumps({"alg": "HS256", "kid": "kid-1", "url": URL}).encode())
    inner_p = b64(json.dumps(jwk(acct)).encode())
    mac = hmac.new(b"\x42" * 32, (inner_h + "." + inner_p).encode(), hashlib.sha256).digest()
    seeds["eab"] = jws(acct, "ES256", {"alg": "ES256", "nonce": "bm9uY2U", "url": URL,
                                       "jwk": jwk(acct)},
                       {"termsOfServiceAgreed": True, "externalAccountBinding":
                        {"protected": inner_h, "payload": inner_p, "signature": b64(mac)}})
    new = keys["ES384"]
    inner = jws(new, "ES384", {"alg": "ES384", "jwk": jwk(new), "url": URL},
                {"account": KID, "oldKey": jwk(acct)})
    # The outer jwk form, so the target checks oldKey against it.
    seeds["keychange"] = jws(acct, "ES256", {"alg": "ES256", "nonce": "bm9uY2U", "url": URL,
                                             "jwk": jwk(acct)}, inner)
    for name, body in seeds.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(json.dumps(body, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1])
