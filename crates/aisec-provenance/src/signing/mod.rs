//! OpenSSF model signing v1.0: sign a model directory (or file) and verify it.
//!
//! A signature is a Sigstore bundle (v0.3) holding a DSSE envelope whose payload is an in-toto v1
//! statement; its predicate lists every file (or shard of a file) with its digest. Signing methods
//! that need no network: an ECDSA private key, a private key with its certificate chain; and
//! verification of Sigstore keyless bundles against a trust root and an identity given as files
//! ([`keyless`]).

pub mod bundle;
pub mod hashing;
pub mod keyless;
pub mod keys;
pub mod log;
pub mod manifest;
pub mod serialize;
pub mod trustroot;
pub mod x509;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use bundle::Bundle;
pub use hashing::HashAlg;
pub use keys::{Curve, PrivateKey, PublicKey};
pub use manifest::{Manifest, Method, Resource, Serialization};
pub use serialize::{DEFAULT_IGNORES, Progress};
pub use x509::{Cert, CertInfo};

/// Everything that can go wrong while signing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A symbolic link where links are not allowed.
    #[error("`{0}` is a symbolic link; links are followed only with --allow-symlinks")]
    Symlink(String),
    /// A socket, pipe or device in the model.
    #[error("`{0}` is not a regular file or directory")]
    SpecialFile(String),
    /// A file name that is not UTF-8 cannot be named in a manifest.
    #[error("`{0}` has a name that is not UTF-8")]
    NonUtf8Name(PathBuf),
    /// A bound was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// A key could not be loaded or used.
    #[error("key: {0}")]
    Key(String),
    /// The signature file is not a well-formed model signature.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The signature does not verify with the key it names (edited payload or signature).
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    /// The signature was made with another key than the one given.
    #[error("wrong key: {0}")]
    WrongKey(String),
    /// The certificate chain does not lead to a trusted root, or the certificate may not sign.
    #[error("untrusted certificate: {0}")]
    Untrusted(String),
    /// The signer's identity is not the expected one.
    #[error("wrong identity: {0}")]
    WrongIdentity(String),
    /// The transparency-log entry of a keyless signature does not check out.
    #[error("transparency log: {0}")]
    Transparency(String),
    /// The Sigstore trust root given for keyless verification cannot be used.
    #[error("trust root: {0}")]
    TrustRoot(String),
}

/// How to sign.
#[derive(Debug)]
pub enum SignWith {
    /// An ECDSA private key; the bundle names it by its public-key hint.
    Key(PrivateKey),
    /// A private key with its signing certificate and the chain above it (intermediates, root).
    Certificate {
        /// The key.
        key: PrivateKey,
        /// The signing certificate, then its chain.
        chain: Vec<Cert>,
    },
}

/// How to cut and hash the model, and what to leave out.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Files or shards.
    pub method: Method,
    /// The hash.
    pub hash: HashAlg,
    /// Follow symbolic links to files.
    pub allow_symlinks: bool,
    /// Paths relative to the model root to leave out (beside the defaults).
    pub ignore_paths: Vec<String>,
    /// Leave out `.git`, `.gitattributes`, `.github`, `.gitignore`.
    pub ignore_git: bool,
    /// Where to count hashed bytes, for a progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
}

impl Default for HashOptions {
    fn default() -> Self {
        Self {
            method: Method::Files,
            hash: HashAlg::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
            ignore_git: true,
            progress: None,
        }
    }
}

