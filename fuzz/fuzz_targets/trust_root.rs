//! Sigstore trust roots over arbitrary bytes (`aisec_provenance::fuzzing::trust_root`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisec_provenance::fuzzing::trust_root(data);
});
