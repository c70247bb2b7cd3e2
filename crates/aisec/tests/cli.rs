//! The binary end to end: every output format on the shipped example, exit codes, typed JSON, SARIF shape.

use std::path::Path;
use std::process::Command;

use aisec_core::{Report, Severity, TargetStatus};
use common::root;

mod common;

/// `aisec` run from the workspace root, where the example paths in the snapshots are relative.
fn aisec(args: &[&str]) -> (i32, String, String) {
    common::aisec_in(&root(), args)
}

/// Durations change from run to run; everything else must not.
fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("\"duration_ms\"") {
            out.push_str("  \"duration_ms\": [DURATION],\n");
        } else if line.starts_with("Scanned ") && line.contains(" ms: ") {
            let (head, tail) = line.split_once(" in ").unwrap();
            let tail = tail.split_once(" ms: ").unwrap().1;
            out.push_str(head);
            out.push_str(" in [DURATION] ms: ");
            out.push_str(tail);
            out.push('\n');
        } else if line.trim_start().starts_with("\"version\": \"")
            && line.contains(env!("CARGO_PKG_VERSION"))
        {
            out.push_str(&line.replace(env!("CARGO_PKG_VERSION"), "[VERSION]"));
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn output_formats_on_the_example() {
    for format in ["human", "json", "sarif"] {
        let (code, stdout, _) = aisec(&["scan", "examples/models", "--format", format]);
        assert_eq!(code, 1, "findings at or above high exit 1");
        insta::assert_snapshot!(format!("scan_example_{format}"), stable(&stdout));
    }
}

#[test]
fn json_report_is_the_typed_contract() {
    let (_, stdout, _) = aisec(&["scan", "examples/models", "--format", "json"]);
    let report: Report = serde_json::from_str(&stdout)
        .expect("the JSON report deserializes into aisec_core::Report");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.location.path.starts_with("examples/models"))
    );
    let malicious: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .map(|f| f.location.path.as_str())
        .collect();
    for file in ["payload.pkl", "backdoored_model.pt", "pytorch_model.bin"] {
        assert!(
            malicious.iter().any(|p| p.ends_with(file)),
            "{file} not flagged"
        );
    }
    for file in ["resnet_tiny.pt", "classifier.joblib", "embeddings.npy"] {
        assert!(
            !malicious.iter().any(|p| p.ends_with(file)),
            "{file} flagged"
        );
    }
    let member = report
        .findings
        .iter()
        .find(|f| f.location.path.ends_with("backdoored_model.pt"))
        .unwrap();
    assert_eq!(
        member.location.member.as_deref(),
        Some("backdoored_model/data.pkl")
    );
    assert!(
        report
            .targets
            .iter()
            .all(|t| t.status == TargetStatus::Analysed
                || matches!(t.status, TargetStatus::Skipped { .. }))
    );
}

