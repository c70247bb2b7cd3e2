//! `aisec threat-model` end to end: the built binary on the shipped examples (report formats,
//! artifacts, exit codes), and evidence from a real `aisec scan` report confirming a threat.

mod common;

use std::path::Path;

use common::{aisec, chromium, rgba, root};
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

#[test]
fn a_threat_dragon_model_is_analysed_converted_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let td = root().join("examples/threat-models/threat-dragon/payments-portal.json");
    let (yaml, back, out) = (
        dir.path().join("m.yaml"),
        dir.path().join("td.json"),
        dir.path().join("r.json"),
    );
    let (code, _, err) = aisec(&[
        "threat-model",
        td.to_str().unwrap(),
        "--to-yaml",
        yaml.to_str().unwrap(),
        "--threat-dragon",
        back.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&std::fs::read_to_string(&out).unwrap());
    let from_td = r["findings"].as_array().unwrap().len();
    assert!(from_td > 5, "{from_td}");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["location"]["member"] == "checkout-web-app")
    );
    // Threats recorded in Threat Dragon that are still open are findings, with their severity.
    let mut recorded: Vec<(&str, &str)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "TM001")
        .map(|f| {
            (
                f["title"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    recorded.sort_unstable();
    assert_eq!(
        recorded,
        [
            ("Session cookie theft", "high"),
            ("TLS downgrade", "medium")
        ]
    );
    // The export carries the rules' threats and every cell of the original.
    let exported = json(&std::fs::read_to_string(&back).unwrap());
    let original = json(&std::fs::read_to_string(&td).unwrap());
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["detail"]["diagrams"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["cells"].as_array().unwrap())
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&exported), ids(&original));
    assert!(exported.to_string().contains("\"ruleId\":\"TM"));
    // The artifact beside the report is the same export.
    assert_eq!(
        json(&std::fs::read_to_string(dir.path().join("r-artifacts/threat-dragon.json")).unwrap()),
        exported
    );
    // The YAML it wrote is an aisec model giving the same findings.
    let (code, _, err) = aisec(&[
        "threat-model",
        yaml.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(r["findings"].as_array().unwrap().len(), from_td);
}

#[test]
fn the_data_flow_diagram_renders_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tm.json");
    let model = root().join("examples/threat-models/rag-support-chatbot.yaml");
    let (code, _, err) = aisec(&[
        "threat-model",
        model.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let svg = dir.path().join("tm-artifacts/dfd.svg");
    assert!(
        svg.exists(),
        "dfd.svg not written: Graphviz's `dot` is needed (.ci/run installs graphviz)"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg"));
    // The diagram scaled to the window, as a report page shows it.
    let page = dir.path().join("tm-artifacts/dfd.html");
    std::fs::write(
        &page,
        "<!doctype html><body style=\"margin:0;background:#fff\"><img src=\"dfd.svg\" style=\"width:100%\"></body>",
    )
    .unwrap();
    let shot = dir.path().join("dfd.png");
    let profile = dir.path().join("profile");
    let status = common::headless(&browser, &profile, 1600, 1200)
        .arg("--disable-quic")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Kept for a person to look at.
    std::fs::copy(
        &shot,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dfd-screenshot.png"),
    )
    .unwrap();
    let (w, h, px) = rgba(&shot);
    assert_eq!((w, h), (1600, 1200));
    let near = |p: &[u8; 4], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) <= 6);
    // Ink: the boxes, labels and arrows (dark pixels), the AI elements' fill, the red dashes of
    // the untrusted boundaries.
    let dark = px
        .iter()
        .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
        .count();
    let ai_fill = px.iter().filter(|p| near(p, [0xea, 0xf2, 0xfb])).count();
    let red = px
        .iter()
        .filter(|p| p[0] > 150 && p[1] < 120 && p[2] < 120)
        .count();
    assert!(dark > 2_000, "dark pixels: {dark}");
    assert!(ai_fill > 5_000, "AI element fill pixels: {ai_fill}");
    assert!(red > 50, "red (untrusted boundary) pixels: {red}");
    // The whole diagram is drawn: ink reaches across the page.
    let columns: Vec<u32> = px
        .iter()
        .enumerate()
        .filter(|(_, p)| p[0] < 80 && p[1] < 80 && p[2] < 80)
        .map(|(i, _)| i as u32 % w)
        .collect();
    let (left, right) = (columns.iter().min().unwrap(), columns.iter().max().unwrap());
    assert!(right - left > w * 3 / 4, "ink from x={left} to x={right}");
}
