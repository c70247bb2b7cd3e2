//! ECDSA keys on P-256, P-384 and P-521: PEM loading, signing, verification, and the public-key
//! hint the format records.
//!
//! The digest follows the curve, as the format (and Sigstore's key details) require: SHA-256 for
//! P-256, SHA-384 for P-384, SHA-512 for P-521. Signatures are DER-encoded, deterministic (RFC 6979).

use der::{Decode, Encode};
use ecdsa::signature::hazmat::PrehashVerifier;
use ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::Digest as _;

use super::SigningError;

/// Largest PEM file read for a key or certificate.
pub const MAX_PEM: u64 = 1 << 20;

/// The curves the format supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (secp256r1), SHA-256.
    P256,
    /// NIST P-384 (secp384r1), SHA-384.
    P384,
    /// NIST P-521 (secp521r1), SHA-512.
    P521,
}

impl Curve {
    /// The name, as people write it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }
}

/// A private signing key.
pub enum PrivateKey {
    /// P-256.
    P256(p256::ecdsa::SigningKey),
    /// P-384.
    P384(p384::ecdsa::SigningKey),
    /// P-521.
    P521(p521::ecdsa::SigningKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, redacted)", self.public().curve().name())
    }
}

/// A public verification key.
#[derive(Clone)]
pub enum PublicKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// P-521.
    P521(p521::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// The uncompressed SEC1 point.
    #[must_use]
    pub fn sec1(&self) -> Vec<u8> {
        match self {
            Self::P256(k) => k.to_encoded_point(false).as_bytes().to_vec(),
            Self::P384(k) => k.to_encoded_point(false).as_bytes().to_vec(),
            Self::P521(k) => k.to_encoded_point(false).as_bytes().to_vec(),
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.curve() == other.curve() && self.sec1() == other.sec1()
    }
}

impl Eq for PublicKey {}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {})", self.curve().name(), self.hint())
    }
}

/// The PEM blocks of a file: (label, DER).
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, SigningError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let block = &rest[begin..];
        let label_end = block[11..]
            .find("-----")
            .ok_or_else(|| SigningError::Key("a PEM header is not closed".into()))?;
        let label = &block[11..11 + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| SigningError::Key(format!("the PEM block `{label}` has no END line")))?;
        let whole = &block[..end + end_marker.len()];
        let (l, der) = der::pem::decode_vec(whole.as_bytes()).map_err(|_| {
            // Legacy OpenSSL headers (`Proc-Type: 4,ENCRYPTED`) make strict decoding fail.
            if whole.contains("Proc-Type:") {
                SigningError::Key(
                    "legacy OpenSSL-encrypted PEM keys are not supported; convert the key to \
                     PKCS#8 (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)"
                        .into(),
                )
            } else {
                SigningError::Key(format!("the PEM block `{label}` is not valid base64"))
            }
        })?;
        out.push((l.to_owned(), der));
        rest = &block[end + end_marker.len()..];
    }
    Ok(out)
}

/// Reads a file of at most [`MAX_PEM`] bytes as text.
pub fn read_pem(path: &std::path::Path) -> Result<String, SigningError> {
    let bytes = super::read_bounded(path, MAX_PEM).map_err(|e| match e {
        SigningError::Malformed(_) => {
            SigningError::Key(format!("`{}` is larger than 1 MiB", path.display()))
        }
        other => other,
    })?;
    String::from_utf8(bytes)
        .map_err(|_| SigningError::Key(format!("`{}` is not text", path.display())))
}

const OID_P256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.35");

fn curve_of(oid: Option<der::asn1::ObjectIdentifier>) -> Result<Curve, SigningError> {
    match oid {
        Some(OID_P256) => Ok(Curve::P256),
        Some(OID_P384) => Ok(Curve::P384),
        Some(OID_P521) => Ok(Curve::P521),
        Some(other) => Err(SigningError::Key(format!(
            "unsupported key: curve {other} (P-256, P-384 and P-521 are supported)"
        ))),
        None => Err(SigningError::Key("the key names no curve".into())),
    }
}

