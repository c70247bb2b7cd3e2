//! The OWASP Threat Dragon v2 importer over arbitrary bytes, and the export of whatever it
//! accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imported) = aisec_threatmodel::threatdragon::import(text, "td.json") else {
        return;
    };
    let rules = aisec_threatmodel::rules::builtin().expect("built-in rules");
    let threats = aisec_threatmodel::evaluate(&imported.model, &rules, &[]);
    let exported = aisec_threatmodel::threatdragon::export(&imported.model, &threats, &rules);
    // What aisec exports, aisec imports.
    aisec_threatmodel::threatdragon::import(&exported.to_string(), "td.json")
        .unwrap_or_else(|e| panic!("the export does not import: {e}"));
});
