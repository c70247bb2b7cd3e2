//! The three example systems under `examples/threat-models/`: their threats (rule, target,
//! score, status) and their diagrams as snapshots, the coverage matrix, and evidence linking.

use std::path::PathBuf;

use aisec_core::{Confidence, Finding, Location, RuleId, Severity, Taxonomy};
use aisec_taxonomy::Atlas;
use aisec_threatmodel::{Status, SystemModel, dfd, evaluate, report, rules};

fn example(name: &str) -> SystemModel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/threat-models")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    SystemModel::from_yaml(&text, &format!("examples/threat-models/{name}")).unwrap()
}

/// One line per threat: what the snapshots hold.
fn summary(model: &SystemModel, evidence: &[Finding]) -> String {
    let rules = rules::builtin().unwrap();
    evaluate(model, &rules, evidence)
        .iter()
        .map(|t| {
            format!(
                "{} {:<14} {:>2} {:<8} {:<9} {}",
                t.rule,
                t.target,
                t.score,
                t.severity.to_string(),
                t.status.name(),
                t.title
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rag_support_chatbot() {
    let m = example("rag-support-chatbot.yaml");
    insta::assert_snapshot!("rag_threats", summary(&m, &[]));
    insta::assert_snapshot!("rag_mermaid", dfd::mermaid(&m));
    insta::assert_snapshot!("rag_dot", dfd::dot(&m));
}

#[test]
fn fraud_scoring_pipeline() {
    let m = example("fraud-scoring-pipeline.yaml");
    insta::assert_snapshot!("fraud_threats", summary(&m, &[]));
    insta::assert_snapshot!("fraud_mermaid", dfd::mermaid(&m));
}

#[test]
fn autonomous_coding_agent() {
    let m = example("autonomous-coding-agent.yaml");
    insta::assert_snapshot!("agent_threats", summary(&m, &[]));
    insta::assert_snapshot!("agent_mermaid", dfd::mermaid(&m));
}

fn finding(rule: &str, path: &str) -> Finding {
    let id = RuleId::new(rule);
    let location = Location::file(path);
    Finding {
        fingerprint: Finding::fingerprint_of(&id, &location, ""),
        rule: id,
        title: format!("{rule} finding"),
        severity: Severity::High,
        confidence: Confidence::Certain,
        message: String::new(),
        location,
        evidence: serde_json::Value::Null,
        taxonomy: Taxonomy::default(),
        remediation: String::new(),
    }
}

#[test]
fn evidence_confirms_and_mitigates() {
    let m = example("fraud-scoring-pipeline.yaml");
    let rules = rules::builtin().unwrap();
    let status = |evidence: &[Finding], rule: &str| {
        evaluate(&m, &rules, evidence)
            .into_iter()
            .find(|t| t.rule == rule)
            .unwrap()
            .status
    };
    // The unsigned model: open; a verified signature for its file mitigates it; a failed
    // verification confirms it; evidence about another file changes nothing.
    assert_eq!(status(&[], "TM101"), Status::Open);
    let verified = finding("PV100", "/srv/ml/models/fraud.joblib");
    assert!(matches!(
        status(&[verified], "TM101"),
        Status::Mitigated { .. }
    ));
    let tampered = finding("PV110", "models/fraud.joblib");
    assert!(matches!(
        status(&[tampered], "TM101"),
        Status::Confirmed { .. }
    ));
    let elsewhere = finding("PV110", "models/other.joblib");
    assert_eq!(status(&[elsewhere], "TM101"), Status::Open);
    // Extraction of the scoring endpoint, confirmed by a successful extraction attack.
    assert_eq!(status(&[], "TM120"), Status::Open);
    let stolen = finding("AT130", "scoring-api");
    let s = status(&[stolen], "TM120");
    assert!(
        matches!(&s, Status::Confirmed { findings } if findings[0].starts_with("AT130")),
        "{s:?}"
    );
    // A confirmed threat is a finding of high severity or more, with certain confidence.
    let threats = evaluate(&m, &rules, &[finding("AT130", "x")]);
    let found = report::findings(&m, &threats, &rules);
    let f = found.iter().find(|f| f.rule.as_str() == "TM120").unwrap();
    assert!(f.severity >= Severity::High && f.confidence == Confidence::Certain);
    assert_eq!(f.location.member.as_deref(), Some("scoring"));
    assert!(f.location.line.unwrap() > 1);
}

#[test]
fn accepted_and_mitigated_threats_are_not_findings() {
    let m = example("rag-support-chatbot.yaml");
    let rules = rules::builtin().unwrap();
    let threats = evaluate(&m, &rules, &[]);
    let accepted = threats.iter().find(|t| t.rule == "TM141").unwrap();
    assert!(matches!(&accepted.status, Status::Accepted { reason } if reason.contains("cleared")));
    // The guardrail protects the LLM: the injection threat is mitigated by it.
    let injection = threats
        .iter()
        .find(|t| t.rule == "TM131" && t.target == "agent")
        .is_some();
    assert!(
        injection,
        "the agent reads the index and tools: indirect injection applies"
    );
    let found = report::findings(&m, &threats, &rules);
    assert!(found.iter().all(|f| f.rule.as_str() != "TM141"));
    assert_eq!(
        found.len(),
        threats
            .iter()
            .filter(|t| matches!(t.status, Status::Open | Status::Confirmed { .. }))
            .count()
    );
}

#[test]
fn the_coverage_matrix_counts_techniques_per_tactic() {
    let m = example("autonomous-coding-agent.yaml");
    let rules = rules::builtin().unwrap();
    let atlas = Atlas::builtin();
    let threats = evaluate(&m, &rules, &[]);
    let cov = report::coverage(&threats, &atlas);
    // Prompt injection (through its sub-techniques) is reached under Execution.
    assert!(
        cov.iter()
            .any(|c| c.tactic == "AML.TA0005" && c.technique == "AML.T0051")
    );
    let table = report::coverage_table(&cov, &atlas);
    assert_eq!(table.rows.len(), atlas.tactics.len());
    insta::assert_snapshot!(
        "agent_coverage",
        table
            .rows
            .iter()
            .map(|r| r.join(" | "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
