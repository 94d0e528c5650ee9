//! Arbitrary bytes (raw, or wasm-smith modules of any or the profile's features) through validation and instrumentation.
//! The check is `detvm_fuzzing::check_target("front", ..)`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = detvm_fuzzing::check_target("front", data) {
        panic!("{finding}");
    }
});
