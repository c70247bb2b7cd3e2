"""Certificate hierarchies that test path validation, signed and verified with the reference.

Usage (with the test venv's python): cert_paths.py DIR
Writes DIR/<case>/{model/, sig, anchors.pem} for every case, signs each model with the reference's
certificate signer, verifies it with the reference's certificate verifier against anchors.pem, and
prints one JSON object: {case: "ok" | "FAIL: <reason>"}.
"""

import datetime
import json
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

import model_signing

NOW = datetime.datetime.now(datetime.timezone.utc)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(subject, issuer, key, issuer_key, *, bc=(True, None), usage="ca", extra=()):
    """A certificate valid from a day ago for a year; `bc` None leaves basic constraints out."""
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
    )
    if bc is not None:
        b = b.add_extension(x509.BasicConstraints(ca=bc[0], path_length=bc[1]), critical=True)
    b = b.add_extension(
        x509.KeyUsage(
            digital_signature=usage == "sign",
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=usage == "ca",
            crl_sign=usage == "ca",
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    for ext, critical in extra:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def main(out):
    out = pathlib.Path(out)
    root_key, inter_key, inter2_key, leaf_key = new_key(), new_key(), new_key(), new_key()
    root = make("root", "root", root_key, root_key)
    inter = make("inter", "root", inter_key, root_key)
    leaf = make("leaf", "inter", leaf_key, inter_key, bc=(False, None), usage="sign")
    # Two intermediates: leaf <- inter2 <- inter <- root.
    inter2 = make("inter2", "inter", inter2_key, inter_key)
    leaf2 = make("leaf", "inter2", leaf_key, inter2_key, bc=(False, None), usage="sign")
    unknown = (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), True)
    dns = (x509.SubjectAlternativeName([x509.DNSName("models.example.org")]), False)
    constrained = (
        x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None),
        True,
    )
    cases = {
        # (signing certificate, chain in the bundle, trusted certificates)
        "baseline": (leaf, [inter], [root]),
        "root-path-length-0-one-intermediate": (leaf, [inter], [make("root", "root", root_key, root_key, bc=(True, 0))]),
        "root-path-length-1-one-intermediate": (leaf, [inter], [make("root", "root", root_key, root_key, bc=(True, 1))]),
        "root-path-length-1-two-intermediates": (leaf2, [inter2, inter], [make("root", "root", root_key, root_key, bc=(True, 1))]),
        "intermediate-path-length-0-above-another": (leaf2, [inter2, make("inter", "root", inter_key, root_key, bc=(True, 0))], [root]),
        "intermediate-path-length-0-above-the-leaf": (leaf, [make("inter", "root", inter_key, root_key, bc=(True, 0))], [root]),
        "leaf-unknown-critical-extension": (
            make("leaf", "inter", leaf_key, inter_key, bc=(False, None), usage="sign", extra=[unknown]), [inter], [root]),
        "intermediate-unknown-critical-extension": (leaf, [make("inter", "root", inter_key, root_key, extra=[unknown])], [root]),
        "root-unknown-critical-extension": (leaf, [inter], [make("root", "root", root_key, root_key, extra=[unknown])]),
        "leaf-unknown-noncritical-extension": (
            make("leaf", "inter", leaf_key, inter_key, bc=(False, None), usage="sign", extra=[(unknown[0], False)]), [inter], [root]),
        "root-name-constraints-violated": (
            make("leaf", "inter", leaf_key, inter_key, bc=(False, None), usage="sign", extra=[dns]), [inter],
            [make("root", "root", root_key, root_key, extra=[constrained])]),
        "root-without-basic-constraints-may-sign-certificates": (leaf, [inter], [make("root", "root", root_key, root_key, bc=None)]),
        "intermediate-without-basic-constraints": (leaf, [make("inter", "root", inter_key, root_key, bc=None)], [root]),
    }
    results = {}
    for case, (signing_cert, chain, anchors) in cases.items():
        d = out / case
        (d / "model").mkdir(parents=True)
        (d / "model" / "weights.bin").write_bytes(b"weights")
        (d / "leaf.pem").write_bytes(pem(signing_cert))
        (d / "leaf.key").write_bytes(
            leaf_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        (d / "chain.pem").write_bytes(b"".join(pem(c) for c in chain))
        (d / "anchors.pem").write_bytes(b"".join(pem(c) for c in anchors))
        model_signing.signing.Config().use_certificate_signer(
            private_key=d / "leaf.key", signing_certificate=d / "leaf.pem", certificate_chain=[d / "chain.pem"]
        ).sign(d / "model", d / "sig")
        try:
            model_signing.verifying.Config().use_certificate_verifier(
                certificate_chain=[d / "anchors.pem"]
            ).verify(d / "model", d / "sig")
            results[case] = "ok"
        except Exception as e:  # noqa: BLE001 - the message is the result
            results[case] = f"FAIL: {e}"
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
