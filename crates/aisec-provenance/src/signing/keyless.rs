//! Sigstore keyless bundles, verified offline against a trust root and an expected identity.
//!
//! A keyless signature is made with a short-lived key whose certificate a Fulcio CA issued to an
//! OIDC identity, and recorded in a Rekor log. The time of signing is the log's integrated time,
//! vouched for by its inclusion promise. In order, with the error each failure gives:
//!
//! 1. one `dsse` v0.0.1 log entry with an integrated time and an inclusion promise
//!    (otherwise [`SigningError::Transparency`]);
//! 2. the signing certificate was valid at the integrated time, and chains to a CA of the trust root
//!    that was valid then ([`SigningError::Untrusted`]);
//! 3. it is a Sigstore signing certificate: not a CA, key usage `digitalSignature`, extended key
//!    usage `codeSigning` (`Untrusted`);
//! 4. it carries a signed certificate timestamp (SCT) from a CT log of the trust root (`Untrusted`);
//! 5. its subject alternative name is the expected identity and its OIDC issuer extension(s) the
//!    expected issuer ([`SigningError::WrongIdentity`]);
//! 6. the log is in the trust root and its key was valid then; the inclusion promise, the inclusion
//!    proof and its checkpoint verify with that key (`Transparency`);
//! 7. the DSSE signature verifies with the certificate's key ([`SigningError::BadSignature`]);
//! 8. the logged body records this envelope's payload hash, signature and certificate
//!    (`Transparency`).
//!
//! Not checked: RFC 3161 timestamps (a bundle's timestamps are ignored; the integrated time is
//! used), Rekor v2 entries (they have no integrated time, only such timestamps), the checkpoint's
//! origin line, and certificate revocation (Sigstore has none).

use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::SigningError;
use super::bundle::{self, Bundle};
use super::keys::Digest;
use super::log::{TlogEntry, check_dsse_body};
use super::manifest::hex;
use super::trustroot::{LogInstance, TrustRoot, format_time};
use super::x509::{self, Cert};

const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const OID_CT_PRECERT_SIGNING: &str = "1.3.6.1.4.1.11129.2.4.4";
/// Most SCTs read from a certificate.
const MAX_SCTS: usize = 16;

/// What a keyless signature must satisfy.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// The expected signer identity (the certificate's email or URI subject alternative name).
    pub identity: String,
    /// The expected OIDC issuer.
    pub issuer: String,
    /// The CAs and logs trusted.
    pub trust_root: TrustRoot,
}

/// Who signed a keyless bundle, and where it was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeylessInfo {
    /// The signer identity.
    pub identity: String,
    /// The OIDC issuer.
    pub issuer: String,
    /// The signing certificate's serial number, hex.
    pub cert_serial: String,
    /// The CA that issued it (its URI in the trust root).
    pub certificate_authority: String,
    /// The transparency log (its base URL in the trust root).
    pub log: String,
    /// The entry's index in the log.
    pub log_index: i64,
    /// When the log integrated the entry, seconds since the epoch.
    pub integrated_time: i64,
    /// The same, RFC 3339.
    pub integrated_at: String,
}

impl KeylessPolicy {
    /// A policy over a parsed trust root.
    #[must_use]
    pub fn new(trust_root: TrustRoot, identity: &str, issuer: &str) -> Self {
        Self {
            identity: identity.into(),
            issuer: issuer.into(),
            trust_root,
        }
    }

    /// Loads a trust root (a `trusted_root.json`, or a client trust configuration holding one) and
    /// sets the expected identity.
    pub fn from_trust_root_file(
        path: &std::path::Path,
        identity: &str,
        issuer: &str,
    ) -> Result<Self, SigningError> {
        let root = TrustRoot::from_file(path)?;
        if root.certificate_authorities.is_empty() || root.tlogs.is_empty() {
            return Err(SigningError::TrustRoot(
                "it names no certificate authority or no transparency log".into(),
            ));
        }
        Ok(Self::new(root, identity, issuer))
    }
}

