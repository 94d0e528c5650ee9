//! The chain: deploys, calls and views over a [`Storage`], with atomic
//! commits and a cache of compiled modules.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_metering::ImportPolicy;
use detvm_vm::{CodeCache, Engine, EngineConfig, Linker};
use sha2::{Digest, Sha256};

use crate::abi::{self, HostCallTrace};
use crate::account::{Account, account_key};
use crate::consensus::ConsensusConfig;
use crate::fees::HostFees;
use crate::frame::{self, Carried, FrameOutcome, FrameRequest, Overlay, Runtime};
use crate::receipt::{ContractId, DeployReceipt, Receipt, ReceiptOutcome};
use crate::storage::{Change, Entry, MemoryStorage, RedbStorage, Storage, StorageError};

/// The database file inside a state directory.
pub const STATE_FILE: &str = "state.redb";

/// Longest account id in bytes.
pub const MAX_ACCOUNT_LEN: usize = 64;

// Layout of the shared key-value store (`docs/host-api.md`, "State layout").
pub(crate) const CODE_PREFIX: &[u8] = b"code/";
pub(crate) const CONTRACT_PREFIX: &[u8] = b"contract/";
const NONCE_PREFIX: &[u8] = b"nonce/";
const STATE_PREFIX: &[u8] = b"state/";
const COMMITS_KEY: &[u8] = b"chain/commits";

