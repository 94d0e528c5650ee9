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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// A state key.
pub type Key = Vec<u8>;
/// A state value.
pub type Value = Vec<u8>;
/// The changes of one version: key → new value (`None` deletes). Ordered,
/// so every node applies them in the same order.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
/// A state root.
pub type Root = [u8; 32];
/// The root of the empty state (jmt's placeholder hash).
pub const EMPTY_ROOT: Root = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

/// The hasher of the tree: SHA-256.
type Hasher = sha2_jmt::Sha256;
type Tree<'a, R> = JellyfishMerkleTree<'a, R, Hasher>;

/// Tree nodes: borsh(NodeKey) → borsh(Node).
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_nodes");
/// Values by key hash and version, as jmt reads them:
/// `hash (32) ++ version (8, big-endian)` → tagged value.
const VALUES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jmt_values");
/// Each key's history, in key order for prefix scans at a version:
/// `escaped key ++ 00 00 ++ version (8, BE)` → tagged value.
const HISTORY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("history");
/// The latest value of every present key.
const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("latest");
/// `version (BE)` → root.
const ROOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("roots");
/// `version (BE)` → borsh of what the version wrote, for rewinding.
const UNDO: TableDefinition<&[u8], &[u8]> = TableDefinition::new("undo");
const SIDE_BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("side_blocks");
const SIDE_RECEIPTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("side_receipts");
const SIDE_TX_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("side_tx_index");
const SIDE_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("side_meta");

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

fn backend(operation: &'static str) -> impl Fn(redb::Error) -> StateError {
    move |e| StateError::Backend {
        operation,
        message: e.to_string(),
    }
}

macro_rules! db_try {
    ($op:literal, $e:expr) => {
        $e.map_err(|e| backend($op)(e.into()))?
    };
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
    /// Anything else (genesis hash, block hash index).
    Meta,
}

impl SideTable {
    fn definition(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            Self::Blocks => SIDE_BLOCKS,
            Self::Receipts => SIDE_RECEIPTS,
            Self::TxIndex => SIDE_TX_INDEX,
            Self::Meta => SIDE_META,
        }
    }
}

/// One side record to write with a version. A side key is written by one
/// version only: rewinding past that version removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideWrite {
    /// The table.
    pub table: SideTable,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// What a version wrote, so [`StateDb::rewind`] can undo it.
#[derive(Debug, Default, BorshSerialize, BorshDeserialize)]
struct Undo {
    keys: Vec<Vec<u8>>,
    nodes: Vec<Vec<u8>>,
    side: Vec<(SideTable, Vec<u8>)>,
}

fn be(version: u64) -> [u8; 8] {
    version.to_be_bytes()
}

fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Hasher>(key)
}

fn value_key(hash: &KeyHash, version: u64) -> Vec<u8> {
    [&hash.0[..], &be(version)].concat()
}

fn tag(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(v) => [&[1u8][..], v].concat(),
    }
}

fn untag(bytes: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(StateError::Corrupt(
            "a stored value has no valid tag".into(),
        )),
    }
}

/// Escapes a key so that no escaped key is a prefix of another's
/// terminated form while byte order is kept: `00` becomes `00 ff`, and
/// [`terminated`] appends `00 00`.
fn escape(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out
}

fn terminated(key: &[u8]) -> Vec<u8> {
    let mut out = escape(key);
    out.extend_from_slice(&[0, 0]);
    out
}

fn unescape(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while i < escaped.len() {
        out.push(escaped[i]);
        i += if escaped[i] == 0 { 2 } else { 1 };
    }
    out
}

fn history_key(key: &[u8], version: u64) -> Vec<u8> {
    [terminated(key), be(version).to_vec()].concat()
}

fn root_key(version: u64) -> NodeKey {
    // The empty path: jmt's constructor for it is private, its iterator
    // constructor is not.
    let empty: jmt::storage::NibblePath = std::iter::empty().collect();
    NodeKey::new(version, empty)
}

fn node_key_bytes(key: &NodeKey) -> Vec<u8> {
    borsh::to_vec(key).unwrap_or_default()
}

/// Reads tree nodes and values from a table view (committed or inside the
/// write transaction), and from nodes not yet written.
struct Reader<'a, N, V> {
    nodes: &'a N,
    values: &'a V,
    extra: &'a BTreeMap<Vec<u8>, Node>,
}

