//! Interop with the reference implementation (`model-signing` from PyPI, in the pinned test venv):
//! bundles it makes verify in aisec, bundles aisec makes verify in it, and tampered copies fail in
//! both with the right verdict.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aisec_provenance::signing::{
    self, Cert, CheckOptions, HashAlg, HashOptions, Method, PrivateKey, Problem, PublicKey,
    SignWith, SigningError, Trust, keys,
};

/// The reference driver script.
fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ms_driver.py")
}

fn py(args: &[&str]) -> String {
    let out = Command::new(support::pyenv::python())
        .arg(driver())
        .args(args)
        .output()
        .expect("run the reference driver");
    assert!(
        out.status.success(),
        "driver {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Keys and certificates made once by the reference side (Python `cryptography`).
fn keydir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("signing-keys-{}", std::process::id()));
        py(&["keys", dir.to_str().unwrap()]);
        dir
    })
}

fn read(p: &Path) -> String {
    keys::read_pem(p).unwrap()
}

/// A model with the layouts that break naive implementations: `a/b` vs `a-b` vs `a.b` (component
/// order), a file cut into more than ten shards (numeric order), empty files, git metadata.
fn model(root: &Path) -> PathBuf {
    let m = root.join("tiny-model");
    let put = |rel: &str, data: &[u8]| {
        let p = m.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    let bytes = |n: usize, seed: u8| {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<_>>()
    };
    put("a/b", &bytes(5000, 1));
    put("a-b", &bytes(10, 2));
    put("a.b", b"");
    put("sub/deep/weights.bin", &bytes(25_000, 3));
    put("config.json", br#"{"model_type": "tiny"}"#);
    put("empty.txt", b"");
    put(".git/HEAD", b"ref: refs/heads/main\n");
    put(".gitignore", b"*.tmp\n");
    m
}

fn mode_key(mode: &str) -> &'static str {
    match mode {
        "key-files-sha256" | "key-shards-blake2-777" => "p256",
        "key-shards-sha256-1000" => "p384",
        "key-files-blake3" => "p521",
        _ => unreachable!(),
    }
}

fn trust_for(mode: &str) -> Trust {
    let kd = keydir();
    if mode.starts_with("cert-") {
        Trust::Certificates(Cert::from_pem_file(&read(&kd.join("root.pem"))).unwrap())
    } else {
        Trust::Key(PublicKey::from_pem(&read(&kd.join(format!("{}.pub", mode_key(mode))))).unwrap())
    }
}

fn options_for(mode: &str) -> HashOptions {
    let (method, hash) = match mode {
        "key-files-sha256" | "cert-files-sha256" => (Method::Files, HashAlg::Sha256),
        "key-shards-sha256-1000" => (Method::Shards(1000), HashAlg::Sha256),
        "key-files-blake3" => (Method::Files, HashAlg::Blake3),
        "key-shards-blake2-777" => (Method::Shards(777), HashAlg::Blake2b),
        _ => unreachable!(),
    };
    HashOptions {
        method,
        hash,
        ..HashOptions::default()
    }
}

fn signer_for(mode: &str) -> SignWith {
    let kd = keydir();
    if mode.starts_with("cert-") {
        let mut chain = Cert::from_pem_file(&read(&kd.join("leaf.pem"))).unwrap();
        chain.extend(Cert::from_pem_file(&read(&kd.join("intermediate.pem"))).unwrap());
        SignWith::Certificate {
            key: PrivateKey::from_pem(&read(&kd.join("leaf.key")), None).unwrap(),
            chain,
        }
    } else {
        SignWith::Key(
            PrivateKey::from_pem(&read(&kd.join(format!("{}.key", mode_key(mode)))), None).unwrap(),
        )
    }
}

const MODES: [&str; 5] = [
    "key-files-sha256",
    "key-shards-sha256-1000",
    "key-files-blake3",
    "key-shards-blake2-777",
    "cert-files-sha256",
];

fn aisec_verify(
    model: &Path,
    sig: &Path,
    trust: &Trust,
    opts: &CheckOptions,
) -> signing::Verification {
    signing::verify(model, sig, trust, opts).expect("verification runs")
}

fn problems(v: &signing::Verification) -> Vec<Problem> {
    assert!(v.failure.is_none(), "signature failed: {:?}", v.failure);
    v.check.as_ref().unwrap().problems.clone()
}

/// Every way of tampering with the model itself, checked by both verifiers.
fn tamper_files(model: &Path, sig: &Path, mode: &str, trust: &Trust, ours_signed: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let kd = keydir().to_str().unwrap().to_owned();
    let copy = |name: &str| {
        let dst = tmp.path().join(name).join("tiny-model");
        copy_dir(model, &dst);
        dst
    };
    let reference_raw = |m: &Path| {
        py(&[
            "verify",
            mode,
            m.to_str().unwrap(),
            sig.to_str().unwrap(),
            &kd,
        ])
    };
    // The reference cannot verify its own shard bundles (it reads back `shard_size` as a float and
    // fails with a TypeError); it verifies ours. Where it cannot verify the untouched model, its
    // verdict on a tampered copy says nothing, so it is only asked where it verifies the original.
    let reference_works = reference_raw(model) == "ok";
    assert!(
        reference_works || (!ours_signed && mode.contains("shards")),
        "{mode}: the reference refused the untouched model"
    );
    let reference = |m: &Path| {
        if reference_works {
            reference_raw(m)
        } else {
            "FAIL: (reference cannot verify this mode) sub/extra.pkl a/b".to_owned()
        }
    };

    // One byte changed.
    let m = copy("byte");
    let p = m.join("sub/deep/weights.bin");
    let mut data = std::fs::read(&p).unwrap();
    data[12_345] ^= 1;
    std::fs::write(&p, data).unwrap();
    let got = problems(&aisec_verify(&m, sig, trust, &CheckOptions::default()));
    assert!(
        matches!(got.as_slice(), [Problem::Changed { path, detail }] if path == "sub/deep/weights.bin" && (mode.contains("files") || detail.contains("12000..13000") || detail.contains("11655..12432"))),
        "{mode}: {got:?}"
    );
    assert!(
        reference(&m).starts_with("FAIL"),
        "{mode}: the reference accepted a changed byte"
    );

    // A file added.
    let m = copy("added");
    std::fs::write(m.join("sub/extra.pkl"), b"\x80\x04K\x01.").unwrap();
    let got = problems(&aisec_verify(&m, sig, trust, &CheckOptions::default()));
    assert_eq!(
        got,
        [Problem::Extra {
            path: "sub/extra.pkl".into()
        }],
        "{mode}"
    );
    let r = reference(&m);
    assert!(
        r.starts_with("FAIL") && r.contains("sub/extra.pkl"),
        "{mode}: {r}"
    );
    // ... accepted when unsigned files are ignored.
    let got = problems(&aisec_verify(
        &m,
        sig,
        trust,
        &CheckOptions {
            ignore_unsigned: true,
            ..CheckOptions::default()
        },
    ));
    assert!(got.is_empty(), "{mode}: {got:?}");

    // A file removed.
    let m = copy("removed");
    std::fs::remove_file(m.join("a/b")).unwrap();
    let got = problems(&aisec_verify(&m, sig, trust, &CheckOptions::default()));
    assert_eq!(got, [Problem::Missing { path: "a/b".into() }], "{mode}");
    let r = reference(&m);
    assert!(r.starts_with("FAIL") && r.contains("a/b"), "{mode}: {r}");
    let got = problems(&aisec_verify(
        &m,
        sig,
        trust,
        &CheckOptions {
            ignore_unsigned: true,
            ..CheckOptions::default()
        },
    ));
    assert_eq!(got, [Problem::Missing { path: "a/b".into() }], "{mode}");
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// Re-encodes the bundle with an edited statement (the signature left as it was).
fn edit_payload(sig: &Path, out: &Path, edit: impl Fn(String) -> String) {
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(sig).unwrap()).unwrap();
    let env = b.get_mut("dsseEnvelope").unwrap();
    let payload = signing::bundle::b64decode(env["payload"].as_str().unwrap()).unwrap();
    let edited = edit(String::from_utf8(payload).unwrap());
    env["payload"] = signing::bundle::b64encode(edited.as_bytes()).into();
    std::fs::write(out, serde_json::to_vec(&b).unwrap()).unwrap();
}

fn tamper_signature(model: &Path, sig: &Path, mode: &str, trust: &Trust) {
    let tmp = tempfile::tempdir().unwrap();
    let kd = keydir().to_str().unwrap().to_owned();
    let reference = |s: &Path| {
        py(&[
            "verify",
            mode,
            model.to_str().unwrap(),
            s.to_str().unwrap(),
            &kd,
        ])
    };
    let reference_works = reference(sig) == "ok";

    // An edited payload: a resource digest swapped (the subject digest recomputed would not help:
    // the signature covers the whole statement).
    let edited = tmp.path().join("edited.sig");
    edit_payload(sig, &edited, |p| {
        let i = p.find("\"digest\": \"").unwrap() + 11;
        let mut s = p.clone();
        let c = if &p[i..=i] == "0" { "1" } else { "0" };
        s.replace_range(i..=i, c);
        s
    });
    let v = aisec_verify(model, &edited, trust, &CheckOptions::default());
    assert!(
        matches!(v.failure, Some(SigningError::BadSignature(_))),
        "{mode}: {:?}",
        v.failure
    );
    assert!(!v.verified());
    assert!(
        !reference_works || reference(&edited).starts_with("FAIL"),
        "{mode}"
    );

    if mode.starts_with("cert-") {
        // Verified against a root that did not issue the chain.
        let other = Trust::Certificates(
            Cert::from_pem_file(&read(&keydir().join("other-root.pem"))).unwrap(),
        );
        let v = aisec_verify(model, sig, &other, &CheckOptions::default());
        assert!(
            matches!(v.failure, Some(SigningError::Untrusted(_))),
            "{mode}: {:?}",
            v.failure
        );
    } else {
        // The wrong key.
        let other = if mode_key(mode) == "p256" {
            "p384"
        } else {
            "p256"
        };
        let wrong =
            Trust::Key(PublicKey::from_pem(&read(&keydir().join(format!("{other}.pub")))).unwrap());
        let v = aisec_verify(model, sig, &wrong, &CheckOptions::default());
        assert!(
            matches!(v.failure, Some(SigningError::WrongKey(_))),
            "{mode}: {:?}",
            v.failure
        );
        let r = py(&[
            "verify",
            "key-files-sha256",
            model.to_str().unwrap(),
            sig.to_str().unwrap(),
            &kd,
        ]);
        if reference_works && mode_key(mode) != "p256" {
            assert!(
                r.starts_with("FAIL"),
                "{mode}: the reference accepted the wrong key"
            );
        }
    }
}

#[test]
fn bundles_made_by_the_reference_verify_in_aisec_and_tampering_fails_in_both() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let m = model(tmp.path());
        let sig = tmp.path().join(format!("{mode}.sig"));
        py(&[
            "sign",
            mode,
            m.to_str().unwrap(),
            sig.to_str().unwrap(),
            keydir().to_str().unwrap(),
        ]);
        let trust = trust_for(mode);
        let v = aisec_verify(&m, &sig, &trust, &CheckOptions::default());
        assert!(
            v.verified(),
            "{mode}: {:?} {:?}",
            v.failure,
            v.check.map(|c| c.problems)
        );
        let manifest = v.manifest.as_ref().unwrap();
        assert_eq!(manifest.model_name, "tiny-model");
        // Shards: the 25,000-byte file is cut into 25 (or 33) shards, the empty files into none.
        if let Method::Shards(size) = manifest.serialization.method {
            let n = manifest
                .resources
                .iter()
                .filter(|r| r.path == "sub/deep/weights.bin")
                .count() as u64;
            assert_eq!(n, 25_000u64.div_ceil(size), "{mode}");
            assert!(
                !manifest.resources.iter().any(|r| r.path == "a.b"),
                "{mode}"
            );
        } else {
            assert!(manifest.resources.iter().any(|r| r.path == "a.b"), "{mode}");
        }
        tamper_files(&m, &sig, mode, &trust, false);
        tamper_signature(&m, &sig, mode, &trust);
    }
}

