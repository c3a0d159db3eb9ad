"""Rewrites the key derivation parameters of an encrypted key or a PKCS#12
file, as an attacker would, without deriving anything: a DER walk that sets
PBKDF2 iterations, scrypt N/r/p, or the PKCS#12 MAC iterations, lengths
re-encoded. Standard library only.
  kdf_files.py pbkdf2 IN OUT ITER        (PEM or DER PKCS#8, PKCS#12)
  kdf_files.py scrypt IN OUT N R P       (PEM PKCS#8 -scrypt)
  kdf_files.py p12mac IN OUT ITER        (PKCS#12)"""

import base64
import re
import sys

PBKDF2 = bytes.fromhex("2a864886f70d01050c")   # 1.2.840.113549.1.5.12
SCRYPT = bytes.fromhex("2b06010401da47040b")   # 1.3.6.1.4.1.11591.4.11


def parse(b, i=0, end=None):
    """[(tag, value)] where value is bytes or a list of nodes; an OCTET
    STRING holding whole DER becomes ('wrapped', nodes)."""
    end = len(b) if end is None else end
    out = []
    while i < end:
        tag = b[i]
        n = b[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        body = b[i:i + n]
        if i + n > end:
            raise ValueError("truncated")
        if tag & 0x20:
            out.append((tag, parse(b, i, i + n)))
        elif tag == 0x04 and body[:1] == b"\x30":
            try:
                out.append((tag, ("wrapped", parse(body))))
            except (ValueError, IndexError):
                out.append((tag, body))
        else:
            out.append((tag, body))
        i += n
    return out


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(s)]) + s


def encode(nodes):
    out = b""
    for tag, v in nodes:
        if isinstance(v, tuple):
            body = encode(v[1])
        elif isinstance(v, list):
            body = encode(v)
        else:
            body = v
        out += bytes([tag]) + enc_len(len(body)) + body
    return out


def integer(n):
    return (n.to_bytes((n.bit_length() + 8) // 8, "big"))


def walk(nodes, fn):
    for idx, (tag, v) in enumerate(nodes):
        fn(nodes, idx)
        if isinstance(v, tuple):
            walk(v[1], fn)
        elif isinstance(v, list):
            walk(v, fn)


def kdf_params(nodes, oid):
    """The parameter SEQUENCEs of every AlgorithmIdentifier with oid."""
    found = []

    def fn(ns, idx):
        tag, v = ns[idx]
        if tag == 0x30 and isinstance(v, list) and len(v) == 2 and v[0] == (0x06, oid):
            found.append(v[1][1])
    walk(nodes, fn)
    return found


def main():
    mode, src, dst = sys.argv[1:4]
    nums = [int(x) for x in sys.argv[4:]]
    data = open(src, "rb").read()
    pem = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END", data, re.S)
    der = base64.b64decode(b"".join(pem.group(2).split())) if pem else data
    tree = parse(der)
    if mode == "pbkdf2":
        ps = kdf_params(tree, PBKDF2)
        for p in ps:
            p[1] = (0x02, integer(nums[0]))
    elif mode == "scrypt":
        ps = kdf_params(tree, SCRYPT)
        for p in ps:
            for k in range(3):
                p[1 + k] = (0x02, integer(nums[k]))
    elif mode == "p12mac":
        ps = [tree[0][1][2][1]]          # PFX.macData
        ps[0][2] = (0x02, integer(nums[0]))
    else:
        sys.exit("kdf_files.py: unknown mode %s" % mode)
    if not ps:
        sys.exit("kdf_files.py: %s holds no %s parameters" % (src, mode))
    out = encode(tree)
    if pem:
        label = pem.group(1).decode()
        b64 = base64.b64encode(out).decode()
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        out = ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)).encode()
    open(dst, "wb").write(out)


main()
