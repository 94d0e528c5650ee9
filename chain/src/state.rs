//! The global state as the executor sees it: account records, key layout,
//! and the staged view of a block being executed over the committed
//! [`StateDb`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use detvm_host::{Change, Entry, Storage, StorageError};
use detvm_state::{ChangeSet, StateDb};

use crate::Error;

pub use detvm_host::{ACCOUNT_PREFIX, Account, account_key};

/// Key of the chain parameters.
pub const PARAMS_KEY: &[u8] = b"chain/params";
/// Key of the validator set of a network's genesis (absent on a chain
/// without validators, so the genesis of such a chain is unchanged).
pub const VALIDATORS_KEY: &[u8] = b"chain/validators";

/// Decodes a stored account record.
pub fn decode_account(id: &str, bytes: &[u8]) -> Result<Account, Error> {
    Ok(detvm_host::decode_account(id, bytes)?)
}

fn backend(operation: &'static str) -> impl Fn(detvm_state::StateError) -> StorageError {
    move |e| StorageError::Backend {
        operation,
        source: Box::new(e),
    }
}

#[derive(Default)]
struct Layers {
    /// Changes of the block so far, transactions before the current one.
    block: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Changes of the current transaction.
    tx: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The state seen while executing a block: the committed state, the
/// block's earlier transactions, then the current transaction's changes.
/// Nothing reaches the database until the whole block is committed, so a
/// crash never leaves half a block, and a transaction's changes can be
/// dropped (a trapped call's amount) without touching the block's.
pub struct Staged {
    db: Arc<StateDb>,
    /// The committed version underneath; `None`: the latest.
    version: Option<u64>,
    layers: Mutex<Layers>,
}

impl Staged {
    /// A staged view over `db`'s latest state with nothing pending.
    pub fn new(db: Arc<StateDb>) -> Self {
        Self {
            db,
            version: None,
            layers: Mutex::new(Layers::default()),
        }
    }

    /// A staged view over the state after version `version` (for
    /// re-executing a past block, say to trace it).
    pub fn at(db: Arc<StateDb>, version: u64) -> Self {
        Self {
            db,
            version: Some(version),
            layers: Mutex::new(Layers::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Layers> {
        // Every mutation is a plain map operation: never torn.
        match self.layers.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Drops the current transaction's changes.
    pub fn rollback_tx(&self) {
        self.lock().tx.clear();
    }

    /// Ends the current transaction: its changes join the block's and are
    /// returned in key order.
    pub fn finish_tx(&self) -> Vec<Change> {
        let mut layers = self.lock();
        let tx = std::mem::take(&mut layers.tx);
        let changes: Vec<Change> = tx.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        layers.block.extend(tx);
        changes
    }

    /// Takes the block's changes (the current transaction must be
    /// finished), leaving nothing pending.
    pub fn take_block(&self) -> ChangeSet {
        let mut layers = self.lock();
        layers.tx.clear();
        std::mem::take(&mut layers.block)
    }

    /// Drops everything pending.
    pub fn discard(&self) {
        let mut layers = self.lock();
        layers.tx.clear();
        layers.block.clear();
    }
}

impl Storage for Staged {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        {
            let layers = self.lock();
            if let Some(v) = layers.tx.get(key).or_else(|| layers.block.get(key)) {
                return Ok(v.clone());
            }
        }
        match self.version {
            None => self.db.get(key),
            Some(v) => self.db.get_at(key, v),
        }
        .map_err(backend("read"))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StorageError> {
        let committed = match self.version {
            None => self.db.scan_prefix(prefix, None, usize::MAX),
            Some(v) => self.db.scan_prefix_at(prefix, v, None, usize::MAX),
        }
        .map_err(backend("scan"))?;
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
            committed.into_iter().map(|(k, v)| (k, Some(v))).collect();
        let layers = self.lock();
        for layer in [&layers.block, &layers.tx] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    fn apply(&self, batch: &[Change]) -> Result<(), StorageError> {
        let mut layers = self.lock();
        for (k, v) in batch {
            layers.tx.insert(k.clone(), v.clone());
        }
        Ok(())
    }
}

/// A read-only view of the state as of one committed height, for views and
/// queries at that height.
pub struct AtHeight {
    db: Arc<StateDb>,
    version: u64,
}

impl AtHeight {
    /// The state after block `version`.
    pub fn new(db: Arc<StateDb>, version: u64) -> Self {
        Self { db, version }
    }
}

impl Storage for AtHeight {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db.get_at(key, self.version).map_err(backend("read"))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StorageError> {
        self.db
            .scan_prefix_at(prefix, self.version, None, usize::MAX)
            .map_err(backend("scan"))
    }

    fn apply(&self, _batch: &[Change]) -> Result<(), StorageError> {
        Err(StorageError::ReadOnly {
            operation: "write",
            what: "the state at a past height",
        })
    }
}