#[test]
fn bundles_made_by_aisec_verify_in_the_reference_and_tampering_fails_in_both() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let m = model(tmp.path());
        // Inside the model, where it must leave itself out.
        let sig = m.join("model.sig");
        let signed = signing::sign(&m, &sig, &options_for(mode), &signer_for(mode)).unwrap();
        std::fs::write(&sig, &signed.bundle).unwrap();
        assert!(
            signed
                .manifest
                .serialization
                .ignore_paths
                .contains(&"model.sig".to_owned())
        );
        let r = py(&[
            "verify",
            mode,
            m.to_str().unwrap(),
            sig.to_str().unwrap(),
            keydir().to_str().unwrap(),
        ]);
        assert_eq!(r, "ok", "{mode}: the reference refused our bundle");
        let trust = trust_for(mode);
        assert!(
            aisec_verify(&m, &sig, &trust, &CheckOptions::default()).verified(),
            "{mode}"
        );
        // Outside the model too, for the tamper checks (copies of the model keep the signature out).
        let outside = tmp.path().join("outside.sig");
        std::fs::remove_file(&sig).unwrap();
        let signed = signing::sign(&m, &outside, &options_for(mode), &signer_for(mode)).unwrap();
        std::fs::write(&outside, &signed.bundle).unwrap();
        tamper_files(&m, &outside, mode, &trust, true);
        tamper_signature(&m, &outside, mode, &trust);
    }
}

