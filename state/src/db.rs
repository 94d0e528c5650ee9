//! The database: tables, commits, reads, rewinds and proofs.

use std::collections::BTreeSet;
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::JellyfishMerkleTree;
use redb::{
    ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

use crate::encoding::{
    Hasher, be, decode_version, escape, history_key, key_hash, node_key_bytes, split_history_key,
    tag, untag, value_key,
};
use crate::proof::Proof;
use crate::tree::{self, BytesTable, Reader, backend_error, last_value};
use crate::{ChangeSet, Key, Root, SideTable, SideWrite, StateError, Value};

type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Tree nodes: `version (BE) ++ borsh(nibble path)` → borsh(Node).
const NODES: Table = TableDefinition::new("jmt_nodes");
/// Values as jmt reads them: `key hash ++ version (BE)` → tagged value.
const VALUES: Table = TableDefinition::new("jmt_values");
/// Each key's history in key order, for scans as of a version:
/// `escaped key ++ 00 00 ++ version (BE)` → tagged value.
const HISTORY: Table = TableDefinition::new("history");
/// The latest value of every present key.
const LATEST: Table = TableDefinition::new("latest");
/// `version (BE)` → root; its last entry is the latest version.
const ROOTS: Table = TableDefinition::new("roots");
/// `version (BE)` → borsh([`Undo`]), what rewinding that version reverts.
const UNDO: Table = TableDefinition::new("undo");
/// `"layout"` → [`LAYOUT`] (BE).
const FORMAT: Table = TableDefinition::new("format");
const SIDE_BLOCKS: Table = TableDefinition::new("side_blocks");
const SIDE_RECEIPTS: Table = TableDefinition::new("side_receipts");
const SIDE_TX_INDEX: Table = TableDefinition::new("side_tx_index");
const SIDE_META: Table = TableDefinition::new("side_meta");
const SIDE_EVENT_INDEX: Table = TableDefinition::new("side_event_index");

const ALL_TABLES: [Table; 12] = [
    NODES,
    VALUES,
    HISTORY,
    LATEST,
    ROOTS,
    UNDO,
    FORMAT,
    SIDE_BLOCKS,
    SIDE_RECEIPTS,
    SIDE_TX_INDEX,
    SIDE_META,
    SIDE_EVENT_INDEX,
];

/// The layout of the tables above. A database of another layout is
/// refused rather than misread; bump on any change to them. Layout 1 had
/// no marker (nodes keyed by borsh(NodeKey), side records undone by
/// deletion). Layout 2 had no event index, and its receipts no events or
/// call trees.
const LAYOUT: u32 = 3;
const LAYOUT_KEY: &[u8] = b"layout";

impl SideTable {
    fn definition(self) -> Table {
        match self {
            Self::Blocks => SIDE_BLOCKS,
            Self::Receipts => SIDE_RECEIPTS,
            Self::TxIndex => SIDE_TX_INDEX,
            Self::Meta => SIDE_META,
            Self::EventIndex => SIDE_EVENT_INDEX,
        }
    }
}

/// What a version wrote besides its tree nodes and roots (which are found
/// by version), so [`StateDb::rewind`] can revert it.
#[derive(Debug, Default, BorshSerialize, BorshDeserialize)]
struct Undo {
    /// The state keys the version changed.
    keys: Vec<Vec<u8>>,
    /// The side records it wrote, each with the value it replaced.
    side: Vec<(SideTable, Vec<u8>, Option<Vec<u8>>)>,
}

/// Maps a redb error to [`StateError::Backend`] naming the operation.
trait Ctx<T> {
    fn ctx(self, operation: &'static str) -> Result<T, StateError>;
}

impl<T, E: Into<redb::Error>> Ctx<T> for Result<T, E> {
    fn ctx(self, operation: &'static str) -> Result<T, StateError> {
        self.map_err(|e| backend_error(operation, e))
    }
}

/// The last committed version in the roots table.
fn latest_in<T: BytesTable>(roots: &T) -> Result<Option<u64>, StateError> {
    let last = roots.last().ctx("read roots")?;
    last.map(|(k, _)| decode_version(k.value())).transpose()
}

fn root_in<T: BytesTable>(roots: &T, version: u64) -> Result<Root, StateError> {
    let found = roots.get(&be(version)[..]).ctx("read roots")?;
    let bytes = found.ok_or(StateError::UnknownVersion(version))?;
    bytes
        .value()
        .try_into()
        .map_err(|_| StateError::Corrupt(format!("the root of version {version} is not 32 bytes")))
}

fn encode<T: BorshSerialize>(value: &T, what: &str) -> Result<Vec<u8>, StateError> {
    borsh::to_vec(value).map_err(|e| StateError::Encode(format!("{what}: {e}")))
}

/// The versioned, authenticated state in one redb database. Every method
/// reads from one snapshot or writes in one transaction, so a concurrent
/// commit or rewind is seen entirely or not at all.
pub struct StateDb {
    db: redb::Database,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

impl StateDb {
    /// Opens or creates the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = redb::Database::create(path).map_err(|e| StateError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::init(db)
    }

    /// A database in memory (redb's in-memory backend), with the same code
    /// paths as a file.
    pub fn in_memory() -> Result<Self, StateError> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| StateError::Open {
                path: "(memory)".into(),
                message: e.to_string(),
            })?;
        Self::init(db)
    }

    fn init(db: redb::Database) -> Result<Self, StateError> {
        let txn = db.begin_write().ctx("begin write")?;
        // Every table exists from the start, so reads never meet a missing
        // table.
        for table in ALL_TABLES {
            txn.open_table(table).ctx("create table")?;
        }
        {
            let mut format = txn.open_table(FORMAT).ctx("open format")?;
            let stored = format
                .get(LAYOUT_KEY)
                .ctx("read format")?
                .map(|v| v.value().to_vec());
            match stored {
                Some(bytes) if bytes == LAYOUT.to_be_bytes() => {}
                Some(bytes) => {
                    let found = <[u8; 4]>::try_from(bytes.as_slice()).map_or_else(
                        |_| format!("{bytes:02x?}"),
                        |b| u32::from_be_bytes(b).to_string(),
                    );
                    return Err(StateError::IncompatibleFormat(format!(
                        "layout {found}, this build reads layout {LAYOUT}"
                    )));
                }
                None => {
                    // Only a database with no versions yet is new; one with
                    // versions and no marker predates the marker.
                    let roots = txn.open_table(ROOTS).ctx("open roots")?;
                    if !roots.is_empty().ctx("read roots")? {
                        return Err(StateError::IncompatibleFormat(format!(
                            "no layout marker, this build reads layout {LAYOUT}"
                        )));
                    }
                    format
                        .insert(LAYOUT_KEY, &LAYOUT.to_be_bytes()[..])
                        .ctx("write format")?;
                }
            }
        }
        txn.commit().ctx("commit")?;
        Ok(Self { db })
    }

    fn read(&self) -> Result<ReadTransaction, StateError> {
        self.db.begin_read().ctx("begin read")
    }

    /// Fails unless `version` is committed in the snapshot `txn`.
    fn check_version(txn: &ReadTransaction, version: u64) -> Result<(), StateError> {
        let roots = txn.open_table(ROOTS).ctx("open roots")?;
        match latest_in(&roots)? {
            Some(latest) if version <= latest => Ok(()),
            _ => Err(StateError::UnknownVersion(version)),
        }
    }

    /// The last committed version, `None` before the first commit.
    pub fn latest_version(&self) -> Result<Option<u64>, StateError> {
        let txn = self.read()?;
        latest_in(&txn.open_table(ROOTS).ctx("open roots")?)
    }

    /// The root at `version` ([`StateError::UnknownVersion`] if it is not
    /// committed, or was rewound).
    pub fn root(&self, version: u64) -> Result<Root, StateError> {
        let txn = self.read()?;
        root_in(&txn.open_table(ROOTS).ctx("open roots")?, version)
    }

    /// The latest committed value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>, StateError> {
        let txn = self.read()?;
        let latest = txn.open_table(LATEST).ctx("open latest")?;
        let found = latest.get(key).ctx("read latest")?;
        Ok(found.map(|v| v.value().to_vec()))
    }

    /// The value of `key` as of `version`: its last change at or before it.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Value>, StateError> {
        let txn = self.read()?;
        Self::check_version(&txn, version)?;
        let values = txn.open_table(VALUES).ctx("open values")?;
        last_value(&values, &key_hash(key), version)
    }

    /// The latest entries whose keys start with `prefix`, ascending, with
    /// keys strictly after `start_after` if given, at most `limit`.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Key, Value)>, StateError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let txn = self.read()?;
        let latest = txn.open_table(LATEST).ctx("open latest")?;
        let start = match start_after {
            Some(after) if after >= prefix => after,
            _ => prefix,
        };
        for entry in latest.range(start..).ctx("read latest")? {
            let (k, v) = entry.ctx("read latest")?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            if start_after.is_some_and(|after| k <= after) {
                continue;
            }
            out.push((k.to_vec(), v.value().to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The entries under `prefix` as of `version`, paged as
    /// [`Self::scan_prefix`]. Walks the history of every key under the
    /// prefix (after `start_after`), so it costs O(changes ever made there).
    pub fn scan_prefix_at(
        &self,
        prefix: &[u8],
        version: u64,
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Key, Value)>, StateError> {
        let txn = self.read()?;
        Self::check_version(&txn, version)?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let history = txn.open_table(HISTORY).ctx("open history")?;
        let escaped_prefix = escape(prefix);
        let start = match start_after {
            Some(after) if after >= prefix => escape(after),
            _ => escaped_prefix.clone(),
        };
        // The key being walked and its value as of `version` so far.
        let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        let emit = |entry: Option<(Vec<u8>, Option<Vec<u8>>)>, out: &mut Vec<(Key, Value)>| {
            if let Some((k, Some(v))) = entry
                && start_after.is_none_or(|after| k.as_slice() > after)
            {
                out.push((k, v));
            }
        };
        for entry in history.range(start.as_slice()..).ctx("read history")? {
            let (hk, hv) = entry.ctx("read history")?;
            let hk = hk.value();
            if !hk.starts_with(&escaped_prefix) {
                break;
            }
            let (key, ver) = split_history_key(hk)?;
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                emit(current.take(), &mut out);
                if out.len() >= limit {
                    return Ok(out);
                }
                current = Some((key, None));
            }
            // Versions ascend within a key: the last one at or before
            // `version` wins.
            if ver <= version
                && let Some((_, value)) = current.as_mut()
            {
                *value = untag(hv.value())?;
            }
        }
        emit(current.take(), &mut out);
        out.truncate(limit);
        Ok(out)
    }

    /// The root the state would have if `changes` were committed as the
    /// next version; nothing is written.
    pub fn root_after(&self, changes: &ChangeSet) -> Result<Root, StateError> {
        let txn = self.read()?;
        let roots = txn.open_table(ROOTS).ctx("open roots")?;
        let next = next_version(latest_in(&roots)?)?;
        let nodes = txn.open_table(NODES).ctx("open nodes")?;
        let values = txn.open_table(VALUES).ctx("open values")?;
        let (root, _) = tree::update(&nodes, &values, changes, next)?;
        Ok(root.0)
    }

    /// Commits `changes` as `version` (0 first, then each next one) with
    /// the `side` records, in one write transaction, and returns the new
    /// root. Only the changed keys' paths of the tree are rewritten; an
    /// empty change set still makes a version, with the previous root.
    pub fn commit(
        &self,
        version: u64,
        changes: &ChangeSet,
        side: &[SideWrite],
    ) -> Result<Root, StateError> {
        let txn = self.db.begin_write().ctx("begin write")?;
        // The check is inside the write transaction: two racing commits of
        // the same version cannot both pass it.
        let mut roots = txn.open_table(ROOTS).ctx("open roots")?;
        let expected = next_version(latest_in(&roots)?)?;
        if version != expected {
            return Err(StateError::VersionOutOfOrder {
                expected,
                got: version,
            });
        }
        let root = Self::write_tree(&txn, version, changes)?;
        let mut undo = Undo::default();
        {
            let mut history = txn.open_table(HISTORY).ctx("open history")?;
            let mut latest = txn.open_table(LATEST).ctx("open latest")?;
            for (key, value) in changes {
                let hk = history_key(key, version);
                history
                    .insert(hk.as_slice(), tag(value.as_deref()).as_slice())
                    .ctx("write history")?;
                match value {
                    Some(v) => latest.insert(key.as_slice(), v.as_slice()),
                    None => latest.remove(key.as_slice()),
                }
                .ctx("write latest")?;
                undo.keys.push(key.clone());
            }
        }
        let mut written: BTreeSet<(SideTable, &[u8])> = BTreeSet::new();
        for write in side {
            let mut table = txn
                .open_table(write.table.definition())
                .ctx("open side table")?;
            let previous = table
                .insert(write.key.as_slice(), write.value.as_slice())
                .ctx("write side record")?
                .map(|v| v.value().to_vec());
            // A key written twice in one version reverts to what it was
            // before the version, not to the version's first write.
            if written.insert((write.table, write.key.as_slice())) {
                undo.side.push((write.table, write.key.clone(), previous));
            }
        }
        roots
            .insert(&be(version)[..], &root[..])
            .ctx("write roots")?;
        let mut undos = txn.open_table(UNDO).ctx("open undo")?;
        undos
            .insert(
                &be(version)[..],
                encode(&undo, "an undo record")?.as_slice(),
            )
            .ctx("write undo")?;
        drop((roots, undos));
        txn.commit().ctx("commit")?;
        Ok(root)
    }

    /// Updates the tree for `changes` inside `txn` and writes its new nodes
    /// and values; returns the new root.
    fn write_tree(
        txn: &WriteTransaction,
        version: u64,
        changes: &ChangeSet,
    ) -> Result<Root, StateError> {
        let mut nodes = txn.open_table(NODES).ctx("open nodes")?;
        let mut values = txn.open_table(VALUES).ctx("open values")?;
        let (root, batch) = tree::update(&nodes, &values, changes, version)?;
        for (key, node) in batch.node_batch.nodes() {
            // Rewind finds a version's nodes by the version in their key.
            if key.version() != version {
                return Err(StateError::Tree(format!(
                    "the update of version {version} made a node of version {}",
                    key.version()
                )));
            }
            let bytes = encode(node, "a tree node")?;
            nodes
                .insert(node_key_bytes(key)?.as_slice(), bytes.as_slice())
                .ctx("write nodes")?;
        }
        for ((v, hash), value) in batch.node_batch.values() {
            values
                .insert(
                    value_key(hash, *v).as_slice(),
                    tag(value.as_deref()).as_slice(),
                )
                .ctx("write values")?;
        }
        // Stale nodes are kept: proofs at every past version must work.
        Ok(root.0)
    }

    /// A side record.
    pub fn side_get(&self, table: SideTable, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let txn = self.read()?;
        let t = txn.open_table(table.definition()).ctx("open side table")?;
        let found = t.get(key).ctx("read side record")?;
        Ok(found.map(|v| v.value().to_vec()))
    }

    /// Side records with keys in `[from, to)`, ascending, at most `limit`.
    pub fn side_range(
        &self,
        table: SideTable,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Key, Value)>, StateError> {
        let txn = self.read()?;
        let t = txn.open_table(table.definition()).ctx("open side table")?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        // An open range, cut at `to` by hand: redb refuses inverted bounds.
        for entry in t.range(from..).ctx("read side records")? {
            let (k, v) = entry.ctx("read side records")?;
            if to.is_some_and(|to| k.value() >= to) {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Undoes every version after `version`, atomically: tree nodes, value
    /// history, latest values and side records written by them. Afterwards
    /// the database is as it was right after `version` was committed.
    pub fn rewind(&self, version: u64) -> Result<(), StateError> {
        let txn = self.db.begin_write().ctx("begin write")?;
        let latest = {
            let roots = txn.open_table(ROOTS).ctx("open roots")?;
            latest_in(&roots)?
        };
        let latest = match latest {
            Some(latest) if version <= latest => latest,
            _ => return Err(StateError::UnknownVersion(version)),
        };
        if version == latest {
            return Ok(());
        }
        let mut touched: BTreeSet<Vec<u8>> = BTreeSet::new();
        {
            let mut values = txn.open_table(VALUES).ctx("open values")?;
            let mut history = txn.open_table(HISTORY).ctx("open history")?;
            let undos = txn.open_table(UNDO).ctx("open undo")?;
            // Newest first, so a side record overwritten by several
            // versions ends with the value from before the oldest of them.
            for v in (version + 1..=latest).rev() {
                let bytes = undos
                    .get(&be(v)[..])
                    .ctx("read undo")?
                    .map(|b| b.value().to_vec())
                    .ok_or_else(|| StateError::Corrupt(format!("no undo record for {v}")))?;
                let undo = Undo::try_from_slice(&bytes)
                    .map_err(|e| StateError::Corrupt(format!("undo record {v}: {e}")))?;
                for key in undo.keys {
                    let vk = value_key(&key_hash(&key), v);
                    values.remove(vk.as_slice()).ctx("remove value")?;
                    let hk = history_key(&key, v);
                    history.remove(hk.as_slice()).ctx("remove history")?;
                    touched.insert(key);
                }
                for (table, key, previous) in undo.side {
                    let mut t = txn.open_table(table.definition()).ctx("open side table")?;
                    match previous {
                        Some(p) => t.insert(key.as_slice(), p.as_slice()),
                        None => t.remove(key.as_slice()),
                    }
                    .ctx("restore side record")?;
                }
            }
        }
        // Nodes, roots and undo records of later versions are all keyed by
        // version first.
        let after = be(version + 1);
        for table in [NODES, ROOTS, UNDO] {
            let mut t = txn.open_table(table).ctx("open table")?;
            t.retain_in::<&[u8], _>(&after[..].., |_, _| false)
                .ctx("remove later versions")?;
        }
        // Each touched key takes its value as of `version` again.
        {
            let values = txn.open_table(VALUES).ctx("open values")?;
            let mut latest_table = txn.open_table(LATEST).ctx("open latest")?;
            for key in touched {
                match last_value(&values, &key_hash(&key), version)? {
                    Some(v) => latest_table.insert(key.as_slice(), v.as_slice()),
                    None => latest_table.remove(key.as_slice()),
                }
                .ctx("restore latest")?;
            }
        }
        txn.commit().ctx("commit")?;
        Ok(())
    }

    /// The value of `key` at `version` and a proof of it (inclusion) or of
    /// its absence (exclusion) under that version's root.
    pub fn prove(&self, key: &[u8], version: u64) -> Result<(Option<Value>, Proof), StateError> {
        let txn = self.read()?;
        Self::check_version(&txn, version)?;
        let nodes = txn.open_table(NODES).ctx("open nodes")?;
        let values = txn.open_table(VALUES).ctx("open values")?;
        let reader = Reader {
            nodes: &nodes,
            values: &values,
        };
        let tree: JellyfishMerkleTree<'_, _, Hasher> = JellyfishMerkleTree::new(&reader);
        let (value, proof) = tree
            .get_with_proof(key_hash(key), version)
            .map_err(|e| StateError::Tree(format!("{e:#}")))?;
        Ok((value, Proof(proof)))
    }
}

/// The version after `latest`. jmt reserves `u64::MAX` for its
/// pre-genesis root, so the version before it is the last.
fn next_version(latest: Option<u64>) -> Result<u64, StateError> {
    match latest {
        None => Ok(0),
        Some(v) if v < u64::MAX - 1 => Ok(v + 1),
        Some(v) => Err(StateError::Tree(format!(
            "version {v} is the last one the tree can hold"
        ))),
    }
}