impl PrivateKey {
    /// Loads a PEM private key: SEC1 (`EC PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`) or encrypted
    /// PKCS#8 (`ENCRYPTED PRIVATE KEY`, with `password`).
    pub fn from_pem(text: &str, password: Option<&[u8]>) -> Result<Self, SigningError> {
        for (label, der) in pem_blocks(text)? {
            match label.as_str() {
                "EC PRIVATE KEY" => {
                    let k = sec1::EcPrivateKey::from_der(&der)
                        .map_err(|e| SigningError::Key(format!("bad SEC1 key: {e}")))?;
                    let oid = k.parameters.and_then(sec1::EcParameters::named_curve);
                    let bad = |e: ecdsa::Error| SigningError::Key(format!("bad SEC1 key: {e}"));
                    return Ok(match curve_of(oid)? {
                        Curve::P256 => Self::P256(
                            p256::ecdsa::SigningKey::from_slice(k.private_key).map_err(bad)?,
                        ),
                        Curve::P384 => Self::P384(
                            p384::ecdsa::SigningKey::from_slice(k.private_key).map_err(bad)?,
                        ),
                        Curve::P521 => Self::P521(
                            p521::ecdsa::SigningKey::from_slice(k.private_key).map_err(bad)?,
                        ),
                    });
                }
                "PRIVATE KEY" => return Self::from_pkcs8(&der),
                "ENCRYPTED PRIVATE KEY" => {
                    let Some(pw) = password else {
                        return Err(SigningError::Key(
                            "the key is encrypted: give its password".into(),
                        ));
                    };
                    let enc = pkcs8::EncryptedPrivateKeyInfo::from_der(&der)
                        .map_err(|e| SigningError::Key(format!("bad encrypted PKCS#8 key: {e}")))?;
                    let doc = enc
                        .decrypt(pw)
                        .map_err(|_| SigningError::Key("wrong password for the key".into()))?;
                    return Self::from_pkcs8(doc.as_bytes());
                }
                _ => {}
            }
        }
        Err(SigningError::Key(
            "no EC private key in the PEM file".into(),
        ))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, SigningError> {
        let info = pkcs8::PrivateKeyInfo::from_der(der)
            .map_err(|e| SigningError::Key(format!("bad PKCS#8 key: {e}")))?;
        if info.algorithm.oid != elliptic_curve_oid() {
            return Err(SigningError::Key(format!(
                "unsupported key algorithm {} (ECDSA keys are supported)",
                info.algorithm.oid
            )));
        }
        let oid = info.algorithm.parameters_oid().ok();
        let bad = |e: pkcs8::Error| SigningError::Key(format!("bad PKCS#8 key: {e}"));
        Ok(match curve_of(oid)? {
            Curve::P256 => Self::P256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?),
            Curve::P384 => Self::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?),
            Curve::P521 => {
                let sk = p521::SecretKey::from_pkcs8_der(der).map_err(bad)?;
                Self::P521(
                    p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                        .map_err(|e| SigningError::Key(format!("bad P-521 key: {e}")))?,
                )
            }
        })
    }

    /// Signs `msg` (hashing it with the curve's digest), returning a DER signature.
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            Self::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }

    /// The matching public key.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        match self {
            Self::P256(k) => PublicKey::P256(*k.verifying_key()),
            Self::P384(k) => PublicKey::P384(*k.verifying_key()),
            Self::P521(k) => PublicKey::P521(p521::ecdsa::VerifyingKey::from(k)),
        }
    }
}

fn elliptic_curve_oid() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1")
}

/// Digest algorithms a certificate signature may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    pub(crate) fn of(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

impl PublicKey {
    /// Loads a PEM public key (`PUBLIC KEY`, SubjectPublicKeyInfo), the key of the first
    /// certificate in the file, or the public half of an unencrypted private key.
    pub fn from_pem(text: &str) -> Result<Self, SigningError> {
        for (label, der) in pem_blocks(text)? {
            match label.as_str() {
                "PUBLIC KEY" => return Self::from_spki_der(&der),
                // A private key holds its public key.
                "EC PRIVATE KEY" | "PRIVATE KEY" => {
                    return Ok(PrivateKey::from_pem(text, None)?.public());
                }
                "CERTIFICATE" => {
                    let cert = x509_cert::Certificate::from_der(&der)
                        .map_err(|e| SigningError::Key(format!("bad certificate: {e}")))?;
                    let spki = cert
                        .tbs_certificate
                        .subject_public_key_info
                        .to_der()
                        .map_err(|e| SigningError::Key(e.to_string()))?;
                    return Self::from_spki_der(&spki);
                }
                _ => {}
            }
        }
        Err(SigningError::Key("no public key in the PEM file".into()))
    }

