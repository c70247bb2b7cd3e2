//! The jinja parser over arbitrary bytes (`aisec_modelscan::fuzzing::jinja`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzzing::jinja(data);
});