#[test]
fn both_sides_order_resources_the_same_way() {
    // The same model signed by both with the same key: the statements list the same resources
    // in the same order, so the subject digests agree.
    for mode in ["key-files-sha256", "key-shards-sha256-1000"] {
        let tmp = tempfile::tempdir().unwrap();
        let m = model(tmp.path());
        let theirs = tmp.path().join("theirs.sig");
        py(&[
            "sign",
            mode,
            m.to_str().unwrap(),
            theirs.to_str().unwrap(),
            keydir().to_str().unwrap(),
        ]);
        let ours = signing::sign(
            &m,
            &tmp.path().join("ours.sig"),
            &options_for(mode),
            &signer_for(mode),
        )
        .unwrap();
        let (their_manifest, _) =
            signing::verify_signature(&std::fs::read(&theirs).unwrap(), &trust_for(mode)).unwrap();
        let names = |m: &signing::Manifest| {
            m.resources
                .iter()
                .map(signing::Resource::name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&ours.manifest), names(&their_manifest), "{mode}");
        assert_eq!(
            ours.manifest.root_digest(),
            their_manifest.root_digest(),
            "{mode}"
        );
        let payload = |b: &[u8]| {
            let b = signing::Bundle::parse(b).unwrap();
            String::from_utf8(b.signed_payload().unwrap().0).unwrap()
        };
        let theirs_text = payload(&std::fs::read(&theirs).unwrap());
        let first = if mode.contains("shards") {
            "\"a/b:0:1000\""
        } else {
            "\"a/b\""
        };
        assert!(
            theirs_text.find(first).unwrap() < theirs_text.find("\"a-b").unwrap(),
            "{mode}"
        );
    }
}

