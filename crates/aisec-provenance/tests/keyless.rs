//! Keyless (Sigstore) verification against a throwaway Sigstore instance built by
//! `tests/interop/fake_sigstore.py`: a Fulcio-like CA whose signing certificate carries an SCT, a
//! Rekor-like log with an inclusion promise, a Merkle inclusion proof and a signed checkpoint.
//!
//! The reference (`model_signing verify sigstore --trust_config`) must accept the good signature
//! and refuse every tampered one, which shows the instance is coherent; then aisec must agree,
//! naming the right rule. Further tampering done here (edited log fields, trimmed trust roots) needs
//! no reference. Sigstore's production trust roots, read from the venv's `sigstore` package, must
//! load.

#[path = "support/pyenv.rs"]
#[allow(dead_code, unreachable_pub, clippy::incompatible_msrv)]
mod pyenv;

use std::path::{Path, PathBuf};
use std::process::Command;

use aisec_provenance::signing::keyless::{KeylessInfo, KeylessPolicy};
use aisec_provenance::signing::trustroot::TrustRoot;
use aisec_provenance::signing::{self, CheckOptions, SignerInfo, SigningError, Trust};
use serde_json::Value;

/// A fresh instance, in a directory removed when it drops.
struct Fake(tempfile::TempDir);

fn instance() -> Fake {
    {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(pyenv::python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/fake_sigstore.py"))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fake_sigstore.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Fake(dir)
    }
}

impl Fake {
    fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn facts(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.join("facts.json")).unwrap()).unwrap()
    }

    fn policy(&self, root_file: &str, identity: &str, issuer: &str) -> KeylessPolicy {
        KeylessPolicy::from_trust_root_file(&self.join(root_file), identity, issuer).unwrap()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.join(&format!("{name}.sigstore.json"))).unwrap()
    }
}

const IDENTITY: &str = "signer@example.test";
const ISSUER: &str = "https://issuer.example.test";

/// Every tampered signature the script writes, with the rule aisec must report and words its
/// message must hold.
const VARIANTS: &[(&str, &str, &str)] = &[
    (
        "edited-payload",
        "PV101",
        "payload or the signature was altered",
    ),
    ("other-body", "PV105", "the entry records another statement"),
    ("other-signature", "PV105", "not the envelope's signature"),
    (
        "other-verifier",
        "PV105",
        "not the bundle's signing certificate",
    ),
    (
        "untrusted-ca",
        "PV103",
        "does not chain to a trusted certificate",
    ),
    ("forged-sct", "PV103", "does not verify with its key"),
    (
        "not-code-signing",
        "PV103",
        "lacks extended key usage codeSigning",
    ),
    ("unknown-set-key", "PV105", "inclusion promise"),
    ("late", "PV103", "but the log integrated the signature at"),
    (
        "bad-proof",
        "PV105",
        "inclusion proof: the audit path leads to root",
    ),
    (
        "bad-checkpoint",
        "PV105",
        "does not verify with the log's key",
    ),
];

