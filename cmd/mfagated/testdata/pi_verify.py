#!/usr/bin/env python3
"""Verify privacyIDEA response signatures the way privacyIDEA computes them.

Usage: pi_verify.py PUBLIC_KEY_PEM BODIES_FILE

BODIES_FILE holds one JSON response body per line. For each body the
"signature" member is removed, the rest serialised with
json.dumps(obj, sort_keys=True) (privacyIDEA's sign_response), and the
signature "rsa_sha256_pss:<hex>" checked as RSA-PSS with SHA-256, MGF1
SHA-256 and the maximum salt length (privacyIDEA's lib/crypto.py Sign).
Prints "ok N" or "bad N: reason" per line (N counts from 1); exits 1 if
any line is bad.
"""
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PREFIX = "rsa_sha256_pss:"


def check(key, line):
    obj = json.loads(line)
    if not isinstance(obj, dict):
        return "not a JSON object"
    sig = obj.pop("signature", None)
    if not isinstance(sig, str) or not sig.startswith(PREFIX):
        return "no rsa_sha256_pss signature"
    try:
        raw = bytes.fromhex(sig[len(PREFIX):])
    except ValueError:
        return "signature is not hex"
    msg = json.dumps(obj, sort_keys=True).encode("utf-8")
    try:
        key.verify(raw, msg,
                   padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
                   hashes.SHA256())
    except InvalidSignature:
        return "signature does not verify"
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    bad = 0
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            try:
                why = check(key, line)
            except ValueError as e:
                why = "not JSON: %s" % e
            if why:
                bad += 1
                print("bad %d: %s" % (n, why))
            else:
                print("ok %d" % n)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
