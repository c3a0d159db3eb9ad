"""Files against the inventory (see inventory.sh): reads the rows
"serial fingerprint status cert_path" on stdin and checks the directories
named on the command line. One process for thousands of files: the
openssl CLI costs a process per file. Exit 1 with the first mismatch.
With --unsettled first (right after a crash, before the next run): only
that every certificate at a final name has its row, whatever its status."""
import hashlib
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def first_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())[0]


def fingerprint(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def spki(key_or_cert):
    return key_or_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def main():
    unsettled = sys.argv[1:2] == ["--unsettled"]
    dirs = sys.argv[2:] if unsettled else sys.argv[1:]
    by_fp, newest, voids = {}, {}, {}
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        serial, fp, status, path = parts[0], parts[1], parts[2], " ".join(parts[3:])
        if status == "pending" and not unsettled:
            fail(f"row {serial} ({path}) is still pending")
        by_fp[fp] = (serial, status)
        if status == "void":
            voids[fp] = path
        else:
            newest[path] = (fp, status)
    for d in dirs:
        names = os.listdir(d)
        staged = [n for n in names if n.startswith(".tlsgate-tmp-")]
        if staged and not unsettled:
            fail(f"staged files left in {d}: {' '.join(sorted(staged)[:5])}")
        for n in sorted(names):
            path = os.path.join(d, n)
            if n.endswith(".crt"):
                cert = first_cert(path)
                fp = fingerprint(cert)
                if fp not in by_fp:
                    fail(f"{path} (serial {cert.serial_number:X}) is not in the inventory")
                serial, status = by_fp[fp]
                if int(serial, 16) != cert.serial_number:
                    fail(f"{path}: serial {cert.serial_number:X} in the file, {serial} in the inventory")
                if unsettled:
                    continue
                if status not in ("valid", "revoked"):
                    fail(f"{path} is in the inventory as {status}")
                key = path[:-4] + ".key"
                if os.path.exists(key):
                    with open(key, "rb") as f:
                        k = serialization.load_pem_private_key(f.read(), None)
                    if spki(k) != spki(cert):
                        fail(f"{key} does not belong to {path}")
            elif n.endswith(".key") and not unsettled and not os.path.exists(path[:-4] + ".crt"):
                fail(f"{path} has no certificate beside it")
    if unsettled:
        return
    for path, (fp, status) in newest.items():
        if not os.path.exists(path) or fingerprint(first_cert(path)) != fp:
            fail(f"the inventory's newest {status} certificate for {path} is not that file")
    for fp, path in voids.items():
        if os.path.exists(path) and fingerprint(first_cert(path)) == fp:
            fail(f"{path} holds a certificate the inventory calls void")


main()