fn reference_verify(dir: &Fake, sig: &str, identity: &str, issuer: &str) -> (bool, String) {
    let out = Command::new(pyenv::script("model_signing"))
        .args(["verify", "sigstore"])
        .arg(dir.join("model"))
        .arg("--signature")
        .arg(dir.join(&format!("{sig}.sigstore.json")))
        .args(["--identity", identity, "--identity_provider", issuer])
        .arg("--trust_config")
        .arg(dir.join("trust_config.json"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Verification succeeded"),
        text,
    )
}

fn verify_bytes(bundle: &[u8], policy: KeylessPolicy) -> Result<KeylessInfo, SigningError> {
    match signing::verify_signature(bundle, &Trust::Keyless(Box::new(policy)))? {
        (_, SignerInfo::Keyless(k)) => Ok(k),
        (_, other) => panic!("not a keyless signer: {other:?}"),
    }
}

fn expect_failure(r: Result<KeylessInfo, SigningError>, rule: &str, words: &str, what: &str) {
    match r {
        Ok(k) => panic!("{what}: verified ({k:?})"),
        Err(e) => {
            assert!(e.is_verdict(), "{what}: not a verdict: {e}");
            assert_eq!(e.rule_id(), rule, "{what}: {e}");
            assert!(
                e.to_string().contains(words),
                "{what}: `{e}` lacks `{words}`"
            );
        }
    }
}

#[test]
fn the_reference_accepts_the_fake_instance_and_refuses_every_tampered_signature() {
    let fx = instance();
    let (ok, text) = reference_verify(&fx, "good", IDENTITY, ISSUER);
    assert!(ok, "the reference refused the good signature: {text}");
    for (variant, _, _) in VARIANTS {
        let (ok, text) = reference_verify(&fx, variant, IDENTITY, ISSUER);
        assert!(!ok, "the reference accepted `{variant}`: {text}");
    }
    let (ok, text) = reference_verify(&fx, "good", "someone@example.test", ISSUER);
    assert!(!ok && text.contains("SANs do not match"), "{text}");
    let (ok, text) = reference_verify(&fx, "good", IDENTITY, "https://other.example.test");
    assert!(!ok && text.contains("OIDCIssuer does not match"), "{text}");
    let mut listed: Vec<&str> = VARIANTS.iter().map(|v| v.0).collect();
    listed.push("good");
    listed.sort_unstable();
    let written: Vec<String> = serde_json::from_value(fx.facts()["variants"].clone()).unwrap();
    assert_eq!(listed, written, "every variant the script writes is tested");
}

#[test]
fn aisec_verifies_the_model_with_a_trusted_root_or_a_client_trust_config() {
    let fx = instance();
    let facts = fx.facts();
    for root in ["trusted_root.json", "trust_config.json"] {
        let v = signing::verify(
            &fx.join("model"),
            &fx.join("good.sigstore.json"),
            &Trust::Keyless(Box::new(fx.policy(root, IDENTITY, ISSUER))),
            &CheckOptions::default(),
        )
        .unwrap();
        assert!(v.failure.is_none(), "{root}: {:?}", v.failure);
        assert!(v.verified(), "{root}: {:?}", v.check);
        assert_eq!(v.check.as_ref().unwrap().resources_checked, 2);
        let Some(SignerInfo::Keyless(k)) = &v.signer else {
            panic!("{:?}", v.signer)
        };
        assert_eq!(k.identity, IDENTITY);
        assert_eq!(k.issuer, ISSUER);
        assert_eq!(k.log_index, facts["log_index"].as_i64().unwrap());
        assert_eq!(
            k.integrated_time,
            facts["integrated_time"].as_i64().unwrap()
        );
        assert_eq!(
            k.cert_serial.trim_start_matches('0'),
            facts["cert_serial"].as_str().unwrap()
        );
        assert_eq!(k.log, "https://rekor.example.test");
        assert_eq!(k.certificate_authority, "https://fulcio.example.test");
        let f = v.findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule.as_str(), "PV100");
    }
}

#[test]
fn aisec_refuses_every_tampered_signature_under_the_right_rule() {
    let fx = instance();
    for (variant, rule, words) in VARIANTS {
        let r = verify_bytes(
            &fx.read(variant),
            fx.policy("trust_config.json", IDENTITY, ISSUER),
        );
        expect_failure(r, rule, words, variant);
    }
}

#[test]
fn another_identity_or_issuer_is_refused_naming_what_the_certificate_says() {
    let fx = instance();
    let r = verify_bytes(
        &fx.read("good"),
        fx.policy("trusted_root.json", "someone@example.test", ISSUER),
    );
    expect_failure(r, "PV104", "issued to `signer@example.test`", "identity");
    let r = verify_bytes(
        &fx.read("good"),
        fx.policy("trusted_root.json", IDENTITY, "https://other.example.test"),
    );
    expect_failure(
        r,
        "PV104",
        "issued for OIDC issuer `https://issuer.example.test`",
        "issuer",
    );
}

