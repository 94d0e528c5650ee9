//! The Jellyfish Merkle tree over redb tables.

use borsh::BorshDeserialize;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version};
use redb::ReadableTable;

use crate::encoding::{Hasher, key_hash, node_key_bytes, untag, value_key};
use crate::{ChangeSet, StateError};

/// A redb table of byte strings, in a read or a write transaction.
pub(crate) trait BytesTable: ReadableTable<&'static [u8], &'static [u8]> {}
impl<T: ReadableTable<&'static [u8], &'static [u8]>> BytesTable for T {}

/// Serves jmt's reads from the node and value tables of one transaction,
/// so a commit computes its update against exactly the state it writes
/// over.
pub(crate) struct Reader<'a, N, V> {
    pub(crate) nodes: &'a N,
    pub(crate) values: &'a V,
}

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::msg(e.to_string())
}

impl<N: BytesTable, V: BytesTable> TreeReader for Reader<'_, N, V> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = node_key_bytes(node_key).map_err(fail)?;
        let Some(bytes) = self.nodes.get(key.as_slice()).map_err(fail)? else {
            return Ok(None);
        };
        Node::try_from_slice(bytes.value())
            .map(Some)
            .map_err(|e| fail(format!("corrupt tree node: {e}")))
    }

    fn get_value_option(
        &self,
        max_version: Version,
        hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        last_value(self.values, &hash, max_version).map_err(fail)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // jmt asks for it only when restoring a tree from chunks or
        // appending without a new version, neither of which we do.
        Ok(None)
    }
}

/// The value of the key hashing to `hash` as of `version`: its last
/// change at or before it.
pub(crate) fn last_value<V: BytesTable>(
    values: &V,
    hash: &KeyHash,
    version: u64,
) -> Result<Option<Vec<u8>>, StateError> {
    let from = value_key(hash, 0);
    let to = value_key(hash, version);
    let mut range = values
        .range(from.as_slice()..=to.as_slice())
        .map_err(|e| backend_error("read", e))?;
    match range.next_back() {
        None => Ok(None),
        Some(entry) => {
            let (_, value) = entry.map_err(|e| backend_error("read", e))?;
            untag(value.value())
        }
    }
}

pub(crate) fn backend_error(operation: &'static str, e: impl Into<redb::Error>) -> StateError {
    StateError::Backend {
        operation,
        message: e.into().to_string(),
    }
}

/// Applies `changes` as `version` on top of the tree at `version - 1`,
/// touching only the changed keys' paths. An empty change set still yields
/// a root node for `version` (jmt copies the previous one), so the next
/// version always finds its parent.
pub(crate) fn update<N: BytesTable, V: BytesTable>(
    nodes: &N,
    values: &V,
    changes: &ChangeSet,
    version: u64,
) -> Result<(RootHash, TreeUpdateBatch), StateError> {
    let reader = Reader { nodes, values };
    let tree: JellyfishMerkleTree<'_, _, Hasher> = JellyfishMerkleTree::new(&reader);
    let set = changes.iter().map(|(k, v)| (key_hash(k), v.clone()));
    tree.put_value_set(set, version)
        .map_err(|e| StateError::Tree(format!("{e:#}")))
}
