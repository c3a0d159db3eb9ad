#!/usr/bin/env bash
# Client certificate names say what they mean, or the certificate is refused:
# a CN "alice\0.evil" is not alice (400 in http mode whatever the verify
# mode, a TLS alert in tcp mode, the reason logged); an OU or SAN with a
# control character likewise. X-Client-SAN lists names so that a comma in a
# URI cannot pass for a second name, and IPv6 SANs read as inspect and
# --allow-san write them (any spelling of the rule matches; a rule that is no
# address is refused when the configuration is read).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/pki.sh"

mkdir -p "$WORK/ca"
pki_cert "$WORK/ca"/ca self root "/CN=Names CA"
pki_cert "$WORK/server" "$WORK/ca"/ca server "/CN=localhost" "DNS:localhost"
pki_cert "$WORK/alice" "$WORK/ca"/ca client "/CN=alice"

# Names openssl's config syntax cannot write, built with python's
# cryptography and signed by the same CA.
python3 - "$WORK" <<'PY'
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

work = sys.argv[1]
ca_cert = x509.load_pem_x509_certificate(open(f"{work}/ca/ca.crt", "rb").read())
ca_key = serialization.load_pem_private_key(open(f"{work}/ca/ca.key", "rb").read(), None)

def make(name, cn, ous=(), sans=()):
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    open(f"{work}/{name}.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(f"{work}/{name}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.close(fd)

make("nul", "alice\x00.evil")
make("ouesc", "alice", ous=["eng\x1b[2Jops"])
make("urinul", "alice", sans=[x509.UniformResourceIdentifier("spiffe://example.com/alice\x00x")])
make("v6", "bob", sans=[x509.IPAddress(ipaddress.ip_address("2001:db8::1"))])
make("comma", "mallory",
     sans=[x509.UniformResourceIdentifier("spiffe://example.com/m,DNS:alice.example.com"),
           x509.DNSName("mallory.example.com")])
PY

BP=$(free_port); GP=$(free_port); TP=$(free_port); OP=$(free_port)
start_echo_backend "$BP"
start_bg gw timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$GP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify verify-full --allow-cn alice --allow-san IP:2001:DB8:0::1 \
	--allow-san 'URI:spiffe://example.com/m,DNS:alice.example.com' --cert-header no --workers 1
start_bg gwtcp timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$TP --target 127.0.0.1:$BP \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify require --workers 1
start_bg gwopt timeout 120 "$TLSGATE" serve --listen 127.0.0.1:$OP --target 127.0.0.1:$BP --mode http \
	--cert "$WORK/server.crt" --key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" \
	--verify optional --workers 1
wait_port "$GP"; wait_port "$TP"; wait_port "$OP"

req() { # PORT CERTBASE PATH -> "BODY\nSTATUS"
	curl -sS --max-time 10 --cacert "$WORK/ca/ca.crt" --cert "$WORK/$2.crt" --key "$WORK/$2.key" \
		-w '\n%{http_code}' "https://localhost:$1$3"
}
hdr() { # NAME <<<BODY: the value the backend saw
	python3 -c 'import json,sys; h=json.loads(sys.stdin.read())["headers"]; print("|".join(v for k,v in h if k.lower()==sys.argv[1].lower()))' "$1"
}
not_at_backend() {
	if grep -q "$1" "$WORK/backend-$BP.log"; then fail "$1 reached the backend"; fi
}

out=$(req "$GP" alice /alice)
assert_eq 200 "$(tail -n1 <<<"$out")" "the real alice gets in"

# 10. A NUL in the CN: not alice. Refused with the reason, in every mode.
out=$(req "$GP" nul /nul)
assert_eq 400 "$(tail -n1 <<<"$out")" "CN alice\\0.evil with --allow-cn alice: 400"
assert_contains "$out" "The SSL certificate error" "CN with a NUL: the bad-certificate page"
wait_log "$WORK/gw.log" 'cn=- verify=failed .*close="replied 400 The SSL certificate error (the CN holds a NUL byte)"'
not_at_backend /nul
pass "verify-full: a CN with a NUL byte is refused (400), logged with the reason"

out=$(req "$OP" nul /opt-nul)
assert_eq 400 "$(tail -n1 <<<"$out")" "--verify optional: a CN with a NUL is a bad certificate (400)"
wait_log "$WORK/gwopt.log" 'close="replied 400 The SSL certificate error (the CN holds a NUL byte)"'
not_at_backend /opt-nul
pass "optional: a CN with a NUL byte is a bad certificate"

tcp=$(python3 - "$TP" "$WORK" <<'PY'
import socket, ssl, sys
port, work = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=f"{work}/ca/ca.crt")
ctx.load_cert_chain(f"{work}/nul.crt", f"{work}/nul.key")
ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the alert comes in the handshake
try:
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                         server_hostname="localhost") as s:
        s.sendall(b"GET /tcp-nul HTTP/1.1\r\nHost: x\r\n\r\n")
        print("open", s.recv(100))
