//! The gguf parser over arbitrary bytes (`aisec_modelscan::fuzzing::gguf`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzzing::gguf(data);
});
