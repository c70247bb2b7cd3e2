//! The IDX reader (gzip included) over arbitrary bytes, alone and as an image/label pair (`aisec_data::fuzzing::idx`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_data::fuzzing::idx(data);
});
