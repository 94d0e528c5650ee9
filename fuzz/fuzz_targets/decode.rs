//! Arbitrary bytes as signed transactions and blocks, and as JSON-RPC requests to a dev node's methods.
//! The check is `detvm_fuzzing::check_target("decode", ..)`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = detvm_fuzzing::check_target("decode", data) {
        panic!("{finding}");
    }
});
