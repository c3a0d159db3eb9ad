#!/usr/bin/env python3
"""Writes CSRs and a certificate whose names hold what no name may: a NUL,
CR/LF, an escape sequence, two CNs. Usage: hostile_names.py DIR"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = sys.argv[1]
key = ec.generate_private_key(ec.SECP256R1())


def name(attrs):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def csr(file, attrs, sans=None):
    b = x509.CertificateSigningRequestBuilder().subject_name(name(attrs))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    with open(os.path.join(out, file), "wb") as f:
        f.write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


CN, OU = NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME
csr("nul.csr", [(CN, "alice\x00.evil.example")])
csr("crlf.csr", [(CN, "bob\r\nIssued root (serial 00)")])
csr("two-cn.csr", [(CN, "alice"), (CN, "admin")])
csr("esc-ou.csr", [(CN, "carol"), (OU, "ops\x1b[2J\x1b[31m")])
csr("crlf-uri.csr", [(CN, "dave")], [x509.UniformResourceIdentifier("spiffe://a/b\r\nx")])
csr("fine.csr", [(CN, "erin"), (OU, "ops")])

# A self-signed certificate with an escape sequence in its O and a DNS SAN.
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder()
        .subject_name(name([(CN, "term.example"), (NameOID.ORGANIZATION_NAME, "Evil\x1b]0;pwned\x07Corp")]))
        .issuer_name(name([(CN, "term.example")]))
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("a\x1b[2Jb.example")]), critical=False)
        .sign(key, hashes.SHA256()))
with open(os.path.join(out, "esc.crt"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
