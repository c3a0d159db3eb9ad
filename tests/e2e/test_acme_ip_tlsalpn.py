#!/usr/bin/env python3
"""tls-alpn-01 for IP identifiers (RFC 8738 6), with acme_client.py and the
acme-tls/1 responder of the unit tests (no packaged client does it: lego
sends an IP as a "dns" identifier). An IP's authorization offers http-01
and tls-alpn-01; the validation connects to the address with the reverse-DNS
name as SNI (in-addr.arpa, ip6.arpa nibbles) and wants the address as the
certificate's one SAN; a responder whose certificate names another address
is refused. The certificate issued holds the address.

  test_acme_ip_tlsalpn.py BASE CAFILE ALPN_PORT WORKDIR [v6]"""
import ipaddress
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme_client import Client, Problem, b64u, new_key, thumbprint  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

BASE, CA, PORT, WORK = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ADDRS = ["127.0.0.1"] + (["::1"] if len(sys.argv) > 5 and sys.argv[5] == "v6" else [])
RESPONDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit",
                         "acme_chal_server.py")


def reverse_name(ip):
    return ipaddress.ip_address(ip).reverse_pointer


def responder(addr, sans, keyauthz, name):
    """The acme-tls/1 responder on addr at the port the server validates at."""
    conf = os.path.join(WORK, name + ".json")
    sni = os.path.join(WORK, name + ".sni")
    with open(conf, "w") as f:
        json.dump({"sans": sans, "ext": "good", "keyauthz": keyauthz, "alpn": "acme-tls/1",
                   "sni_log": sni}, f)
    portfile = os.path.join(WORK, name + ".port")
    env = dict(os.environ, CHAL_ADDR=addr, CHAL_PORT=PORT)
    p = subprocess.Popen([sys.executable, RESPONDER, "tls", conf, portfile], env=env)
    end = time.time() + 10
    while not os.path.exists(portfile):
        if time.time() > end or p.poll() is not None:
            p.kill()
            raise RuntimeError("the acme-tls/1 responder did not start on %s" % addr)
        time.sleep(0.05)
    return p, sni


def tlsalpn_challenge(c, order):
    authz = c.get(order["authorizations"][0])
    types = sorted(x["type"] for x in authz["challenges"])
    assert types == ["http-01", "tls-alpn-01"], "an IP's challenges: %s" % types
    return [x for x in authz["challenges"] if x["type"] == "tls-alpn-01"][0]


def validate(c, ip, sans, name):
    """Orders ip, answers tls-alpn-01 with a certificate for sans; the
    order's location, its final state and the SNI the responder saw."""
    loc, order = c.order([ip], ip=True)
    ch = tlsalpn_challenge(c, order)
    p, sni = responder(ip, sans, ch["token"] + "." + thumbprint(c.key), name)
    try:
        c.post(ch["url"], {})
        order = c.wait(loc, ("ready", "invalid"))
        chall = c.get(ch["url"])
    finally:
        p.kill()
        p.wait()
    with open(sni) as f:
        seen = f.read().split()
    return loc, order, chall, seen


def csr_ip(ip):
    key = new_key()
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


c = Client(BASE, CA)
c.register()
for ip in ADDRS:
    # A responder whose certificate names another address: refused.
    other = "127.0.0.2" if ":" not in ip else "::2"
    _, order, chall, seen = validate(c, ip, ["ip:" + other], "wrong-" + ip.replace(":", "_"))
    assert order["status"] == "invalid", order
    assert chall["status"] == "invalid", chall
    err = chall["error"]
    assert err["type"] == "urn:ietf:params:acme:error:incorrectResponse", err
    assert "not the identifier's IP address" in err["detail"], err
    assert "SNI " + reverse_name(ip) in err["detail"], err
    print("ok - %s: a certificate for %s refused (%s)" % (ip, other, err["detail"]))

    loc, order, chall, seen = validate(c, ip, ["ip:" + ip], "good-" + ip.replace(":", "_"))
    assert chall["status"] == "valid", chall
    assert order["status"] == "ready", order
    assert seen == [reverse_name(ip)], "SNI sent: %s, want %s" % (seen, reverse_name(ip))
    order = c.finalize(order, csr_ip(ip))
    if order["status"] != "valid":
        order = c.wait(loc, ("valid", "invalid"))
    assert order["status"] == "valid", order
    pem = c.post(order["certificate"], None).text
    out = os.path.join(WORK, "cert-" + ip.replace(":", "_") + ".pem")
    with open(out, "w") as f:
        f.write(pem)
    leaf = x509.load_pem_x509_certificate(pem.encode())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(ip)], sans
    print("ok - %s: tls-alpn-01 with SNI %s, certificate issued for the address" %
          (ip, seen[0]))
print("all IP tls-alpn-01 checks passed")
