//! What [`crate::validate`] accepts beyond the fixed profile: limits and the
//! import policy.

use crate::Limits;
use wasmparser::ValType;

/// What [`crate::validate`] accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Size limits.
    pub limits: Limits,
    /// Which imports are allowed.
    pub imports: ImportPolicy,
}

impl Config {
    /// A configuration with these limits and any import allowed.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            imports: ImportPolicy::Any,
        }
    }

    /// A configuration with the contract limits and this import policy.
    pub fn with_imports(imports: ImportPolicy) -> Self {
        Self {
            limits: Limits::contract(),
            imports,
        }
    }
}

/// Which imports a module may declare.
///
/// Whatever the policy, nothing may be imported from the reserved module
/// [`crate::abi::MODULE`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportPolicy {
    /// Any import outside the reserved `detvm` module.
    #[default]
    Any,
    /// Only function imports that match one of these entries exactly: same
    /// module, same name, same parameter and result types.
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
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl AllowedImport {
    /// An allowed function import `module`.`name` of type
    /// `params -> results`.
    pub fn new(
        module: impl Into<String>,
        name: impl Into<String>,
        params: impl Into<Vec<ValType>>,
        results: impl Into<Vec<ValType>>,
    ) -> Self {
        Self {
            module: module.into(),
            name: name.into(),
            params: params.into(),
            results: results.into(),
        }
    }
}
