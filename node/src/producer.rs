//! The block-producer seam: how the node gets its next block. A single
//! node seals its own proposals at once ([`InstantSeal`]); a network of
//! validators (a consensus engine) implements the same trait, proposing
//! when it leads, verifying what others propose, and committing what the
//! network decided.

use detvm_chain::{Block, BuiltBlock, Ledger, SignedTransaction};

use crate::NodeError;

/// What the node offers for its next block.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    /// Direct state changes (dev chains only).
    pub dev_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Ready transactions from the mempool, in the order to try them.
    pub transactions: Vec<SignedTransaction>,
    /// The timestamp the producer chose (raised above the parent's).
    pub timestamp_ns: u64,
}

/// Decides the node's blocks. Every method runs on the executor thread
/// with the ledger; none may read the clock except to choose
/// [`Proposal::timestamp_ns`], which the node does before calling.
pub trait BlockProducer: Send {
    /// Builds the next block from `proposal`; nothing is committed yet.
    fn propose(&mut self, ledger: &mut Ledger, proposal: Proposal)
    -> Result<BuiltBlock, NodeError>;

    /// Re-executes a block made elsewhere and checks it is valid on the
    /// head (`docs/chain.md`, section 5); nothing is committed yet.
    fn verify(&mut self, ledger: &mut Ledger, block: &Block) -> Result<BuiltBlock, NodeError>;

    /// Makes a proposed or verified block final: one durable write.
    fn commit(&mut self, ledger: &mut Ledger, built: BuiltBlock) -> Result<(), NodeError>;
}

/// A single node that seals each proposal itself, at once.
#[derive(Debug, Clone)]
pub struct InstantSeal {
    /// The name in the headers it makes.
    pub proposer: String,
}

impl BlockProducer for InstantSeal {
    fn propose(
        &mut self,
        ledger: &mut Ledger,
        proposal: Proposal,
    ) -> Result<BuiltBlock, NodeError> {
        Ok(ledger.build_block_with(
            proposal.dev_changes,
            proposal.transactions,
            proposal.timestamp_ns,
            &self.proposer,
        )?)
    }

    fn verify(&mut self, ledger: &mut Ledger, block: &Block) -> Result<BuiltBlock, NodeError> {
        Ok(ledger.verify_block(block)?)
    }

    fn commit(&mut self, ledger: &mut Ledger, built: BuiltBlock) -> Result<(), NodeError> {
        Ok(ledger.commit(built)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use detvm_chain::{Action, Genesis, Keypair, Transaction};
    use detvm_state::StateDb;

    use super::*;

    fn ledger() -> Ledger {
        Ledger::open(Arc::new(StateDb::in_memory().unwrap()), &Genesis::dev()).unwrap()
    }

    #[test]
    fn a_proposed_block_verifies_and_commits_on_another_node() {
        let key = Keypair::dev(0);
        let tx = Transaction {
            chain_id: "detvm-dev".into(),
            signer: key.implicit_id(),
            public_key: key.public_key(),
            nonce: 0,
            gas_limit: 1_000_000,
            action: Action::Transfer {
                to: Keypair::dev(1).implicit_id(),
                amount: 3,
            },
        }
        .sign(&key);
        let (mut a, mut b) = (ledger(), ledger());
        let mut producer = InstantSeal {
            proposer: "a".into(),
        };
        let proposal = Proposal {
            transactions: vec![tx],
            timestamp_ns: 10,
            ..Proposal::default()
        };
        let built = producer.propose(&mut a, proposal).unwrap();
        let block = built.block.clone();
        producer.commit(&mut a, built).unwrap();
        let mut follower = InstantSeal {
            proposer: "b".into(),
        };
        let verified = follower.verify(&mut b, &block).unwrap();
        follower.commit(&mut b, verified).unwrap();
        assert_eq!(a.head(), b.head());
        let mut forged = block.clone();
        forged.header.gas_used += 1;
        assert!(follower.verify(&mut ledger(), &forged).is_err());
    }
}