#[test]
fn a_single_file_model_is_resource_dot() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("model.safetensors");
    std::fs::write(&f, vec![7u8; 3000]).unwrap();
    let sig = tmp.path().join("model.safetensors.sig");
    let signed = signing::sign(
        &f,
        &sig,
        &HashOptions::default(),
        &signer_for("key-files-sha256"),
    )
    .unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    assert_eq!(signed.manifest.resources.len(), 1);
    assert_eq!(signed.manifest.resources[0].path, ".");
    assert_eq!(
        py(&[
            "verify",
            "key-files-sha256",
            f.to_str().unwrap(),
            sig.to_str().unwrap(),
            keydir().to_str().unwrap()
        ]),
        "ok"
    );
    std::fs::write(&f, vec![8u8; 3000]).unwrap();
    let v = aisec_verify(
        &f,
        &sig,
        &trust_for("key-files-sha256"),
        &CheckOptions::default(),
    );
    assert!(matches!(problems(&v).as_slice(), [Problem::Changed { path, .. }] if path == "."));
}

#[test]
fn a_hierarchy_under_an_rsa_root_verifies_in_both() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model(tmp.path());
    let kd = keydir();
    let mut chain = Cert::from_pem_file(&read(&kd.join("rsa-leaf.pem"))).unwrap();
    chain.extend(Cert::from_pem_file(&read(&kd.join("rsa-intermediate.pem"))).unwrap());
    let with = SignWith::Certificate {
        key: PrivateKey::from_pem(&read(&kd.join("rsa-leaf.key")), None).unwrap(),
        chain,
    };
    let sig = tmp.path().join("s.sig");
    let signed = signing::sign(&m, &sig, &HashOptions::default(), &with).unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    assert_eq!(
        py(&[
            "verify",
            "cert-rsa-root",
            m.to_str().unwrap(),
            sig.to_str().unwrap(),
            kd.to_str().unwrap()
        ]),
        "ok"
    );
    let roots = Trust::Certificates(Cert::from_pem_file(&read(&kd.join("rsa-root.pem"))).unwrap());
    assert!(aisec_verify(&m, &sig, &roots, &CheckOptions::default()).verified());
    // The EC root did not issue it.
    let v = aisec_verify(
        &m,
        &sig,
        &trust_for("cert-files-sha256"),
        &CheckOptions::default(),
    );
    assert!(
        matches!(v.failure, Some(SigningError::Untrusted(_))),
        "{:?}",
        v.failure
    );
}

