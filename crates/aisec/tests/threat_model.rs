//! `aisec threat-model` end to end: the built binary on the shipped examples (report formats,
//! artifacts, exit codes), and evidence from a real `aisec scan` report confirming a threat.

mod common;

use common::{aisec, root};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_examples_give_threats_tables_and_diagrams() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tm.json");
    let model = root().join("examples/threat-models/autonomous-coding-agent.yaml");
    let (code, _, err) = aisec(&[
        "threat-model",
        model.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    // Critical threats are open: the default --fail-on high fails.
    assert_eq!(code, 1, "{err}");
    let r = json(&std::fs::read_to_string(&out).unwrap());
    let findings = r["findings"].as_array().unwrap();
    assert!(findings.len() >= 15, "{}", findings.len());
    assert!(
        findings
            .iter()
            .all(|f| f["rule"].as_str().unwrap().starts_with("TM"))
    );
    let injection = findings
        .iter()
        .find(|f| f["rule"] == "TM131")
        .expect("indirect injection through fetched pages");
    assert_eq!(injection["location"]["member"], "agent");
    assert!(injection["location"]["line"].as_u64().unwrap() > 1);
    assert!(
        injection["taxonomy"]["atlas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "AML.T0051.001")
    );
    let tables: Vec<&str> = r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["threats", "atlas-coverage", "dfd-mermaid"]);
    assert_eq!(
        r["metrics"]["threat_model"]["system"],
        "Autonomous coding agent"
    );
    let artifacts = dir.path().join("tm-artifacts");
    let mermaid = std::fs::read_to_string(artifacts.join("dfd.mmd")).unwrap();
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(
        std::fs::read_to_string(artifacts.join("dfd.dot"))
            .unwrap()
            .starts_with("digraph")
    );

    // SARIF carries the TM rules; --exit-zero succeeds.
    let (code, sarif, err) = aisec(&[
        "threat-model",
        model.to_str().unwrap(),
        "--format",
        "sarif",
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let s = json(&sarif);
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "TM142"));
    assert!(!s["runs"][0]["results"].as_array().unwrap().is_empty());
}

#[test]
fn a_scan_report_confirms_the_code_on_load_threat() {
    let dir = tempfile::tempdir().unwrap();
    let pickle = root().join("examples/models/payload.pkl");
    let scan = dir.path().join("scan.json");
    let (_, _, err) = aisec(&[
        "scan",
        pickle.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        scan.to_str().unwrap(),
    ]);
    assert!(scan.is_file(), "{err}");
    let model = dir.path().join("m.yaml");
    std::fs::write(
        &model,
        "system: Pickle demo\nelements:\n  - id: svc\n    kind: process\n  - id: clf\n    kind: model\n    format: pickle\n    source: public-hub\n    path: examples/models/payload.pkl\nflows:\n  - from: clf\n    to: svc\n",
    )
    .unwrap();
    let run = |evidence: bool| {
        let mut args = vec![
            "threat-model",
            model.to_str().unwrap(),
            "--format",
            "json",
            "--exit-zero",
        ];
        if evidence {
            args.extend(["--evidence", scan.to_str().unwrap()]);
        }
        let (code, out, err) = aisec(&args);
        assert_eq!(code, 0, "{err}");
        json(&out)
    };
    let status = |r: &Value| {
        r["metrics"]["threat_model"]["threat_list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["rule"] == "TM100")
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&run(false))["status"], "open");
    let confirmed = status(&run(true));
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert!(
        confirmed["findings"][0].as_str().unwrap().starts_with("MS"),
        "{confirmed}"
    );

    // A model with an error names the line.
    std::fs::write(
        &model,
        "system: x\nelements:\n  - id: m\n    kind: model\n    format: exe\n",
    )
    .unwrap();
    let (code, _, err) = aisec(&["threat-model", model.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("m.yaml:5:"), "{err}");
}
