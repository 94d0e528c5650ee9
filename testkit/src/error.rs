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
    /// The chain executor failed (a [`crate::Devnet`] fault).
    #[error(transparent)]
    Ledger(#[from] detvm_chain::Error),
    /// A node answered a JSON-RPC request with an error, or could not be
    /// reached ([`crate::RemoteDevnet`]).
    #[error("node error {code}{}: {message}", kind.as_deref().map(|k| format!(" ({k})")).unwrap_or_default())]
    Rpc {
        /// The JSON-RPC error code (`docs/rpc.md`); 0 when the node could
        /// not be reached or answered nonsense.
        code: i32,
        /// `data.kind` of the error, if any (a refused transaction's rule).
        kind: Option<String>,
        /// The message.
        message: String,
    },
    /// A transaction was refused (not valid, `docs/chain.md` 3.1).
    #[error("transaction refused: {0}")]
    Refused(#[from] detvm_chain::TxError),
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
