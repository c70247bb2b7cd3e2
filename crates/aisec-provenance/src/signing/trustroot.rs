//! A Sigstore trust root (`trusted_root.json`, media type
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`), read from a file the user gives:
//! the Fulcio certificate authorities, the Rekor transparency logs and the certificate-transparency
//! logs, each with the period it may be used for. A client trust configuration
//! (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`, what `model_signing
//! --trust_config` reads) is accepted too: its `trustedRoot` is used, its `signingConfig` ignored.
//!
//! Timestamp authorities are counted but not loaded: RFC 3161 timestamps are not verified (the
//! signing time comes from the log's signed entry timestamp).

use serde::Deserialize;

use super::SigningError;
use super::bundle::b64decode;
use super::keys::{Curve, PublicKey};
use super::x509::Cert;

/// Largest trust-root file read (the production one is about 10 KiB).
pub const MAX_TRUST_ROOT: u64 = 4 << 20;
const MAX_AUTHORITIES: usize = 64;
const MAX_LOGS: usize = 64;
const MAX_CHAIN: usize = 8;

/// The trusted-root media type.
pub const MEDIA_TYPE_TRUSTED_ROOT: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// The same, in the other spelling Sigstore uses for its media types.
pub const MEDIA_TYPE_TRUSTED_ROOT_ALT: &str = "application/vnd.dev.sigstore.trustedroot.v0.1+json";
/// The client-trust-configuration media type.
pub const MEDIA_TYPE_CLIENT_TRUST_CONFIG: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A period of validity, in seconds since the epoch; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validity {
    /// From.
    pub start: Option<i64>,
    /// Until (inclusive).
    pub end: Option<i64>,
}

impl Validity {
    /// Whether `t` (seconds since the epoch) lies in the period.
    #[must_use]
    pub fn contains(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }

    /// The period, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let side = |t: Option<i64>| t.map_or_else(|| "open".to_owned(), format_time);
        format!("{} to {}", side(self.start), side(self.end))
    }
}

/// A certificate authority (Fulcio): its chain, intermediate(s) first, root last.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// Where it is served (for messages).
    pub uri: String,
    /// The certificates.
    pub certs: Vec<Cert>,
    /// When it may have issued signing certificates.
    pub valid_for: Validity,
}

/// A transparency log (Rekor) or certificate-transparency log, with its key.
#[derive(Debug, Clone)]
pub struct LogInstance {
    /// Where it is served (for messages).
    pub base_url: String,
    /// The log ID (SHA-256 of the key's DER SubjectPublicKeyInfo).
    pub log_id: Vec<u8>,
    /// The key, or why it cannot be used (an Ed25519 or RSA key: ECDSA only).
    pub key: Result<PublicKey, String>,
    /// When the key may have signed.
    pub valid_for: Validity,
}

