//! The provenance signature parsers over arbitrary bytes (`aisec_provenance::fuzzing::signature`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_provenance::fuzzing::signature(data);
});