    /// Loads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SigningError> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| SigningError::Key(format!("bad public key: {e}")))?;
        if info.algorithm.oid != elliptic_curve_oid() {
            return Err(SigningError::Key(format!(
                "unsupported public key algorithm {} (ECDSA keys on P-256, P-384, P-521 are supported)",
                info.algorithm.oid
            )));
        }
        let oid = info.algorithm.parameters_oid().ok();
        let bad = |e: spki::Error| SigningError::Key(format!("bad public key: {e}"));
        Ok(match curve_of(oid)? {
            Curve::P256 => {
                Self::P256(p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
            Curve::P384 => {
                Self::P384(p384::ecdsa::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
            Curve::P521 => {
                let pk = p521::PublicKey::from_public_key_der(der).map_err(bad)?;
                Self::P521(
                    p521::ecdsa::VerifyingKey::from_sec1_bytes(&pk.to_sec1_bytes())
                        .map_err(|e| SigningError::Key(format!("bad P-521 key: {e}")))?,
                )
            }
        })
    }

    /// The curve.
    #[must_use]
    pub fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
            Self::P521(_) => Curve::P521,
        }
    }

    /// The SubjectPublicKeyInfo in PEM, as OpenSSL writes it (64-column base64, LF line ends).
    #[must_use]
    pub fn to_pem(&self) -> String {
        let le = pkcs8::LineEnding::LF;
        match self {
            Self::P256(k) => k.to_public_key_pem(le),
            Self::P384(k) => k.to_public_key_pem(le),
            Self::P521(k) => {
                p521::PublicKey::from_sec1_bytes(&k.to_encoded_point(false).to_bytes())
                    .map_err(|_| pkcs8::spki::Error::KeyMalformed)
                    .and_then(|p| p.to_public_key_pem(le))
            }
        }
        .expect("a valid public key always encodes")
    }

    /// The DER SubjectPublicKeyInfo.
    #[must_use]
    pub fn to_spki_der(&self) -> Option<Vec<u8>> {
        let doc = match self {
            Self::P256(k) => k.to_public_key_der(),
            Self::P384(k) => k.to_public_key_der(),
            Self::P521(k) => {
                p521::PublicKey::from_sec1_bytes(&k.to_encoded_point(false).to_bytes())
                    .map_err(|_| pkcs8::spki::Error::KeyMalformed)
                    .and_then(|p| p.to_public_key_der())
            }
        };
        doc.ok().map(|d| d.as_bytes().to_vec())
    }

    /// The format's public-key hint: SHA-256 (hex) of [`Self::to_pem`].
    #[must_use]
    pub fn hint(&self) -> String {
        super::manifest::hex(&sha2::Sha256::digest(self.to_pem().as_bytes()))
    }

    /// Verifies a DER signature over `msg`, hashed with the curve's digest.
    #[must_use]
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::P256(k) => {
                p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P384(k) => {
                p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Self::P521(k) => {
                p521::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
        }
    }

    /// Verifies a DER signature over `msg` hashed with `digest` (certificate signatures name their
    /// own digest, which need not match the curve).
    pub(crate) fn verify_with(&self, digest: Digest, msg: &[u8], sig: &[u8]) -> bool {
        let h = digest.of(msg);
        match self {
            Self::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&h, &s).is_ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&h, &s).is_ok()),
            Self::P521(k) => p521::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&h, &s).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256_SEC1: &str = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKT4vsQc0xOKHVgQxOG7UJP2hF/4TEM7TOUBtEJrMolwoAoGCCqGSM49\nAwEHoUQDQgAE1qfZ5PekK/AosC23uM3Fk6gCYoutBh13y63Gvdws9K6/HVmcC6YC\n2DOzGU2keUr5q8d3xthS1rF/suSkvqbtBA==\n-----END EC PRIVATE KEY-----\n";

    #[test]
    fn sec1_keys_with_a_parameters_block_load_sign_and_verify() {
        let k = PrivateKey::from_pem(P256_SEC1, None).unwrap();
        let pk = k.public();
        assert_eq!(pk.curve(), Curve::P256);
        let sig = k.sign(b"hello");
        assert!(pk.verify(b"hello", &sig));
        assert!(!pk.verify(b"hellO", &sig));
        let again = PublicKey::from_pem(&pk.to_pem()).unwrap();
        assert_eq!(again, pk);
        assert!(pk.to_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pk.to_pem().ends_with("-----END PUBLIC KEY-----\n"));
        assert_eq!(pk.hint().len(), 64);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(PrivateKey::from_pem("nothing here", None).is_err());
        assert!(
            PrivateKey::from_pem(
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                None
            )
            .is_err()
        );
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA").is_err());
    }
}
