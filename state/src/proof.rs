//! Key proofs and their verifier.

use std::io::{self, Read};

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::RootHash;
use jmt::proof::SparseMerkleProof;

use crate::encoding::{Hasher, key_hash};
use crate::{Root, StateError};

/// A tree of 256-bit key hashes has at most one sibling per level.
const MAX_SIBLINGS: u32 = 256;
/// A leaf (key hash, value hash) or an internal node (two child hashes).
const NODE_BYTES: usize = 64;

/// A sparse Merkle proof for one key (jmt's), showing its value or its
/// absence under one root. Encoded with borsh; decoding checks the
/// structure first, so no input makes the decoder or [`verify`] panic or
/// allocate more than a proof's maximum size.
#[derive(Clone, PartialEq, BorshSerialize)]
pub struct Proof(pub(crate) SparseMerkleProof<Hasher>);

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Proof").field(&self.0).finish()
    }
}

impl BorshDeserialize for Proof {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let bytes = read_proof_bytes(reader)?;
        SparseMerkleProof::try_from_slice(&bytes).map(Self)
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn read_byte<R: Read>(reader: &mut R, out: &mut Vec<u8>) -> io::Result<u8> {
    let mut b = [0u8];
    reader.read_exact(&mut b)?;
    out.push(b[0]);
    Ok(b[0])
}

fn read_node<R: Read>(reader: &mut R, out: &mut Vec<u8>) -> io::Result<()> {
    let mut node = [0u8; NODE_BYTES];
    reader.read_exact(&mut node)?;
    out.extend_from_slice(&node);
    Ok(())
}

/// Reads exactly one proof's bytes in jmt's borsh layout
/// (`Option<leaf>`, `u32` sibling count, siblings tagged null / internal /
/// leaf), rejecting more siblings than a tree has levels before reading
/// them, so a forged count cannot make the decoder loop or allocate.
fn read_proof_bytes<R: Read>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match read_byte(reader, &mut out)? {
        0 => {}
        1 => read_node(reader, &mut out)?,
        _ => return Err(invalid("the proof's leaf tag is not 0 or 1")),
    }
    let mut count = [0u8; 4];
    reader.read_exact(&mut count)?;
    out.extend_from_slice(&count);
    let count = u32::from_le_bytes(count);
    if count > MAX_SIBLINGS {
        return Err(invalid(
            "the proof has more siblings than the tree has levels",
        ));
    }
    for _ in 0..count {
        match read_byte(reader, &mut out)? {
            0 => {}
            1 | 2 => read_node(reader, &mut out)?,
            _ => return Err(invalid("a sibling's tag is not 0, 1 or 2")),
        }
    }
    Ok(out)
}

impl Proof {
    /// The key hash of the proof's leaf, if it has one. jmt keeps the
    /// accessor private; a leaf's borsh encoding is its key hash then its
    /// value hash (the layout [`read_proof_bytes`] relies on too).
    fn leaf_key_hash(&self) -> Option<[u8; 32]> {
        let leaf = borsh::to_vec(&self.0.leaf()?).ok()?;
        leaf.get(..32)?.try_into().ok()
    }

    /// The borsh encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        // borsh fails only on a collection longer than u32::MAX, and a
        // proof has at most 256 siblings; empty bytes would not decode.
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes [`Self::to_bytes`]; anything else, including trailing
    /// bytes, is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        Self::try_from_slice(bytes).map_err(|e| StateError::MalformedProof(e.to_string()))
    }
}

/// Why a proof does not show what it is asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof is an inclusion proof but absence was claimed, or the
    /// other way round.
    #[error("the proof shows {shows}, not {claimed}")]
    WrongKind {
        /// What the proof shows: "an inclusion" or "an exclusion".
        shows: &'static str,
        /// What was claimed.
        claimed: &'static str,
    },
    /// The proof is for another key, value or root (jmt's explanation).
    #[error("the proof does not verify: {0}")]
    Mismatch(String),
}

/// Checks that `proof` shows `key` holding `value` (`Some`: inclusion) or
/// no value (`None`: exclusion) under `root`. Needs no database: this is
/// what light clients and contracts' tools use.
pub fn verify(
    root: &Root,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &Proof,
) -> Result<(), ProofError> {
    let hash = key_hash(key);
    // jmt reports these too, but as prose; a client acting on the answer
    // needs to tell "wrong kind of proof" from "forged or stale".
    let includes = proof.leaf_key_hash() == Some(hash.0);
    match (value.is_some(), includes) {
        (true, false) => {
            return Err(ProofError::WrongKind {
                shows: "an exclusion",
                claimed: "an inclusion",
            });
        }
        (false, true) => {
            return Err(ProofError::WrongKind {
                shows: "an inclusion",
                claimed: "an exclusion",
            });
        }
        _ => {}
    }
    proof
        .0
        .verify(RootHash(*root), hash, value)
        .map_err(|e| ProofError::Mismatch(e.to_string()))
}