#[test]
fn sarif_has_what_code_scanning_requires() {
    let (_, stdout, _) = aisec(&["scan", "examples/models", "--format", "sarif"]);
    let log: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in run["results"].as_array().unwrap() {
        let idx = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[idx]["id"], result["ruleId"]);
        assert!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("examples/models/")
        );
        assert!(
            result["partialFingerprints"]
                .as_object()
                .is_some_and(|o| !o.is_empty())
        );
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
    }
    for rule in rules {
        assert!(rule["properties"]["security-severity"].as_str().is_some());
        assert!(
            rule["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
    }
}

#[test]
fn exit_codes() {
    let benign = "crates/aisec-modelscan/tests/fixtures/benign/torch_state_dict.pt";
    assert_eq!(aisec(&["scan", benign]).0, 0);
    assert_eq!(aisec(&["scan", "examples/models/payload.pkl"]).0, 1);
    assert_eq!(
        aisec(&["scan", "examples/models/payload.pkl", "--exit-zero"]).0,
        0
    );
    let (code, _, stderr) = aisec(&["scan", "does/not/exist"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert_eq!(aisec(&["scan", "--format", "yaml", benign]).0, 2);
}

#[test]
fn not_analysed_is_its_own_exit_code_and_never_clean() {
    let dir = tempfile::tempdir().unwrap();
    // A `.pt` file that is no format we know: not analysed, exit 3, and SARIF says so.
    let path = dir.path().join("weights.pt");
    std::fs::write(&path, b"\x00\x01garbage that is not a model").unwrap();
    let p = path.to_str().unwrap();
    let (code, stdout, _) = aisec(&["scan", p, "--format", "json"]);
    assert_eq!(code, 3);
    let report: Report = serde_json::from_str(&stdout).unwrap();
    assert!(matches!(
        report.targets[0].status,
        TargetStatus::NotAnalysed { .. }
    ));
    let (_, sarif, _) = aisec(&["scan", p, "--format", "sarif"]);
    assert!(sarif.contains("AISEC-NOT-ANALYSED"));
    let (_, human, _) = aisec(&["scan", p]);
    assert!(human.contains("Not analysed"), "{human}");
}

#[test]
fn output_file_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let (code, stdout, _) = aisec(&[
        "scan",
        "examples/models/payload.pkl",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.is_empty(),
        "stdout carries nothing when --output is given"
    );
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report.findings[0].rule.as_str(), "MS102");

    let (code, list, _) = aisec(&["rules", "list"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("rules_list", list);
    let (code, explain, _) = aisec(&["rules", "explain", "MS102"]);
    assert_eq!(code, 0);
    for section in [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## References",
        "AML.T0011.000",
        "CWE-502",
    ] {
        assert!(explain.contains(section), "missing {section}");
    }
    assert_eq!(aisec(&["rules", "explain", "MS999"]).0, 2);
}

/// The reference validators' venv (built once per target directory, shared with aisec-provenance's
/// tests: the pinned list is read relative to `pyenv.rs`).
#[path = "../../aisec-provenance/tests/support/pyenv.rs"]
#[allow(dead_code, unreachable_pub)]
mod pyenv;

fn validate_with(script: &str, file: &Path) {
    let out = Command::new(pyenv::python())
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("run the venv python");
    assert!(
        out.status.success(),
        "validator refused {}:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bom_of_the_examples_validates_and_carries_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let bom_path = dir.path().join("bom.json");
    let score_path = dir.path().join("completeness.json");
    let (code, stdout, stderr) = aisec(&[
        "bom",
        "examples/models",
        "-o",
        bom_path.to_str().unwrap(),
        "--completeness-json",
        score_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "the BOM went to the file");
    assert!(stderr.starts_with("BOM completeness: "), "{stderr}");
    assert!(
        stderr.contains("licence: model card front matter `license:`"),
        "{stderr}"
    );
    validate_with(
        r"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = list(JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read(), all_errors=True) or [])
for e in errors: print(e)
sys.exit(1 if errors else 0)
",
        &bom_path,
    );
    let bom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bom_path).unwrap()).unwrap();
    let models = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "machine-learning-model")
        .count();
    assert_eq!(models, 13, "each loose weight file is a model");
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    for file in ["payload.pkl", "backdoored_model.pt", "pytorch_model.bin"] {
        let r = format!("file:{file}");
        assert!(
            vulns.iter().any(|v| v["affects"][0]["ref"] == r.as_str()
                && ["high", "critical"].contains(&v["ratings"][0]["severity"].as_str().unwrap())),
            "{file} has no high vulnerability"
        );
    }
    let score: aisec_provenance::bom::Completeness =
        serde_json::from_slice(&std::fs::read(&score_path).unwrap()).unwrap();
    assert_eq!(score.models.len(), 13);
    assert!(score.score < 30);

    // SPDX 3 to stdout, without a scan.
    let (code, stdout, _) = aisec(&[
        "bom",
        "examples/models",
        "--format",
        "spdx3",
        "--no-scan",
        "-q",
    ]);
    assert_eq!(code, 0);
    let spdx_path = dir.path().join("bom.spdx.json");
    std::fs::write(&spdx_path, &stdout).unwrap();
    validate_with(
        r"
import io, sys
from spdx_python_model import v3_0_1 as spdx
objset = spdx.SHACLObjectSet()
with open(sys.argv[1]) as f:
    spdx.JSONLDDeserializer().read(f, objset)
missing = objset.link()
if missing: print('unresolved', sorted(missing)); sys.exit(1)
spdx.JSONLDSerializer().write(objset, io.BytesIO())
",
        &spdx_path,
    );
    assert!(!stdout.contains("security_Vulnerability"));

    let (code, _, stderr) = aisec(&["bom", "examples/models/payload.pkl"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a directory"), "{stderr}");
    let (code, _, stderr) = aisec(&["bom", "examples/models", "--model-id", "../x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--model-id takes ORG/NAME"), "{stderr}");
}
