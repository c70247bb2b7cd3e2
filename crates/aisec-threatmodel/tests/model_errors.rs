//! Bad models give errors that name the line; the built-in rules load and check against the
//! taxonomies; hostile text cannot break out of the diagrams.

use aisec_threatmodel::{SystemModel, dfd, rules};

fn error(yaml: &str) -> String {
    SystemModel::from_yaml(yaml, "m.yaml")
        .unwrap_err()
        .to_string()
}

const BASE: &str =
    "system: s\nelements:\n  - id: a\n    kind: actor\n  - id: p\n    kind: process\n";

#[test]
fn errors_point_at_the_line() {
    let cases = [
        (
            format!("{BASE}    colour: red\n"),
            "m.yaml:7:",
            "unknown key `colour`",
        ),
        (
            format!("{BASE}flows:\n  - from: a\n    to: nowhere\n"),
            "m.yaml:9:",
            "no element \"nowhere\"",
        ),
        (
            "system: s\nelements:\n  - id: m\n    kind: model\n    format: exe\n".to_owned(),
            "m.yaml:5:",
            "not one of",
        ),
        (
            "system: s\nelements:\n  - id: m\n    kind: model\n    signed: yes please\n".to_owned(),
            "m.yaml:5:",
            "true or false",
        ),
        (
            "system: s\nelements:\n  - id: m\n    kind: robot\n".to_owned(),
            "m.yaml:4:",
            "unknown kind",
        ),
        (
            format!("{BASE}  - id: a\n    kind: process\n"),
            "m.yaml:7:",
            "used twice",
        ),
        (
            format!("{BASE}accepted:\n  - threat: TM100\n"),
            "m.yaml:8:",
            "reason",
        ),
        (
            "system: s\nelements:\n  - id: g\n    kind: guardrail\n    protects: [ghost]\n"
                .to_owned(),
            "m.yaml:5:",
            "no element \"ghost\"",
        ),
        ("elements: []\n".to_owned(), "m.yaml:", "`system`"),
        ("system: s\nelements: [\n".to_owned(), "m.yaml:", "YAML"),
    ];
    for (yaml, at, what) in cases {
        let e = error(&yaml);
        assert!(e.starts_with(at) && e.contains(what), "{yaml:?}: {e}");
    }
}

#[test]
fn the_builtin_rules_check_out() {
    let all = rules::builtin().unwrap();
    assert!(all.len() >= 35, "{}", all.len());
    assert!(all.iter().any(|r| r.applies.iter().any(|k| k == "flow")));
    // Every AI kind has at least one rule.
    for kind in [
        "model",
        "training-pipeline",
        "dataset",
        "feature-store",
        "vector-store",
        "llm",
        "agent",
        "tool",
        "prompt-template",
        "inference-endpoint",
    ] {
        assert!(
            all.iter().any(|r| r.applies.iter().any(|k| k == kind)),
            "{kind}"
        );
    }
    // A rule with an id the taxonomy does not know is refused.
    let mut bad = all.clone();
    bad[0].atlas.push("AML.T9999".into());
    assert!(rules::check(&bad, &aisec_taxonomy::Atlas::builtin()).is_err());
    // A control that one of the rule's kinds does not have is refused: the threat could never
    // show as mitigated there.
    let mut bad = all.clone();
    let tm205 = bad.iter_mut().find(|r| r.id == "TM205").unwrap();
    tm205.applies.push("llm".into());
    let e = rules::check(&bad, &aisec_taxonomy::Atlas::builtin()).unwrap_err();
    assert!(e.to_string().contains("not a property of a llm"), "{e}");
    // Every element that runs code gets each classic threat, and every store its own.
    for (id, kinds) in [
        (
            "TM205",
            &[
                "process",
                "tool",
                "guardrail",
                "training-pipeline",
                "inference-endpoint",
            ][..],
        ),
        (
            "TM218",
            &["datastore", "model", "dataset", "prompt-template"][..],
        ),
        (
            "TM211",
            &[
                "datastore",
                "model",
                "dataset",
                "prompt-template",
                "feature-store",
                "vector-store",
            ][..],
        ),
    ] {
        let r = all.iter().find(|r| r.id == id).unwrap();
        assert_eq!(r.applies, kinds, "{id}");
        assert!(!r.unless.is_empty() && r.control.is_some(), "{id}");
    }
}

#[test]
fn declaring_a_control_mitigates_the_threat_it_names() {
    let yaml = |controls: &str| {
        format!(
            "system: s\nboundaries: [{{id: internet}}]\nelements:\n  - {{id: u, kind: actor, boundary: internet}}\n  - {{id: p, kind: process{controls}}}\nflows:\n  - {{from: u, to: p, encrypted: true, authenticated: true}}\n"
        )
    };
    let status = |controls: &str, rule: &str| {
        let m = SystemModel::from_yaml(&yaml(controls), "m.yaml").unwrap();
        let t = aisec_threatmodel::evaluate(&m, &rules::builtin().unwrap(), &[]);
        t.iter()
            .find(|t| t.rule == rule && t.target == "p")
            .map(|t| t.status.name())
    };
    for (rule, control) in [
        ("TM202", "input_validation"),
        ("TM203", "resource_limits"),
        ("TM205", "memory_safe"),
        ("TM206", "authorization"),
        ("TM207", "least_privilege"),
        ("TM208", "authenticated"),
        ("TM213", "config_integrity"),
        ("TM216", "generic_errors"),
        ("TM201", "logging"),
    ] {
        assert_eq!(status("", rule), Some("open"), "{rule}");
        assert_eq!(
            status(&format!(", {control}: true"), rule),
            Some("mitigated"),
            "{rule}"
        );
    }
    // Web-application threats only where the process serves browsers.
    assert_eq!(status("", "TM215"), None);
    assert_eq!(status(", web_application: true", "TM215"), Some("open"));
    assert_eq!(
        status(", web_application: true, browser_protection: true", "TM215"),
        Some("mitigated")
    );
    // An element left out of scope gets no threats.
    assert_eq!(status(", out_of_scope: true", "TM205"), None);
}

#[test]
fn labels_cannot_break_the_diagram_syntax() {
    let yaml = "system: \"x\\\"];evil\"\nboundaries:\n  - id: b\n    name: \"end\\nsubgraph pwn\"\nelements:\n  - id: a\n    kind: actor\n    name: \"A\\\"]) --> n9[\\\"x\"\n    boundary: b\n  - id: p\n    kind: process\n    name: \"p|q#r\"\nflows:\n  - from: a\n    to: p\n    name: \"]|\\\" --> n0\"\n";
    let m = SystemModel::from_yaml(yaml, "m.yaml").unwrap();
    let mermaid = dfd::mermaid(&m);
    for line in mermaid.lines() {
        // Every quoted label opens and closes on its line, and no line starts a new subgraph
        // but the one for the boundary.
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
    }
    let starts = |w: &str| {
        mermaid
            .lines()
            .filter(|l| l.trim_start().starts_with(w))
            .count()
    };
    assert_eq!((starts("subgraph"), starts("end")), (1, 1), "{mermaid}");
    let dot = dfd::dot(&m);
    assert!(!dot.contains("\"x\"];evil"), "{dot}");
    assert_eq!(
        dot.lines()
            .filter(|l| l.trim_start().starts_with("subgraph"))
            .count(),
        1
    );
}
