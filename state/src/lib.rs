//! detvm's authenticated state. This crate owns the versioned key-value
//! store a node keeps in one redb database: the latest value of every key,
//! each key's history by version (a version is a block height), a
//! Jellyfish Merkle tree (the `jmt` crate, SHA-256) whose root commits to
//! the whole state at every version, inclusion and exclusion proofs with a
//! verifier that needs no database ([`verify`]), the node's side records
//! (blocks, receipts, indexes) committed in the same write transaction as
//! the state they belong to, and rewinding to an earlier version.
//! `docs/chain.md` (section 4) is the normative description of the root.

#![deny(missing_docs)]

mod db;
mod encoding;
mod proof;
mod tree;

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};

pub use db::StateDb;
pub use proof::{Proof, ProofError, verify};

/// A state key.
pub type Key = Vec<u8>;
/// A state value.
pub type Value = Vec<u8>;
/// The changes of one version: key → new value (`None` deletes). Ordered,
/// so every node applies them in the same order.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
/// A state root.
pub type Root = [u8; 32];
/// The root of the empty state (jmt's placeholder hash, which jmt does not
/// export).
pub const EMPTY_ROOT: Root = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

/// Why the state database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The database could not be opened.
    #[error("cannot open the state database `{path}`: {message}")]
    Open {
        /// The file.
        path: String,
        /// The backend's message.
        message: String,
    },
    /// The database was written with another layout of this crate's tables.
    #[error("the state database has an incompatible layout: {0}")]
    IncompatibleFormat(String),
    /// A read or write of the backend failed.
    #[error("state database {operation} failed: {message}")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// The backend's message.
        message: String,
    },
    /// The tree could not be updated or read (a missing node: corruption).
    #[error("state tree: {0}")]
    Tree(String),
    /// Stored bytes do not decode.
    #[error("corrupt state database: {0}")]
    Corrupt(String),
    /// A record could not be encoded (too large for its length prefix).
    #[error("cannot encode {0}")]
    Encode(String),
    /// No such version (never committed, or rewound).
    #[error("no state at version {0}")]
    UnknownVersion(u64),
    /// A commit out of order.
    #[error("version {got} cannot be committed: the next version is {expected}")]
    VersionOutOfOrder {
        /// The next version.
        expected: u64,
        /// The one given.
        got: u64,
    },
    /// Bytes that are not a proof.
    #[error("malformed proof: {0}")]
    MalformedProof(String),
}

/// A table the node keeps its own records in, committed with a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum SideTable {
    /// Blocks by height.
    Blocks,
    /// Receipts by height.
    Receipts,
    /// Transaction hash → location.
    TxIndex,
    /// Events by emitting contract and by topic (`docs/chain.md` §6).
    EventIndex,
    /// Anything else (genesis hash, block hash index).
    Meta,
}

/// One side record to write with a version. A later version may overwrite
/// a record; rewinding past that version restores the value it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideWrite {
    /// The table.
    pub table: SideTable,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// The root of a state holding exactly `entries` (the `Some` values of a
/// change set applied to an empty state), computed in memory.
pub fn root_of(entries: &ChangeSet) -> Result<Root, StateError> {
    StateDb::in_memory()?.root_after(entries)
}