/// Everything that can go wrong outside a contract's own execution (a
/// contract trapping is a [`Receipt`], not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No contract has this id.
    #[error("unknown contract `{0}`")]
    UnknownContract(String),
    /// The contract has no exported function of this name.
    #[error("contract `{contract}` has no method `{method}`")]
    UnknownMethod {
        /// The contract.
        contract: ContractId,
        /// The method asked for.
        method: String,
    },
    /// The export exists but is not a method: methods take no parameters and
    /// return nothing (arguments come through `input`).
    #[error(
        "`{method}` of contract `{contract}` is not a method: its type is {signature}, methods are [] -> []"
    )]
    NotAMethod {
        /// The contract.
        contract: ContractId,
        /// The export.
        method: String,
        /// Its type.
        signature: String,
    },
    /// An account id is empty, too long or has a character outside
    /// `[A-Za-z0-9._-]`.
    #[error("invalid account id `{0}`: 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    InvalidAccount(String),
    /// The call's input is longer than `max_input_len`.
    #[error("call input is {len} bytes, at most {max}")]
    InputTooLong {
        /// Input length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The code was rejected at deploy: validation, instrumentation or
    /// compilation failed, or a deploy rule was broken.
    #[error("code rejected: {0}")]
    Rejected(#[source] Rejection),
    /// The calling account's balance is below the amount attached.
    #[error("`{account}` has {have} but attached {need}")]
    InsufficientBalance {
        /// The calling account.
        account: String,
        /// Its balance.
        have: u128,
        /// The amount attached.
        need: u128,
    },
    /// A cross-contract call would re-enter a contract already on the call
    /// stack that is not marked reentrant.
    #[error("contract `{0}` is already running and is not marked reentrant")]
    Reentrancy(ContractId),
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The engine failed on code that was accepted at deploy, or could not
    /// be set up: a node fault.
    #[error("engine error: {0}")]
    Engine(#[source] EngineFault),
    /// Stored chain data does not decode: the store was written by
    /// something else.
    #[error("corrupt chain state: {0}")]
    Corrupt(#[source] Corruption),
}

/// Why code was rejected at deploy. Its [`kind`](Rejection::kind) is the
/// stable identifier clients see.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The engine refused or could not build the module: validation,
    /// instrumentation, decoding or compilation failed, or memory for its
    /// code could not be mapped (the one cause compiling again may not
    /// repeat).
    #[error("{}", engine_reason(.0))]
    Engine(#[source] detvm_vm::Error),
    /// The module has a start function, which would run outside any call.
    #[error("contracts may not have a start function: it would run outside any call")]
    StartFunction,
    /// Instantiating the module failed; it could never be called.
    #[error("{0}")]
    Instantiation(#[source] detvm_vm::Error),
    /// A rejection remembered by the code cache, which keeps only its kind
    /// and text: the same code is refused alike without compiling it.
    #[error("{reason}")]
    Cached {
        /// The kind of the original rejection.
        kind: String,
        /// The text of the original rejection.
        reason: String,
    },
}

/// A module the metering pass rejected reads as the metering error itself:
/// "code rejected: module rejected: …" would say it twice.
fn engine_reason(e: &detvm_vm::Error) -> String {
    match e.as_rejected() {
        Some(m) => m.to_string(),
        None => e.to_string(),
    }
}

impl Rejection {
    /// A stable identifier of the rejection: the engine's error kind (for a
    /// rejected module the metering error's), `start_function` or
    /// `instantiation`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Engine(e) => e.kind(),
            Self::StartFunction => "start_function",
            Self::Instantiation(_) => "instantiation",
            Self::Cached { kind, .. } => kind,
        }
    }
}

/// A fault of the engine while running code accepted at deploy, or while
/// setting it up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineFault {
    /// The engine returned an error: it could not be created, or could not
    /// instantiate or call accepted code.
    #[error("{0}")]
    Vm(#[source] detvm_vm::Error),
    /// Code that was accepted at deploy is rejected when compiled again (a
    /// new engine version, or a damaged code cache).
    #[error("stored code of {contract} no longer compiles: {rejection}")]
    StoredCodeRejected {
        /// The contract.
        contract: ContractId,
        /// Why it is rejected now. Boxed: a rare path, and it would
        /// otherwise make every `Result` of the host carry its size.
        #[source]
        rejection: Box<Rejection>,
    },
    /// The call panicked on this thread.
    #[error("the call panicked")]
    CallPanicked,
    /// The thread for a call with a bigger stack could not be started.
    #[error("cannot start the call thread: {0}")]
    CallThread(#[source] std::io::Error),
    /// The thread of a call panicked.
    #[error("the call thread panicked")]
    CallThreadPanicked,
}

/// Stored chain data that does not decode or is missing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// A stored record does not decode.
    #[error("{record}: {source}")]
    Decode {
        /// The record, as a person reads it (`account alice`, `deploy
        /// nonce`, …).
        record: String,
        /// Borsh's error.
        #[source]
        source: std::io::Error,
    },
    /// A contract's record names code that is not stored.
    #[error("code of {contract} is missing")]
    MissingCode {
        /// The contract.
        contract: ContractId,
    },
}

impl Corruption {
    /// A record that does not decode.
    pub(crate) fn decode(record: impl Into<String>, source: std::io::Error) -> Self {
        Self::Decode {
            record: record.into(),
            source,
        }
    }
}

impl Error {
    /// A stable identifier of the error, for machines and JSON.
    pub fn kind(&self) -> &str {
        match self {
            Self::UnknownContract(_) => "unknown_contract",
            Self::UnknownMethod { .. } => "unknown_method",
            Self::NotAMethod { .. } => "not_a_method",
            Self::InvalidAccount(_) => "invalid_account",
            Self::InputTooLong { .. } => "input_too_long",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::Reentrancy(_) => "reentrancy",
            Self::Rejected(rejection) => rejection.kind(),
            Self::Storage(_) => "storage",
            Self::Engine(_) => "engine",
            Self::Corrupt(_) => "corrupt",
        }
    }

    /// Whether the error refuses a call for a reason of the call itself
    /// (unknown contract or method, reentrancy, balance) rather than a
    /// fault of the node. A refused nested call is a result the caller
    /// sees; a fault ends the transaction.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::UnknownContract(_)
                | Self::UnknownMethod { .. }
                | Self::NotAMethod { .. }
                | Self::InvalidAccount(_)
                | Self::InputTooLong { .. }
                | Self::InsufficientBalance { .. }
                | Self::Reentrancy(_)
        )
    }
}

/// Who calls, with how much gas, in which block. Fixed by the caller of the
/// VM; the VM never reads a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The calling account (what `caller` returns).
    pub caller: String,
    /// Gas limit of the call.
    pub gas: u64,
    /// What `block_height` returns.
    pub block_height: u64,
    /// What `block_timestamp` returns, in nanoseconds.
    pub block_timestamp: u64,
    /// Native tokens moved from `caller` to the contract before the method
    /// runs (what `attached_amount` returns).
    pub amount: u128,
}

/// What [`Chain::contract_info`] tells about a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractInfo {
    /// SHA-256 of its code.
    pub code_hash: [u8; 32],
    /// The account that deployed it.
    pub deployer: String,
}

