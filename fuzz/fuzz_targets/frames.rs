//! Deep and wide native frames, recursed to exhaustion on a large and on a minimal native stack.
//! The check is `detvm_fuzzing::check_target("frames", ..)`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = detvm_fuzzing::check_target("frames", data) {
        panic!("{finding}");
    }
});
