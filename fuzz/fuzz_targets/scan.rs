//! Full scan (format detection + containers). The first byte picks the file name, so both the
//! extension-driven and the content-sniffing paths are reached; the rest is the file content.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Index = selector byte % len. Keep in sync with the corpus seeding in docs/fuzzing.md.
const NAMES: &[&str] = &[
    "m.pkl", "m.pt", "m.joblib", "m.npy", "m.npz", "m.tar", "m.7z", "m.bin", "m.gz", "noext",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(sel) % NAMES.len()];
    let _ = aisec_modelscan::fuzz_scan(name, rest);
});
