//! Blocks, their hashes and the Merkle roots of their transactions and
//! receipts (`docs/chain.md`, section 5).

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::tx::SignedTransaction;

/// The domain tag in front of a block header's encoding when hashing.
pub const BLOCK_DOMAIN: &[u8] = b"detvm/block/v1\0";

/// A block header: what the block hash commits to.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    /// Height; the genesis block is 0.
    pub height: u64,
    /// Hash of the parent block (zeros for genesis).
    pub parent_hash: [u8; 32],
    /// Chosen by the producer; strictly above the parent's.
    pub timestamp_ns: u64,
    /// Who produced it.
    pub proposer: String,
    /// Merkle root of the transaction hashes.
    pub tx_root: [u8; 32],
    /// Merkle root of the receipt hashes.
    pub receipts_root: [u8; 32],
    /// State root after the block.
    pub state_root: [u8; 32],
    /// Gas used by all transactions.
    pub gas_used: u64,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(BLOCK_DOMAIN);
        hasher.update(borsh::to_vec(self).unwrap_or_default());
        hasher.finalize().into()
    }
}

/// A block: header and transactions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// Direct state changes applied before the transactions: dev chains
    /// only (`docs/chain.md`, section 8); empty on any other chain.
    pub dev_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The transactions, in execution order.
    pub transactions: Vec<SignedTransaction>,
}

impl Block {
    /// The block hash (of the header).
    pub fn hash(&self) -> [u8; 32] {
        self.header.hash()
    }
}

/// The RFC 6962 Merkle root of `leaves` (each a hash): empty → SHA-256 of
/// nothing; a leaf is `SHA-256(0x00 ++ leaf)`; a node
/// `SHA-256(0x01 ++ left ++ right)`, the left part taking the largest
/// power of two below the count.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [] => Sha256::digest([]).into(),
        [leaf] => {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(leaf);
            h.finalize().into()
        }
        _ => {
            let split = leaves.len().next_power_of_two() / 2;
            let (left, right) = leaves.split_at(split);
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(merkle_root(left));
            h.update(merkle_root(right));
            h.finalize().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_root_follows_rfc_6962() {
        let leaf = |b: u8| [b; 32];
        let hash_leaf = |l: [u8; 32]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(l);
            h.finalize().into()
        };
        let node = |a: [u8; 32], b: [u8; 32]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(a);
            h.update(b);
            h.finalize().into()
        };
        assert_eq!(merkle_root(&[]), <[u8; 32]>::from(Sha256::digest([])));
        assert_eq!(merkle_root(&[leaf(1)]), hash_leaf(leaf(1)));
        let three = merkle_root(&[leaf(1), leaf(2), leaf(3)]);
        let expect = node(
            node(hash_leaf(leaf(1)), hash_leaf(leaf(2))),
            hash_leaf(leaf(3)),
        );
        assert_eq!(three, expect);
        // Order matters.
        assert_ne!(three, merkle_root(&[leaf(2), leaf(1), leaf(3)]));
    }
}