#[test]
fn a_leaf_that_may_not_sign_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model(tmp.path());
    let kd = keydir();
    let mut chain = Cert::from_pem_file(&read(&kd.join("encipher.pem"))).unwrap();
    chain.extend(Cert::from_pem_file(&read(&kd.join("intermediate.pem"))).unwrap());
    let with = SignWith::Certificate {
        key: PrivateKey::from_pem(&read(&kd.join("encipher.key")), None).unwrap(),
        chain,
    };
    let err = signing::sign(
        &m,
        &tmp.path().join("s.sig"),
        &HashOptions::default(),
        &with,
    )
    .unwrap_err();
    assert!(
        matches!(err, SigningError::Untrusted(ref s) if s.contains("may not sign")),
        "{err}"
    );
}

#[test]
fn symlinks_follow_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model(tmp.path());
    std::fs::write(tmp.path().join("outside.txt"), b"outside").unwrap();
    std::os::unix::fs::symlink("../outside.txt", m.join("link.txt")).unwrap();
    let sig = tmp.path().join("s.sig");
    let with = signer_for("key-files-sha256");
    let err = signing::sign(&m, &sig, &HashOptions::default(), &with).unwrap_err();
    assert!(
        matches!(err, SigningError::Symlink(ref p) if p == "link.txt"),
        "{err}"
    );
    let opts = HashOptions {
        allow_symlinks: true,
        ..HashOptions::default()
    };
    let signed = signing::sign(&m, &sig, &opts, &with).unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    assert!(
        signed
            .manifest
            .resources
            .iter()
            .any(|r| r.path == "link.txt")
    );
    assert_eq!(
        py(&[
            "verify",
            "key-files-sha256-symlinks",
            m.to_str().unwrap(),
            sig.to_str().unwrap(),
            keydir().to_str().unwrap()
        ]),
        "ok"
    );
    // Signed without links, verified with a link added: a verdict, not an error.
    std::fs::remove_file(m.join("link.txt")).unwrap();
    let signed = signing::sign(&m, &sig, &HashOptions::default(), &with).unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    std::os::unix::fs::symlink("../outside.txt", m.join("link.txt")).unwrap();
    let v = aisec_verify(
        &m,
        &sig,
        &trust_for("key-files-sha256"),
        &CheckOptions::default(),
    );
    assert_eq!(
        problems(&v),
        [Problem::Symlink {
            path: "link.txt".into()
        }]
    );
}

#[test]
fn encrypted_pkcs8_keys_need_their_password() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(support::pyenv::python())
        .args([
            "-c",
            "import sys\nfrom cryptography.hazmat.primitives import serialization as s\nfrom cryptography.hazmat.primitives.asymmetric import ec\nk=ec.generate_private_key(ec.SECP384R1())\nsys.stdout.write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(b'hunter22')).decode())",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let pem = String::from_utf8(out.stdout).unwrap();
    assert!(pem.contains("ENCRYPTED PRIVATE KEY"));
    assert!(matches!(
        PrivateKey::from_pem(&pem, None),
        Err(SigningError::Key(_))
    ));
    assert!(matches!(
        PrivateKey::from_pem(&pem, Some(b"wrong")),
        Err(SigningError::Key(_))
    ));
    let k = PrivateKey::from_pem(&pem, Some(b"hunter22")).unwrap();
    let m = model(tmp.path());
    let sig = tmp.path().join("s.sig");
    let signed = signing::sign(&m, &sig, &HashOptions::default(), &SignWith::Key(k)).unwrap();
    std::fs::write(&sig, &signed.bundle).unwrap();
    assert!(
        signing::verify(
            &m,
            &sig,
            &Trust::Key(
                PrivateKey::from_pem(&pem, Some(b"hunter22"))
                    .unwrap()
                    .public()
            ),
            &CheckOptions::default()
        )
        .unwrap()
        .verified()
    );
}