/// Where `signature` lies relative to `model`, when inside it (so it can be left out).
#[must_use]
pub fn relative_inside(model: &Path, signature: &Path) -> Option<String> {
    let model = std::fs::canonicalize(model).ok()?;
    let sig = match std::fs::canonicalize(signature) {
        Ok(p) => p,
        // Not written yet: canonicalize its directory.
        Err(_) => std::fs::canonicalize(
            signature
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .ok()?
        .join(signature.file_name()?),
    };
    let rel = sig.strip_prefix(&model).ok()?;
    let parts: Vec<&str> = rel.iter().map(|c| c.to_str()).collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn serialization(opts: &HashOptions, extra_ignores: &[String]) -> Serialization {
    let mut ignore: Vec<String> = opts
        .ignore_paths
        .iter()
        .chain(extra_ignores)
        .cloned()
        .collect();
    if opts.ignore_git {
        ignore.extend(DEFAULT_IGNORES.iter().map(|s| (*s).to_owned()));
    }
    ignore.sort();
    ignore.dedup();
    Serialization {
        // BLAKE3 is already parallel inside a file; like the reference, shards are not used with it.
        method: if opts.hash == HashAlg::Blake3 {
            Method::Files
        } else {
            opts.method
        },
        hash: opts.hash,
        allow_symlinks: opts.allow_symlinks,
        ignore_paths: ignore,
    }
}

/// A signature made by [`sign`].
#[derive(Debug)]
pub struct Signed {
    /// The bundle, as JSON bytes ready to write.
    pub bundle: Vec<u8>,
    /// What was signed.
    pub manifest: Manifest,
}

/// Signs the model at `model`. `signature_path` (where the bundle will be written) is left out of
/// the manifest when it lies inside the model.
pub fn sign(
    model: &Path,
    signature_path: &Path,
    opts: &HashOptions,
    with: &SignWith,
) -> Result<Signed, SigningError> {
    let sig_rel: Vec<String> = relative_inside(model, signature_path).into_iter().collect();
    let manifest = serialize::hash_model(
        model,
        &serialization(opts, &sig_rel),
        opts.progress.as_deref(),
    )?;
    let payload = manifest.statement();
    let pae = bundle::pae(&payload);
    let (key, material) = match with {
        SignWith::Key(key) => (
            key,
            bundle::VerificationMaterial {
                public_key: Some(bundle::PublicKeyIdentifier {
                    hint: Some(key.public().hint()),
                }),
                ..Default::default()
            },
        ),
        SignWith::Certificate { key, chain } => {
            let leaf = chain
                .first()
                .ok_or_else(|| SigningError::Key("no signing certificate".into()))?;
            if leaf.public_key()? != key.public() {
                return Err(SigningError::Key(
                    "the signing certificate's public key does not match the private key".into(),
                ));
            }
            leaf.check_signing_leaf()?;
            (
                key,
                bundle::VerificationMaterial {
                    x509_certificate_chain: Some(bundle::CertificateChain {
                        certificates: chain
                            .iter()
                            .map(|c| bundle::Certificate {
                                raw_bytes: bundle::b64encode(&c.der),
                            })
                            .collect(),
                    }),
                    ..Default::default()
                },
            )
        }
    };
    let sig = key.sign(&pae);
    let bundle = Bundle::new(material, &payload, &sig);
    let mut bytes = serde_json::to_vec(&bundle).expect("a bundle always serializes");
    bytes.push(b'\n');
    Ok(Signed {
        bundle: bytes,
        manifest,
    })
}

/// What to trust when verifying.
#[derive(Debug)]
pub enum Trust {
    /// The public key the model was signed with.
    Key(PublicKey),
    /// Root (and intermediate) certificates trusted to issue signing certificates.
    Certificates(Vec<Cert>),
    /// A Sigstore trust root and the expected signer identity (keyless).
    Keyless(Box<keyless::KeylessPolicy>),
}

/// Who signed, as established by [`verify_signature`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum SignerInfo {
    /// A key, named by its hint.
    Key {
        /// SHA-256 of the PEM public key.
        hint: String,
        /// The curve.
        curve: &'static str,
        /// The bundle carried no hint (an older signer); the key was not cross-checked.
        hint_absent: bool,
    },
    /// A certificate that chains to a trusted root.
    Certificate(CertInfo),
    /// A Sigstore keyless signature.
    Keyless(keyless::KeylessInfo),
}

/// Checks the bundle's signature against `trust` and returns the signed manifest and the signer.
/// Does not look at the model's files.
pub fn verify_signature(
    bundle_bytes: &[u8],
    trust: &Trust,
) -> Result<(Manifest, SignerInfo), SigningError> {
    let b = Bundle::parse(bundle_bytes)?;
    let (payload, sig) = b.signed_payload()?;
    let pae = bundle::pae(&payload);
    let signer = match trust {
        Trust::Key(pk) => {
            let hint = b
                .verification_material
                .public_key
                .as_ref()
                .and_then(|p| p.hint.clone())
                .filter(|h| !h.is_empty());
            let ours = pk.hint();
            if let Some(h) = &hint
                && !h.eq_ignore_ascii_case(&ours)
            {
                return Err(SigningError::WrongKey(format!(
                    "the signature names key {h}; the key given is {ours}"
                )));
            }
            if !pk.verify(&pae, &sig) && !pk.verify(&bundle::pae_v02(&payload), &sig) {
                return Err(if hint.is_some() {
                    SigningError::BadSignature(
                        "the signature does not match the signed statement: the payload or the signature was altered".into(),
                    )
                } else {
                    SigningError::WrongKey(
                        "the signature does not verify with the key given (the bundle names no key: \
                         either another key signed it or it was altered)"
                            .into(),
                    )
                });
            }
            SignerInfo::Key {
                hint: ours,
                curve: pk.curve().name(),
                hint_absent: hint.is_none(),
            }
        }
        Trust::Certificates(anchors) => {
            let chain = b
                .verification_material
                .x509_certificate_chain
                .as_ref()
                .map(|c| c.certificates.as_slice())
                .unwrap_or_default();
            if chain.is_empty() {
                return Err(SigningError::Malformed(
                    "the bundle carries no certificate chain (was it signed with a key?)".into(),
                ));
            }
            if chain.len() > 16 {
                return Err(SigningError::Malformed(format!(
                    "{} certificates in the chain",
                    chain.len()
                )));
            }
            let chain: Vec<Cert> = chain
                .iter()
                .map(|c| Cert::from_der(&bundle::b64decode(&c.raw_bytes)?))
                .collect::<Result<_, _>>()?;
            let leaf = &chain[0];
            x509::validate_path(&chain, anchors, leaf.not_before())?;
            leaf.check_signing_leaf()?;
            let pk = leaf.public_key()?;
            if !pk.verify(&pae, &sig)
                && !pk.verify_with(keys::Digest::Sha256, &bundle::pae_v02(&payload), &sig)
            {
                return Err(SigningError::BadSignature(
                    "the signature does not match the signed statement under the signing certificate's key".into(),
                ));
            }
            SignerInfo::Certificate(leaf.info())
        }
        Trust::Keyless(policy) => SignerInfo::Keyless(keyless::verify(&b, &payload, &sig, policy)?),
    };
    Ok((Manifest::from_statement(&payload)?, signer))
}

/// How a model on disk differs from its signed manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// A signed file's content changed.
    Changed {
        /// The file.
        path: String,
        /// What differs (digests, or which shards).
        detail: String,
    },
    /// A signed file is gone.
    Missing {
        /// The file.
        path: String,
    },
    /// A file that was not signed.
    Extra {
        /// The file.
        path: String,
    },
    /// A symbolic link in a model signed without links.
    Symlink {
        /// The link.
        path: String,
    },
}

