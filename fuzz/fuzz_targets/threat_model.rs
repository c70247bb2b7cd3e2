//! The threat model's YAML reader, the rules over whatever it accepts, the diagrams, and the
//! YAML writer's round trip: a model read, written and read again is the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = aisec_threatmodel::SystemModel::from_yaml(text, "m.yaml") else {
        return;
    };
    let rules = aisec_threatmodel::rules::builtin().expect("built-in rules");
    let threats = aisec_threatmodel::evaluate(&model, &rules, &[]);
    let _ = aisec_threatmodel::dfd::mermaid(&model);
    let _ = aisec_threatmodel::dfd::dot(&model);
    let _ = aisec_threatmodel::threatdragon::export(&model, &threats, &rules);
    let yaml = model.to_yaml();
    let mut again = aisec_threatmodel::SystemModel::from_yaml(&yaml, "m.yaml")
        .unwrap_or_else(|e| panic!("the written model does not read back: {e}\n{yaml}"));
    let mut first = model;
    first.clear_lines();
    again.clear_lines();
    assert_eq!(first, again, "{yaml}");
});
