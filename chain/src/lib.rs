//! detvm's chain model. This crate owns what turns the contract runtime
//! (`detvm-host`) into a chain: ed25519 accounts and keys, signed
//! transactions with their validity rules and fees, the genesis file,
//! blocks with their transaction, receipt and state roots, and
//! [`Ledger`], the one executor that validates, executes, verifies and
//! commits blocks over the authenticated state of `detvm-state`. The node,
//! the command line and the test kit all execute through it.
//! `docs/chain.md` is the normative description.

#![deny(missing_docs)]

mod block;
mod genesis;
mod keys;
mod ledger;
mod receipt;
mod state;
mod tx;

pub use block::{BLOCK_DOMAIN, Block, BlockHeader, merkle_root};
pub use genesis::{
    ChainParams, DEV_ACCOUNTS, DEV_BALANCE, Genesis, GenesisAccount, GenesisParams,
    GenesisValidator,
};
pub use keys::{
    AccountKind, CONTRACT_ID_LEN, IMPLICIT_ID_LEN, Keypair, account_kind, implicit_key,
    parse_key_hex, verify_signature,
};
pub use ledger::{BuiltBlock, EventLocation, EventSelector, Ledger, TxLocation, VIEW_GAS};
pub use receipt::{TxOutcome, TxReceipt};
pub use state::{ACCOUNT_PREFIX, Account, AtHeight, PARAMS_KEY, VALIDATORS_KEY, account_key};
pub use tx::{Action, DecodeError, SignedTransaction, TX_DOMAIN, Transaction};

/// Why a transaction is not valid (`docs/chain.md` 3.1, 7). Each has a
/// stable [`TxError::kind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The bytes are not a signed transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// Encoded size above `max_tx_bytes`.
    #[error("transaction is {size} bytes, at most {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Signed for another chain.
    #[error("transaction is for chain `{got}`, this is `{expected}`")]
    WrongChainId {
        /// This chain.
        expected: String,
        /// The transaction's.
        got: String,
    },
    /// The signer has no account (or its id is invalid).
    #[error("unknown signer `{0}`")]
    UnknownSigner(String),
    /// The public key is not the signer's.
    #[error("the public key is not the key of `{0}`")]
    WrongKey(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The nonce was used already.
    #[error("nonce {got} is used already; the account's next nonce is {expected}")]
    StaleNonce {
        /// The account's nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Transactions with lower nonces are missing.
    #[error("nonce {got} is ahead: the account's next nonce is {expected}")]
    FutureNonce {
        /// The account's nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The gas limit does not cover the intrinsic gas.
    #[error("gas limit {gas_limit} is below the intrinsic gas {min}")]
    GasLimitTooLow {
        /// The transaction's.
        gas_limit: u64,
        /// What it must be at least.
        min: u64,
    },
    /// The signer cannot pay the maximum fee plus the amount.
    #[error("the signer has {have} but the transaction may cost {need}")]
    InsufficientBalance {
        /// Maximum cost (`u128::MAX` if it overflows).
        need: u128,
        /// The balance.
        have: u128,
    },
    /// Already in the mempool.
    #[error("transaction already pending")]
    Duplicate,
    /// Already included in a block.
    #[error("transaction already included in block {0}")]
    AlreadyIncluded(u64),
    /// The mempool (or the sender's share of it) is full.
    #[error("mempool full: {0}")]
    PoolFull(String),
    /// The node failed while checking (storage).
    #[error("node error while checking: {0}")]
    Node(String),
}

impl TxError {
    /// A stable identifier.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::WrongChainId { .. } => "wrong_chain_id",
            Self::UnknownSigner(_) => "unknown_signer",
            Self::WrongKey(_) => "wrong_key",
            Self::BadSignature => "bad_signature",
            Self::StaleNonce { .. } => "stale_nonce",
            Self::FutureNonce { .. } => "future_nonce",
            Self::GasLimitTooLow { .. } => "gas_limit_too_low",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::Duplicate => "duplicate",
            Self::AlreadyIncluded(_) => "already_included",
            Self::PoolFull(_) => "pool_full",
            Self::Node(_) => "node",
        }
    }
}

/// A fault of the node or of its input files (never a transaction's own
/// outcome, which is a [`TxReceipt`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The genesis file is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// The database holds another chain.
    #[error("the state holds chain {stored}, the genesis given is {given}")]
    GenesisMismatch {
        /// Genesis hash in the database.
        stored: String,
        /// Genesis hash of the file given.
        given: String,
    },
    /// An account id is invalid.
    #[error("invalid account id `{0}`")]
    InvalidAccount(String),
    /// A block is not valid on the head.
    #[error("invalid block {height}: {why}")]
    InvalidBlock {
        /// Its height.
        height: u64,
        /// The first rule it breaks.
        why: String,
    },
    /// No committed block at this height.
    #[error("no block at height {0}")]
    UnknownHeight(u64),
    /// Stored data does not decode or contradicts itself.
    #[error("corrupt chain data: {0}")]
    Corrupt(String),
    /// The contract runtime failed.
    #[error(transparent)]
    Host(#[from] detvm_host::Error),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] detvm_state::StateError),
    /// Reading state for a check failed.
    #[error("node error: {0}")]
    Node(String),
}

impl From<detvm_host::StorageError> for Error {
    fn from(e: detvm_host::StorageError) -> Self {
        Self::Host(e.into())
    }
}
