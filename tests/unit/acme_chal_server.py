#!/usr/bin/env python3
"""Challenge servers for test_acme_validate, on 127.0.0.1 and a free port
(written to PORTFILE once listening).

  acme_chal_server.py http CONFIG PORTFILE     raw HTTP answers per path
  acme_chal_server.py webroot DIR PORTFILE     python's http.server on DIR
  acme_chal_server.py tls CONFIG PORTFILE      an acme-tls/1 responder

http CONFIG: {"/path": {"raw": "bytes as latin-1", "delay": seconds}, ...};
other paths get 404. tls CONFIG: {"sans": ["dns:x", "ip:1.2.3.4"], "ext":
"good" | "none" | "noncrit" | "wrong", "keyauthz": "...", "alpn": "acme-tls/1"
or "" (none), "sni_log": FILE (each SNI received, one a line)}.
CHAL_ADDR and CHAL_PORT in the environment pick another address (::1) or a
fixed port (the one an ACME server validates at)."""
import datetime
import functools
import hashlib
import http.server
import ipaddress
import json
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time


def listen():
    import os
    addr = os.environ.get("CHAL_ADDR", "127.0.0.1")
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(os.environ.get("CHAL_PORT", "0"))))
    s.listen(16)
    return s


def publish(port, portfile):
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename(portfile + ".tmp", portfile)


def serve_http(conf, portfile):
    s = listen()
    publish(s.getsockname()[1], portfile)

    def handle(c):
        try:
            c.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                b = c.recv(4096)
                if not b:
                    return
                data += b
            path = data.split(b" ")[1].decode("latin-1")
            route = conf.get(path)
            if route is None:
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
                return
            time.sleep(route.get("delay", 0))
            c.sendall(route["raw"].encode("latin-1"))
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def serve_webroot(root, portfile):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as httpd:
        publish(httpd.server_address[1], portfile)
        httpd.serve_forever()


def make_cert(conf):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-tls-alpn-01")])
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=1)))
    sans = []
    for s in conf.get("sans", []):
        kind, value = s.split(":", 1)
        sans.append(x509.DNSName(value) if kind == "dns"
                    else x509.IPAddress(ipaddress.ip_address(value)))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    ext = conf.get("ext", "good")
    if ext != "none":
        digest = hashlib.sha256(conf["keyauthz"].encode()).digest()
        if ext == "wrong":
            digest = hashlib.sha256(b"something else").digest()
        value = b"\x04\x20" + digest  # DER OCTET STRING
        b = b.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31"), value),
            critical=(ext != "noncrit"))
    cert = b.sign(key, hashes.SHA256())
    d = tempfile.mkdtemp()
    with open(d + "/c.pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(d + "/k.pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return d + "/c.pem", d + "/k.pem"


def serve_tls(conf, portfile):
    cert, key = make_cert(conf)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if conf.get("alpn"):
        ctx.set_alpn_protocols([conf["alpn"]])
    log = conf.get("sni_log")

    def sni(sock, name, c):
        if log:
            with open(log, "a") as f:
                f.write("%s\n" % name)

    ctx.sni_callback = sni
    s = listen()
    publish(s.getsockname()[1], portfile)
    while True:
        c, _ = s.accept()
        try:
            c.settimeout(10)
            t = ctx.wrap_socket(c, server_side=True)
            t.recv(1)  # until the client closes
            t.close()
        except (OSError, ssl.SSLError):
            c.close()


def main():
    mode, arg, portfile = sys.argv[1:4]
    if mode == "webroot":
        serve_webroot(arg, portfile)
        return
    with open(arg) as f:
        conf = json.load(f)
    {"http": serve_http, "tls": serve_tls}[mode](conf, portfile)


if __name__ == "__main__":
    main()
