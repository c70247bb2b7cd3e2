//! The Sigstore bundle (v0.3 JSON) and the DSSE envelope inside it.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::SigningError;
use super::manifest::PAYLOAD_TYPE;

/// The bundle media type the format writes.
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The same version in the newer spelling, accepted when verifying.
pub const MEDIA_TYPE_V03_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// Largest signature file read (a statement listing millions of shards).
pub const MAX_BUNDLE: u64 = 512 << 20;

/// A Sigstore bundle, with the fields the model-signing format uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// The bundle version.
    pub media_type: String,
    /// Keys, certificates and transparency-log entries.
    pub verification_material: VerificationMaterial,
    /// The signed envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
}

/// What a verifier needs besides the envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A hint naming the public key (key signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// The signing certificate then its chain (certificate signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// The single leaf certificate (Sigstore keyless signing, bundle v0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// Transparency-log entries, as JSON text (parsed, size-bounded, by the keyless verifier only:
    /// a JSON tree takes far more memory than its text, and these are not signed).
    #[serde(default)]
    pub tlog_entries: Vec<Box<serde_json::value::RawValue>>,
    /// RFC 3161 timestamps, as JSON text (not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<Box<serde_json::value::RawValue>>,
}

/// A public-key hint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// SHA-256 (hex) of the PEM public key.
    #[serde(default)]
    pub hint: Option<String>,
}

/// A certificate chain, leaf first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateChain {
    /// The certificates.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

/// One DER certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// Base64 DER.
    pub raw_bytes: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// The payload's type.
    pub payload_type: String,
    /// Signatures over the PAE of type and payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Base64 of the DER signature.
    pub sig: String,
    /// Unused by the format (empty).
    #[serde(default)]
    pub keyid: String,
}

/// DSSE's pre-authentication encoding of `payload` with the in-toto payload type.
#[must_use]
pub fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The encoding model-signing 0.2 signed by mistake (`DSSEV1`, and the payload written as a Python
/// bytes literal); its signatures still verify against it.
#[must_use]
pub fn pae_v02(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEV1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    );
    // Python's `repr(bytes)`: single quotes unless the bytes hold `'` and no `"`.
    let quote = if payload.contains(&b'\'') && !payload.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &b in payload {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b == quote as u8 => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
    out.into_bytes()
}

/// Decodes protobuf-JSON bytes: standard or URL-safe base64, padded or not.
pub fn b64decode(s: &str) -> Result<Vec<u8>, SigningError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .map_err(|_| SigningError::Malformed("a bundle field is not valid base64".into()))
}

/// Standard padded base64.
#[must_use]
pub fn b64encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

impl Bundle {
    /// Parses a bundle, checking the media type.
    pub fn parse(bytes: &[u8]) -> Result<Self, SigningError> {
        if bytes.len() as u64 > MAX_BUNDLE {
            return Err(SigningError::Malformed(format!(
                "the signature is {} bytes (at most {MAX_BUNDLE})",
                bytes.len()
            )));
        }
        let b: Self = serde_json::from_slice(bytes)
            .map_err(|e| SigningError::Malformed(format!("not a Sigstore bundle: {e}")))?;
        if b.media_type != MEDIA_TYPE_V03 && b.media_type != MEDIA_TYPE_V03_ALT {
            return Err(SigningError::Malformed(format!(
                "bundle media type `{}`; expected `{MEDIA_TYPE_V03}`",
                b.media_type
            )));
        }
        Ok(b)
    }

    /// The envelope's payload and its one signature, decoded.
    pub fn signed_payload(&self) -> Result<(Vec<u8>, Vec<u8>), SigningError> {
        let env = self.dsse_envelope.as_ref().ok_or_else(|| {
            SigningError::Malformed(
                "the bundle holds no DSSE envelope (a message signature is not a model signature)"
                    .into(),
            )
        })?;
        if env.payload_type != PAYLOAD_TYPE {
            return Err(SigningError::Malformed(format!(
                "DSSE payload type `{}`; expected `{PAYLOAD_TYPE}`",
                env.payload_type
            )));
        }
        let [sig] = env.signatures.as_slice() else {
            return Err(SigningError::Malformed(format!(
                "the envelope holds {} signatures; expected one",
                env.signatures.len()
            )));
        };
        Ok((b64decode(&env.payload)?, b64decode(&sig.sig)?))
    }

    /// A bundle for a statement signed with a DER signature.
    #[must_use]
    pub fn new(material: VerificationMaterial, payload: &[u8], sig: &[u8]) -> Self {
        Self {
            media_type: MEDIA_TYPE_V03.into(),
            verification_material: material,
            dsse_envelope: Some(Envelope {
                payload: b64encode(payload),
                payload_type: PAYLOAD_TYPE.into(),
                signatures: vec![EnvelopeSignature {
                    sig: b64encode(sig),
                    keyid: String::new(),
                }],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example_shape() {
        assert_eq!(
            pae(b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn the_v02_encoding_writes_a_python_bytes_literal() {
        assert_eq!(
            String::from_utf8(pae_v02(b"{\n \"a\": '\xff'}")).unwrap(),
            "DSSEV1 28 application/vnd.in-toto+json 12 b'{\\n \"a\": \\'\\xff\\'}'"
        );
    }
}
