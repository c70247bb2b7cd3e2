"""A throwaway Sigstore instance for offline tests of keyless verification.

Usage: fake_sigstore.py OUT_DIR

Writes under OUT_DIR:
  model/                  a small model directory
  trusted_root.json       the instance's trust root (a Fulcio-like CA, a Rekor-like log, a CT log)
  trust_config.json       the same root inside a client trust configuration
  good.sigstore.json      a keyless model signature that must verify
  <variant>.sigstore.json signatures that must not verify (see VARIANTS at the end)
  facts.json              identity, issuer, times and indexes the tests compare with

Everything is generated on each run: keys, certificates, the signed certificate timestamp (SCT)
embedded in the signing certificate, the log entries, their inclusion promises (signed entry
timestamps), a Merkle tree with inclusion proofs and a signed checkpoint. The statement that is
signed is the one the reference `model_signing` writes for the model (signed first with a plain key,
then re-signed here with the certificate's key).
"""

import base64
import datetime
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

import model_signing

IDENTITY = "signer@example.test"
ISSUER = "https://issuer.example.test"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
LOG_ORIGIN = "rekor.example.test - 4242"
LOG_NAME = "rekor.example.test"
# Global (all shards) index = index in the current shard's tree + this offset, as in Rekor v1.
SHARD_OFFSET = 5_000_000

NOW = int(datetime.datetime.now(datetime.timezone.utc).timestamp())


def utc(t):
    return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)


def rfc3339(t):
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64(b):
    return base64.b64encode(b).decode()


def spki_der(key):
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key):
    return hashlib.sha256(spki_der(key)).digest()


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_utf8(s):
    b = s.encode()
    return b"\x0c" + der_len(len(b)) + b