#[test]
fn a_model_changed_after_keyless_signing_is_reported_file_by_file() {
    let fx = instance();
    let src = fx.join("model");
    let copy = tempfile::tempdir().unwrap();
    for name in ["config.json", "sub/weights.bin"] {
        std::fs::create_dir_all(copy.path().join(name).parent().unwrap()).unwrap();
        std::fs::copy(src.join(name), copy.path().join(name)).unwrap();
    }
    std::fs::write(copy.path().join("config.json"), b"{}\n").unwrap();
    let v = signing::verify(
        copy.path(),
        &fx.join("good.sigstore.json"),
        &Trust::Keyless(Box::new(fx.policy("trusted_root.json", IDENTITY, ISSUER))),
        &CheckOptions::default(),
    )
    .unwrap();
    assert!(v.failure.is_none(), "{:?}", v.failure);
    assert!(!v.verified());
    let rules: Vec<String> = v
        .findings()
        .iter()
        .map(|f| f.rule.as_str().to_owned())
        .collect();
    assert_eq!(rules, ["PV110"]);
}

/// The good bundle with its log entry edited by `f`.
fn edited_entry(fx: &Fake, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut b: Value = serde_json::from_slice(&fx.read("good")).unwrap();
    f(&mut b["verificationMaterial"]["tlogEntries"][0]);
    serde_json::to_vec(&b).unwrap()
}

/// The trust root edited by `f`, written beside the instance, as a policy.
fn edited_root(fx: &Fake, name: &str, f: impl FnOnce(&mut Value)) -> KeylessPolicy {
    let mut r: Value =
        serde_json::from_slice(&std::fs::read(fx.join("trusted_root.json")).unwrap()).unwrap();
    f(&mut r);
    let path = fx.join(&format!("root-{name}.json"));
    std::fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();
    KeylessPolicy::from_trust_root_file(&path, IDENTITY, ISSUER).unwrap()
}

#[test]
fn edited_log_fields_break_what_the_log_signed() {
    let fx = instance();
    let good_policy = || fx.policy("trusted_root.json", IDENTITY, ISSUER);
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "log index",
            edited_entry(&fx, |e| e["logIndex"] = "7".into()),
            "PV105",
            "inclusion promise",
        ),
        (
            "integrated time",
            edited_entry(&fx, |e| {
                let t: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
                e["integratedTime"] = (t + 1).to_string().into();
            }),
            "PV105",
            "inclusion promise",
        ),
        (
            "tree size",
            edited_entry(&fx, |e| e["inclusionProof"]["treeSize"] = "10".into()),
            "PV105",
            "inclusion proof",
        ),
        (
            "proof index",
            edited_entry(&fx, |e| e["inclusionProof"]["logIndex"] = "3".into()),
            "PV105",
            "inclusion proof",
        ),
        (
            "no checkpoint",
            edited_entry(&fx, |e| {
                e["inclusionProof"]
                    .as_object_mut()
                    .unwrap()
                    .remove("checkpoint");
            }),
            "PV105",
            "no checkpoint",
        ),
        (
            "no inclusion proof",
            edited_entry(&fx, |e| {
                e.as_object_mut().unwrap().remove("inclusionProof");
            }),
            "PV105",
            "no inclusion proof",
        ),
        (
            "no inclusion promise",
            edited_entry(&fx, |e| {
                e.as_object_mut().unwrap().remove("inclusionPromise");
            }),
            "PV105",
            "no integrated time with an inclusion promise",
        ),
        (
            "Rekor v2 kind",
            edited_entry(&fx, |e| {
                e["kindVersion"] = serde_json::json!({"kind": "hashedrekord", "version": "0.0.2"});
            }),
            "PV105",
            "Rekor v2",
        ),
        (
            "another log",
            edited_entry(&fx, |e| {
                e["logId"]["keyId"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
            }),
            "PV105",
            "not in the trust root",
        ),
        (
            "two entries",
            {
                let mut b: Value = serde_json::from_slice(&fx.read("good")).unwrap();
                let e = b["verificationMaterial"]["tlogEntries"][0].clone();
                b["verificationMaterial"]["tlogEntries"]
                    .as_array_mut()
                    .unwrap()
                    .push(e);
                serde_json::to_vec(&b).unwrap()
            },
            "PV106",
            "exactly one transparency-log entry",
        ),
    ];
    for (what, bundle, rule, words) in cases {
        expect_failure(verify_bytes(&bundle, good_policy()), rule, words, what);
    }
}

