//! The one place where skipped spec directives are listed, each with its
//! reason. The goal is an empty list; a skip that starts passing is reported
//! as a failure so the list cannot go stale.

/// A directive we do not run, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skip {
    /// Script file name, e.g. `"i32.wast"`.
    pub file: &'static str,
    /// 1-based line of the directive.
    pub line: usize,
    /// Why it cannot pass.
    pub reason: &'static str,
}

/// Every skipped directive of the WebAssembly 2.0 suite.
pub const SKIPS: &[Skip] = &[];

/// The skip entry for `file:line`, if any.
pub(crate) fn find(file: &str, line: usize) -> Option<&'static Skip> {
    SKIPS
        .iter()
        .find(|skip| skip.file == file && skip.line == line)
}
