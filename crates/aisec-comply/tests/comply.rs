//! The catalogs, the evidence read from reports, the statuses and the ranking.

use aisec_comply::{Evidence, Frameworks, Profile, Run, State, Status, Tier, evaluate};
use aisec_core::{Confidence, Finding, Location, Report, RuleId, Severity, Target, TargetStatus};

fn report() -> Report {
    Report::new(aisec_core::Tool {
        name: "aisec".into(),
        version: "0".into(),
        policy_version: "0".into(),
    })
}

fn finding(rule: &str, severity: Severity, title: &str) -> Finding {
    Finding {
        fingerprint: rule.into(),
        rule: RuleId::new(rule),
        title: title.into(),
        severity,
        confidence: Confidence::Certain,
        message: String::new(),
        location: Location::file("x"),
        evidence: serde_json::Value::Null,
        taxonomy: aisec_core::Taxonomy::default(),
        remediation: String::new(),
    }
}

fn scanned(findings: Vec<Finding>) -> Report {
    let mut r = report();
    r.targets.push(Target {
        path: "m.pt".into(),
        member: None,
        format: "pytorch".into(),
        size: 1,
        status: TargetStatus::Analysed,
    });
    r.findings = findings;
    r
}

fn profile(text: &str) -> Profile {
    toml::from_str(text).unwrap()
}

fn status(a: &aisec_comply::Assessment, key: &str) -> Status {
    let (cat, id) = key.split_once(':').unwrap();
    a.controls
        .iter()
        .find(|c| c.catalog == cat && c.id == id)
        .unwrap_or_else(|| panic!("{key} not in the assessment"))
        .status
}

#[test]
fn builtin_catalogs_are_complete_and_consistent() {
    let fw = Frameworks::builtin();
    let count = |id: &str| {
        fw.catalogs
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .controls
            .len()
    };
    assert_eq!(count("iso42001"), 38);
    assert_eq!(count("nist-ai-rmf"), 72);
    assert_eq!(count("eu-ai-act"), 28);
    assert_eq!(count("nist-ai-600-1"), 12);
    // Every kind of evidence supports something in every framework it names, with a reason.
    for e in &fw.evidence {
        assert!(!e.supports.is_empty(), "{}", e.kind);
        for s in &e.supports {
            assert!(s.why.len() > 20, "{}: {}", e.kind, s.why);
        }
    }
}