/// A parsed trust root.
#[derive(Debug, Clone, Default)]
pub struct TrustRoot {
    /// Fulcio certificate authorities.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Rekor logs.
    pub tlogs: Vec<LogInstance>,
    /// Certificate-transparency logs.
    pub ctlogs: Vec<LogInstance>,
    /// Timestamp authorities in the file (not used: RFC 3161 timestamps are not verified).
    pub timestamp_authorities: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFile {
    media_type: String,
    #[serde(default)]
    trusted_root: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    #[serde(default)]
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    #[serde(default)]
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<super::bundle::Certificate>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

fn bad(msg: impl Into<String>) -> SigningError {
    SigningError::TrustRoot(msg.into())
}

fn validity(r: Option<&RawRange>, what: &str) -> Result<Validity, SigningError> {
    let Some(r) = r else {
        return Ok(Validity::default());
    };
    let t = |s: &Option<String>| {
        s.as_deref()
            .map(|s| parse_time(s).ok_or_else(|| bad(format!("{what}: bad time `{s}`"))))
            .transpose()
    };
    Ok(Validity {
        start: t(&r.start)?,
        end: t(&r.end)?,
    })
}

fn log(raw: &RawLog, kind: &str) -> Result<LogInstance, SigningError> {
    let what = format!("{kind} `{}`", raw.base_url);
    let log_id = b64decode(&raw.log_id.key_id)
        .map_err(|_| bad(format!("{what}: the log ID is not base64")))?;
    let der = raw
        .public_key
        .raw_bytes
        .as_deref()
        .ok_or_else(|| bad(format!("{what}: no public key")))
        .and_then(|s| b64decode(s).map_err(|_| bad(format!("{what}: the key is not base64"))))?;
    let curve = match raw.public_key.key_details.as_str() {
        "PKIX_ECDSA_P256_SHA_256" => Some(Curve::P256),
        "PKIX_ECDSA_P384_SHA_384" => Some(Curve::P384),
        "PKIX_ECDSA_P521_SHA_512" => Some(Curve::P521),
        _ => None,
    };
    let key = match curve {
        None => Err(format!(
            "its key type `{}` is not supported (ECDSA P-256, P-384 and P-521 are)",
            raw.public_key.key_details
        )),
        Some(c) => match PublicKey::from_spki_der(&der) {
            Ok(k) if k.curve() == c => Ok(k),
            Ok(k) => {
                return Err(bad(format!(
                    "{what}: the key is on {} but is declared `{}`",
                    k.curve().name(),
                    raw.public_key.key_details
                )));
            }
            Err(e) => return Err(bad(format!("{what}: {e}"))),
        },
    };
    Ok(LogInstance {
        base_url: raw.base_url.clone(),
        log_id,
        key,
        valid_for: validity(raw.public_key.valid_for.as_ref(), &what)?,
    })
}

impl TrustRoot {
    /// Parses a trusted root, or a client trust configuration holding one.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigningError> {
        if bytes.len() as u64 > MAX_TRUST_ROOT {
            return Err(bad(format!(
                "{} bytes (at most {MAX_TRUST_ROOT})",
                bytes.len()
            )));
        }
        let file: RawFile = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not a Sigstore trust root: {e}")))?;
        let raw: RawRoot = match file.media_type.as_str() {
            MEDIA_TYPE_CLIENT_TRUST_CONFIG => {
                let inner = file
                    .trusted_root
                    .ok_or_else(|| bad("the client trust configuration holds no `trustedRoot`"))?;
                serde_json::from_value(inner)
            }
            _ => serde_json::from_slice(bytes),
        }
        .map_err(|e| bad(format!("not a Sigstore trust root: {e}")))?;
        if raw.media_type != MEDIA_TYPE_TRUSTED_ROOT
            && raw.media_type != MEDIA_TYPE_TRUSTED_ROOT_ALT
        {
            return Err(bad(format!(
                "media type `{}`; expected `{MEDIA_TYPE_TRUSTED_ROOT}` or a client trust \
                 configuration (`{MEDIA_TYPE_CLIENT_TRUST_CONFIG}`)",
                raw.media_type
            )));
        }
        if raw.certificate_authorities.len() > MAX_AUTHORITIES
            || raw.tlogs.len() > MAX_LOGS
            || raw.ctlogs.len() > MAX_LOGS
        {
            return Err(bad(format!(
                "too many entries (at most {MAX_AUTHORITIES} authorities and {MAX_LOGS} logs of each kind)"
            )));
        }
        let mut cas = Vec::new();
        for ca in &raw.certificate_authorities {
            let what = format!("certificate authority `{}`", ca.uri);
            let chain = &ca.cert_chain.certificates;
            if chain.is_empty() || chain.len() > MAX_CHAIN {
                return Err(bad(format!(
                    "{what}: {} certificates (1 to {MAX_CHAIN} expected)",
                    chain.len()
                )));
            }
            let certs = chain
                .iter()
                .map(|c| {
                    b64decode(&c.raw_bytes)
                        .and_then(|der| Cert::from_der(&der))
                        .map_err(|e| bad(format!("{what}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            cas.push(CertificateAuthority {
                uri: ca.uri.clone(),
                certs,
                valid_for: validity(ca.valid_for.as_ref(), &what)?,
            });
        }
        Ok(Self {
            certificate_authorities: cas,
            tlogs: raw
                .tlogs
                .iter()
                .map(|l| log(l, "transparency log"))
                .collect::<Result<_, _>>()?,
            ctlogs: raw
                .ctlogs
                .iter()
                .map(|l| log(l, "certificate-transparency log"))
                .collect::<Result<_, _>>()?,
            timestamp_authorities: raw.timestamp_authorities.len(),
        })
    }

    /// Reads and parses a trust-root file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SigningError> {
        Self::from_json(&super::read_bounded(path, MAX_TRUST_ROOT)?)
    }
}

impl LogInstance {
    /// Whether this log is the one named by `id` (its declared log ID, or the hash of its key).
    #[must_use]
    pub fn is(&self, id: &[u8]) -> bool {
        use sha2::Digest as _;
        !id.is_empty()
            && (self.log_id == id
                || self
                    .key
                    .as_ref()
                    .ok()
                    .and_then(PublicKey::to_spki_der)
                    .is_some_and(|der| sha2::Sha256::digest(der).as_slice() == id))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses an RFC 3339 time (`2021-01-12T11:53:27Z`, `2022-12-31T23:59:59.999Z`, `…+02:00`) to whole
/// seconds since the epoch (fractions dropped).
#[must_use]
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b.len() > 40
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.get(1..)?;
            if o.len() != 5 || o.as_bytes()[2] != b':' {
                return None;
            }
            let (oh, om) = (
                o.get(..2)?.parse::<u8>().ok()?,
                o.get(3..)?.parse::<u8>().ok()?,
            );
            sign * (i64::from(oh) * 3600 + i64::from(om) * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Formats seconds since the epoch as RFC 3339 UTC.
#[must_use]
pub fn format_time(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2021-01-12T11:53:27Z"), Some(1_610_452_407));
        assert_eq!(parse_time("2022-12-31T23:59:59.999Z"), Some(1_672_531_199));
        assert_eq!(parse_time("2021-01-12T13:53:27+02:00"), Some(1_610_452_407));
        assert_eq!(format_time(1_610_452_407), "2021-01-12T11:53:27Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_time("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "",
            "2021-01-12",
            "2021-13-12T11:53:27Z",
            "2021-01-12T11:53:27",
            "2021-01-12T11:53:27.Z",
            "2021-01-12T11:53:27+0200",
            "２０21-01-12T11:53:27Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn wrong_media_types_and_oversized_files_are_refused() {
        let e = TrustRoot::from_json(br#"{"mediaType":"application/json"}"#).unwrap_err();
        assert!(e.to_string().contains("media type"), "{e}");
        let e = TrustRoot::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("trustedRoot"), "{e}");
        let big = vec![b' '; (MAX_TRUST_ROOT + 1) as usize];
        assert!(TrustRoot::from_json(&big).is_err());
    }
}
