//! wasm-smith modules inside the profile, detvm's native code against wasmi on the same instrumented bytes.
//! The check is `detvm_fuzzing::check_target("differential", ..)`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = detvm_fuzzing::check_target("differential", data) {
        panic!("{finding}");
    }
});