#[test]
fn a_mapping_naming_an_unknown_control_is_refused() {
    let cat = "id = \"x\"\ntitle = \"X\"\n[[control]]\nid = \"1\"\ntitle = \"one\"\n";
    let mapping = "[[evidence]]\nkind = \"bom\"\ntitle = \"t\"\nproduced_by = \"p\"\npasses = \"q\"\n[[evidence.supports]]\ncontrols = [\"x:2\"]\nwhy = \"because\"\n";
    let err = Frameworks::from_texts(&[("x.toml", cat)], mapping).unwrap_err();
    assert!(err.to_string().contains("x:2"), "{err}");
    let dup = format!("{cat}[[control]]\nid = \"1\"\ntitle = \"again\"\n");
    let err = Frameworks::from_texts(&[("x.toml", &dup)], "evidence = []").unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn evidence_passes_fails_or_is_absent() {
    let clean = scanned(vec![]);
    let dirty = scanned(vec![finding(
        "MS101",
        Severity::Critical,
        "Pickle calls os.system",
    )]);
    let ev = Evidence::from_runs(&[Run {
        command: "scan",
        report: &clean,
    }]);
    assert!(ev.passes("scan-clean"));
    // A failing run of the same command wins over a passing one.
    let ev = Evidence::from_runs(&[
        Run {
            command: "scan",
            report: &clean,
        },
        Run {
            command: "scan",
            report: &dirty,
        },
    ]);
    match ev.get("scan-clean") {
        Some(State::Failing(d)) => assert!(d.contains("os.system"), "{d}"),
        other => panic!("{other:?}"),
    }
    // A scan of nothing is no evidence.
    let empty = report();
    let ev = Evidence::from_runs(&[Run {
        command: "scan",
        report: &empty,
    }]);
    assert!(ev.get("scan-clean").is_none());
    // A verify run with a failed signature fails; with only PV100 it passes.
    let mut bad = report();
    bad.findings
        .push(finding("PV110", Severity::High, "File digest mismatch"));
    let mut good = report();
    good.findings
        .push(finding("PV100", Severity::Info, "Model signature verified"));
    let ev = Evidence::from_runs(&[Run {
        command: "verify",
        report: &good,
    }]);
    assert!(ev.passes("signature-verified"));
    let ev = Evidence::from_runs(&[Run {
        command: "verify",
        report: &bad,
    }]);
    assert!(matches!(
        ev.get("signature-verified"),
        Some(State::Failing(_))
    ));
}

#[test]
fn statuses_follow_the_evidence() {
    let fw = Frameworks::builtin();
    let p = profile("");
    // No evidence: controls the mapping supports are gaps, the rest manual.
    let a = evaluate(fw, &p, &Evidence::new()).unwrap();
    assert_eq!(status(&a, "iso42001:A.10.3"), Status::Gap);
    assert_eq!(status(&a, "iso42001:A.2.2"), Status::Manual);
    // A.10.3 (suppliers) is supported by scan-clean and signature-verified: one of two is partly.
    let mut ev = Evidence::new();
    ev.add("scan-clean", State::Passing("3 files".into()));
    let a = evaluate(fw, &p, &ev).unwrap();
    assert_eq!(status(&a, "iso42001:A.10.3"), Status::Partly);
    let c = a
        .controls
        .iter()
        .find(|c| c.id == "A.10.3")
        .unwrap()
        .clone();
    assert!(
        c.missing
            .iter()
            .any(|m| m.starts_with("signature-verified"))
    );
    ev.add("signature-verified", State::Passing("1".into()));
    let a = evaluate(fw, &p, &ev).unwrap();
    assert_eq!(status(&a, "iso42001:A.10.3"), Status::Evidenced);
    // Failing evidence alone is partly: the check ran and found a problem.
    let mut ev = Evidence::new();
    ev.add(
        "signature-verified",
        State::Failing("digest mismatch".into()),
    );
    let a = evaluate(fw, &p, &ev).unwrap();
    assert_eq!(status(&a, "iso42001:A.10.3"), Status::Partly);
    assert_eq!(status(&a, "nist-ai-rmf:MAP 4.2"), Status::Partly);
}

#[test]
fn attestations_cover_manual_controls_and_must_name_one() {
    let fw = Frameworks::builtin();
    let p = profile(
        "[attest]\n\"iso42001:A.2.2\" = \"AI policy v3, approved 2026-03-01\"\n\"iso42001:A.10.3\" = \"supplier list reviewed\"\n",
    );
    let a = evaluate(fw, &p, &Evidence::new()).unwrap();
    assert_eq!(status(&a, "iso42001:A.2.2"), Status::Evidenced);
    // Where evidence could show it, an attestation alone is partly.
    assert_eq!(status(&a, "iso42001:A.10.3"), Status::Partly);
    let p = profile("[attest]\n\"iso42001:A.99\" = \"x\"\n");
    let err = evaluate(fw, &p, &Evidence::new()).unwrap_err();
    assert!(err.to_string().contains("A.99"), "{err}");
    let p = profile("frameworks = [\"soc2\"]\n");
    assert!(evaluate(fw, &p, &Evidence::new()).is_err());
}

#[test]
fn the_questionnaire_sets_the_tier_and_the_obligations() {
    let fw = Frameworks::builtin();
    let chatbot = profile(
        "[eu_ai_act]\nroles = [\"provider\", \"deployer\"]\ninteracts_with_people = true\nsynthetic_content = true\n",
    );
    let a = evaluate(fw, &chatbot, &Evidence::new()).unwrap();
    assert_eq!(a.tier, Tier::Limited);
    assert_eq!(status(&a, "eu-ai-act:Art. 15"), Status::NotApplicable);
    assert_ne!(status(&a, "eu-ai-act:Art. 50(1)"), Status::NotApplicable);
    assert_eq!(status(&a, "eu-ai-act:Art. 5"), Status::Evidenced);
    let hiring = profile("[eu_ai_act]\nannex_iii = [\"employment\"]\n");
    let a = evaluate(fw, &hiring, &Evidence::new()).unwrap();
    assert_eq!(a.tier, Tier::HighRisk);
    assert_eq!(status(&a, "eu-ai-act:Art. 15"), Status::Gap);
    // Deployer duties do not fall on a provider.
    assert_eq!(status(&a, "eu-ai-act:Art. 26"), Status::NotApplicable);
    let banned = profile("[eu_ai_act]\nprohibited = [\"social-scoring\"]\n");
    let a = evaluate(fw, &banned, &Evidence::new()).unwrap();
    assert_eq!(a.tier, Tier::Prohibited);
    assert_eq!(status(&a, "eu-ai-act:Art. 5"), Status::Gap);
    let f = a.findings("aisec.toml");
    assert!(
        f.iter()
            .any(|f| f.rule.as_str() == "CP110" && f.severity == Severity::Critical)
    );
    // Unknown answers are refused, not ignored.
    assert!(toml::from_str::<Profile>("[eu_ai_act]\nprohibited = [\"mind-control\"]\n").is_err());
    assert!(toml::from_str::<Profile>("[eu_ai_act]\nhigh_risk = true\n").is_err());
    // Unanswered: unknown tier, a CP120 finding.
    let a = evaluate(fw, &profile(""), &Evidence::new()).unwrap();
    assert_eq!(a.tier, Tier::Unknown);
    assert!(
        a.findings("aisec.toml")
            .iter()
            .any(|f| f.rule.as_str() == "CP120")
    );
}

#[test]
fn gaps_are_ranked_by_what_closes_most() {
    let fw = Frameworks::builtin();
    let mut ev = Evidence::new();
    ev.add("bom", State::Passing("x".into()));
    let a = evaluate(fw, &profile("generative = true\n"), &ev).unwrap();
    assert!(a.closers.iter().all(|c| c.kind != "bom"));
    for w in a.closers.windows(2) {
        assert!((w[0].improves.len(), w[0].closes_gaps) >= (w[1].improves.len(), w[1].closes_gaps));
    }
    // Each closer's count is what evaluating with that evidence passing changes.
    let top = &a.closers[0];
    ev.add(&top.kind, State::Passing("now".into()));
    let b = evaluate(fw, &profile("generative = true\n"), &ev).unwrap();
    let improved = a
        .controls
        .iter()
        .zip(&b.controls)
        .filter(|(x, y)| y.status < x.status)
        .count();
    assert_eq!(improved, top.improves.len());
    // NIST AI 600-1 applies to generative systems only.
    let a = evaluate(fw, &profile("generative = false\n"), &ev).unwrap();
    assert!(a.controls.iter().all(|c| c.catalog != "nist-ai-600-1"));
}
