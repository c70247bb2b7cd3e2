//! X.509 path validation for certificate signing: the leaf must chain, through the bundle's
//! intermediates, to a certificate the user trusts; every certificate on the path must be valid at
//! the signing time; issuers must be CAs allowed to sign certificates; the leaf must be allowed to
//! sign (key usage `digitalSignature`, or extended key usage `codeSigning`).
//!
//! As the reference does, the signing time is taken as the leaf's `notBefore` (a short-lived
//! signing certificate is issued for the signature), so a signature outlives its certificate.

use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use super::SigningError;
use super::keys::{Digest, PublicKey};

/// Longest certificate path accepted (leaf, intermediates, anchor).
const MAX_PATH: usize = 8;

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_RSA_KEY: &str = "1.2.840.113549.1.1.1";
/// Extended key usage `codeSigning`.
pub const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
const OID_SIGSTORE_OTHERNAME: &str = "1.3.6.1.4.1.57264.1.7";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
/// Extensions that may be critical: those path validation acts on (key usage, subject alternative
/// names, basic constraints, extended key usage) and those that need no action without revocation
/// or policy checking (certificate policies, CRL distribution points, OCSP no-check), as OpenSSL
/// under the reference treats them. Any other critical extension makes a certificate untrusted.
const HANDLED_CRITICAL: [&str; 7] = [
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.37",
    "1.3.6.1.5.5.7.48.1.5",
];

/// Whether certificates signed with this algorithm can be checked.
fn supported_signature(oid: &str) -> bool {
    matches!(
        oid,
        OID_ECDSA_SHA256
            | OID_ECDSA_SHA384
            | OID_ECDSA_SHA512
            | OID_RSA_SHA256
            | OID_RSA_SHA384
            | OID_RSA_SHA512
    )
}

/// What a verified leaf certificate says about the signer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    /// The subject, RFC 4514 style.
    pub subject: String,
    /// The issuer.
    pub issuer: String,
    /// Subject alternative names (emails, URIs, DNS names).
    pub san: Vec<String>,
    /// Serial number, hex.
    pub serial: String,
    /// Seconds since the epoch when it became valid.
    pub not_before: u64,
    /// Seconds since the epoch when it expires.
    pub not_after: u64,
}

/// A parsed certificate with its DER.
#[derive(Debug, Clone)]
pub struct Cert {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// The parsed form.
    pub cert: Certificate,
}

