//! Symbolic pickle machine + policy judgement over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzz_pickle(data);
});
