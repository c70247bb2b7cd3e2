//! The CSV, digits and scikit-learn table readers over arbitrary bytes; the first byte picks the CSV options (`aisec_data::fuzzing::csv`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_data::fuzzing::csv(data);
});
