//! The detection contract over the whole fixture corpus: every malicious file is flagged at `high` or
//! above, no benign file has a finding at `medium` or above, and no benign file is left unanalysed.

use aisec_core::{Severity, TargetStatus};

use crate::{manifest, scan};

#[test]
fn every_malicious_fixture_is_flagged_high_or_above() {
    let cases = manifest();
    assert!(
        cases.iter().filter(|c| c.malicious).count() > 150,
        "the corpus shrank"
    );
    let mut missed = Vec::new();
    for case in cases.iter().filter(|c| c.malicious) {
        let (findings, _) = scan(&case.path);
        let max = findings.iter().map(|f| f.severity).max();
        if max < Some(Severity::High) {
            missed.push(format!("{} ({}): max {:?}", case.path, case.class, max));
        }
    }
    assert!(
        missed.is_empty(),
        "missed {} malicious fixtures:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn no_benign_fixture_raises_an_alarm() {
    let cases = manifest();
    assert!(
        cases.iter().filter(|c| !c.malicious).count() > 40,
        "the corpus shrank"
    );
    let mut alarms = Vec::new();
    for case in cases.iter().filter(|c| !c.malicious) {
        let (findings, targets) = scan(&case.path);
        for f in findings.iter().filter(|f| f.severity >= Severity::Medium) {
            alarms.push(format!(
                "{}: {} {} {}",
                case.path, f.severity, f.rule, f.title
            ));
        }
        for t in &targets {
            if let TargetStatus::NotAnalysed { reason } = &t.status {
                alarms.push(format!(
                    "{} {:?}: not analysed: {reason}",
                    case.path, t.member
                ));
            }
        }
    }
    assert!(alarms.is_empty(), "false alarms:\n{}", alarms.join("\n"));
}

/// Each gadget fixture calls exactly one dangerous callable, named in its file name
/// (`gadgets/<module>__<name>.pkl`): the finding must name it.
#[test]
fn gadgets_name_the_callable_they_call() {
    let mut wrong = Vec::new();
    for case in manifest()
        .into_iter()
        .filter(|c| c.class.starts_with("gadget-"))
    {
        let stem = case
            .path
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".pkl");
        // `<module>__<name>`; module names may themselves start or end with underscores.
        let candidates: Vec<String> = stem
            .match_indices("__")
            .map(|(i, _)| format!("{}.{}", &stem[..i], &stem[i + 2..]))
            .collect();
        let (findings, _) = scan(&case.path);
        let named = findings.iter().any(|f| {
            let text = format!("{} {} {:?}", f.title, f.evidence, f.location.member);
            f.severity >= Severity::High && candidates.iter().any(|c| text.contains(c.as_str()))
        });
        let expected = candidates.join(" | ");
        if !named {
            let got: Vec<_> = findings
                .iter()
                .map(|f| format!("{} {}", f.severity, f.title))
                .collect();
            wrong.push(format!("{}: expected `{expected}`, got {got:?}", case.path));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
