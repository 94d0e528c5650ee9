//! The chain: deploys, calls and views over a [`Storage`], with atomic
//! commits and a cache of compiled modules.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_metering::{ImportPolicy, Limits, Schedule, StackConfig};
use detvm_vm::{
    Engine, EngineConfig, Instance, Linker, Module, Outcome, Store, TrapKind, native_stack,
};
use sha2::{Digest, Sha256};

use crate::abi::{self, HostCallTrace, HostState};
use crate::fees::HostFees;
use crate::receipt::{ContractId, DeployReceipt, Receipt, ReceiptOutcome};
use crate::storage::{Change, Entry, MemoryStorage, RedbStorage, Storage, StorageError};

/// Stack a call needs above its Wasm frames for the chain's and the
/// runtime's own frames (instantiation, the call path), when it runs on the
/// caller's thread.
const HOST_FRAMES: u64 = 1 << 20;

/// The database file inside a state directory.
pub const STATE_FILE: &str = "state.redb";

/// Longest account id in bytes.
pub const MAX_ACCOUNT_LEN: usize = 64;

// Layout of the shared key-value store (`docs/host-api.md`, "State layout").
const CODE_PREFIX: &[u8] = b"code/";
const CONTRACT_PREFIX: &[u8] = b"contract/";
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
    #[error("code rejected: {reason}")]
    Rejected {
        /// A stable kind (the metering error's kind, `start_function`, …).
        kind: String,
        /// What was wrong.
        reason: String,
    },
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The engine failed on code that was accepted at deploy, or could not
    /// be set up: a node fault.
    #[error("engine error: {0}")]
    Engine(String),
    /// Stored chain data does not decode: the store was written by
    /// something else.
    #[error("corrupt chain state: {0}")]
    Corrupt(String),
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
            Self::Rejected { kind, .. } => kind,
            Self::Storage(_) => "storage",
            Self::Engine(_) => "engine",
            Self::Corrupt(_) => "corrupt",
        }
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
}

/// What [`Chain::contract_info`] tells about a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractInfo {
    /// SHA-256 of its code.
    pub code_hash: [u8; 32],
    /// The account that deployed it.
    pub deployer: String,
}

/// What is stored per contract.
#[derive(Debug, BorshSerialize, BorshDeserialize)]
struct ContractMeta {
    code_hash: [u8; 32],
    deployer: String,
    nonce: u64,
}