impl Problem {
    /// The file concerned.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Changed { path, .. }
            | Self::Missing { path }
            | Self::Extra { path }
            | Self::Symlink { path } => path,
        }
    }
}

/// Options for comparing a model with its manifest.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Only check the files the signature lists; others are not reported.
    pub ignore_unsigned: bool,
    /// More paths (relative to the model) to leave out.
    pub ignore_paths: Vec<String>,
    /// Do not add the git paths to the ignored ones.
    pub no_git_ignores: bool,
    /// Where to count hashed bytes, for a progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// The result of comparing a model with a signed manifest.
#[derive(Debug, Clone)]
pub struct Check {
    /// Files (or shards) hashed and compared.
    pub resources_checked: usize,
    /// Every difference, by file path.
    pub problems: Vec<Problem>,
}

/// Hashes the model at `model` the way `signed` says and compares. `signature_path` is left out
/// when it lies inside the model.
pub fn check_model(
    model: &Path,
    signature_path: &Path,
    signed: &Manifest,
    opts: &CheckOptions,
) -> Result<Check, SigningError> {
    let mut ser = signed.serialization.clone();
    ser.ignore_paths.extend(opts.ignore_paths.iter().cloned());
    if !opts.no_git_ignores {
        ser.ignore_paths
            .extend(DEFAULT_IGNORES.iter().map(|s| (*s).to_owned()));
    }
    ser.ignore_paths
        .extend(relative_inside(model, signature_path));
    let mut problems = Vec::new();
    let files = if opts.ignore_unsigned {
        let mut files = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in &signed.resources {
            if !seen.insert(r.path.as_str()) {
                continue;
            }
            let path = if r.path == "." {
                model.to_owned()
            } else {
                model.join(&r.path)
            };
            match std::fs::symlink_metadata(&path) {
                Err(_) => problems.push(Problem::Missing {
                    path: r.path.clone(),
                }),
                Ok(m) if m.file_type().is_symlink() && !ser.allow_symlinks => {
                    problems.push(Problem::Symlink {
                        path: r.path.clone(),
                    });
                }
                Ok(_) => match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => files.push(serialize::ModelFile {
                        rel: r.path.clone(),
                        path,
                        len: m.len(),
                    }),
                    _ => problems.push(Problem::Missing {
                        path: r.path.clone(),
                    }),
                },
            }
        }
        files
    } else {
        match serialize::list_files(model, &ser) {
            Ok(f) => f,
            Err(SigningError::Symlink(path)) => {
                return Ok(Check {
                    resources_checked: 0,
                    problems: vec![Problem::Symlink { path }],
                });
            }
            Err(e) => return Err(e),
        }
    };
    let actual = serialize::hash_files(
        signed.model_name.clone(),
        &files,
        &ser,
        opts.progress.as_deref(),
    )?;
    let group = |m: &Manifest| {
        let mut by: BTreeMap<String, Vec<Piece>> = BTreeMap::new();
        for r in &m.resources {
            by.entry(r.path.clone())
                .or_default()
                .push((r.range, r.digest.clone()));
        }
        by
    };
    let want = group(signed);
    let have = group(&actual);
    // Shard serialization gives an empty file no resources: it is on disk but not in `have`.
    let on_disk: BTreeMap<&str, u64> = files.iter().map(|f| (f.rel.as_str(), f.len)).collect();
    for (path, expected) in &want {
        match have.get(path) {
            None if on_disk.contains_key(path.as_str()) => problems.push(Problem::Changed {
                path: path.clone(),
                detail: describe_change(expected, &[]),
            }),
            None => {
                if !problems.iter().any(|p| p.path() == path) {
                    problems.push(Problem::Missing { path: path.clone() });
                }
            }
            Some(actual) if actual != expected => problems.push(Problem::Changed {
                path: path.clone(),
                detail: describe_change(expected, actual),
            }),
            Some(_) => {}
        }
    }
    if !opts.ignore_unsigned {
        for path in have.keys() {
            if !want.contains_key(path) {
                problems.push(Problem::Extra { path: path.clone() });
            }
        }
    }
    Ok(Check {
        resources_checked: actual.resources.len(),
        problems,
    })
}

