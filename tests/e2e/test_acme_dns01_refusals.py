"""dns-01 and wildcards in `tlsgate acme serve`, with a real DNS server
(dnsmasq, its records set through tests/e2e/lib/dnsmasq.sh): what is
offered with and without --dns-resolver, a wildcard issued through dns-01
and its CSR held to the wildcard name, and each refusal with its problem
type, reason and nothing issued. Run by test_acme_dns01_refusals.sh: server
A has --dns-resolver, B also --no-wildcards, C no --dns-resolver; one CA."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import acme_client as ac  # noqa: E402
from acme_refusal import refused  # noqa: E402
from acme_store import check_after, one_invalid_order, state  # noqa: E402

PKI = os.environ["PKI"]
CA = os.path.join(PKI, "root.crt")
A, B, C = os.environ["ACME_A"], os.environ["ACME_B"], os.environ["ACME_C"]
D = os.environ.get("ACME_D")  # --dns-resolver [::1]:PORT; unset without IPv6 loopback
DNS_DIR, DNS_PORT = os.environ["DNS_DIR"], os.environ["DNS_PORT"]
HOOK = os.path.join(os.path.dirname(__file__), "lib", "dnsmasq.sh")


def dns(action, name, value):
    subprocess.run(["bash", HOOK, DNS_DIR, DNS_PORT, action, name, value], check=True,
                   timeout=60)


def dnsmasq_pid():
    with open(os.path.join(DNS_DIR, "pid")) as f:
        return int(f.read())


def dns01_of(c, authz_url):
    authz = c.get(authz_url)
    ch = [x for x in authz["challenges"] if x["type"] == "dns-01"]
    assert len(ch) == 1, authz
    return authz, ch[0]


def failed_validation(c, name, ptype, reasons, setup=None, timeout=60):
    """An order for name whose dns-01 fails: the challenge, authorization
    and order end invalid with ptype and every reason in the detail; no
    certificate is issued and no other order changes."""
    before = state()
    loc, order = c.order([name])
    authz, ch = dns01_of(c, order["authorizations"][0])
    if setup:
        setup(c, ch)
    c.post(ch["url"], {})
    order = c.wait(loc, ("invalid", "ready"), timeout=timeout)
    assert order["status"] == "invalid", order
    ch = c.get(ch["url"])
    assert ch["status"] == "invalid", ch
    err = ch["error"]
    assert err["type"] == "urn:ietf:params:acme:error:" + ptype, err
    for r in reasons:
        assert r in err["detail"], "%s: detail %r lacks %r" % (name, err["detail"], r)
    assert c.get(order["authorizations"][0])["status"] == "invalid"
    check_after(name, before, one_invalid_order(ptype))
    print("ok - %s: %s: %s" % (name, ptype, err["detail"]))


a = ac.Client(A, CA)
a.register()

# --- what is offered ------------------------------------------------------
_, order = a.order(["plain.example.internal"])
authz = a.get(order["authorizations"][0])
types = sorted(x["type"] for x in authz["challenges"])
assert types == ["dns-01", "http-01", "tls-alpn-01"], types
assert "wildcard" not in authz, authz
_, order = a.order(["*.w.example.internal"])
assert order["identifiers"] == [{"type": "dns", "value": "*.w.example.internal"}], order
authz = a.get(order["authorizations"][0])
assert authz["identifier"] == {"type": "dns", "value": "w.example.internal"}, authz
assert authz["wildcard"] is True, authz
assert [x["type"] for x in authz["challenges"]] == ["dns-01"], authz
print("ok - with --dns-resolver: dns-01 offered; a wildcard's authorization is for its base "
      "name, wildcard true, dns-01 alone")

# --- a wildcard issued; its CSR must name the wildcard ----------------------
loc, order = a.order(["*.y.example.internal"])
authz, ch = dns01_of(a, order["authorizations"][0])
dns("present", "_acme-challenge.y.example.internal.", a.dns01_value(ch["token"]))
a.post(ch["url"], {})
order = a.wait(loc, ("ready", "invalid"))
assert order["status"] == "ready", order
refused("wildcard order, CSR with the base name", lambda: a.finalize(
    order, ac.csr_der(["y.example.internal"])), "badCSR", 400, "not an identifier of the order")
refused("wildcard order, CSR with a name under it", lambda: a.finalize(
    order, ac.csr_der(["a.y.example.internal"])), "badCSR", 400, "not an identifier of the order")
before = state()
order = a.finalize(order, ac.csr_der(["*.y.example.internal"]))
if order["status"] != "valid":
    order = a.wait(loc, ("valid", "invalid"))
assert order["status"] == "valid", order
pem = a.post(order["certificate"], None).text
cert = ac.x509.load_pem_x509_certificate(pem.encode())
sans = cert.extensions.get_extension_for_class(ac.x509.SubjectAlternativeName).value
assert sans.get_values_for_type(ac.x509.DNSName) == ["*.y.example.internal"], sans
assert len(state()[2]) == len(before[2]) + 1
dns("cleanup", "_acme-challenge.y.example.internal.", a.dns01_value(ch["token"]))
print("ok - *.y.example.internal issued through dns-01; CSRs with other names refused")

# --- a CNAME is followed, as a resolver does ------------------------------
loc, order = a.order(["c.example.internal"])
authz, ch = dns01_of(a, order["authorizations"][0])
dns("present", "_acme-challenge.target.example.internal", a.dns01_value(ch["token"]))
dns("cname", "_acme-challenge.c.example.internal", "_acme-challenge.target.example.internal")
a.post(ch["url"], {})
order = a.wait(loc, ("ready", "invalid"))
assert order["status"] == "ready", a.get(ch["url"])
print("ok - dns-01 through a CNAME (_acme-challenge.c -> _acme-challenge.target)")

# --- the resolver over IPv6 loopback ----------------------------------------
if D:
    d = ac.Client(D, CA)
    d.register()
    loc, order = d.order(["v6.example.internal"])
    authz, ch = dns01_of(d, order["authorizations"][0])
    dns("present", "_acme-challenge.v6.example.internal", d.dns01_value(ch["token"]))
    d.post(ch["url"], {})
    order = d.wait(loc, ("ready", "invalid"))
    assert order["status"] == "ready", d.get(ch["url"])
    print("ok - dns-01 through --dns-resolver [::1]:%s" % DNS_PORT)
else:
    print("skip - no IPv6 loopback: --dns-resolver [::1] not tried")

# --- an answer too big for UDP: truncated, asked again over TCP -------------
# 12 other values of 100 bytes first (over the 512 bytes of a UDP answer
# without EDNS), the right one last: without TCP and without reading every
# record, this fails.
loc, order = a.order(["big.example.internal"])
authz, ch = dns01_of(a, order["authorizations"][0])
for i in range(12):
    dns("present", "_acme-challenge.big.example.internal", "%02d" % i + "x" * 98)
dns("present", "_acme-challenge.big.example.internal", a.dns01_value(ch["token"]))
a.post(ch["url"], {})
order = a.wait(loc, ("ready", "invalid"))
assert order["status"] == "ready", a.get(ch["url"])
print("ok - dns-01 with 13 TXT records (truncated over UDP, read over TCP)")

# --- failed validations: invalid, with the reason, nothing issued ----------
failed_validation(a, "wrong.example.internal", "incorrectResponse",
                  ["_acme-challenge.wrong.example.internal", "\"not-the-digest\"",
                   "none of them base64url(SHA-256(key authorization))"],
                  setup=lambda c, ch: dns("present", "_acme-challenge.wrong.example.internal",
                                          "not-the-digest"))
failed_validation(a, "missing.example.internal", "dns",
                  ["the resolver 127.0.0.1:%s has no TXT record for "
                   "_acme-challenge.missing.example.internal" % DNS_PORT, "NXDOMAIN"])
# A CNAME to a name with the wrong value: the value is read at the target.
failed_validation(a, "cwrong.example.internal", "incorrectResponse",
                  ["via CNAME _acme-challenge.t2.example.internal", "\"stale\""],
                  setup=lambda c, ch: (
                      dns("present", "_acme-challenge.t2.example.internal", "stale"),
                      dns("cname", "_acme-challenge.cwrong.example.internal",
                          "_acme-challenge.t2.example.internal")))


def stop_dnsmasq(c, ch):
    os.kill(dnsmasq_pid(), signal.SIGSTOP)


failed_validation(a, "slow.example.internal", "dns",
                  ["asking the resolver 127.0.0.1:%s (--dns-resolver)" % DNS_PORT,
                   "timed out"], setup=stop_dnsmasq)
os.kill(dnsmasq_pid(), signal.SIGCONT)


def kill_dnsmasq(c, ch):
    pid = dnsmasq_pid()
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)


failed_validation(a, "gone.example.internal", "dns", ["connection refused"], setup=kill_dnsmasq)

# --- refused orders ---------------------------------------------------------
refused("wildcard outside the policy", lambda: a.order(["*.example.org"]),
        "rejectedIdentifier", 400, "outside this CA's policy")
refused("wildcard of a wildcard", lambda: a.order(["*.*.example.internal"]),
        "rejectedIdentifier", 400, "not a DNS name")
b = ac.Client(B, CA)
b.register()
refused("wildcard with --no-wildcards", lambda: b.order(["*.x.example.internal"]),
        "rejectedIdentifier", 400, "--no-wildcards")
c = ac.Client(C, CA)
c.register()
refused("wildcard without --dns-resolver", lambda: c.order(["*.x.example.internal"]),
        "rejectedIdentifier", 400, "only when started with --dns-resolver")
_, order = c.order(["plain.example.internal"])
authz = c.get(order["authorizations"][0])
types = sorted(x["type"] for x in authz["challenges"])
assert types == ["http-01", "tls-alpn-01"], types
http = [x for x in authz["challenges"] if x["type"] == "http-01"][0]
refused("dns-01 asked of a server without --dns-resolver",
        lambda: c.post(http["url"][:-2] + "-d", {}), "malformed", 400,
        "only when started with --dns-resolver (it was not)")
print("ok - without --dns-resolver: dns-01 not offered, and asked for, refused")
print("all dns-01 checks passed")
