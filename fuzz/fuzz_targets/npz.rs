//! The `.npz` reader (zip archive, members, default x/y arrays) over arbitrary bytes (`aisec_data::fuzzing::npz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_data::fuzzing::npz(data);
});