fn at(t: i64) -> SystemTime {
    match u64::try_from(t) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => SystemTime::UNIX_EPOCH - Duration::from_secs(t.unsigned_abs()),
    }
}

fn leaf_of(b: &Bundle) -> Result<Cert, SigningError> {
    let vm = &b.verification_material;
    let raw = vm
        .certificate
        .as_ref()
        .or_else(|| {
            vm.x509_certificate_chain
                .as_ref()
                .and_then(|c| c.certificates.first())
        })
        .ok_or_else(|| {
            SigningError::Malformed(
                "the bundle carries no signing certificate (was it signed with a key?)".into(),
            )
        })?;
    Cert::from_der(&bundle::b64decode(&raw.raw_bytes)?)
}

/// Verifies a keyless bundle whose envelope holds `payload` signed with `sig`.
pub fn verify(
    b: &Bundle,
    payload: &[u8],
    sig: &[u8],
    policy: &KeylessPolicy,
) -> Result<KeylessInfo, SigningError> {
    let root = &policy.trust_root;
    let leaf = leaf_of(b)?;
    let entries = &b.verification_material.tlog_entries;
    let [raw_entry] = entries.as_slice() else {
        return Err(SigningError::Malformed(format!(
            "a keyless bundle needs exactly one transparency-log entry; this one has {}",
            entries.len()
        )));
    };
    let entry = TlogEntry::parse_raw(raw_entry)?;

    // 1. The entry's kind and its time.
    match (entry.kind.as_str(), entry.version.as_str()) {
        ("dsse", "0.0.1") => {}
        ("hashedrekord", "0.0.2") => {
            return Err(SigningError::Transparency(
                "the entry is from a Rekor v2 log (hashedrekord 0.0.2): its time comes from RFC 3161 \
                 timestamps, which aisec does not verify"
                    .into(),
            ));
        }
        (k, v) => {
            return Err(SigningError::Transparency(format!(
                "a `{k}` {v} log entry cannot record a DSSE signature (dsse 0.0.1 expected)"
            )));
        }
    }
    let (Some(t), Some(_)) = (entry.integrated_time, &entry.promise) else {
        return Err(SigningError::Transparency(
            "the entry has no integrated time with an inclusion promise: there is no trusted \
             time of signing (RFC 3161 timestamps are not verified)"
                .into(),
        ));
    };

    // 2. The certificate was valid then and chains to a CA valid then.
    let (nb, na) = leaf.validity_secs();
    if t < nb || t > na {
        return Err(SigningError::Untrusted(format!(
            "the signing certificate was valid from {} to {}, but the log integrated the \
             signature at {}",
            format_time(nb),
            format_time(na),
            format_time(t)
        )));
    }
    let cas: Vec<_> = root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(t))
        .collect();
    if cas.is_empty() {
        return Err(SigningError::Untrusted(format!(
            "no certificate authority of the trust root was valid at {}",
            format_time(t)
        )));
    }
    let anchors: Vec<Cert> = cas.iter().flat_map(|ca| ca.certs.iter().cloned()).collect();
    let chain = [leaf.clone()];
    let path = x509::validate_path(&chain, &anchors, at(t))?;
    let issuer_cert = path.get(1).ok_or_else(|| {
        SigningError::Untrusted("the signing certificate is itself a trusted CA certificate".into())
    })?;
    let ca = cas
        .iter()
        .find(|ca| ca.certs.iter().any(|c| c.der == issuer_cert.der))
        .map_or_else(String::new, |ca| ca.uri.clone());

    // 3. A Sigstore signing certificate.
    if leaf.is_ca()? {
        return Err(SigningError::Untrusted(
            "the signing certificate is a CA certificate".into(),
        ));
    }
    if !leaf.has_digital_signature_usage()? {
        return Err(SigningError::Untrusted(
            "the signing certificate lacks key usage digitalSignature".into(),
        ));
    }
    if !leaf.has_extended_usage(x509::OID_CODE_SIGNING)? {
        return Err(SigningError::Untrusted(
            "the signing certificate lacks extended key usage codeSigning".into(),
        ));
    }

    // 4. Certificate transparency.
    verify_sct(&leaf, &path, &root.ctlogs)?;

    // 5. The identity.
    let issuer = check_identity(&leaf, &policy.identity, &policy.issuer)?;

    // 6. The log.
    let log = root
        .tlogs
        .iter()
        .find(|l| l.is(&entry.log_id))
        .ok_or_else(|| {
            SigningError::Transparency(format!(
                "the entry was logged by log {}, which is not in the trust root",
                hex(&entry.log_id)
            ))
        })?;
    if !log.valid_for.contains(t) {
        return Err(SigningError::Transparency(format!(
            "the log `{}` may be trusted from {}, not at {}",
            log.base_url,
            log.valid_for.describe(),
            format_time(t)
        )));
    }
    let key = log.key.as_ref().map_err(|why| {
        SigningError::Transparency(format!("the log `{}` cannot be used: {why}", log.base_url))
    })?;
    entry.verify_promise(key)?;
    entry.verify_inclusion(key)?;

    // 7. The signature.
    let pk = leaf.public_key()?;
    let pae = bundle::pae(payload);
    if !pk.verify(&pae, sig) && !pk.verify_with(Digest::Sha256, &pae, sig) {
        return Err(SigningError::BadSignature(
            "the signature does not match the signed statement under the signing certificate's \
             key: the payload or the signature was altered"
                .into(),
        ));
    }

    // 8. The entry records this signature.
    check_dsse_body(
        &entry.body,
        &entry.kind,
        &entry.version,
        payload,
        sig,
        &leaf.der,
    )
    .map_err(|e| {
        SigningError::Transparency(format!("the log entry is not for this signature: {e}"))
    })?;

    Ok(KeylessInfo {
        identity: policy.identity.clone(),
        issuer,
        cert_serial: leaf.info().serial,
        certificate_authority: ca,
        log: log.base_url.clone(),
        log_index: entry.log_index,
        integrated_time: t,
        integrated_at: format_time(t),
    })
}

