//! Stub: owned by the validation work.

use crate::Limits;

/// What [`crate::validate`] accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Size limits.
    pub limits: Limits,
    /// Which imports are allowed.
    pub imports: ImportPolicy,
}

/// Which imports a module may declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportPolicy {
    /// Any import outside the reserved `detvm` module.
    #[default]
    Any,
    /// Only these function imports.
    AllowList(Vec<AllowedImport>),
}

/// One allowed function import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedImport {
    /// Import module name.
    pub module: String,
    /// Import field name.
    pub name: String,
    /// Parameter types.
    pub params: Vec<wasmparser::ValType>,
    /// Result types.
    pub results: Vec<wasmparser::ValType>,
}