impl Cert {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self, SigningError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| SigningError::Untrusted(format!("a certificate does not parse: {e}")))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// Parses every `CERTIFICATE` block of a PEM file.
    pub fn from_pem_file(text: &str) -> Result<Vec<Self>, SigningError> {
        // Our own PEM splitter: x509-cert's chain loader underflows on empty input.
        super::keys::pem_blocks(text)?
            .into_iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| {
                Certificate::from_der(&der)
                    .map(|cert| Self { der, cert })
                    .map_err(|e| SigningError::Key(format!("bad PEM certificate: {e}")))
            })
            .collect()
    }

    fn tbs(&self) -> &x509_cert::TbsCertificate {
        &self.cert.tbs_certificate
    }

    /// The subject public key (ECDSA only).
    pub fn public_key(&self) -> Result<PublicKey, SigningError> {
        let spki = self
            .tbs()
            .subject_public_key_info
            .to_der()
            .map_err(|e| SigningError::Untrusted(e.to_string()))?;
        PublicKey::from_spki_der(&spki)
    }

    fn ext<T: for<'a> Decode<'a>>(&self, oid: &str) -> Result<Option<T>, SigningError> {
        let oid = der::asn1::ObjectIdentifier::new_unwrap(oid);
        let Some(exts) = &self.tbs().extensions else {
            return Ok(None);
        };
        match exts.iter().find(|e| e.extn_id == oid) {
            None => Ok(None),
            Some(e) => T::from_der(e.extn_value.as_bytes())
                .map(Some)
                .map_err(|err| {
                    SigningError::Untrusted(format!("extension {oid} does not parse: {err}"))
                }),
        }
    }

    /// Raw value of an extension, if present.
    #[must_use]
    pub fn ext_raw(&self, oid: &str) -> Option<&[u8]> {
        let oid = der::asn1::ObjectIdentifier::new(oid).ok()?;
        self.tbs()
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn validity(&self) -> (SystemTime, SystemTime) {
        let v = &self.tbs().validity;
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    }

    fn same_name(a: &x509_cert::name::Name, b: &x509_cert::name::Name) -> bool {
        a.to_der().ok() == b.to_der().ok()
    }

    /// Whether `issuer` signed this certificate.
    fn signed_by(&self, issuer: &Self) -> bool {
        if !Self::same_name(&self.tbs().issuer, &issuer.tbs().subject) {
            return false;
        }
        let (Ok(tbs), Some(sig)) = (self.tbs().to_der(), self.cert.signature.as_bytes()) else {
            return false;
        };
        let alg = self.cert.signature_algorithm.oid.to_string();
        let digest = match alg.as_str() {
            OID_ECDSA_SHA256 | OID_RSA_SHA256 => Digest::Sha256,
            OID_ECDSA_SHA384 | OID_RSA_SHA384 => Digest::Sha384,
            OID_ECDSA_SHA512 | OID_RSA_SHA512 => Digest::Sha512,
            _ => return false,
        };
        if alg.starts_with("1.2.840.113549.") {
            return issuer.verify_rsa(digest, &tbs, sig);
        }
        let Ok(key) = issuer.public_key() else {
            return false;
        };
        key.verify_with(digest, &tbs, sig)
    }

    /// Verifies an RSA PKCS#1 v1.5 signature with this certificate's (RSA) key. CA certificates
    /// only: signing keys of the format are ECDSA.
    fn verify_rsa(&self, digest: Digest, msg: &[u8], sig: &[u8]) -> bool {
        use rsa::pkcs8::DecodePublicKey as _;
        use rsa::signature::Verifier as _;
        let spki = &self.tbs().subject_public_key_info;
        if spki.algorithm.oid.to_string() != OID_RSA_KEY {
            return false;
        }
        let (Ok(der), Ok(sig)) = (spki.to_der(), rsa::pkcs1v15::Signature::try_from(sig)) else {
            return false;
        };
        let Ok(key) = rsa::RsaPublicKey::from_public_key_der(&der) else {
            return false;
        };
        match digest {
            Digest::Sha256 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                .verify(msg, &sig)
                .is_ok(),
            Digest::Sha384 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key)
                .verify(msg, &sig)
                .is_ok(),
            Digest::Sha512 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key)
                .verify(msg, &sig)
                .is_ok(),
        }
    }

    /// The subject alternative names, as text.
    #[must_use]
    pub fn san(&self) -> Vec<String> {
        use x509_cert::ext::pkix::name::GeneralName;
        let Ok(Some(san)) = self.ext::<SubjectAltName>("2.5.29.17") else {
            return Vec::new();
        };
        san.0
            .iter()
            .filter_map(|n| match n {
                GeneralName::Rfc822Name(s) => Some(s.to_string()),
                GeneralName::DnsName(s) => Some(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
                GeneralName::OtherName(o) => Some(format!("othername:{}", o.type_id)),
                _ => None,
            })
            .collect()
    }

    /// A summary for reports.
    #[must_use]
    pub fn info(&self) -> CertInfo {
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let (nb, na) = self.validity();
        CertInfo {
            subject: self.tbs().subject.to_string(),
            issuer: self.tbs().issuer.to_string(),
            san: self.san(),
            serial: super::manifest::hex(self.tbs().serial_number.as_bytes()),
            not_before: secs(nb),
            not_after: secs(na),
        }
    }

    /// The subject in backticks, or, for an empty subject (Sigstore signing certificates), the
    /// subject alternative names.
    fn label(&self) -> String {
        let subject = self.tbs().subject.to_string();
        if subject.is_empty() {
            format!("`{}`", self.san().join(", "))
        } else {
            format!("`{subject}`")
        }
    }

    fn check_time(&self, at: SystemTime) -> Result<(), SigningError> {
        let (nb, na) = self.validity();
        if at < nb || at > na {
            return Err(SigningError::Untrusted(format!(
                "certificate {} was not valid at the signing time",
                self.label()
            )));
        }
        Ok(())
    }

    /// This certificate may issue certificates. A trust anchor without basic constraints is taken
    /// as a CA when its key usage allows certificate signing or it is a self-signed version 1
    /// certificate (as OpenSSL, under the reference, does for the top of a path).
    fn check_ca(&self, anchor: bool) -> Result<(), SigningError> {
        let ku = self.ext::<KeyUsage>("2.5.29.15")?;
        if let Some(ku) = ku
            && !ku.key_cert_sign()
        {
            return Err(SigningError::Untrusted(format!(
                "`{}` may not sign certificates (key usage)",
                self.tbs().subject
            )));
        }
        let is_ca = match self.ext::<BasicConstraints>("2.5.29.19")? {
            Some(bc) => bc.ca,
            None => {
                anchor
                    && (ku.is_some()
                        || (self.tbs().version == x509_cert::certificate::Version::V1
                            && Self::same_name(&self.tbs().issuer, &self.tbs().subject)))
            }
        };
        if !is_ca {
            return Err(SigningError::Untrusted(format!(
                "`{}` issued a certificate but is not a CA",
                self.tbs().subject
            )));
        }
        Ok(())
    }

    /// Refuses a certificate with a critical extension this verifier does not act on, and a CA
    /// with name constraints (not enforced here, so a path under one is not trusted).
    fn check_extensions(&self, is_issuer: bool) -> Result<(), SigningError> {
        let Some(exts) = &self.tbs().extensions else {
            return Ok(());
        };
        for e in exts {
            let oid = e.extn_id.to_string();
            if is_issuer && oid == OID_NAME_CONSTRAINTS {
                return Err(SigningError::Untrusted(format!(
                    "{} has name constraints, which are not supported",
                    self.label()
                )));
            }
            if e.critical && !HANDLED_CRITICAL.contains(&oid.as_str()) {
                return Err(SigningError::Untrusted(format!(
                    "{} has a critical extension {oid} that is not supported",
                    self.label()
                )));
            }
        }
        Ok(())
    }

    /// The leaf may sign: key usage `digitalSignature`, or extended key usage `codeSigning`.
    pub fn check_signing_leaf(&self) -> Result<(), SigningError> {
        if self
            .ext::<KeyUsage>("2.5.29.15")?
            .is_some_and(|ku| ku.digital_signature())
        {
            return Ok(());
        }
        let code = der::asn1::ObjectIdentifier::new_unwrap(OID_CODE_SIGNING);
        if self
            .ext::<ExtendedKeyUsage>("2.5.29.37")?
            .is_some_and(|eku| eku.0.contains(&code))
        {
            return Ok(());
        }
        Err(SigningError::Untrusted(format!(
            "the signing certificate `{}` may not sign: it has neither key usage digitalSignature \
             nor extended key usage codeSigning",
            self.tbs().subject
        )))
    }

    /// `notBefore` and `notAfter`, in seconds since the epoch.
    #[must_use]
    pub fn validity_secs(&self) -> (i64, i64) {
        let secs = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let (nb, na) = self.validity();
        (secs(nb), secs(na))
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, SigningError> {
        self.tbs()
            .subject_public_key_info
            .to_der()
            .map_err(|e| SigningError::Untrusted(e.to_string()))
    }

    /// The subject.
    #[must_use]
    pub fn subject(&self) -> String {
        self.tbs().subject.to_string()
    }

    /// The identities a Sigstore signing certificate vouches for: its email and URI subject
    /// alternative names, and Sigstore's `otherName` (1.3.6.1.4.1.57264.1.7, a UTF8String).
    #[must_use]
    pub fn identities(&self) -> Vec<String> {
        use x509_cert::ext::pkix::name::GeneralName;
        let Ok(Some(san)) = self.ext::<SubjectAltName>("2.5.29.17") else {
            return Vec::new();
        };
        let other = der::asn1::ObjectIdentifier::new_unwrap(OID_SIGSTORE_OTHERNAME);
        san.0
            .iter()
            .filter_map(|n| match n {
                GeneralName::Rfc822Name(s) => Some(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
                GeneralName::OtherName(o) if o.type_id == other => o
                    .value
                    .decode_as::<der::asn1::Utf8StringRef<'_>>()
                    .ok()
                    .map(|s| s.as_str().to_owned()),
                _ => None,
            })
            .collect()
    }

    /// Whether the certificate is a CA (basic constraints `cA`).
    pub fn is_ca(&self) -> Result<bool, SigningError> {
        Ok(self
            .ext::<BasicConstraints>("2.5.29.19")?
            .is_some_and(|b| b.ca))
    }

    /// Whether key usage allows `digitalSignature`.
    pub fn has_digital_signature_usage(&self) -> Result<bool, SigningError> {
        Ok(self
            .ext::<KeyUsage>("2.5.29.15")?
            .is_some_and(|ku| ku.digital_signature()))
    }

    /// Whether the extended key usage lists `oid`.
    pub fn has_extended_usage(&self, oid: &str) -> Result<bool, SigningError> {
        let oid = der::asn1::ObjectIdentifier::new(oid)
            .map_err(|e| SigningError::Untrusted(e.to_string()))?;
        Ok(self
            .ext::<ExtendedKeyUsage>("2.5.29.37")?
            .is_some_and(|eku| eku.0.contains(&oid)))
    }

    /// The DER `TBSCertificate` with the extension `oid` left out (what a certificate-transparency
    /// log signed for a precertificate, when `oid` is the SCT list).
    pub fn tbs_without_extension(&self, oid: &str) -> Result<Vec<u8>, SigningError> {
        let oid = der::asn1::ObjectIdentifier::new(oid)
            .map_err(|e| SigningError::Untrusted(e.to_string()))?;
        let mut tbs = self.tbs().clone();
        if let Some(exts) = &mut tbs.extensions {
            exts.retain(|e| e.extn_id != oid);
        }
        tbs.to_der()
            .map_err(|e| SigningError::Untrusted(format!("cannot re-encode a certificate: {e}")))
    }

    /// The leaf's `notBefore`.
    #[must_use]
    pub fn not_before(&self) -> SystemTime {
        self.validity().0
    }
}

/// Validates `chain` (leaf first, then intermediates from the bundle) against `anchors`, at `at`.
/// Returns the path from the leaf to the anchor.
pub fn validate_path<'a>(
    chain: &'a [Cert],
    anchors: &'a [Cert],
    at: SystemTime,
) -> Result<Vec<&'a Cert>, SigningError> {
    let path = build_path(chain, anchors, at)?;
    check_path_constraints(&path)?;
    Ok(path)
}

