//! `aisec verify` on a Sigstore keyless signature, end to end through the binary, against the
//! throwaway Sigstore instance that `aisec-provenance`'s `tests/interop/fake_sigstore.py` builds.

#[path = "../../aisec-provenance/tests/support/pyenv.rs"]
#[allow(dead_code, unreachable_pub)]
mod pyenv;

mod common;

use common::aisec;
use std::path::Path;
use std::process::Command;

const IDENTITY: &str = "signer@example.test";
const ISSUER: &str = "https://issuer.example.test";

#[test]
fn verify_keyless_accepts_the_signer_and_refuses_another_identity() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../aisec-provenance/tests/interop/fake_sigstore.py");
    let out = Command::new(pyenv::python())
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (model, good, config, root) = (
        p("model"),
        p("good.sigstore.json"),
        p("trust_config.json"),
        p("trusted_root.json"),
    );
    for trust in [&config, &root] {
        let (code, stdout, stderr) = aisec(&[
            "verify",
            &model,
            "--signature",
            &good,
            "--trust-root",
            trust,
            "--identity",
            IDENTITY,
            "--identity-provider",
            ISSUER,
        ]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("VERIFIED"), "{stdout}");
        assert!(
            stdout.contains("signed by signer@example.test via https://issuer.example.test"),
            "{stdout}"
        );
    }
    let (code, stdout, stderr) = aisec(&[
        "verify",
        &model,
        "--signature",
        &good,
        "--trust-root",
        &root,
        "--identity",
        "someone@example.test",
        "--identity-provider",
        ISSUER,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["findings"][0]["rule"], "PV104", "{stdout}");
    let (code, stdout, stderr) = aisec(&[
        "verify",
        &model,
        "--signature",
        &good,
        "--trust-root",
        &good,
        "--identity",
        IDENTITY,
        "--identity-provider",
        ISSUER,
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("cannot use the trust root"), "{stderr}");
}
