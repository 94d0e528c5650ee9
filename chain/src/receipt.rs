//! Transaction receipts (`docs/chain.md`, section 3.3).

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxOutcome {
    /// A call returned these bytes.
    Returned {
        /// The return value.
        value: Vec<u8>,
    },
    /// A call trapped: no contract state changed, no amount moved.
    Trapped {
        /// The trap kind's stable name.
        kind: String,
        /// The message of a `host` trap.
        message: Option<String>,
    },
    /// A deploy succeeded.
    Deployed {
        /// The new contract's id.
        contract: String,
        /// SHA-256 of its code.
        code_hash: [u8; 32],
    },
    /// A transfer moved its amount.
    Transferred,
    /// The action could not be carried out (out of gas before running,
    /// unknown contract or method, rejected code, unknown recipient).
    Failed {
        /// A stable kind.
        kind: String,
        /// What was wrong.
        message: String,
    },
}

impl TxOutcome {
    /// A stable name: `returned`, `trapped`, `deployed`, `transferred`,
    /// `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Returned { .. } => "returned",
            Self::Trapped { .. } => "trapped",
            Self::Deployed { .. } => "deployed",
            Self::Transferred => "transferred",
            Self::Failed { .. } => "failed",
        }
    }

    /// Whether the action did what it asked.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Returned { .. } | Self::Deployed { .. } | Self::Transferred
        )
    }
}

/// What a transaction did.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxReceipt {
    /// The transaction's hash.
    pub tx_hash: [u8; 32],
    /// How it ended.
    pub outcome: TxOutcome,
    /// Gas used, intrinsic gas included.
    pub gas_used: u64,
    /// Tokens debited for it: `gas_used × gas_price`.
    pub fee: u128,
    /// The contract's log lines (kept when it trapped).
    pub logs: Vec<String>,
    /// Every global state key the transaction changed, ascending, with its
    /// final value.
    pub state_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Events the called contract emitted itself (only if the call
    /// returned; `docs/host-api.md`, "Events").
    pub events: Vec<detvm_host::Event>,
    /// The calls the called contract made to others, as a tree.
    pub calls: Vec<detvm_host::CallNode>,
}

impl TxReceipt {
    /// Every event of the transaction in emission order, nested calls'
    /// included (`docs/host-api.md`, "Receipts").
    pub fn all_events(&self) -> Vec<detvm_host::Event> {
        detvm_host::events_in_order(&self.events, &self.calls)
    }

    /// SHA-256 of the borsh encoding.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(borsh::to_vec(self).unwrap_or_default()).into()
    }
}
