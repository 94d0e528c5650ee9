//! The chain of a state directory (`detvm deploy`, `call`, `view`,
//! `state` with `--state DIR`): the node's executor (`detvm_chain::Ledger`)
//! on the local genesis, one block per committed transaction.
//!
//! Transactions are unsigned (the local genesis is a dev chain) and cost
//! no fees, so any account id may deploy and call. Only transactions that
//! did what they asked are committed: a trapped or failed call is reported
//! and leaves the directory as it was. Block `h` is at `h` seconds, so a
//! call sees the same context on every run over the same state.

use std::path::Path;
use std::sync::Arc;

use detvm_chain::{
    Action, AtHeight, Genesis, Ledger, SignedTransaction, Transaction, TxOutcome, TxReceipt,
};
use detvm_host::{
    CallContext, ContractId, DeployReceipt, Entry, Receipt, ReceiptOutcome, STATE_FILE, Storage,
    TrapKind,
};
use detvm_state::StateDb;

use crate::Status;

/// Block time of the local chain: block `h` is at `h` seconds.
const NANOS_PER_BLOCK: u64 = 1_000_000_000;

/// A failure of a local command: a stable kind, a message, and the exit
/// status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LocalError {
    /// Stable kind (`unknown_contract`, a metering error's kind, …).
    pub kind: String,
    /// What went wrong.
    pub message: String,
    /// The exit status.
    pub status: Status,
}

impl LocalError {
    fn usage(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.into(),
            status: Status::Usage,
        }
    }

    fn rejected(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.into(),
            status: Status::Rejected,
        }
    }
}

impl From<detvm_chain::Error> for LocalError {
    fn from(e: detvm_chain::Error) -> Self {
        match e {
            detvm_chain::Error::Host(h) => h.into(),
            other => Self::usage("state", other.to_string()),
        }
    }
}

impl From<detvm_host::Error> for LocalError {
    fn from(e: detvm_host::Error) -> Self {
        let status = match e {
            detvm_host::Error::Rejected(_) | detvm_host::Error::Engine(_) => Status::Rejected,
            _ => Status::Usage,
        };
        Self {
            kind: e.kind().to_owned(),
            message: e.to_string(),
            status,
        }
    }
}

/// The trap kind with stable name `name`.
fn trap_kind(name: &str) -> Option<TrapKind> {
    [
        TrapKind::Unreachable,
        TrapKind::MemoryOutOfBounds,
        TrapKind::TableOutOfBounds,
        TrapKind::UninitializedElement,
        TrapKind::IndirectCallTypeMismatch,
        TrapKind::IntegerDivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::InvalidConversionToInteger,
        TrapKind::OutOfGas,
        TrapKind::StackOverflow,
        TrapKind::Host,
    ]
    .into_iter()
    .find(|k| k.name() == name)
}

/// A state directory's chain.
pub struct LocalChain {
    ledger: Ledger,
}

/// Who calls and with how much gas.
pub struct LocalCall<'a> {
    /// The calling account.
    pub caller: &'a str,
    /// Gas limit.
    pub gas: u64,
}