/// Every certificate's extensions, and each CA's path length constraint: no more certificates
/// below it (leaf excluded, self-issued ones not counted) than its `pathLenConstraint`.
fn check_path_constraints(path: &[&Cert]) -> Result<(), SigningError> {
    let mut below = 0u64;
    for (i, c) in path.iter().enumerate() {
        c.check_extensions(i > 0)?;
        if i == 0 {
            continue;
        }
        if let Some(limit) = c
            .ext::<BasicConstraints>("2.5.29.19")?
            .and_then(|b| b.path_len_constraint)
            && below > u64::from(limit)
        {
            return Err(SigningError::Untrusted(format!(
                "{} allows {limit} intermediate certificate(s) below it; the path has {below}",
                c.label()
            )));
        }
        if !Cert::same_name(&c.tbs().issuer, &c.tbs().subject) {
            below += 1;
        }
    }
    Ok(())
}

fn build_path<'a>(
    chain: &'a [Cert],
    anchors: &'a [Cert],
    at: SystemTime,
) -> Result<Vec<&'a Cert>, SigningError> {
    let leaf = chain
        .first()
        .ok_or_else(|| SigningError::Malformed("the certificate chain is empty".into()))?;
    leaf.check_time(at)?;
    let mut path = vec![leaf];
    let mut cur = leaf;
    loop {
        if anchors.iter().any(|a| a.der == cur.der) {
            return Ok(path);
        }
        if path.len() >= MAX_PATH {
            return Err(SigningError::Untrusted(format!(
                "no trusted root within {MAX_PATH} certificates"
            )));
        }
        if let Some(a) = anchors.iter().find(|a| cur.signed_by(a)) {
            a.check_ca(true)?;
            a.check_time(at)?;
            path.push(a);
            return Ok(path);
        }
        let Some(next) = chain[1..]
            .iter()
            .chain(anchors)
            .find(|c| !path.iter().any(|p| p.der == c.der) && cur.signed_by(c))
        else {
            let alg = cur.cert.signature_algorithm.oid.to_string();
            let why = if supported_signature(&alg) {
                String::new()
            } else {
                format!(
                    " (its signature algorithm {alg} is not supported: ECDSA and RSA PKCS#1 v1.5 with SHA-2 are)"
                )
            };
            return Err(SigningError::Untrusted(format!(
                "{} does not chain to a trusted certificate: no trusted issuer `{}` signed it{why}",
                cur.label(),
                cur.tbs().issuer
            )));
        };
        next.check_ca(anchors.iter().any(|a| a.der == next.der))?;
        next.check_time(at)?;
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::Cert;

    #[test]
    fn pem_chains_without_certificates_are_empty_not_a_panic() {
        // Found by the `pem` fuzz target: x509-cert's own chain loader underflows on "".
        assert!(Cert::from_pem_file("").unwrap().is_empty());
        assert!(Cert::from_pem_file("\n").unwrap().is_empty());
        assert!(
            Cert::from_pem_file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