/// A shard range (none for a whole file) and its digest.
type Piece = (Option<(u64, u64)>, Vec<u8>);
type Pieces = [Piece];

fn describe_change(expected: &Pieces, actual: &Pieces) -> String {
    let hex = manifest::hex;
    match (expected, actual) {
        ([(None, e)], [(None, a)]) => format!(
            "digest {} was signed, the file now hashes to {}",
            hex(e),
            hex(a)
        ),
        _ => {
            let end = |p: &Pieces| {
                p.iter()
                    .filter_map(|(r, _)| r.map(|r| r.1))
                    .max()
                    .unwrap_or(0)
            };
            if end(expected) != end(actual) {
                return format!(
                    "{} bytes were signed, the file now has {}",
                    end(expected),
                    end(actual)
                );
            }
            let bad: Vec<String> = expected
                .iter()
                .zip(actual)
                .filter(|(e, a)| e != a)
                .map(|((r, _), _)| r.map_or_else(String::new, |(s, e)| format!("{s}..{e}")))
                .take(5)
                .collect();
            format!("bytes {} changed", bad.join(", "))
        }
    }
}

/// A whole verification: the signature, then the files.
#[derive(Debug)]
pub struct Verification {
    /// The model verified.
    pub model: PathBuf,
    /// The signature file.
    pub signature: PathBuf,
    /// Who signed, when the signature verified.
    pub signer: Option<SignerInfo>,
    /// The signed manifest, when the signature verified.
    pub manifest: Option<Manifest>,
    /// The comparison with the files on disk, when the signature verified.
    pub check: Option<Check>,
    /// Why the signature itself did not verify.
    pub failure: Option<SigningError>,
}