impl LocalChain {
    /// Opens (or creates) the chain in `dir`, with a code cache of
    /// `code_cache_mb` MiB in it (0: none).
    pub fn open(dir: &Path, code_cache_mb: u64) -> Result<Self, LocalError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            LocalError::usage("storage", format!("cannot create {}: {e}", dir.display()))
        })?;
        let db = StateDb::open(&dir.join(STATE_FILE))
            .map_err(|e| LocalError::usage("storage", e.to_string()))?;
        let mut ledger = Ledger::open(Arc::new(db), &Genesis::local())?;
        if let Some(cache) = detvm_node::code_cache(Some(dir), code_cache_mb) {
            ledger.set_code_cache(cache);
        }
        Ok(Self { ledger })
    }

    /// The height the next transaction runs in.
    pub fn next_height(&self) -> u64 {
        self.ledger.head().height + 1
    }

    fn check_account(id: &str) -> Result<(), LocalError> {
        detvm_host::check_account(id).map_err(LocalError::from)
    }

    fn unsigned(
        &self,
        signer: &str,
        gas_limit: u64,
        action: Action,
    ) -> Result<SignedTransaction, LocalError> {
        let nonce = self.ledger.account(signer, None)?.map_or(0, |a| a.nonce);
        Ok(SignedTransaction {
            transaction: Transaction {
                chain_id: self.ledger.params().chain_id.clone(),
                signer: signer.to_owned(),
                public_key: [0; 32],
                nonce,
                gas_limit,
                action,
            },
            signature: [0; 64],
        })
    }

    /// Runs `tx` as the next block; commits it when `keep` says so.
    fn run(
        &mut self,
        tx: SignedTransaction,
        keep: impl Fn(&TxOutcome) -> bool,
    ) -> Result<TxReceipt, LocalError> {
        let h = self.next_height();
        let mut built =
            self.ledger
                .build_block(vec![tx], h.saturating_mul(NANOS_PER_BLOCK), "local")?;
        if let Some((_, e)) = built.rejected.pop() {
            return Err(LocalError::usage(e.kind(), e.to_string()));
        }
        if !built.deferred.is_empty() {
            return Err(LocalError::usage(
                "gas_limit_too_high",
                format!(
                    "the gas limit is above the block gas limit {}",
                    self.ledger.params().block_gas_limit
                ),
            ));
        }
        let receipt = built
            .receipts
            .first()
            .cloned()
            .ok_or_else(|| LocalError::usage("state", "the transaction did not run"))?;
        if keep(&receipt.outcome) {
            self.ledger.commit(built)?;
        }
        Ok(receipt)
    }

    /// Deploys `code` as `from`.
    pub fn deploy(&mut self, code: &[u8], from: &str) -> Result<DeployReceipt, LocalError> {
        Self::check_account(from)?;
        let limit = self.ledger.params().block_gas_limit;
        let tx = self.unsigned(
            from,
            limit,
            Action::Deploy {
                code: code.to_vec(),
            },
        )?;
        let receipt = self.run(tx, TxOutcome::is_success)?;
        match receipt.outcome {
            TxOutcome::Deployed {
                contract,
                code_hash,
            } => Ok(DeployReceipt {
                contract: ContractId::parse(&contract)
                    .ok_or_else(|| LocalError::usage("state", "a deploy made no contract id"))?,
                code_hash,
                gas_used: receipt.gas_used,
            }),
            TxOutcome::Failed { kind, message } => Err(LocalError::rejected(
                &kind,
                format!("code rejected: {message}"),
            )),
            other => Err(LocalError::usage(
                "state",
                format!("a deploy ended as {}", other.name()),
            )),
        }
    }

    /// Calls `method`, committing its changes if it returns. The receipt
    /// is the call's: its gas, logs, and the contract's own keys changed.
    pub fn call(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        call: &LocalCall<'_>,
    ) -> Result<Receipt, LocalError> {
        Self::check_account(call.caller)?;
        let action = Action::Call {
            contract: contract.to_string(),
            method: method.to_owned(),
            args: args.to_vec(),
            amount: 0,
        };
        let tx = self.unsigned(call.caller, call.gas, action)?;
        let receipt = self.run(tx, |o| matches!(o, TxOutcome::Returned { .. }))?;
        let namespace = format!("state/{contract}/").into_bytes();
        let state_changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = receipt
            .state_changes
            .iter()
            .filter(|(k, _)| k.starts_with(&namespace))
            .map(|(k, v)| (k[namespace.len()..].to_vec(), v.clone()))
            .collect();
        let outcome = match receipt.outcome {
            TxOutcome::Returned { value } => ReceiptOutcome::Returned(value),
            TxOutcome::Trapped { kind, message } => ReceiptOutcome::Trapped {
                kind: trap_kind(&kind).ok_or_else(|| {
                    LocalError::usage("state", format!("unknown trap kind {kind}"))
                })?,
                message,
            },
            TxOutcome::Failed { kind, message } => return Err(LocalError::usage(&kind, message)),
            other => {
                return Err(LocalError::usage(
                    "state",
                    format!("a call ended as {}", other.name()),
                ));
            }
        };
        Ok(Receipt {
            outcome,
            gas_used: receipt.gas_used,
            logs: receipt.logs,
            state_changes,
            events: receipt.events,
            calls: receipt.calls,
        })
    }

    /// Runs `method` read-only on the committed state, in the context of
    /// the next block.
    pub fn view(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        call: &LocalCall<'_>,
    ) -> Result<Receipt, LocalError> {
        Self::check_account(call.caller)?;
        let h = self.next_height();
        let storage: Arc<dyn Storage> = Arc::new(AtHeight::new(
            self.ledger.db().clone(),
            self.ledger.head().height,
        ));
        let ctx = CallContext {
            caller: call.caller.to_owned(),
            gas: call.gas,
            block_height: h,
            block_timestamp: h.saturating_mul(NANOS_PER_BLOCK),
            amount: 0,
        };
        Ok(self
            .ledger
            .host()
            .view_in(&storage, contract, method, args, &ctx)?)
    }

    /// A contract's committed storage under `prefix`.
    pub fn state(&self, contract: &ContractId, prefix: &[u8]) -> Result<Vec<Entry>, LocalError> {
        Ok(self.ledger.host().state(contract, prefix)?)
    }
}
