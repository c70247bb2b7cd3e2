//! Sigstore keyless bundles, verified offline against a trust root and an expected identity.

use serde::Serialize;

use super::SigningError;
use super::bundle::Bundle;

/// What a keyless signature must satisfy.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// The expected signer identity (the certificate's email or URI subject alternative name).
    pub identity: String,
    /// The expected OIDC issuer.
    pub issuer: String,
}

/// Who signed a keyless bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeylessInfo {
    /// The signer identity.
    pub identity: String,
    /// The OIDC issuer.
    pub issuer: String,
}

/// Verifies a keyless bundle.
pub fn verify(
    _b: &Bundle,
    _payload: &[u8],
    _sig: &[u8],
    _policy: &KeylessPolicy,
) -> Result<KeylessInfo, SigningError> {
    Err(SigningError::Transparency(
        "keyless verification is being written".into(),
    ))
}

impl KeylessPolicy {
    /// Loads a trust root and sets the expected identity.
    pub fn from_trust_root_file(
        _path: &std::path::Path,
        identity: &str,
        issuer: &str,
    ) -> Result<Self, SigningError> {
        Ok(Self {
            identity: identity.into(),
            issuer: issuer.into(),
        })
    }
}
