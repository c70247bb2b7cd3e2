//! The provenance pem parsers over arbitrary bytes (`aisec_provenance::fuzzing::pem`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_provenance::fuzzing::pem(data);
});