/// Checks the identity and the issuer; returns the issuer.
fn check_identity(leaf: &Cert, identity: &str, issuer: &str) -> Result<String, SigningError> {
    let v2 = leaf
        .ext_raw(OID_ISSUER_V2)
        .map(|raw| {
            use der::Decode as _;
            der::asn1::Utf8StringRef::from_der(raw)
                .map(|s| s.as_str().to_owned())
                .map_err(|_| {
                    SigningError::Untrusted(format!(
                        "the OIDC issuer extension ({OID_ISSUER_V2}) is not a DER UTF8String"
                    ))
                })
        })
        .transpose()?;
    let v1 = leaf
        .ext_raw(OID_ISSUER_V1)
        .map(|raw| String::from_utf8_lossy(raw).into_owned());
    if v2.is_none() && v1.is_none() {
        return Err(SigningError::WrongIdentity(format!(
            "the signing certificate names no OIDC issuer (extension {OID_ISSUER_V2} or {OID_ISSUER_V1}); \
             expected `{issuer}`"
        )));
    }
    // Fulcio writes the same issuer in both; a certificate where they differ matches neither.
    for (oid, got) in [(OID_ISSUER_V2, &v2), (OID_ISSUER_V1, &v1)] {
        if let Some(got) = got
            && got != issuer
        {
            return Err(SigningError::WrongIdentity(format!(
                "the certificate was issued for OIDC issuer `{got}` (extension {oid}), not `{issuer}`"
            )));
        }
    }
    let ids = leaf.identities();
    if !ids.iter().any(|i| i == identity) {
        return Err(SigningError::WrongIdentity(format!(
            "the certificate was issued to {}, not `{identity}`",
            if ids.is_empty() {
                "no email or URI identity".to_owned()
            } else {
                ids.iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    Ok(issuer.to_owned())
}

/// One SCT of a certificate's SCT list (RFC 6962, 3.2).
struct Sct<'a> {
    version: u8,
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn parse_scts(tls: &[u8]) -> Option<Vec<Sct<'_>>> {
    let mut r = Reader(tls);
    let mut list = Reader(r.vec16()?);
    if !r.0.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    while !list.0.is_empty() {
        if out.len() == MAX_SCTS {
            return None;
        }
        let mut s = Reader(list.vec16()?);
        let sct = Sct {
            version: s.u8()?,
            log_id: s.take(32)?,
            timestamp_ms: s.u64()?,
            extensions: s.vec16()?,
            hash_alg: s.u8()?,
            sig_alg: s.u8()?,
            signature: s.vec16()?,
        };
        if !s.0.is_empty() {
            return None;
        }
        out.push(sct);
    }
    Some(out)
}

/// Checks that the certificate carries an SCT signed by a CT log of the trust root.
fn verify_sct(leaf: &Cert, path: &[&Cert], ctlogs: &[LogInstance]) -> Result<(), SigningError> {
    use der::Decode as _;
    let untrusted = |m: String| SigningError::Untrusted(format!("certificate transparency: {m}"));
    let raw = leaf
        .ext_raw(OID_SCT_LIST)
        .ok_or_else(|| untrusted("the signing certificate carries no SCT".into()))?;
    let tls = der::asn1::OctetStringRef::from_der(raw)
        .map_err(|_| untrusted("the SCT list extension is not an OCTET STRING".into()))?;
    let scts = parse_scts(tls.as_bytes())
        .ok_or_else(|| untrusted("the SCT list does not parse".into()))?;
    if scts.is_empty() {
        return Err(untrusted("the SCT list is empty".into()));
    }
    // The precertificate's issuer: the CA that signed the leaf, or the one above a pre-issuer.
    let issuer = match path.get(1) {
        Some(c) if c.has_extended_usage(OID_CT_PRECERT_SIGNING)? => path.get(2).copied(),
        other => other.copied(),
    }
    .ok_or_else(|| untrusted("the issuer of the signing certificate is unknown".into()))?;
    let issuer_key_hash = Sha256::digest(issuer.spki_der()?);
    let tbs = leaf.tbs_without_extension(OID_SCT_LIST)?;
    let mut why = Vec::new();
    for sct in &scts {
        let Some(log) = ctlogs.iter().find(|l| l.is(sct.log_id)) else {
            why.push(format!(
                "an SCT from log {}, which is not in the trust root",
                hex(sct.log_id)
            ));
            continue;
        };
        if sct.version != 0 || sct.hash_alg != 4 || sct.sig_alg != 3 {
            why.push(format!(
                "an SCT from `{}` is not a v1 ECDSA/SHA-256 timestamp",
                log.base_url
            ));
            continue;
        }
        let secs = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid_for.contains(secs) {
            why.push(format!(
                "the SCT from `{}` is dated {}, outside the log's validity ({})",
                log.base_url,
                format_time(secs),
                log.valid_for.describe()
            ));
            continue;
        }
        let Ok(key) = &log.key else {
            why.push(format!(
                "the CT log `{}` has a key aisec cannot use",
                log.base_url
            ));
            continue;
        };
        let (Ok(tbs_len), Ok(ext_len)) = (
            u32::try_from(tbs.len())
                .map_err(|_| ())
                .and_then(|n| if n < 1 << 24 { Ok(n) } else { Err(()) }),
            u16::try_from(sct.extensions.len()),
        ) else {
            return Err(untrusted("the certificate is too large".into()));
        };
        // digitally-signed struct for a precertificate entry (RFC 6962, 3.2).
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&ext_len.to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        if key.verify_with(Digest::Sha256, &signed, sct.signature) {
            return Ok(());
        }
        why.push(format!(
            "the SCT from `{}` does not verify with its key",
            log.base_url
        ));
    }
    Err(untrusted(format!(
        "no SCT verifies against the trust root's CT logs: {}",
        why.join("; ")
    )))
}