except (ssl.SSLError, ConnectionError) as e:
    print("refused", type(e).__name__)
PY
)
assert_contains "$tcp" "refused" "tcp mode: the handshake with a NUL CN fails"
wait_log "$WORK/gwtcp.log" 'close="handshake failed: client certificate: the CN holds a NUL byte"'
not_at_backend /tcp-nul
pass "tcp mode: a CN with a NUL byte fails the handshake, logged with the reason"

out=$(req "$GP" ouesc /ouesc)
assert_eq 400 "$(tail -n1 <<<"$out")" "an OU with an escape character: 400"
wait_log "$WORK/gw.log" 'close="replied 400 The SSL certificate error (an OU holds a control character)"'
out=$(req "$GP" urinul /urinul)
assert_eq 400 "$(tail -n1 <<<"$out")" "a URI SAN with a NUL byte: 400"
wait_log "$WORK/gw.log" 'close="replied 400 The SSL certificate error (a URI SAN holds a NUL byte)"'
not_at_backend /ouesc
not_at_backend /urinul
pass "OU and SAN values with control characters are refused the same way"

# 12. An IPv6 SAN: allowed by a rule written another way, shown as inspect shows it.
out=$(req "$GP" v6 /v6)
assert_eq 200 "$(tail -n1 <<<"$out")" "IP SAN 2001:db8::1 matches --allow-san IP:2001:DB8:0::1"
body=$(head -n -1 <<<"$out")
assert_eq "IP:2001:db8::1" "$(hdr X-Client-SAN <<<"$body")" "X-Client-SAN shows the IPv6 address as text"
assert_contains "$(tg inspect "$WORK/v6.crt")" "IP:2001:db8::1" "inspect shows the same text"
pass "IPv6 SANs: the rule matches, the header and inspect agree"

# 11. A comma inside a URI SAN does not make a second name.
out=$(req "$GP" comma /comma)
assert_eq 200 "$(tail -n1 <<<"$out")" "the URI rule with a comma matches the URI"
body=$(head -n -1 <<<"$out")
san=$(hdr X-Client-SAN <<<"$body")
assert_eq "URI:spiffe://example.com/m%2CDNS:alice.example.com, DNS:mallory.example.com" "$san" \
	"X-Client-SAN: each name escaped, joined with ', '"
names=$(python3 -c 'import sys, urllib.parse; print("|".join(urllib.parse.unquote(n) for n in sys.argv[1].split(", ")))' "$san")
assert_eq "URI:spiffe://example.com/m,DNS:alice.example.com|DNS:mallory.example.com" "$names" \
	"split on ', ' and unescaped, the backend gets exactly the certificate's two names"
assert_contains "$(tg inspect "$WORK/comma.crt")" "URI:spiffe://example.com/m%2CDNS:alice.example.com,DNS:mallory.example.com" \
	"inspect escapes the comma the same way"
pass "X-Client-SAN is unambiguous"

# An --allow-san IP rule that is no address is refused at config time.
expect_fail 1 "$TLSGATE" serve --listen 127.0.0.1:1 --target 127.0.0.1:2 --cert "$WORK/server.crt" \
	--key "$WORK/server.key" --client-ca "$WORK/ca/ca.crt" --verify verify-full \
	--allow-san IP:2001:db8::1::2 --test
assert_contains "$OUT" "--allow-san 'IP:2001:db8::1::2': '2001:db8::1::2' is not an IPv4 or IPv6 address" \
	"a bad IP rule is refused with the reason"
cat >"$WORK/bad.ini" <<EOF
[listener web]
listen = 127.0.0.1:1
target = 127.0.0.1:2
cert = $WORK/server.crt
key = $WORK/server.key
client-ca = $WORK/ca/ca.crt
verify = verify-full
allow-san = IP:10.0.0.300
EOF
expect_fail 1 "$TLSGATE" serve --config "$WORK/bad.ini" --test
assert_contains "$OUT" "listener web: --allow-san 'IP:10.0.0.300'" "the config file's bad IP rule names the listener"
pass "invalid IP rules are refused when the configuration is read"
echo "all client certificate name checks passed"
