//! The built-in ATLAS index against the full official data (`../shared/data/atlas/ATLAS.yaml`,
//! MITRE ATLAS 5.6.0, Apache-2.0): every tactic, technique and mitigation with the same name and
//! tactics, and the full loader's view of the data.

use std::path::PathBuf;

use aisec_taxonomy::Atlas;

fn full() -> Atlas {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/atlas/ATLAS.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Atlas::from_yaml(&text).expect("ATLAS.yaml loads")
}

#[test]
fn the_builtin_index_matches_the_official_data() {
    let full = full();
    let builtin = Atlas::builtin();
    assert_eq!(builtin.version, full.version);
    assert_eq!(builtin.tactics, full.tactics);
    assert_eq!(builtin.techniques.len(), full.techniques.len());
    for (b, f) in builtin.techniques.iter().zip(&full.techniques) {
        assert_eq!((&b.id, &b.name), (&f.id, &f.name));
        assert_eq!(b.tactics, f.tactics, "{}", b.id);
        assert_eq!(b.parent, f.parent, "{}", b.id);
    }
    let names = |a: &Atlas| -> Vec<(String, String)> {
        a.mitigations
            .iter()
            .map(|m| (m.id.clone(), m.name.clone()))
            .collect()
    };
    assert_eq!(names(&builtin), names(&full));
}

#[test]
fn the_full_data_links_mitigations_and_case_studies() {
    let full = full();
    assert_eq!(full.version, "5.6.0");
    assert_eq!(full.tactics.len(), 16);
    assert_eq!(full.techniques.len(), 170);
    assert_eq!(
        full.techniques
            .iter()
            .filter(|t| t.parent.is_some())
            .count(),
        69
    );
    assert_eq!(full.mitigations.len(), 35);
    assert_eq!(full.case_studies.len(), 57);
    // Every link points at a technique that exists.
    for m in &full.mitigations {
        assert!(!m.techniques.is_empty(), "{}", m.id);
        for t in &m.techniques {
            assert!(full.technique(t).is_some(), "{} -> {t}", m.id);
        }
    }
    let guardrails = full.mitigation("AML.M0020").unwrap();
    assert!(guardrails.techniques.iter().any(|t| t == "AML.T0051"));
    assert!(full.case_studies.iter().all(|c| !c.techniques.is_empty()));
    assert!(full.technique("AML.T0051").unwrap().description.is_some());
}
