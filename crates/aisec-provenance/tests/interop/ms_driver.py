"""Drives the reference implementation (the `model-signing` package) for aisec's interop tests.

Usage (run with the test venv's python):
  ms_driver.py keys DIR                     write test keys and a certificate hierarchy into DIR
  ms_driver.py sign MODE MODEL SIG KEYDIR   sign MODEL with the reference
  ms_driver.py verify MODE MODEL SIG KEYDIR verify MODEL with the reference

MODE is one of:
  key-files-sha256, key-shards-sha256-1000, key-files-blake3, key-shards-blake2-777 (key signing,
  P-256/P-384/P-521 keys by mode), cert-files-sha256 (certificate chain).
`verify` prints `ok` or `FAIL: <reason>` and exits 0 either way; anything else is a driver error.
"""

import datetime
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import model_signing

CURVES = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}
# Which key each mode signs with, so every curve is exercised.
MODE_KEY = {
    "key-files-sha256": "p256",
    "key-shards-sha256-1000": "p384",
    "key-files-blake3": "p521",
    "key-shards-blake2-777": "p256",
    "key-files-sha256-symlinks": "p256",
}


def write_key(path, key):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def write_pub(path, key):
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def cert(subject, issuer_name, key, issuer_key, ca, usage, days=365, eku=None):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=usage == "sign",
                content_commitment=False,
                key_encipherment=usage == "encipher",
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=usage == "ca",
                crl_sign=usage == "ca",
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    curve = getattr(issuer_key, "curve", None)
    algo = hashes.SHA384() if isinstance(curve, ec.SECP384R1) else hashes.SHA256()
    return b.sign(issuer_key, algo)


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def keys(d):
    d = pathlib.Path(d)
    d.mkdir(parents=True, exist_ok=True)
    for name, curve in CURVES.items():
        k = ec.generate_private_key(curve)
        write_key(d / f"{name}.key", k)
        write_pub(d / f"{name}.pub", k)
    root_key = ec.generate_private_key(ec.SECP384R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("aisec test root", "aisec test root", root_key, root_key, True, "ca", 3650)
    inter = cert("aisec test intermediate", "aisec test root", inter_key, root_key, True, "ca", 1825)
    leaf = cert("aisec test signer", "aisec test intermediate", leaf_key, inter_key, False, "sign",
                eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    # A leaf that may only encipher: not allowed to sign.
    bad_key = ec.generate_private_key(ec.SECP256R1())
    bad = cert("aisec test encipher-only", "aisec test intermediate", bad_key, inter_key, False, "encipher")
    # Another hierarchy nobody trusts.
    other_key = ec.generate_private_key(ec.SECP384R1())
    other = cert("aisec other root", "aisec other root", other_key, other_key, True, "ca", 3650)
    (d / "root.pem").write_bytes(pem(root))
    (d / "intermediate.pem").write_bytes(pem(inter))
    (d / "leaf.pem").write_bytes(pem(leaf))
    write_key(d / "leaf.key", leaf_key)
    (d / "encipher.pem").write_bytes(pem(bad))
    write_key(d / "encipher.key", bad_key)
    (d / "other-root.pem").write_bytes(pem(other))
    # A corporate-style hierarchy: an RSA root, an ECDSA intermediate and signing leaf.
    rsa_root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_root = cert("aisec rsa root", "aisec rsa root", rsa_root_key, rsa_root_key, True, "ca", 3650)
    rsa_inter_key = ec.generate_private_key(ec.SECP384R1())
    rsa_inter = cert("aisec rsa-rooted intermediate", "aisec rsa root", rsa_inter_key, rsa_root_key, True, "ca", 1825)
    rsa_leaf_key = ec.generate_private_key(ec.SECP256R1())
    rsa_leaf = cert("aisec rsa-rooted signer", "aisec rsa-rooted intermediate", rsa_leaf_key, rsa_inter_key, False, "sign")
    (d / "rsa-root.pem").write_bytes(pem(rsa_root))
    (d / "rsa-intermediate.pem").write_bytes(pem(rsa_inter))
    (d / "rsa-leaf.pem").write_bytes(pem(rsa_leaf))
    write_key(d / "rsa-leaf.key", rsa_leaf_key)


def hashing_config(mode, sig):
    h = model_signing.hashing.Config().set_ignored_paths(paths=[sig], ignore_git_paths=True)
    if mode in ("key-files-sha256", "cert-files-sha256", "cert-rsa-root"):
        return h.use_file_serialization()
    if mode == "key-shards-sha256-1000":
        return h.use_shard_serialization(shard_size=1000)
    if mode == "key-files-blake3":
        return h.use_file_serialization(hashing_algorithm="blake3")
    if mode == "key-shards-blake2-777":
        return h.use_shard_serialization(hashing_algorithm="blake2", shard_size=777)
    raise SystemExit(f"unknown mode {mode}")


def sign(mode, model, sig, kd):
    kd = pathlib.Path(kd)
    cfg = model_signing.signing.Config()
    if mode.startswith("cert-"):
        cfg.use_certificate_signer(
            private_key=kd / "leaf.key",
            signing_certificate=kd / "leaf.pem",
            certificate_chain=[kd / "intermediate.pem"],
        )
    else:
        cfg.use_elliptic_key_signer(private_key=kd / f"{MODE_KEY[mode]}.key")
    cfg.set_hashing_config(hashing_config(mode, sig))
    cfg.sign(model, sig)


def verify(mode, model, sig, kd):
    kd = pathlib.Path(kd)
    cfg = model_signing.verifying.Config()
    if mode == "cert-rsa-root":
        cfg.use_certificate_verifier(certificate_chain=[kd / "rsa-root.pem"])
    elif mode.startswith("cert-"):
        cfg.use_certificate_verifier(certificate_chain=[kd / "root.pem"])
    else:
        cfg.use_elliptic_key_verifier(public_key=kd / f"{MODE_KEY[mode]}.pub")
    # The reference cannot guess a blake2 configuration from its own signatures ("blake2b" is
    # recorded, "blake2" is the option): give it explicitly there, let it guess everywhere else.
    if mode == "key-shards-blake2-777":
        cfg.set_hashing_config(hashing_config(mode, sig))
    # Its guessed configuration drops `allow_symlinks` (the Config-level flag overrides the
    # serializer's), so links need the flag set explicitly.
    if mode == "key-files-sha256-symlinks":
        cfg.set_hashing_config(
            model_signing.hashing.Config().use_file_serialization().set_allow_symlinks(True)
        )
    try:
        cfg.verify(model, sig)
        print("ok")
    except Exception as e:  # noqa: BLE001 - the message is the result
        print(f"FAIL: {type(e).__name__}: {e}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "keys":
        keys(sys.argv[2])
    elif cmd == "sign":
        sign(*sys.argv[2:6])
    elif cmd == "verify":
        verify(*sys.argv[2:6])
    else:
        raise SystemExit(f"unknown command {cmd}")