/// A chain of contracts over one store: deploy, call (commits on success),
/// view (never commits), and state listing.
///
/// A call runs on the caller's thread when its native stack has room for the
/// engine's stack limit, and otherwise on a thread made for it with a stack
/// that large, so `Chain` can be used from any thread.
pub struct Chain {
    storage: Arc<dyn Storage>,
    rt: Arc<Runtime>,
    /// Whether calls record their host calls ([`Chain::set_tracing`]).
    tracing: bool,
    /// The host calls of the last traced call.
    last_trace: Mutex<Vec<HostCallTrace>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("fees", &self.rt.fees.version)
            .finish_non_exhaustive()
    }
}

/// Checks an account id.
pub fn check_account(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ACCOUNT_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidAccount(id.to_owned()))
    }
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub(crate) fn state_namespace(contract: &ContractId) -> Vec<u8> {
    concat(&[STATE_PREFIX, contract.as_str().as_bytes(), b"/"])
}

fn decode_u64(bytes: Option<Vec<u8>>, what: &str) -> Result<u64, Error> {
    match bytes {
        None => Ok(0),
        Some(bytes) => {
            u64::try_from_slice(&bytes).map_err(|e| Error::Corrupt(Corruption::decode(what, e)))
        }
    }
}

impl Chain {
    /// A chain in memory, empty.
    pub fn in_memory() -> Result<Self, Error> {
        Self::with_storage(Arc::new(MemoryStorage::new()))
    }

