//! A generated contract calling the host API at random, deployed twice on a chain, called and viewed.
//! The check is `detvm_fuzzing::check_target("host_api", ..)`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(finding) = detvm_fuzzing::check_target("host_api", data) {
        panic!("{finding}");
    }
});
