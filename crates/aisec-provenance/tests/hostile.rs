//! Hostile and unusual inputs to signing and verification: certificate paths judged as the reference
//! judges them (`model-signing` in the pinned test venv), and files that are not files.

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

/// Any P-256 public key (the signature is never read).
const P256_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEm8v0XkpQqxhmIORRaoKRECsQkgyq\nWoLKi/L41D3/jFzxgqXnrv0GkHXXM95fYEq31SM9D3QnLyodGUH3GxhwCQ==\n-----END PUBLIC KEY-----\n";

/// Runs `f` on a thread and fails the test if it has not returned within 20 s (a hang).
fn within_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what}: no answer within 20 s (hangs)"))
}

/// A pipe where the signature or a key should be (an attacker who controls the model directory
/// controls `model.sig` in it) is refused at once, not read forever; so is a device.
#[cfg(unix)]
#[test]
fn a_fifo_or_device_for_the_signature_or_key_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("w.bin"), b"weights").unwrap();
    let fifo = m.join("model.sig");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let trust = Trust::Key(signing::PublicKey::from_pem(P256_PUB).unwrap());
    let (m2, f2) = (m.clone(), fifo.clone());
    let r = within_time("verify with a FIFO signature", move || {
        signing::verify(&m2, &f2, &trust, &CheckOptions::default()).map(|v| v.verified())
    });
    assert!(
        matches!(&r, Err(SigningError::Io { source, .. }) if source.to_string().contains("not a regular file")),
        "{r:?}"
    );
    let f3 = fifo.clone();
    let r = within_time("read a FIFO as a key", move || keys::read_pem(&f3));
    assert!(r.is_err(), "{r:?}");
    let r = within_time("read a device as a key", || {
        keys::read_pem(Path::new("/dev/zero"))
    });
    assert!(
        matches!(&r, Err(SigningError::Io { source, .. }) if source.to_string().contains("not a regular file")),
        "{r:?}"
    );
}