/// A chain of contracts over one store: deploy, call (commits on success),
/// view (never commits), and state listing.
///
/// A call runs on the caller's thread when its native stack has room for the
/// engine's stack limit, and otherwise on a thread made for it with a stack
/// that large, so `Chain` can be used from any thread.
pub struct Chain {
    storage: Arc<dyn Storage>,
    engine: Engine,
    linker: Linker<HostState>,
    fees: Arc<HostFees>,
    /// Compiled modules by code hash. The engine (schedule, limits, stack
    /// configuration, code generator) and the fees are fixed for a chain's
    /// life, so the code hash alone decides how a module compiles.
    cache: Mutex<BTreeMap<[u8; 32], Compiled>>,
    /// Whether calls record their host calls ([`Chain::set_tracing`]).
    tracing: bool,
    /// The host calls of the last traced call.
    last_trace: Mutex<Vec<HostCallTrace>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("fees", &self.fees.version)
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

fn state_namespace(contract: &ContractId) -> Vec<u8> {
    concat(&[STATE_PREFIX, contract.as_str().as_bytes(), b"/"])
}

fn decode_u64(bytes: Option<Vec<u8>>, what: &str) -> Result<u64, Error> {
    match bytes {
        None => Ok(0),
        Some(bytes) => {
            u64::try_from_slice(&bytes).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
        }
    }
}

fn rejected(kind: &str, reason: impl Into<String>) -> Error {
    Error::Rejected {
        kind: kind.to_owned(),
        reason: reason.into(),
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
            message: e.to_string(),
        })?;
        Self::with_storage(Arc::new(RedbStorage::open(&dir.join(STATE_FILE))?))
    }

    /// A chain over `storage`, with [`HostFees::v1`], [`Schedule::v1`] and
    /// the contract limits.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Result<Self, Error> {
        let mut config = EngineConfig::default();
        config.limits = Limits::contract();
        config.schedule = Schedule::v1();
        config.stack = StackConfig::default();
        config.metering = true;
        config.imports = ImportPolicy::AllowList(abi::allowed_imports());
        let engine = Engine::new(config).map_err(|e| Error::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        abi::register(&mut linker);
        let fees = Arc::new(HostFees::v1());
        Ok(Self {
            storage,
            engine,
            linker,
            fees,
            cache: Mutex::new(BTreeMap::new()),
            tracing: false,
            last_trace: Mutex::new(Vec::new()),
        })
    }

    /// Makes later calls and views record each host call and the gas it
    /// charged (read with [`Chain::take_trace`]). Tracing changes no
    /// result and no gas.
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// The host calls of the last call or view made while tracing.
    pub fn take_trace(&self) -> Vec<HostCallTrace> {
        match self.last_trace.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// The host fee table in use.
    pub fn fees(&self) -> &HostFees {
        &self.fees
    }

    /// Number of compiled modules in the cache.
    pub fn cached_modules(&self) -> usize {
        self.lock_cache().len()
    }

    /// Number of committed transactions (deploys and successful calls).
    /// Tools derive block heights from it.
    pub fn committed(&self) -> Result<u64, Error> {
        decode_u64(self.storage.get(COMMITS_KEY)?, "commit counter")
    }

    fn lock_cache(&self) -> MutexGuard<'_, BTreeMap<[u8; 32], Compiled>> {
        // Inserting a finished module is the only mutation: never torn.
        match self.cache.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The compiled module of the code with `code_hash`, from the cache, or
    /// compiled from `code()` and checked against the deploy rules. The code
    /// is only fetched on a miss: most calls hit.
    fn module(
        &self,
        code_hash: [u8; 32],
        code: impl FnOnce() -> Result<Vec<u8>, Error>,
    ) -> Result<Compiled, Error> {
        if let Some(compiled) = self.lock_cache().get(&code_hash) {
            return Ok(compiled.clone());
        }
        let code = code()?;
        let code = code.as_slice();
        let module = Module::new(&self.engine, code).map_err(|e| match e {
            detvm_vm::Error::Rejected(m) => rejected(m.kind(), m.to_string()),
            other => rejected(other.kind(), other.to_string()),
        })?;
        let facts = ModuleFacts::of(code);
        if facts.start {
            return Err(rejected(
                "start_function",
                "contracts may not have a start function: it would run outside any call",
            ));
        }
        // Instantiation depends only on the module (no start function), so
        // trying it once here rejects a contract that could never run.
        let mut store = Store::new(&self.engine, self.scratch_state());
        Instance::new(&mut store, &module, &self.linker)
            .map_err(|e| rejected("instantiation", e.to_string()))?;
        let compiled = Compiled {
            module,
            memory_pages: facts.memory_pages,
        };
        self.lock_cache().insert(code_hash, compiled.clone());
        Ok(compiled)
    }

    fn scratch_state(&self) -> HostState {
        HostState {
            fees: self.fees.clone(),
            contract: String::new(),
            caller: String::new(),
            block_height: 0,
            block_timestamp: 0,
            input: Vec::new(),
            read_only: true,
            storage: self.storage.clone(),
            namespace: Vec::new(),
            overlay: BTreeMap::new(),
            registers: BTreeMap::new(),
            register_bytes: 0,
            logs: Vec::new(),
            log_bytes: 0,
            return_value: Vec::new(),
            fault: None,
            trace: self.tracing.then(Vec::new),
        }
    }

    /// Deploys `code` (binary Wasm) for account `from`.
    ///
    /// The code is validated against the contract profile and limits and
    /// the host import allow-list, instrumented and compiled (or taken from
    /// the cache), stored under its SHA-256, and given a new contract id
    /// ([`ContractId::derive`] with `from`'s deploy count as nonce). Gas is
    /// `deploy_base + deploy_per_byte × code.len()`, cached or not.
    pub fn deploy(&mut self, code: &[u8], from: &str) -> Result<DeployReceipt, Error> {
        check_account(from)?;
        let code_hash: [u8; 32] = Sha256::digest(code).into();
        self.module(code_hash, || Ok(code.to_vec()))?;

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
        batch.push(self.commit_counter_change()?);
        self.storage.apply(&batch)?;
        Ok(DeployReceipt {
            contract,
            code_hash,
            gas_used: self.fees.deploy_gas(code.len() as u64),
        })
    }

    fn commit_counter_change(&self) -> Result<Change, Error> {
        let next = self.committed()?.saturating_add(1);
        Ok((
            COMMITS_KEY.to_vec(),
            Some(borsh::to_vec(&next).unwrap_or_default()),
        ))
    }

    /// Calls `method` of `contract` with input `args`. The receipt's state
    /// changes are committed, in one atomic step, iff the call returned.
    pub fn call(
        &mut self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
    ) -> Result<Receipt, Error> {
        let (receipt, namespace) =
            self.execute(&self.storage, contract, method, args, ctx, false)?;
        if receipt.is_success() {
            let mut batch: Vec<Change> = receipt
                .state_changes
                .iter()
                .map(|(k, v)| (concat(&[&namespace, k]), v.clone()))
                .collect();
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
        self.module(code_hash, || Ok(code.to_vec()))?;
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
        Self::contract_meta_in(self.storage.as_ref(), contract)
    }

    fn contract_meta_in(
        storage: &dyn Storage,
        contract: &ContractId,
    ) -> Result<ContractMeta, Error> {
        let bytes = storage
            .get(&concat(&[CONTRACT_PREFIX, contract.as_str().as_bytes()]))?
            .ok_or_else(|| Error::UnknownContract(contract.to_string()))?;
        ContractMeta::try_from_slice(&bytes)
            .map_err(|e| Error::Corrupt(format!("contract {contract}: {e}")))
    }

    fn execute(
        &self,
        storage: &Arc<dyn Storage>,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        ctx: &CallContext,
        read_only: bool,
    ) -> Result<(Receipt, Vec<u8>), Error> {
        check_account(&ctx.caller)?;
        let meta = Self::contract_meta_in(storage.as_ref(), contract)?;
        if args.len() as u64 > self.fees.max_input_len {
            return Err(Error::InputTooLong {
                len: args.len() as u64,
                max: self.fees.max_input_len,
            });
        }
        let code = || {
            storage
                .get(&concat(&[CODE_PREFIX, &meta.code_hash]))?
                .ok_or_else(|| Error::Corrupt(format!("code of {contract} is missing")))
        };
        let compiled = self.module(meta.code_hash, code).map_err(|e| match e {
            Error::Rejected { reason, .. } => Error::Engine(format!(
                "stored code of {contract} no longer compiles: {reason}"
            )),
            other => other,
        })?;
        match compiled.module.export_func_type(method) {
            None => {
                return Err(Error::UnknownMethod {
                    contract: contract.clone(),
                    method: method.to_owned(),
                });
            }
            Some(ty) if !(ty.params().is_empty() && ty.results().is_empty()) => {
                return Err(Error::NotAMethod {
                    contract: contract.clone(),
                    method: method.to_owned(),
                    signature: ty.to_string(),
                });
            }
            Some(_) => {}
        }

        let namespace = state_namespace(contract);
        let state = HostState {
            contract: contract.to_string(),
            caller: ctx.caller.clone(),
            block_height: ctx.block_height,
            block_timestamp: ctx.block_timestamp,
            input: args.to_vec(),
            read_only,
            namespace: namespace.clone(),
            storage: storage.clone(),
            ..self.scratch_state()
        };
        // Every call allocates and zeroes the initial memory: paid up front,
        // like `memory.grow`, before anything runs.
        let instantiate = self
            .fees
            .instantiate_per_page
            .saturating_mul(compiled.memory_pages);
        let Some(method_gas) = ctx.gas.checked_sub(instantiate) else {
            let receipt = Receipt {
                outcome: ReceiptOutcome::Trapped {
                    kind: TrapKind::OutOfGas,
                    message: None,
                },
                gas_used: ctx.gas,
                logs: Vec::new(),
                state_changes: Vec::new(),
            };
            return Ok((receipt, namespace));
        };
        let (outcome, mut state) = self.run(&compiled.module, method, method_gas, state)?;
        if let Some(trace) = state.trace.take() {
            match self.last_trace.lock() {
                Ok(mut guard) => *guard = trace,
                Err(poisoned) => *poisoned.into_inner() = trace,
            }
        }
        if let Some(fault) = state.fault {
            return Err(Error::Storage(fault));
        }
        let receipt = match outcome {
            Outcome::Success { gas_used, .. } => Receipt {
                outcome: ReceiptOutcome::Returned(state.return_value),
                gas_used: instantiate + gas_used,
                logs: state.logs,
                state_changes: state.overlay.into_iter().collect(),
            },
            Outcome::Trap {
                kind,
                message,
                gas_used,
            } => Receipt {
                outcome: ReceiptOutcome::Trapped { kind, message },
                gas_used: instantiate + gas_used,
                logs: state.logs,
                state_changes: Vec::new(),
            },
        };
        Ok((receipt, namespace))
    }

    /// Instantiates `module` and runs `method` on a native stack that fits
    /// the engine's stack limit: the caller's own, when it has room, or a
    /// thread made for the call.
    fn run(
        &self,
        module: &Module,
        method: &str,
        gas: u64,
        state: HostState,
    ) -> Result<(Outcome, HostState), Error> {
        // Derived from the module's measured native frames, so the
        // deterministic `stack_overflow` always comes first.
        let needed = module.native_stack_needed();
        let stack_size = native_stack::thread_stack_size(needed);
        let work = || -> Result<(Outcome, HostState), Error> {
            let mut store = Store::new(&self.engine, state);
            let instance = Instance::new(&mut store, module, &self.linker)
                .map_err(|e| Error::Engine(e.to_string()))?;
            let outcome = instance
                .call(&mut store, method, &[], gas)
                .map_err(|e| Error::Engine(e.to_string()))?;
            Ok((outcome, store.into_data()))
        };
        // A thread costs more than a small call (tens of microseconds to
        // create and map its stack), so run here when this thread's stack
        // has room for the call and for the host frames around it.
        if native_stack::available() >= needed.saturating_add(HOST_FRAMES) {
            return std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .map_err(|_| Error::Engine("the call panicked".into()))?;
        }
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name("detvm-call".into())
                .stack_size(stack_size)
                .spawn_scoped(scope, work)
                .map_err(|e| Error::Engine(format!("cannot start the call thread: {e}")))?;
            handle
                .join()
                .map_err(|_| Error::Engine("the call thread panicked".into()))?
        })
    }
}

/// A compiled module and what the chain needs to know about it.
#[derive(Clone)]
struct Compiled {
    module: Module,
    memory_pages: u64,
}

/// What the engine's API does not tell about a module.
struct ModuleFacts {
    /// It declares a start function.
    start: bool,
    /// Initial pages of its defined memory (imported memories are refused
    /// by the allow-list).
    memory_pages: u64,
}

impl ModuleFacts {
    /// Reads code that already validated, so a parse failure cannot happen
    /// (it would read as "no start, no memory").
    fn of(code: &[u8]) -> Self {
        let mut facts = Self {
            start: false,
            memory_pages: 0,
        };
        for payload in wasmparser::Parser::new(0).parse_all(code) {
            match payload {
                Ok(wasmparser::Payload::StartSection { .. }) => facts.start = true,
                Ok(wasmparser::Payload::MemorySection(reader)) => {
                    for memory in reader.into_iter().flatten() {
                        facts.memory_pages = facts.memory_pages.saturating_add(memory.initial);
                    }
                }
                _ => {}
            }
        }
        facts
    }
}
