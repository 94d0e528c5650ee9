//! The test kit's error type.

use std::path::PathBuf;

/// Why the test kit could not do what it was asked. A contract trapping is
/// not an error: it is a receipt (see [`crate::CallResult`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The runtime refused: unknown contract or method, rejected code,
    /// invalid account, storage or engine failure.
    #[error(transparent)]
    Chain(#[from] detvm_host::Error),
    /// A contract file could not be read.
    #[error("cannot read contract {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An example contract was asked for, but this build has none (the test
    /// kit was built outside its repository) or it was not built.
    #[error("example contract `{name}` is not built: {reason}")]
    NoContract {
        /// The contract's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Bytes did not decode as the type asked for.
    #[error("cannot decode {what} as {ty}: {message}")]
    Decode {
        /// What was decoded (a return value, a storage value).
        what: String,
        /// The Rust type asked for.
        ty: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// A value could not be borsh-encoded.
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was encoded.
        what: String,
        /// The encoder's message.
        message: String,
    },
    /// The call did not return (it trapped, or the runtime refused it), so
    /// it has no return value.
    #[error("the call has no return value: {0}")]
    NoReturnValue(String),
}

/// Decodes `bytes` as `T`, naming `what` in the error.
pub(crate) fn decode<T: borsh::BorshDeserialize>(bytes: &[u8], what: &str) -> Result<T, Error> {
    T::try_from_slice(bytes).map_err(|e| Error::Decode {
        what: what.to_owned(),
        ty: std::any::type_name::<T>(),
        message: e.to_string(),
    })
}