impl SigningError {
    /// Whether this error is a verdict on the signature (reported as a finding) rather than a
    /// failure to run (an unreadable file, a bad key file).
    #[must_use]
    pub fn is_verdict(&self) -> bool {
        matches!(
            self,
            Self::Malformed(_)
                | Self::BadSignature(_)
                | Self::WrongKey(_)
                | Self::Untrusted(_)
                | Self::WrongIdentity(_)
                | Self::Transparency(_)
        )
    }

    /// The rule a verdict is reported under.
    #[must_use]
    pub fn rule_id(&self) -> &'static str {
        match self {
            Self::BadSignature(_) => "PV101",
            Self::WrongKey(_) => "PV102",
            Self::Untrusted(_) => "PV103",
            Self::WrongIdentity(_) => "PV104",
            Self::Transparency(_) => "PV105",
            _ => "PV106",
        }
    }
}

/// Verifies the signature at `signature` against `trust`, then the files of `model` against it.
/// Verdicts (a bad signature, a changed file) are in the result; `Err` means verification could
/// not run (the signature file or a model file could not be read).
pub fn verify(
    model: &Path,
    signature: &Path,
    trust: &Trust,
    opts: &CheckOptions,
) -> Result<Verification, SigningError> {
    let bytes = read_bounded(signature, bundle::MAX_BUNDLE)?;
    let mut v = Verification {
        model: model.to_owned(),
        signature: signature.to_owned(),
        signer: None,
        manifest: None,
        check: None,
        failure: None,
    };
    match verify_signature(&bytes, trust) {
        Ok((manifest, signer)) => {
            v.check = Some(check_model(model, signature, &manifest, opts)?);
            v.signer = Some(signer);
            v.manifest = Some(manifest);
        }
        Err(e) if e.is_verdict() => v.failure = Some(e),
        Err(e) => return Err(e),
    }
    Ok(v)
}

/// Reads a whole regular file of at most `max` bytes (see [`crate::fsread::read_regular`]); a
/// longer one is a malformed signature.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, SigningError> {
    crate::fsread::read_regular(path, max).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            SigningError::Malformed(format!("`{}` is larger than {max} bytes", path.display()))
        } else {
            SigningError::Io {
                path: path.to_owned(),
                source: e,
            }
        }
    })
}

