//! `aisec sign` and `aisec verify` end to end: exit codes, output formats, what a tampered model
//! reports. (Interop with the reference implementation is tested in aisec-provenance.)

mod common;

use common::aisec;
use std::path::{Path, PathBuf};
use std::process::Command;

use aisec_core::Report;

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

/// A copy of the shipped example models.
fn example_copy(dir: &Path) -> PathBuf {
    let m = dir.join("models");
    std::fs::create_dir_all(&m).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/models");
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), m.join(e.file_name())).unwrap();
        }
    }
    m
}

#[test]
fn sign_then_verify_then_tamper() {
    let tmp = tempfile::tempdir().unwrap();
    let m = example_copy(tmp.path());
    let ms = m.to_str().unwrap();
    let (code, out, err) = aisec(&["sign", ms, "--key", &data("signer-p256.key")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(m.join("model.sig").is_file());
    assert!(out.contains("signature written to"), "{out}");

    let pubkey = data("signer-p256.pub");
    let (code, out, _) = aisec(&["verify", ms, "--public-key", &pubkey]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("VERIFIED"), "{out}");

    // JSON: one PV100 finding with the signer.
    let (code, out, _) = aisec(&["verify", ms, "--public-key", &pubkey, "--format", "json"]);
    assert_eq!(code, 0);
    let report: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule.as_str(), "PV100");
    assert_eq!(report.findings[0].evidence["signer"]["method"], "key");

    // The wrong key: exit 1, PV102.
    let (code, out, _) = aisec(&[
        "verify",
        ms,
        "--public-key",
        &data("other-p384.pub"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let report: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(report.findings[0].rule.as_str(), "PV102");

    // Tamper: one byte changed, one file added, one removed.
    let onnx = m.join("mlp.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&onnx, bytes).unwrap();
    std::fs::write(m.join("extra.pkl"), b"\x80\x04K\x01.").unwrap();
    std::fs::remove_file(m.join("model.safetensors")).unwrap();
    let (code, out, _) = aisec(&["verify", ms, "--public-key", &pubkey]);
    assert_eq!(code, 1, "{out}");
    for line in [
        "changed   mlp.onnx",
        "unsigned  extra.pkl",
        "missing   model.safetensors",
    ] {
        assert!(out.contains(line), "{line} not in:\n{out}");
    }
    let (_, out, _) = aisec(&["verify", ms, "--public-key", &pubkey, "--format", "json"]);
    let report: Report = serde_json::from_str(&out).unwrap();
    let mut rules: Vec<_> = report
        .findings
        .iter()
        .map(|f| f.rule.as_str().to_owned())
        .collect();
    rules.sort();
    assert_eq!(rules, ["PV110", "PV111", "PV112"]);
    // Unsigned files ignored: the added file is no longer reported.
    let (code, out, _) = aisec(&[
        "verify",
        ms,
        "--public-key",
        &pubkey,
        "--ignore-unsigned-files",
    ]);
    assert_eq!(code, 1);
    assert!(
        !out.contains("extra.pkl") && out.contains("mlp.onnx"),
        "{out}"
    );
    // SARIF carries the PV rules.
    let (_, out, _) = aisec(&["verify", ms, "--public-key", &pubkey, "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r["id"] == "PV110"));
}

#[test]
fn shards_blake3_and_single_files_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let m = example_copy(tmp.path());
    let ms = m.to_str().unwrap();
    let sig = tmp.path().join("shards.sig");
    let sigs = sig.to_str().unwrap();
    let (code, out, err) = aisec(&[
        "sign",
        ms,
        "--key",
        &data("signer-p256.key"),
        "--shard-size",
        "4Ki",
        "-s",
        sigs,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["algorithm"], "sha256-sharded-4096");
    assert!(summary["resources"].as_u64() > summary["files"].as_u64());
    let (code, out, _) = aisec(&[
        "verify",
        ms,
        "-s",
        sigs,
        "--public-key",
        &data("signer-p256.pub"),
    ]);
    assert_eq!(code, 0, "{out}");

    let (code, _, err) = aisec(&[
        "sign",
        ms,
        "--key",
        &data("signer-p256.key"),
        "--hash",
        "blake3",
        "-s",
        sigs,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = aisec(&[
        "verify",
        ms,
        "-s",
        sigs,
        "--public-key",
        &data("signer-p256.pub"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(blake3)"), "{out}");

    let one = m.join("mlp.onnx");
    let (code, _, err) = aisec(&[
        "sign",
        one.to_str().unwrap(),
        "--key",
        &data("signer-p256.key"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(m.join("mlp.onnx.sig").is_file());
    let (code, out, _) = aisec(&[
        "verify",
        one.to_str().unwrap(),
        "--public-key",
        &data("signer-p256.pub"),
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let m = example_copy(tmp.path());
    let ms = m.to_str().unwrap();
    // No trust given.
    let (code, _, err) = aisec(&["verify", ms]);
    assert_eq!(code, 2, "{err}");
    // Not a key.
    let (code, _, err) = aisec(&["sign", ms, "--key", &data("README.md")]);
    assert_eq!(code, 2);
    assert!(err.contains("no EC private key"), "{err}");
    // An ignore path outside the model.
    let (code, _, err) = aisec(&[
        "sign",
        ms,
        "--key",
        &data("signer-p256.key"),
        "--ignore-paths",
        "/etc",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not inside the model"), "{err}");
    // A bad shard size.
    let (code, _, _) = aisec(&[
        "sign",
        ms,
        "--key",
        &data("signer-p256.key"),
        "--shard-size",
        "0",
    ]);
    assert_eq!(code, 2);
    // A garbage signature file is a verdict (PV106), not a tool error.
    std::fs::write(m.join("model.sig"), b"{\"not\": \"a bundle\"}").unwrap();
    let (code, out, _) = aisec(&["verify", ms, "--public-key", &data("signer-p256.pub")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PV106"), "{out}");
}

#[test]
fn ignore_paths_relative_to_the_model_or_to_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let m = example_copy(tmp.path());
    std::fs::create_dir_all(m.join("logs")).unwrap();
    std::fs::write(m.join("logs/run.txt"), b"1").unwrap();
    std::fs::write(m.join("notes.txt"), b"1").unwrap();
    // From the working directory `tmp`: `models/notes.txt` (the reference CLI's reading) and
    // `logs/` (relative to the model).
    let out = Command::new(env!("CARGO_BIN_EXE_aisec"))
        .current_dir(tmp.path())
        .args([
            "sign",
            "models",
            "--key",
            &data("signer-p256.key"),
            "--format",
            "json",
        ])
        .args(["--ignore-paths", "models/notes.txt", "logs/"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ignored: Vec<&str> = summary["ignore_paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        ignored.contains(&"notes.txt") && ignored.contains(&"logs"),
        "{ignored:?}"
    );
    // The ignored files may change; the model still verifies.
    std::fs::write(m.join("logs/run.txt"), b"2").unwrap();
    std::fs::write(m.join("notes.txt"), b"2").unwrap();
    let (code, out, _) = aisec(&[
        "verify",
        m.to_str().unwrap(),
        "--public-key",
        &data("signer-p256.pub"),
    ]);
    assert_eq!(code, 0, "{out}");
}