#[test]
fn a_trust_root_without_the_right_entries_refuses_the_signature() {
    let fx = instance();
    let t: i64 = fx.facts()["integrated_time"].as_i64().unwrap();
    let later = |t: i64| {
        let d = time_str(t);
        serde_json::json!({ "start": d })
    };
    let cases: Vec<(&str, KeylessPolicy, &str, &str)> = vec![
        (
            "no CT log",
            edited_root(&fx, "no-ct", |r| r["ctlogs"] = serde_json::json!([])),
            "PV103",
            "no SCT verifies",
        ),
        (
            "CA not yet valid",
            edited_root(&fx, "ca-later", |r| {
                r["certificateAuthorities"][0]["validFor"] = later(t + 60);
            }),
            "PV103",
            "no certificate authority of the trust root was valid",
        ),
        (
            "log key not yet valid",
            edited_root(&fx, "log-later", |r| {
                r["tlogs"][0]["publicKey"]["validFor"] = later(t + 60);
            }),
            "PV105",
            "may be trusted from",
        ),
        (
            "CT log not yet valid",
            edited_root(&fx, "ct-later", |r| {
                r["ctlogs"][0]["publicKey"]["validFor"] = later(t + 3600);
            }),
            "PV103",
            "outside the log's validity",
        ),
        (
            "log key of another type",
            edited_root(&fx, "log-ed25519", |r| {
                r["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_ED25519".into();
            }),
            "PV105",
            "is not supported",
        ),
    ];
    for (what, policy, rule, words) in cases {
        expect_failure(verify_bytes(&fx.read("good"), policy), rule, words, what);
    }
}

fn time_str(t: i64) -> String {
    aisec_provenance::signing::trustroot::format_time(t)
}

fn production_roots() -> Vec<PathBuf> {
    let lib = pyenv::venv().join("lib");
    let mut found = Vec::new();
    for py in std::fs::read_dir(&lib).unwrap() {
        let store = py.unwrap().path().join("site-packages/sigstore/_store");
        if let Ok(dirs) = std::fs::read_dir(&store) {
            for d in dirs {
                let p = d.unwrap().path().join("trusted_root.json");
                if p.is_file() {
                    found.push(p);
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn sigstores_own_trust_roots_load_and_do_not_trust_the_fake_instance() {
    let fx = instance();
    let roots = production_roots();
    assert!(
        roots.len() >= 2,
        "the sigstore package ships its production and staging trust roots: {roots:?}"
    );
    for path in roots {
        let root = TrustRoot::from_file(&path).unwrap();
        assert!(!root.certificate_authorities.is_empty(), "{path:?}");
        assert!(
            root.certificate_authorities
                .iter()
                .all(|ca| !ca.certs.is_empty() && ca.valid_for.start.is_some()),
            "{path:?}"
        );
        assert!(root.tlogs.iter().any(|l| l.key.is_ok()), "{path:?}");
        assert!(root.ctlogs.iter().any(|l| l.key.is_ok()), "{path:?}");
        for l in root.tlogs.iter().chain(&root.ctlogs) {
            assert_eq!(l.log_id.len(), 32, "{}", l.base_url);
            if l.key.is_ok() {
                // The declared log ID is the hash of the key.
                let unnamed = aisec_provenance::signing::trustroot::LogInstance {
                    log_id: Vec::new(),
                    ..l.clone()
                };
                assert!(unnamed.is(&l.log_id), "{}", l.base_url);
            }
        }
        let policy = KeylessPolicy::from_trust_root_file(&path, IDENTITY, ISSUER).unwrap();
        expect_failure(
            verify_bytes(&fx.read("good"), policy),
            "PV103",
            "does not chain to a trusted certificate",
            &path.display().to_string(),
        );
    }
}
