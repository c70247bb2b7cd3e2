//! Cases found by an adversarial review of signing and verification, checked against the reference
//! implementation (`model-signing` in the pinned test venv).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aisec_provenance::signing::{self, Cert, CheckOptions, SigningError, Trust, keys};

fn interop(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script)
}

/// Certificate paths the reference (OpenSSL underneath) refuses must be refused by aisec as
/// untrusted, and those it accepts must verify: path length constraints, critical extensions a
/// verifier does not understand, name constraints, a root without basic constraints whose key
/// usage allows certificate signing.
#[test]
fn certificate_paths_get_the_reference_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(support::pyenv::python())
        .arg(interop("cert_paths.py"))
        .arg(tmp.path())
        .output()
        .expect("run cert_paths.py");
    assert!(
        out.status.success(),
        "cert_paths.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(reference.len() >= 10, "{reference:?}");
    // The script's expectations of the reference, so a change on its side is noticed.
    for (case, want_ok) in [
        ("baseline", true),
        ("root-path-length-0-one-intermediate", false),
        ("root-path-length-1-two-intermediates", false),
        ("intermediate-path-length-0-above-another", false),
        ("intermediate-path-length-0-above-the-leaf", true),
        ("leaf-unknown-critical-extension", false),
        ("root-unknown-critical-extension", false),
        ("leaf-unknown-noncritical-extension", true),
        ("root-name-constraints-violated", false),
        ("root-without-basic-constraints-may-sign-certificates", true),
        ("intermediate-without-basic-constraints", false),
    ] {
        assert_eq!(
            reference[case] == "ok",
            want_ok,
            "reference on {case}: {}",
            reference[case]
        );
    }
    let mut wrong = Vec::new();
    for (case, verdict) in &reference {
        let dir = tmp.path().join(case);
        let anchors =
            Cert::from_pem_file(&keys::read_pem(&dir.join("anchors.pem")).unwrap()).unwrap();
        let v = signing::verify(
            &dir.join("model"),
            &dir.join("sig"),
            &Trust::Certificates(anchors),
            &CheckOptions::default(),
        )
        .unwrap();
        let ok = verdict == "ok";
        let agrees = if ok {
            v.verified()
        } else {
            matches!(v.failure, Some(SigningError::Untrusted(_)))
        };
        if !agrees {
            wrong.push(format!(
                "{case}: reference says {verdict}; aisec says {:?}",
                v.failure
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
