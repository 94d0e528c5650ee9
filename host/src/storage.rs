//! Key-value storage under the chain: an in-memory map and a persistent,
//! crash-safe database.
//!
//! Both keep keys in byte order, so iteration (and everything derived from
//! it) is the same on every node and for both backends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use redb::{ReadableDatabase, TableDefinition};

/// One change of a batch: the key and its new value (`None` removes it).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// One stored entry: key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The error of a storage backend, kept whole so that callers can walk
/// its sources or downcast it; each backend has its own error type.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// Why the storage backend failed. This is a fault of the node (disk, file
/// lock, corruption), never a contract result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database file could not be opened or created.
    #[error("cannot open the state database `{path}`: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// A read or a commit failed.
    #[error("state database {operation} failed: {source}")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// A write to a store that only reads.
    #[error("state database {operation} failed: {what} is read-only")]
    ReadOnly {
        /// What was being done.
        operation: &'static str,
        /// The store written to.
        what: &'static str,
    },
}

/// An ordered byte-string key-value store.
///
/// Methods take `&self` so one store can be shared with the host functions
/// of a running call; implementations serialise writes themselves.
pub trait Storage: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Every entry whose key starts with `prefix`, in ascending key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StorageError>;

    /// Applies every change of `batch`, in order, as one atomic step: after
    /// a crash either all of them are visible or none is.
    fn apply(&self, batch: &[Change]) -> Result<(), StorageError>;

    /// Sets `key` to `value`.
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.apply(&[(key.to_vec(), Some(value.to_vec()))])
    }

    /// Removes `key`.
    fn remove(&self, key: &[u8]) -> Result<(), StorageError> {
        self.apply(&[(key.to_vec(), None)])
    }
}

/// The smallest key greater than every key starting with `prefix`, or
/// `None` if there is none (the prefix is all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Storage in a `BTreeMap`, gone when dropped. For tests and tools.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // `apply` validates nothing and cannot panic half-way, so a
        // poisoned map is still consistent.
        match self.map.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock().get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StorageError> {
        let map = self.lock();
        let range = map.range::<[u8], _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ));
        Ok(range
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, batch: &[Change]) -> Result<(), StorageError> {
        let mut map = self.lock();
        for (key, value) in batch {
            match value {
                Some(value) => map.insert(key.clone(), value.clone()),
                None => map.remove(key),
            };
        }
        Ok(())
    }
}

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");

/// Storage in a `redb` database file: every [`Storage::apply`] is one
/// durable write transaction, so a killed process leaves either the old or
/// the new state, never a mix, and a returned `apply` survives a crash.
pub struct RedbStorage {
    db: redb::Database,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage").finish_non_exhaustive()
    }
}

fn backend(operation: &'static str) -> impl Fn(redb::Error) -> StorageError {
    move |e| StorageError::Backend {
        operation,
        source: Box::new(e),
    }
}

impl RedbStorage {
    /// Opens the database file `path`, creating it if needed. A file left
    /// by a killed process is recovered to its last committed transaction.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let open_error = |e: redb::Error| StorageError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        };
        let db = redb::Database::create(path).map_err(|e| open_error(e.into()))?;
        // Create the table once so that readers never meet a missing table.
        let txn = db.begin_write().map_err(|e| open_error(e.into()))?;
        txn.open_table(TABLE).map_err(|e| open_error(e.into()))?;
        txn.commit().map_err(|e| open_error(e.into()))?;
        Ok(Self { db })
    }
}

impl Storage for RedbStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let read = backend("read");
        let txn = self.db.begin_read().map_err(|e| read(e.into()))?;
        let table = txn.open_table(TABLE).map_err(|e| read(e.into()))?;
        let value = table.get(key).map_err(|e| read(e.into()))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StorageError> {
        let read = backend("scan");
        let txn = self.db.begin_read().map_err(|e| read(e.into()))?;
        let table = txn.open_table(TABLE).map_err(|e| read(e.into()))?;
        let end = prefix_end(prefix);
        let range = match &end {
            Some(end) => table.range::<&[u8]>(prefix..end.as_slice()),
            None => table.range::<&[u8]>(prefix..),
        }
        .map_err(|e| read(e.into()))?;
        let mut out = Vec::new();
        for entry in range {
            let (k, v) = entry.map_err(|e| read(e.into()))?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, batch: &[Change]) -> Result<(), StorageError> {
        let write = backend("commit");
        let txn = self.db.begin_write().map_err(|e| write(e.into()))?;
        {
            let mut table = txn.open_table(TABLE).map_err(|e| write(e.into()))?;
            for (key, value) in batch {
                match value {
                    Some(value) => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(|e| write(e.into()))?;
                    }
                    None => {
                        table.remove(key.as_slice()).map_err(|e| write(e.into()))?;
                    }
                }
            }
        }
        // Dropping an uncommitted transaction aborts it: an error above
        // leaves the database as it was.
        txn.commit().map_err(|e| write(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(storage: &dyn Storage) {
        storage.set(b"a/2", b"two").unwrap();
        storage.set(b"a/1", b"one").unwrap();
        storage.set(b"b", b"bee").unwrap();
        storage.set(b"a\xff", b"ff").unwrap();
        assert_eq!(storage.get(b"a/1").unwrap(), Some(b"one".to_vec()));
        assert_eq!(storage.get(b"zz").unwrap(), None);
        let scanned = storage.scan_prefix(b"a").unwrap();
        let keys: Vec<&[u8]> = scanned.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, vec![&b"a/1"[..], b"a/2", b"a\xff"]);
        storage.remove(b"a/1").unwrap();
        assert_eq!(storage.get(b"a/1").unwrap(), None);
        storage
            .apply(&[
                (b"x".to_vec(), Some(b"1".to_vec())),
                (b"x".to_vec(), Some(b"2".to_vec())),
                (b"b".to_vec(), None),
            ])
            .unwrap();
        assert_eq!(storage.get(b"x").unwrap(), Some(b"2".to_vec()));
        assert_eq!(storage.get(b"b").unwrap(), None);
        assert_eq!(storage.scan_prefix(b"").unwrap().len(), 3);
    }

    #[test]
    fn memory_storage_is_ordered() {
        exercise(&MemoryStorage::new());
    }

    #[test]
    fn redb_storage_is_ordered_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        exercise(&RedbStorage::open(&path).unwrap());
        let reopened = RedbStorage::open(&path).unwrap();
        assert_eq!(reopened.get(b"x").unwrap(), Some(b"2".to_vec()));
        assert_eq!(reopened.scan_prefix(b"a").unwrap().len(), 2);
    }

    #[test]
    fn an_open_failure_keeps_the_backend_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory is not a database file.
        let err = RedbStorage::open(dir.path()).unwrap_err();
        assert!(matches!(err, StorageError::Open { .. }));
        let source = std::error::Error::source(&err).expect("the backend error");
        assert!(source.downcast_ref::<redb::Error>().is_some());
    }

    #[test]
    fn prefix_end_handles_all_ones() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
