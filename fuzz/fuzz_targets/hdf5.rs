//! The hdf5 parser over arbitrary bytes (`aisec_modelscan::fuzzing::hdf5`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzzing::hdf5(data);
});