    /// The chain persisted in directory `dir` (created if missing), in the
    /// file [`STATE_FILE`].
    pub fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
            path: dir.to_owned(),
            source: Box::new(e),
        })?;
        Self::with_storage(Arc::new(RedbStorage::open(&dir.join(STATE_FILE))?))
    }

    /// A chain over `storage`, with the default [`ConsensusConfig`]
    /// ([`HostFees::v2`], [`Schedule::v1`](detvm_metering::Schedule::v1),
    /// the contract limits and the default stack configuration).
    pub fn with_storage(storage: Arc<dyn Storage>) -> Result<Self, Error> {
        let consensus = ConsensusConfig::default();
        let mut config = EngineConfig::default();
        config.limits = consensus.limits.clone();
        config.schedule = consensus.schedule.clone();
        config.stack = consensus.stack.clone();
        config.metering = true;
        config.imports = ImportPolicy::AllowList(abi::allowed_imports());
        let engine = Engine::new(config).map_err(|e| Error::Engine(EngineFault::Vm(e)))?;
        let mut linker = Linker::new(&engine);
        abi::register(&mut linker);
        let rt = Arc::new(Runtime {
            engine,
            linker,
            fees: Arc::new(consensus.host_fees.clone()),
            consensus_hash: consensus.hash(),
            consensus,
            cache: Mutex::new(BTreeMap::new()),
            code_cache: Mutex::new(None),
        });
        Ok(Self {
            storage,
            rt,
            tracing: false,
            last_trace: Mutex::new(Vec::new()),
        })
    }

    /// A chain over `storage` that shares this one's engine, consensus
    /// configuration and compiled modules (in memory and on disk), with
    /// tracing off: what a node runs a trace or a dry run on, over a past
    /// or scratch state, without compiling the contracts again. Compiled
    /// modules are keyed by code hash, so they are valid over any state.
    pub fn sibling(&self, storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            rt: self.rt.clone(),
            tracing: false,
            last_trace: Mutex::new(Vec::new()),
        }
    }

    /// Makes later calls and views record each host call and the gas it
    /// charged (read with [`Chain::take_trace`]). Tracing changes no
    /// result and no gas.
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// The host calls of the last call or view made while tracing, nested
    /// calls' host calls included, in the order they ran.
    pub fn take_trace(&self) -> Vec<HostCallTrace> {
        match self.last_trace.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// The host fee table in use.
    pub fn fees(&self) -> &HostFees {
        &self.rt.fees
    }

    /// The consensus configuration the chain runs contracts under.
    pub fn consensus_config(&self) -> &ConsensusConfig {
        &self.rt.consensus
    }

    /// Keeps compiled modules in `cache` too, so that they outlive the
    /// process (`docs/vm.md`, "Compiled code on disk"). Results, gas and
    /// receipts are the same with and without it.
    pub fn set_code_cache(&mut self, cache: Arc<CodeCache>) {
        match self.rt.code_cache.lock() {
            Ok(mut guard) => *guard = Some(cache),
            Err(poisoned) => *poisoned.into_inner() = Some(cache),
        }
    }

    /// The code cache set with [`Chain::set_code_cache`], if any.
    pub fn code_cache(&self) -> Option<Arc<CodeCache>> {
        self.rt.code_cache()
    }

    /// Number of compiled modules in the cache.
    pub fn cached_modules(&self) -> usize {
        self.rt.lock_cache().len()
    }

    /// Number of committed transactions (deploys and successful calls).
    /// Tools derive block heights from it.
    pub fn committed(&self) -> Result<u64, Error> {
        decode_u64(self.storage.get(COMMITS_KEY)?, "commit counter")
    }

    /// Deploys `code` (binary Wasm) for account `from`.
    ///
    /// The code is validated against the contract profile and limits and
    /// the host import allow-list, instrumented and compiled (or taken from
    /// the cache), stored under its SHA-256, and given a new contract id
    /// ([`ContractId::derive`] with `from`'s deploy count as nonce) and an
    /// account record with balance 0. Gas is `deploy_base +
    /// deploy_per_byte × code.len()`, cached or not.
    pub fn deploy(&mut self, code: &[u8], from: &str) -> Result<DeployReceipt, Error> {
        check_account(from)?;
        let code_hash: [u8; 32] = Sha256::digest(code).into();
        frame::module(&self.rt, code_hash, || Ok(code.to_vec()))?;

        let nonce_key = concat(&[NONCE_PREFIX, from.as_bytes()]);
        let nonce = decode_u64(self.storage.get(&nonce_key)?, "deploy nonce")?;
        let contract = ContractId::derive(from, nonce, &code_hash);
        let meta = ContractMeta {
            code_hash,
            deployer: from.to_owned(),
            nonce,
        };
        let code_key = concat(&[CODE_PREFIX, &code_hash]);
        let mut batch: Vec<Change> = Vec::new();
        if self.storage.get(&code_key)?.is_none() {
            batch.push((code_key, Some(code.to_vec())));
        }
        batch.push((
            concat(&[CONTRACT_PREFIX, contract.as_str().as_bytes()]),
            Some(borsh::to_vec(&meta).unwrap_or_default()),
        ));
        batch.push((
            nonce_key,
            Some(borsh::to_vec(&(nonce + 1)).unwrap_or_default()),
        ));
        // A contract can hold native tokens: it gets a record.
        let account = account_key(contract.as_str());
        if self.storage.get(&account)?.is_none() {
            batch.push((
                account,
                Some(borsh::to_vec(&Account::default()).unwrap_or_default()),
            ));
        }
        batch.push(self.commit_counter_change()?);
        self.storage.apply(&batch)?;
        Ok(DeployReceipt {
            contract,
            code_hash,
            gas_used: self.rt.fees.deploy_gas(code.len() as u64),
        })
    }

    fn commit_counter_change(&self) -> Result<Change, Error> {
        let next = self.committed()?.saturating_add(1);
        Ok((
            COMMITS_KEY.to_vec(),
            Some(borsh::to_vec(&next).unwrap_or_default()),
        ))
    }

    /// Calls `method` of `contract` with input `args`. Everything the call
    /// changed (its own state, its nested calls', balances) is committed in
    /// one atomic step iff the call returned.
    pub fn call(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
    ) -> Result<Receipt, Error> {
        let (receipt, changes) = self.execute(&self.storage, contract, method, args, ctx, false)?;
        if receipt.is_success() {
            let mut batch: Vec<Change> = changes.into_iter().collect();
            batch.push(self.commit_counter_change()?);
            self.storage.apply(&batch)?;
        }
        Ok(receipt)
    }

    /// Calls `method` read-only: any write traps with `host`, and nothing
    /// is ever committed.
    pub fn view(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
    ) -> Result<Receipt, Error> {
        self.execute(&self.storage, contract, method, args, ctx, true)
            .map(|(receipt, _)| receipt)
    }

    /// [`Self::view`] against another store holding the same kind of
    /// state (say, the state at an earlier height), with this chain's
    /// engine and module cache.
    pub fn view_in(
        &self,
        storage: &Arc<dyn Storage>,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
    ) -> Result<Receipt, Error> {
        self.execute(storage, contract, method, args, ctx, true)
            .map(|(receipt, _)| receipt)
    }

    /// The committed storage of `contract` under keys starting with
    /// `prefix`, in ascending key order (keys without the namespace).
    pub fn state(&self, contract: &ContractId, prefix: &[u8]) -> Result<Vec<Entry>, Error> {
        self.contract_meta(contract)?;
        let namespace = state_namespace(contract);
        let entries = self.storage.scan_prefix(&concat(&[&namespace, prefix]))?;
        Ok(entries
            .into_iter()
            .map(|(k, v)| (k[namespace.len()..].to_vec(), v))
            .collect())
    }

    /// The committed native balance of `account` (0 without a record).
    pub fn balance(&self, account: &str) -> Result<u128, Error> {
        Ok(
            frame::read_account(self.storage.as_ref(), &Overlay::default(), account)?
                .map_or(0, |a| a.balance),
        )
    }

    /// The state changes that give an existing `contract` new `code`
    /// (a dev chain's cheat): the code is checked and compiled by the deploy
    /// rules first; storage, deployer and id stay.
    pub fn replace_code_changes(
        &self,
        contract: &ContractId,
        code: &[u8],
    ) -> Result<Vec<Change>, Error> {
        let mut meta = self.contract_meta(contract)?;
        let code_hash: [u8; 32] = Sha256::digest(code).into();
        frame::module(&self.rt, code_hash, || Ok(code.to_vec()))?;
        meta.code_hash = code_hash;
        let mut changes = Vec::new();
        let code_key = concat(&[CODE_PREFIX, &code_hash]);
        if self.storage.get(&code_key)?.is_none() {
            changes.push((code_key, Some(code.to_vec())));
        }
        changes.push((
            concat(&[CONTRACT_PREFIX, contract.as_str().as_bytes()]),
            Some(borsh::to_vec(&meta).unwrap_or_default()),
        ));
        Ok(changes)
    }

    /// What is recorded about `contract`: its code hash and deployer.
    pub fn contract_info(&self, contract: &ContractId) -> Result<ContractInfo, Error> {
        let meta = self.contract_meta(contract)?;
        Ok(ContractInfo {
            code_hash: meta.code_hash,
            deployer: meta.deployer,
        })
    }

    /// Whether `contract` exists.
    pub fn contains(&self, contract: &ContractId) -> Result<bool, Error> {
        Ok(self
            .storage
            .get(&concat(&[CONTRACT_PREFIX, contract.as_str().as_bytes()]))?
            .is_some())
    }

    fn contract_meta(&self, contract: &ContractId) -> Result<ContractMeta, Error> {
        frame::contract_meta(self.storage.as_ref(), contract)
    }

    /// Runs the transaction's frame; returns its receipt and every global
    /// key it changed (empty unless it returned).
    fn execute(
        &self,
        storage: &Arc<dyn Storage>,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
        read_only: bool,
    ) -> Result<(Receipt, GlobalChanges), Error> {
        check_account(&ctx.caller)?;
        if args.len() as u64 > self.rt.fees.max_input_len {
            return Err(Error::InputTooLong {
                len: args.len() as u64,
                max: self.rt.fees.max_input_len,
            });
        }
        let request = FrameRequest {
            contract: contract.clone(),
            method: method.to_owned(),
            input: args.to_vec(),
            caller: ctx.caller.clone(),
            amount: if read_only { 0 } else { ctx.amount },
            gas: ctx.gas,
            read_only,
            block_height: ctx.block_height,
            block_timestamp: ctx.block_timestamp,
            stack: Vec::new(),
        };
        let mut carried = Carried {
            overlay: Overlay::default(),
            trace: self.tracing.then(Vec::new),
        };
        let result = frame::run_frame(&self.rt, storage, request, &mut carried);
        if let Some(trace) = carried.trace.take() {
            match self.last_trace.lock() {
                Ok(mut guard) => *guard = trace,
                Err(poisoned) => *poisoned.into_inner() = trace,
            }
        }
        let result = result?;
        let changes = carried.overlay.into_changes();
        let namespace = state_namespace(contract);
        let (outcome, state_changes) = match result.outcome {
            FrameOutcome::Returned(value) => (
                ReceiptOutcome::Returned(value),
                changes
                    .iter()
                    .filter(|(k, _)| k.starts_with(&namespace))
                    .map(|(k, v)| (k[namespace.len()..].to_vec(), v.clone()))
                    .collect(),
            ),
            FrameOutcome::Trapped { kind, message } => {
                (ReceiptOutcome::Trapped { kind, message }, Vec::new())
            }
        };
        let receipt = Receipt {
            outcome,
            gas_used: result.gas_used,
            logs: result.logs,
            state_changes,
            events: result.events,
            calls: result.calls,
        };
        Ok((receipt, changes))
    }
}

/// Global state keys a call changed, with their final values.
type GlobalChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// What is stored per contract.
#[derive(Debug, BorshSerialize, BorshDeserialize)]
pub(crate) struct ContractMeta {
    pub code_hash: [u8; 32],
    pub deployer: String,
    pub nonce: u64,
}
