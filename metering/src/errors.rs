//! One error enum per stage. Each variant carries the byte offset it applies
//! to and has a stable machine-readable [`kind`](ValidationError::kind).

use crate::{Feature, Limit};

/// Why [`crate::validate`] rejected a module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The bytes are not a well-formed WebAssembly binary.
    #[error("malformed module at offset {offset}: {message}")]
    Malformed {
        /// Byte offset of the problem.
        offset: u64,
        /// The decoder's description.
        message: String,
    },
    /// The module is well-formed but fails WebAssembly validation.
    #[error("invalid module at offset {offset}: {message}")]
    Invalid {
        /// Byte offset of the problem.
        offset: u64,
        /// The validator's description.
        message: String,
    },
    /// The module uses a feature outside the determinism profile.
    #[error("unsupported feature `{feature}` at offset {offset}: {message}")]
    UnsupportedFeature {
        /// The proposal the module needs.
        feature: Feature,
        /// Byte offset of the first use.
        offset: u64,
        /// What was found there.
        message: String,
    },
    /// The module exceeds one of the configured [`crate::Limits`].
    #[error("limit `{limit}` exceeded at offset {offset}: {value} > {max}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The module's value.
        value: u64,
        /// The largest value allowed.
        max: u64,
        /// Byte offset of the item that crossed the limit.
        offset: u64,
    },
    /// The module imports something the configuration does not provide.
    #[error("import `{module}`.`{name}` at offset {offset} is not allowed: {reason}")]
    ImportNotAllowed {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// Byte offset of the import.
        offset: u64,
        /// Why it was refused.
        reason: String,
    },
}

impl ValidationError {
    /// A stable identifier for the kind of error, for machines and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::Invalid { .. } => "invalid",
            Self::UnsupportedFeature { .. } => "unsupported_feature",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::ImportNotAllowed { .. } => "import_not_allowed",
        }
    }

    /// Byte offset in the module the error applies to.
    pub fn offset(&self) -> u64 {
        match self {
            Self::Malformed { offset, .. }
            | Self::Invalid { offset, .. }
            | Self::UnsupportedFeature { offset, .. }
            | Self::LimitExceeded { offset, .. }
            | Self::ImportNotAllowed { offset, .. } => *offset,
        }
    }
}

/// Why [`crate::instrument`] could not rewrite a module.
///
/// Instrumentation only runs on validated modules, so these are rare: they
/// mean the module and its [`crate::ModuleInfo`] disagree, or a limit of the
/// rewritten module itself was hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// The input could not be decoded while rewriting.
    #[error("cannot decode module at offset {offset}: {message}")]
    Decode {
        /// Byte offset of the problem.
        offset: u64,
        /// The decoder's description.
        message: String,
    },
    /// The input uses something instrumentation cannot express; validation
    /// should have rejected it.
    #[error("cannot instrument construct at offset {offset}: {message}")]
    Unsupported {
        /// Byte offset of the construct.
        offset: u64,
        /// What it is.
        message: String,
    },
    /// An operator has no cost in the schedule: it is outside the profile.
    /// Such operators are refused rather than charged nothing.
    #[error("operator `{operator}` at offset {offset} has no cost in the schedule")]
    NoCost {
        /// Byte offset of the operator.
        offset: u64,
        /// The operator's name.
        operator: String,
    },
    /// The bytes do not match the [`crate::ModuleInfo`] they came with.
    #[error("module does not match its validation info: {message}")]
    InfoMismatch {
        /// What differs.
        message: String,
    },
}

impl InstrumentError {
    /// A stable identifier for the kind of error, for machines and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Decode { .. } => "decode",
            Self::Unsupported { .. } => "unsupported",
            Self::NoCost { .. } => "no_cost",
            Self::InfoMismatch { .. } => "info_mismatch",
        }
    }
}

/// Either stage's error, from [`crate::prepare`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MeteringError {
    /// Validation rejected the module.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Instrumentation failed.
    #[error(transparent)]
    Instrument(#[from] InstrumentError),
}

impl MeteringError {
    /// The stable kind of the underlying error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Validation(e) => e.kind(),
            Self::Instrument(e) => e.kind(),
        }
    }
}
