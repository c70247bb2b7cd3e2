//! Model provenance.
//!
//! - [`signing`]: the OpenSSF model-signing v1.0 format (a Sigstore bundle holding a DSSE envelope of
//!   an in-toto statement that lists every file of a model with its digest): sign, verify.
//! - [`bom`]: AI bills of materials (CycloneDX 1.6 JSON, SPDX 3.0 with the AI and Dataset profiles).
//!
//! Nothing here prints; every function returns typed results for the binary to render.

pub mod bom;
pub mod rules;
pub mod signing;

pub use rules::RULES;

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    use crate::signing::{Bundle, Cert, Manifest, PrivateKey, PublicKey};

    /// Everything a verifier parses from a signature file before any file is hashed: the bundle,
    /// its base64 fields, the in-toto statement, the certificates it carries.
    pub fn signature(data: &[u8]) {
        if let Ok(b) = Bundle::parse(data) {
            if let Ok((payload, _)) = b.signed_payload() {
                let _ = Manifest::from_statement(&payload);
            }
            if let Some(chain) = &b.verification_material.x509_certificate_chain {
                for c in &chain.certificates {
                    if let Ok(der) = crate::signing::bundle::b64decode(&c.raw_bytes) {
                        let _ = Cert::from_der(&der).map(|c| (c.info(), c.public_key()));
                    }
                }
            }
        }
        let _ = Manifest::from_statement(data);
    }

    /// PEM keys and certificates.
    pub fn pem(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = PrivateKey::from_pem(text, Some(b"password"));
            let _ = PublicKey::from_pem(text);
            let _ = Cert::from_pem_file(text);
        }
    }
}
