//! Model provenance.
//!
//! - [`signing`]: the OpenSSF model-signing v1.0 format (a Sigstore bundle holding a DSSE envelope of
//!   an in-toto statement that lists every file of a model with its digest): sign, verify.
//! - [`bom`]: AI bills of materials (CycloneDX 1.6 JSON, SPDX 3.0 with the AI and Dataset profiles).
//!
//! Nothing here prints; every function returns typed results for the binary to render.

pub mod bom;
mod fsread;
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
            // Keyless material: every log entry, its proof and checkpoint, its body.
            let key = fuzz_key();
            for v in b.verification_material.tlog_entries.iter().take(4) {
                if let Ok(e) = crate::signing::log::TlogEntry::parse_raw(v) {
                    let _ = e.promise_payload(e.integrated_time.unwrap_or(0));
                    let _ = e.verify_promise(&key);
                    let _ = e.verify_inclusion(&key);
                    let _ = crate::signing::log::check_dsse_body(
                        &e.body, &e.kind, &e.version, b"{}", b"sig", b"der",
                    );
                }
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

    /// A fixed P-256 key: signature checks run to the end and fail.
    fn fuzz_key() -> PublicKey {
        PublicKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1qfZ5PekK/AosC23uM3Fk6gCYout\nBh13y63Gvdws9K6/HVmcC6YC2DOzGU2keUr5q8d3xthS1rF/suSkvqbtBA==\n-----END PUBLIC KEY-----\n",
        )
        .expect("a valid key")
    }

    /// A Sigstore trusted root or client trust configuration, and RFC 3339 times.
    pub fn trust_root(data: &[u8]) {
        let _ = crate::signing::trustroot::TrustRoot::from_json(data);
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = crate::signing::trustroot::parse_time(s);
        }
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
