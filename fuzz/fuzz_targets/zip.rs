//! Full scan of arbitrary bytes named `m.zip`: zip reader, then whatever the members are.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aisec_modelscan::fuzz_scan("m.zip", data);
});
