"""Opens the session ticket an `openssl s_client -sess_out` file holds with
a key file in nginx's 80-byte layout (name 16, HMAC-SHA256 key 32,
AES-256-CBC key 32), independently of any server: prints which key of the
file names the ticket, whether its HMAC verifies and whether it decrypts to
a DER SSL_SESSION, e.g. "key=1 hmac=ok session=der".

usage: ticket_check.py SESSION.pem KEYFILE"""
import hashlib
import hmac
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sess, keyfile = sys.argv[1:3]
der = subprocess.run(["openssl", "sess_id", "-in", sess, "-outform", "DER"],
                     check=True, capture_output=True).stdout
dump = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=der,
                      check=True, capture_output=True).stdout.decode().splitlines()
ticket = None
for i, line in enumerate(dump):
    if "cont [ 10 ]" in line and i + 1 < len(dump) and "[HEX DUMP]:" in dump[i + 1]:
        ticket = bytes.fromhex(dump[i + 1].split("[HEX DUMP]:")[1])
if ticket is None:
    print("no ticket")
    sys.exit(0)
keys = open(keyfile, "rb").read()
for n in range(len(keys) // 80):
    k = keys[80 * n:80 * (n + 1)]
    name, hkey, akey = k[:16], k[16:48], k[48:80]
    if ticket[:16] != name:
        continue
    iv, body, mac = ticket[16:32], ticket[32:-32], ticket[-32:]
    ok = hmac.compare_digest(hmac.new(hkey, ticket[:-32], hashlib.sha256).digest(), mac)
    dec = Cipher(algorithms.AES(akey), modes.CBC(iv)).decryptor()
    plain = dec.update(body) + dec.finalize() if ok else b""
    print("key=%d hmac=%s session=%s" % (n + 1, "ok" if ok else "bad",
                                         "der" if plain[:1] == b"\x30" else "garbage"))
    sys.exit(0)
print("key=none")