def name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example.test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def ca_pair(label, start):
    """A root and an intermediate, Fulcio style (P-384)."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name(f"{label}-root"))
        .issuer_name(name(f"{label}-root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(start))
        .not_valid_after(utc(start + 10 * 365 * 86400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA384())
    )
    inter_key = ec.generate_private_key(ec.SECP384R1())
    inter = (
        x509.CertificateBuilder()
        .subject_name(name(f"{label}-intermediate"))
        .issuer_name(root.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(start))
        .not_valid_after(utc(start + 5 * 365 * 86400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA384())
    )
    return root, inter, inter_key


def sct_extension(tbs_precert, issuer_key, ct_key, when_ms, signer=None):
    """An RFC 6962 SCT list holding one precertificate SCT from `ct_key`'s log, as the extension's
    raw value. `signer` forges it with another key."""
    issuer_hash = hashlib.sha256(
        issuer_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    signed = (
        struct.pack("!BBQH", 0, 0, when_ms, 1)
        + issuer_hash
        + len(tbs_precert).to_bytes(3, "big")
        + tbs_precert
        + struct.pack("!H", 0)
    )
    sig = (signer or ct_key).sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (
        struct.pack("!B", 0)
        + key_id(ct_key)
        + struct.pack("!QH", when_ms, 0)
        + struct.pack("!BBH", 4, 3, len(sig))
        + sig
    )
    lst = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
    return b"\x04" + der_len(len(lst)) + lst


def leaf_cert(inter, inter_key, ct_key, leaf_key, not_before, not_after, sct_signer=None,
              usage=ExtendedKeyUsageOID.CODE_SIGNING):
    """A Fulcio-like signing certificate: empty subject, email SAN, issuer extensions, an SCT."""
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(inter.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(not_before))
        .not_valid_after(utc(not_after))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(IDENTITY)]), critical=True)
        .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V1, ISSUER.encode()), critical=False)
        .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V2, der_utf8(ISSUER)), critical=False)
    )
    precert = b.sign(inter_key, hashes.SHA256())
    ext = sct_extension(
        precert.tbs_certificate_bytes, inter_key, ct_key, (not_before + 1) * 1000, sct_signer
    )
    cert = b.add_extension(x509.UnrecognizedExtension(OID_SCT_LIST, ext), critical=False).sign(
        inter_key, hashes.SHA256()
    )
    assert cert.tbs_precertificate_bytes == precert.tbs_certificate_bytes
    return cert


def pae(payload):
    return b"DSSEv1 %d %s %d " % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload)) + payload


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def dsse_body(payload, sig, cert, envelope_json):
    body = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(envelope_json).hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(sig), "verifier": b64(pem(cert))}],
        },
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def leaf_hash(body):
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(leaves):
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def audit_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [tree_hash(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [tree_hash(leaves[:k])]


def checkpoint(log_key, size, root, signer_key=None):
    note = f"{LOG_ORIGIN}\n{size}\n{b64(root)}\n"
    sig = (signer_key or log_key).sign(note.encode(), ec.ECDSA(hashes.SHA256()))
    return note + "\n" + f"\u2014 {LOG_NAME} {b64(key_id(log_key)[:4] + sig)}\n"


def set_payload(body, integrated, log_id, index):
    return json.dumps(
        {
            "body": b64(body),
            "integratedTime": integrated,
            "logID": log_id.hex(),
            "logIndex": index,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


class Signed:
    """One DSSE signature of a payload and the log entry body recording it."""

    def __init__(self, payload, leaf_key, cert):
        self.payload = payload
        self.cert = cert
        self.sig = leaf_key.sign(pae(payload), ec.ECDSA(hashes.SHA256()))
        self.envelope = {
            "payload": b64(payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": b64(self.sig), "keyid": ""}],
        }
        self.body = dsse_body(
            payload,
            self.sig,
            cert,
            json.dumps(self.envelope, separators=(",", ":")).encode(),
        )


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    model = os.path.join(out, "model")
    os.makedirs(os.path.join(model, "sub"), exist_ok=True)
    with open(os.path.join(model, "config.json"), "w") as f:
        f.write('{"architectures": ["Tiny"], "hidden_size": 4}\n')
    with open(os.path.join(model, "sub", "weights.bin"), "wb") as f:
        f.write(bytes(range(256)) * 16)

    # The statement, as the reference writes it: sign with a plain key, keep the payload.
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    plain = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(work, "plain.pem"), "wb") as f:
        f.write(
            plain.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    model_signing.signing.Config().use_elliptic_key_signer(
        private_key=os.path.join(work, "plain.pem")
    ).sign(model, os.path.join(work, "plain.sig"))
    with open(os.path.join(work, "plain.sig")) as f:
        payload = base64.b64decode(json.load(f)["dsseEnvelope"]["payload"])
    statement = json.loads(payload)
    edited = dict(statement)
    edited["subject"] = [dict(statement["subject"][0], name="another-model")]
    edited_payload = json.dumps(edited, separators=(",", ":")).encode()

    start = NOW - 86400
    root, inter, inter_key = ca_pair("fake-fulcio", start)
    _, evil_inter, evil_inter_key = ca_pair("fake-fulcio", start)  # same names, other keys
    log_key = ec.generate_private_key(ec.SECP256R1())
    ct_key = ec.generate_private_key(ec.SECP256R1())
    stranger = ec.generate_private_key(ec.SECP256R1())
    log_id = key_id(log_key)

    not_before, not_after = NOW - 600, NOW
    integrated = NOW - 540
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    cert = leaf_cert(inter, inter_key, ct_key, leaf_key, not_before, not_after)
    evil_cert = leaf_cert(evil_inter, evil_inter_key, ct_key, leaf_key, not_before, not_after)
    forged_sct_cert = leaf_cert(
        inter, inter_key, ct_key, leaf_key, not_before, not_after, sct_signer=stranger
    )

    email_cert = leaf_cert(
        inter, inter_key, ct_key, leaf_key, not_before, not_after,
        usage=ExtendedKeyUsageOID.EMAIL_PROTECTION,
    )

    good = Signed(payload, leaf_key, cert)
    email = Signed(payload, leaf_key, email_cert)
    other = Signed(edited_payload, leaf_key, cert)
    evil = Signed(payload, leaf_key, evil_cert)
    forged = Signed(payload, leaf_key, forged_sct_cert)
    # The same statement signed again (ECDSA signatures differ each time), and the same signature
    # logged with another certificate for the same key.
    again = Signed(payload, leaf_key, cert)
    other_verifier = dsse_body(
        payload, good.sig, forged_sct_cert, json.dumps(good.envelope, separators=(",", ":")).encode()
    )
    # The log: a few unrelated entries around ours.
    filler = [b'{"kind":"filler","n":%d}' % i for i in range(4)]
    leaves = [filler[0], filler[1], good.body, other.body, evil.body, forged.body, filler[2],
              again.body, other_verifier, email.body, filler[3], b'{"kind":"filler","n":9}']
    size = len(leaves)
    root_hash = tree_hash(leaves)
    cp = checkpoint(log_key, size, root_hash)

    def entry(body, integrated_time=integrated, set_key=None, cp_text=None, proof_edit=False):
        idx = leaves.index(body)
        gidx = idx + SHARD_OFFSET
        promise = (set_key or log_key).sign(
            set_payload(body, integrated_time, log_id, gidx), ec.ECDSA(hashes.SHA256())
        )
        hashes_ = audit_path(idx, leaves)
        if proof_edit:
            hashes_[1] = bytes([hashes_[1][0] ^ 1]) + hashes_[1][1:]
        return {
            "logIndex": str(gidx),
            "logId": {"keyId": b64(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": b64(promise)},
            "inclusionProof": {
                "logIndex": str(idx),
                "rootHash": b64(root_hash),
                "treeSize": str(size),
                "hashes": [b64(h) for h in hashes_],
                "checkpoint": {"envelope": cp_text or cp},
            },
            "canonicalizedBody": b64(body),
        }

    def bundle(signed, tlog, envelope=None):
        return {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(signed.cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [tlog],
            },
            "dsseEnvelope": envelope or signed.envelope,
        }

    edited_envelope = dict(good.envelope, payload=b64(edited_payload))
    variants = {
        "good": bundle(good, entry(good.body)),
        # The payload was edited after signing: the DSSE signature fails.
        "edited-payload": bundle(good, entry(good.body), edited_envelope),
        # The log entry of another signature (same signer, other statement).
        "other-body": bundle(good, entry(other.body)),
        # A signing certificate from a CA the trust root does not hold.
        "untrusted-ca": bundle(evil, entry(evil.body)),
        # The log entry of another signature of the same statement by the same key.
        "other-signature": bundle(good, entry(again.body)),
        # The log entry of this signature, but naming another certificate as its verifier.
        "other-verifier": bundle(good, entry(other_verifier)),
        # A certificate for email protection, not code signing.
        "not-code-signing": bundle(email, entry(email.body)),
        # The SCT names the trust root's CT log but another key signed it.
        "forged-sct": bundle(forged, entry(forged.body)),
        # The inclusion promise was signed by a key that is not the log's.
        "unknown-set-key": bundle(good, entry(good.body, set_key=stranger)),
        # Logged after the certificate expired.
        "late": bundle(good, entry(good.body, integrated_time=not_after + 300)),
        # An inclusion proof hash altered.
        "bad-proof": bundle(good, entry(good.body, proof_edit=True)),
        # A checkpoint signed by another key under the log's key hint.
        "bad-checkpoint": bundle(
            good, entry(good.body, cp_text=checkpoint(log_key, size, root_hash, signer_key=stranger))
        ),
    }
    for k, v in variants.items():
        with open(os.path.join(out, f"{k}.sigstore.json"), "w") as f:
            json.dump(v, f, indent=2)

    def der(c):
        return b64(c.public_bytes(serialization.Encoding.DER))

    def pubkey(k, start_t):
        return {
            "rawBytes": b64(spki_der(k)),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": rfc3339(start_t)},
        }

    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": "https://rekor.example.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": pubkey(log_key, start),
                "logId": {"keyId": b64(log_id)},
            }
        ],
        "certificateAuthorities": [
            {
                "subject": {"organization": "example.test", "commonName": "fake-fulcio"},
                "uri": "https://fulcio.example.test",
                "certChain": {"certificates": [{"rawBytes": der(inter)}, {"rawBytes": der(root)}]},
                "validFor": {"start": rfc3339(start)},
            }
        ],
        "ctlogs": [
            {
                "baseUrl": "https://ctfe.example.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": pubkey(ct_key, start),
                "logId": {"keyId": b64(key_id(ct_key))},
            }
        ],
        "timestampAuthorities": [],
    }
    service = {"majorApiVersion": 1, "validFor": {"start": rfc3339(start)},
               "operator": "example.test"}
    trust_config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [dict(service, url="https://fulcio.example.test")],
            "oidcUrls": [dict(service, url=ISSUER)],
            "rekorTlogUrls": [dict(service, url="https://rekor.example.test")],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    with open(os.path.join(out, "trusted_root.json"), "w") as f:
        json.dump(trusted_root, f, indent=2)
    with open(os.path.join(out, "trust_config.json"), "w") as f:
        json.dump(trust_config, f, indent=2)
    with open(os.path.join(out, "facts.json"), "w") as f:
        json.dump(
            {
                "identity": IDENTITY,
                "issuer": ISSUER,
                "integrated_time": integrated,
                "log_index": leaves.index(good.body) + SHARD_OFFSET,
                "cert_serial": format(cert.serial_number, "x"),
                "variants": sorted(variants),
            },
            f,
            indent=2,
        )


if __name__ == "__main__":
    main()