impl Verification {
    /// Whether the model verified: a good signature and no difference at all.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.failure.is_none() && self.check.as_ref().is_some_and(|c| c.problems.is_empty())
    }

    /// The report of this verification: the model as the one target, and [`Self::findings`].
    #[must_use]
    pub fn report(&self, duration_ms: u64) -> aisec_core::Report {
        use aisec_core::{Report, Target, TargetStatus, Tool};
        let mut report = Report::new(Tool {
            name: "aisec".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            policy_version: env!("CARGO_PKG_VERSION").into(),
        });
        report.targets = vec![Target {
            path: self.model.display().to_string(),
            member: None,
            format: "model-signature".into(),
            size: self
                .check
                .as_ref()
                .map_or(0, |c| c.resources_checked as u64),
            status: TargetStatus::Analysed,
        }];
        report.findings = self.findings();
        report.duration_ms = duration_ms;
        report
    }

    /// The findings: one per problem, or one for the signature verdict; `PV100` when verified.
    #[must_use]
    pub fn findings(&self) -> Vec<aisec_core::Finding> {
        use aisec_core::{Confidence, Finding, Location, RuleId, Taxonomy};
        let model = self.model.display().to_string();
        let make = |id: &'static str,
                    member: Option<&str>,
                    message: String,
                    evidence: serde_json::Value| {
            let rule = crate::rules::rule(id).expect("every PV id is in the catalog");
            let location = Location {
                member: member.map(str::to_owned),
                ..Location::file(model.clone())
            };
            let rule_id = RuleId::new(id);
            Finding {
                fingerprint: Finding::fingerprint_of(&rule_id, &location, member.unwrap_or("")),
                rule: rule_id,
                title: rule.title.to_owned(),
                severity: rule.severity,
                confidence: Confidence::Certain,
                message,
                location,
                evidence,
                taxonomy: Taxonomy {
                    atlas: rule.atlas.iter().map(|s| (*s).to_owned()).collect(),
                    cwe: rule.cwe.iter().map(|s| (*s).to_owned()).collect(),
                    ..Taxonomy::default()
                },
                remediation: rule.remediation.to_owned(),
            }
        };
        let sig = self.signature.display().to_string();
        if let Some(e) = &self.failure {
            return vec![make(
                e.rule_id(),
                None,
                e.to_string(),
                serde_json::json!({ "signature": sig }),
            )];
        }
        let Some(check) = &self.check else {
            return Vec::new();
        };
        if check.problems.is_empty() {
            let m = self.manifest.as_ref();
            return vec![make(
                "PV100",
                None,
                format!(
                    "{} resources match the signature {sig}",
                    check.resources_checked
                ),
                serde_json::json!({
                    "signature": sig,
                    "signer": self.signer,
                    "model_name": m.map(|m| m.model_name.clone()),
                    "serialization": m.map(|m| serde_json::json!({
                        "method": match m.serialization.method { Method::Files => "files", Method::Shards(_) => "shards" },
                        "shard_size": match m.serialization.method { Method::Shards(s) => Some(s), Method::Files => None },
                        "hash_type": m.serialization.hash.name(),
                        "allow_symlinks": m.serialization.allow_symlinks,
                    })),
                    "resources": check.resources_checked,
                    "root_digest": m.map(|m| manifest::hex(&m.root_digest())),
                }),
            )];
        }
        check
            .problems
            .iter()
            .map(|p| {
                let (id, message) = match p {
                    Problem::Changed { path, detail } => ("PV110", format!("`{path}` changed since it was signed: {detail}")),
                    Problem::Missing { path } => ("PV111", format!("`{path}` is signed but missing")),
                    Problem::Extra { path } => ("PV112", format!("`{path}` is in the model but not in the signature")),
                    Problem::Symlink { path } => (
                        "PV113",
                        format!("`{path}` is a symbolic link; the model was signed with links disallowed"),
                    ),
                };
                make(id, Some(p.path()), message, serde_json::to_value(p).unwrap_or_default())
            })
            .collect()
    }
}
