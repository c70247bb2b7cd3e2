//! The `.npy` reader over arbitrary bytes, then the array conversions (`aisec_data::fuzzing::npy`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_data::fuzzing::npy(data);
});