impl<N, V> TreeReader for Reader<'_, N, V>
where
    N: ReadableTable<&'static [u8], &'static [u8]>,
    V: ReadableTable<&'static [u8], &'static [u8]>,
{
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow_result::Result<Option<Node>> {
        let key = node_key_bytes(node_key);
        if let Some(node) = self.extra.get(&key) {
            return Ok(Some(node.clone()));
        }
        let found = self
            .nodes
            .get(key.as_slice())
            .map_err(|e| anyhow_result::msg(e.to_string()))?;
        match found {
            None => Ok(None),
            Some(bytes) => Node::try_from_slice(bytes.value())
                .map(Some)
                .map_err(|e| anyhow_result::msg(format!("tree node: {e}"))),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        hash: KeyHash,
    ) -> anyhow_result::Result<Option<OwnedValue>> {
        let from = value_key(&hash, 0);
        let to = value_key(&hash, max_version);
        let mut range = self
            .values
            .range(from.as_slice()..=to.as_slice())
            .map_err(|e| anyhow_result::msg(e.to_string()))?;
        match range.next_back() {
            None => Ok(None),
            Some(entry) => {
                let (_, value) = entry.map_err(|e| anyhow_result::msg(e.to_string()))?;
                untag(value.value()).map_err(|e| anyhow_result::msg(e.to_string()))
            }
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow_result::Result<Option<(NodeKey, LeafNode)>> {
        // Only used when restoring a tree from chunks, which we never do.
        Ok(None)
    }
}

/// jmt's fallible results (its errors are `anyhow` errors).
mod anyhow_result {
    pub use anyhow::Result;
    /// An error with `message`.
    pub fn msg(message: String) -> anyhow::Error {
        anyhow::Error::msg(message)
    }
}

/// The versioned, authenticated state in one redb database.
pub struct StateDb {
    db: redb::Database,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

const ALL_TABLES: [TableDefinition<&[u8], &[u8]>; 10] = [
    NODES,
    VALUES,
    HISTORY,
    LATEST,
    ROOTS,
    UNDO,
    SIDE_BLOCKS,
    SIDE_RECEIPTS,
    SIDE_TX_INDEX,
    SIDE_META,
];

impl StateDb {
    /// Opens or creates the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let db = redb::Database::create(path).map_err(|e| StateError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::init(db)
    }

    /// A database in memory, with the same code paths as a file.
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
        // Every table exists from the start, so reads never meet a missing
        // table.
        let txn = db_try!("begin", db.begin_write());
        for table in ALL_TABLES {
            db_try!("create table", txn.open_table(table));
        }
        db_try!("commit", txn.commit());
        Ok(Self { db })
    }

    fn read(&self) -> Result<redb::ReadTransaction, StateError> {
        Ok(db_try!("begin read", self.db.begin_read()))
    }

    /// The last committed version, `None` before the first commit.
    pub fn latest_version(&self) -> Result<Option<u64>, StateError> {
        let txn = self.read()?;
        let roots = db_try!("open", txn.open_table(ROOTS));
        let last = db_try!("read", roots.last());
        last.map(|(k, _)| decode_version(k.value())).transpose()
    }

    /// The root at `version`.
    pub fn root(&self, version: u64) -> Result<Root, StateError> {
        let txn = self.read()?;
        let roots = db_try!("open", txn.open_table(ROOTS));
        let found = db_try!("read", roots.get(&be(version)[..]));
        let bytes = found.ok_or(StateError::UnknownVersion(version))?;
        bytes
            .value()
            .try_into()
            .map_err(|_| StateError::Corrupt("a root is not 32 bytes".into()))
    }

    /// The latest committed value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>, StateError> {
        let txn = self.read()?;
        let latest = db_try!("open", txn.open_table(LATEST));
        let found = db_try!("read", latest.get(key));
        Ok(found.map(|v| v.value().to_vec()))
    }

    /// The value of `key` as of `version`.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Value>, StateError> {
        self.check_version(version)?;
        let txn = self.read()?;
        let values = db_try!("open", txn.open_table(VALUES));
        let hash = key_hash(key);
        let from = value_key(&hash, 0);
        let to = value_key(&hash, version);
        let mut range = db_try!("read", values.range(from.as_slice()..=to.as_slice()));
        match range.next_back() {
            None => Ok(None),
            Some(entry) => {
                let (_, value) = db_try!("read", entry);
                untag(value.value())
            }
        }
    }

    fn check_version(&self, version: u64) -> Result<(), StateError> {
        match self.latest_version()? {
            Some(latest) if version <= latest => Ok(()),
            _ => Err(StateError::UnknownVersion(version)),
        }
    }

    /// The latest entries whose keys start with `prefix`, ascending, after
    /// `start_after` if given, at most `limit`.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Key, Value)>, StateError> {
        let txn = self.read()?;
        let latest = db_try!("open", txn.open_table(LATEST));
        let mut out = Vec::new();
        let start = match start_after {
            Some(after) if after >= prefix => after.to_vec(),
            _ => prefix.to_vec(),
        };
        for entry in db_try!("read", latest.range(start.as_slice()..)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = db_try!("read", entry);
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            if start_after.is_some_and(|after| k <= after) {
                continue;
            }
            out.push((k.to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The entries under `prefix` as of `version`, as [`Self::scan_prefix`].
    /// Walks the history of every key under the prefix.
    pub fn scan_prefix_at(
        &self,
        prefix: &[u8],
        version: u64,
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Key, Value)>, StateError> {
        self.check_version(version)?;
        let txn = self.read()?;
        let history = db_try!("open", txn.open_table(HISTORY));
        let start = match start_after {
            Some(after) if after >= prefix => escape(after),
            _ => escape(prefix),
        };
        let escaped_prefix = escape(prefix);
        let mut out = Vec::new();
        // The value of the key being walked: (key, last value at or before
        // `version`).
        let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        let flush = |current: Option<(Vec<u8>, Option<Vec<u8>>)>, out: &mut Vec<(Key, Value)>| {
            if let Some((k, Some(v))) = current
                && start_after.is_none_or(|after| k.as_slice() > after)
            {
                out.push((k, v));
            }
        };
        for entry in db_try!("read", history.range(start.as_slice()..)) {
            let (hk, hv) = db_try!("read", entry);
            let hk = hk.value();
            if !hk.starts_with(&escaped_prefix) {
                break;
            }
            if hk.len() < 10 {
                return Err(StateError::Corrupt("a history key is too short".into()));
            }
            let (escaped, ver) = hk.split_at(hk.len() - 8);
            let key = unescape(&escaped[..escaped.len() - 2]);
            let ver = decode_version(ver)?;
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                flush(current.take(), &mut out);
                if out.len() >= limit {
                    return Ok(out);
                }
                current = Some((key, None));
            }
            if ver <= version
                && let Some((_, value)) = current.as_mut()
            {
                *value = untag(hv.value())?;
            }
        }
        flush(current.take(), &mut out);
        out.truncate(limit);
        Ok(out)
    }

    /// The root the state would have if `changes` were committed as the
    /// next version; nothing is written.
    pub fn root_after(&self, changes: &ChangeSet) -> Result<Root, StateError> {
        let next = self.latest_version()?.map_or(0, |v| v + 1);
        let txn = self.read()?;
        let nodes = db_try!("open", txn.open_table(NODES));
        let values = db_try!("open", txn.open_table(VALUES));
        if changes.is_empty() {
            return match next {
                0 => Ok(EMPTY_ROOT),
                _ => self.root(next - 1),
            };
        }
        let extra = BTreeMap::new();
        let reader = Reader {
            nodes: &nodes,
            values: &values,
            extra: &extra,
        };
        let (root, _) = Self::update(&reader, changes, next)?;
        Ok(root.0)
    }

    fn update<N, V>(
        reader: &Reader<'_, N, V>,
        changes: &ChangeSet,
        version: u64,
    ) -> Result<(RootHash, jmt::storage::TreeUpdateBatch), StateError>
    where
        N: ReadableTable<&'static [u8], &'static [u8]>,
        V: ReadableTable<&'static [u8], &'static [u8]>,
    {
        let tree: Tree<'_, _> = JellyfishMerkleTree::new(reader);
        let set: Vec<(KeyHash, Option<OwnedValue>)> = changes
            .iter()
            .map(|(k, v)| (key_hash(k), v.clone()))
            .collect();
        tree.put_value_set(set, version)
            .map_err(|e| StateError::Tree(e.to_string()))
    }

    /// Commits `changes` as `version` (0 first, then each next one) with
    /// the `side` records, in one write transaction, and returns the new
    /// root. Only the changed keys' paths of the tree are rewritten.
    pub fn commit(
        &self,
        version: u64,
        changes: &ChangeSet,
        side: &[SideWrite],
    ) -> Result<Root, StateError> {
        let expected = self.latest_version()?.map_or(0, |v| v + 1);
        if version != expected {
            return Err(StateError::VersionOutOfOrder {
                expected,
                got: version,
            });
        }
        let txn = db_try!("begin", self.db.begin_write());
        let mut undo = Undo::default();
        let root = {
            let mut nodes = db_try!("open", txn.open_table(NODES));
            let mut values = db_try!("open", txn.open_table(VALUES));
            let mut new_nodes: BTreeMap<Vec<u8>, Node> = BTreeMap::new();
            let root = if changes.is_empty() {
                // jmt makes no root for a version without changes; the
                // next version reads the previous root, so copy it.
                let (previous, root) = match version {
                    0 => (Node::Null, EMPTY_ROOT),
                    v => {
                        let key = node_key_bytes(&root_key(v - 1));
                        let found = db_try!("read", nodes.get(key.as_slice()));
                        let bytes = found.ok_or_else(|| {
                            StateError::Tree(format!("no root node at {}", v - 1))
                        })?;
                        let node = Node::try_from_slice(bytes.value())
                            .map_err(|e| StateError::Corrupt(format!("tree node: {e}")))?;
                        (node, self.root(v - 1)?)
                    }
                };
                new_nodes.insert(node_key_bytes(&root_key(version)), previous);
                root
            } else {
                let extra = BTreeMap::new();
                let reader = Reader {
                    nodes: &nodes,
                    values: &values,
                    extra: &extra,
                };
                let (root, batch) = Self::update(&reader, changes, version)?;
                for (key, node) in batch.node_batch.nodes() {
                    new_nodes.insert(node_key_bytes(key), node.clone());
                }
                for ((v, hash), value) in batch.node_batch.values() {
                    let k = value_key(hash, *v);
                    db_try!(
                        "write",
                        values.insert(k.as_slice(), tag(value.as_deref()).as_slice())
                    );
                }
                root.0
            };
            for (key, node) in &new_nodes {
                let bytes = borsh::to_vec(node).unwrap_or_default();
                db_try!("write", nodes.insert(key.as_slice(), bytes.as_slice()));
                undo.nodes.push(key.clone());
            }
            root
        };
        {
            let mut history = db_try!("open", txn.open_table(HISTORY));
            let mut latest = db_try!("open", txn.open_table(LATEST));
            for (key, value) in changes {
                let hk = history_key(key, version);
                db_try!(
                    "write",
                    history.insert(hk.as_slice(), tag(value.as_deref()).as_slice())
                );
                match value {
                    Some(v) => {
                        db_try!("write", latest.insert(key.as_slice(), v.as_slice()));
                    }
                    None => {
                        db_try!("write", latest.remove(key.as_slice()));
                    }
                }
                undo.keys.push(key.clone());
            }
            for write in side {
                let mut table = db_try!("open", txn.open_table(write.table.definition()));
                db_try!(
                    "write",
                    table.insert(write.key.as_slice(), write.value.as_slice())
                );
                undo.side.push((write.table, write.key.clone()));
            }
            let mut roots = db_try!("open", txn.open_table(ROOTS));
            db_try!("write", roots.insert(&be(version)[..], &root[..]));
            let mut undos = db_try!("open", txn.open_table(UNDO));
            let undo_bytes = borsh::to_vec(&undo).unwrap_or_default();
            db_try!(
                "write",
                undos.insert(&be(version)[..], undo_bytes.as_slice())
            );
        }
        db_try!("commit", txn.commit());
        Ok(root)
    }

    /// A side record.
    pub fn side_get(&self, table: SideTable, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let txn = self.read()?;
        let t = db_try!("open", txn.open_table(table.definition()));
        let found = db_try!("read", t.get(key));
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
        let t = db_try!("open", txn.open_table(table.definition()));
        let mut out = Vec::new();
        for entry in db_try!("read", t.range(from..)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = db_try!("read", entry);
            if to.is_some_and(|to| k.value() >= to) {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Undoes every version after `version`, atomically: afterwards the
    /// database is as it was right after `version` was committed.
    pub fn rewind(&self, version: u64) -> Result<(), StateError> {
        let latest = self
            .latest_version()?
            .ok_or(StateError::UnknownVersion(version))?;
        if version > latest {
            return Err(StateError::UnknownVersion(version));
        }
        let txn = db_try!("begin", self.db.begin_write());
        {
            let mut nodes = db_try!("open", txn.open_table(NODES));
            let mut values = db_try!("open", txn.open_table(VALUES));
            let mut history = db_try!("open", txn.open_table(HISTORY));
            let mut latest_table = db_try!("open", txn.open_table(LATEST));
            let mut roots = db_try!("open", txn.open_table(ROOTS));
            let mut undos = db_try!("open", txn.open_table(UNDO));
            let mut touched: BTreeSet<Vec<u8>> = BTreeSet::new();
            for v in (version + 1..=latest).rev() {
                let bytes = db_try!("read", undos.get(&be(v)[..]))
                    .map(|b| b.value().to_vec())
                    .ok_or_else(|| StateError::Corrupt(format!("no undo record for {v}")))?;
                let undo = Undo::try_from_slice(&bytes)
                    .map_err(|e| StateError::Corrupt(format!("undo record {v}: {e}")))?;
                for key in &undo.nodes {
                    db_try!("write", nodes.remove(key.as_slice()));
                }
                for key in &undo.keys {
                    let vk = value_key(&key_hash(key), v);
                    db_try!("write", values.remove(vk.as_slice()));
                    let hk = history_key(key, v);
                    db_try!("write", history.remove(hk.as_slice()));
                    touched.insert(key.clone());
                }
                for (table, key) in &undo.side {
                    let mut t = db_try!("open", txn.open_table(table.definition()));
                    db_try!("write", t.remove(key.as_slice()));
                }
                db_try!("write", roots.remove(&be(v)[..]));
                db_try!("write", undos.remove(&be(v)[..]));
            }
            // Each touched key takes its value as of `version` again.
            for key in touched {
                let from = history_key(&key, 0);
                let to = history_key(&key, version);
                let previous = {
                    let mut range = db_try!("read", history.range(from.as_slice()..=to.as_slice()));
                    match range.next_back() {
                        None => None,
                        Some(entry) => {
                            let (_, value) = db_try!("read", entry);
                            untag(value.value())?
                        }
                    }
                };
                match previous {
                    Some(v) => {
                        db_try!("write", latest_table.insert(key.as_slice(), v.as_slice()));
                    }
                    None => {
                        db_try!("write", latest_table.remove(key.as_slice()));
                    }
                }
            }
        }
        db_try!("commit", txn.commit());
        Ok(())
    }

    /// The value of `key` at `version` and a proof of it (inclusion) or of
    /// its absence (exclusion) under that version's root.
    pub fn prove(&self, key: &[u8], version: u64) -> Result<(Option<Value>, Proof), StateError> {
        self.check_version(version)?;
        let txn = self.read()?;
        let nodes = db_try!("open", txn.open_table(NODES));
        let values = db_try!("open", txn.open_table(VALUES));
        let extra = BTreeMap::new();
        let reader = Reader {
            nodes: &nodes,
            values: &values,
            extra: &extra,
        };
        let tree: Tree<'_, _> = JellyfishMerkleTree::new(&reader);
        let (value, proof) = tree
            .get_with_proof(key_hash(key), version)
            .map_err(|e| StateError::Tree(e.to_string()))?;
        Ok((value, Proof(proof)))
    }
}

fn decode_version(bytes: &[u8]) -> Result<u64, StateError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StateError::Corrupt("a version is not 8 bytes".into()))
}

/// The root of a state holding exactly `entries` (the `Some` values of a
/// change set applied to an empty state), computed in memory.
pub fn root_of(entries: &ChangeSet) -> Result<Root, StateError> {
    let db = StateDb::in_memory()?;
    db.root_after(entries)
}

/// A sparse Merkle proof for one key (jmt's), encodable with borsh.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Proof(jmt::proof::SparseMerkleProof<Hasher>);

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Proof").finish_non_exhaustive()
    }
}

impl Proof {
    /// The borsh encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes [`Self::to_bytes`]; anything else is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        Self::try_from_slice(bytes).map_err(|e| StateError::MalformedProof(e.to_string()))
    }
}

/// Why a proof does not show what it is asked to.
#[derive(Debug, thiserror::Error)]
#[error("the proof does not verify: {0}")]
pub struct ProofError(String);

/// Checks that `proof` shows `key` holding `value` (`Some`: inclusion) or
/// no value (`None`: exclusion) under `root`. Needs no database: this is
/// what light clients and contracts' tools use.
pub fn verify(
    root: &Root,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &Proof,
) -> Result<(), ProofError> {
    // A malformed proof must be an error, never a panic of the verifier.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        proof.0.verify(RootHash(*root), key_hash(key), value)
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ProofError(e.to_string())),
        Err(_) => Err(ProofError("malformed proof".into())),
    }
}
