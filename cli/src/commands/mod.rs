//! One module per subcommand.

pub mod call;
pub mod deploy;
pub mod instrument;
pub mod keys;
pub mod node;
pub mod replay;
pub mod run;
pub mod state;
pub mod tx;
pub mod validate;
pub mod view;
pub mod wast;

use clap::ValueEnum;
use detvm_metering::Limits;

/// Which limits preset to validate against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LimitsPreset {
    /// The contract limits (the default): small enough to keep compile time
    /// linear in module size.
    #[default]
    Contract,
    /// WebAssembly's own maxima, for conformance tests.
    Spec,
}

impl LimitsPreset {
    /// The limits this preset names.
    pub fn limits(self) -> Limits {
        match self {
            Self::Contract => Limits::contract(),
            Self::Spec => Limits::spec(),
        }
    }
}
