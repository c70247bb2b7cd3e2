//! The keras parser over arbitrary bytes (`aisec_modelscan::fuzzing::keras`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzzing::keras(data);
});
