//! detvm's chain as a network of validators on Malachite, an existing
//! Tendermint BFT engine (`docs/network.md`). This crate owns what
//! consensus needs to know about detvm and nothing else: the Malachite
//! context (heights, validator addresses, blocks by hash, votes,
//! proposals and the parts that stream a block), the validators' ed25519
//! signing with chain-bound domains, the codec of every message on the
//! wire and in the write-ahead log, and the application loop that answers
//! consensus by building, verifying and committing blocks through the
//! one executor (`detvm_chain::Ledger`) the node and the test kit use.

pub mod app;
pub mod codec;
pub mod context;
pub mod signing;
pub mod store;

pub use app::{Fault, NetworkConfig, NetworkError, NetworkHandle, start};
pub use codec::{BorshCodec, DecodeError};
pub use context::{
    Address, BlockId, DetvmContext, Ed25519, Height, PrivateKey, Proposal, ProposalPart, PublicKey,
    Signature, Validator, ValidatorSet, Vote,
};
pub use ed25519_dalek::SigningKey;
pub use malachitebft_core_types::LinearTimeouts;
pub use signing::{ChainVerifier, ValidatorSigner};
