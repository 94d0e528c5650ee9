//! Running one call frame: the shared runtime (engine, linker, module
//! cache, fees), the layered write overlay that nested calls stack up, and
//! [`run_frame`], which the transaction's call and every `call_contract`
//! go through (`docs/host-api.md`, "Cross-contract calls").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use detvm_vm::{
    CacheKey, Cached, CodeCache, Engine, Instance, Linker, Module, Outcome, Store, TrapKind,
    native_stack,
};

use crate::abi::{HostCallTrace, HostState};
use crate::account::{Account, account_key, decode_account};
use crate::chain::{
    CODE_PREFIX, CONTRACT_PREFIX, ContractMeta, Corruption, EngineFault, Error, Rejection,
    state_namespace,
};
use crate::consensus::ConsensusConfig;
use crate::fees::HostFees;
use crate::receipt::{CallNode, ContractId, Event, drop_events};
use crate::storage::Storage;

/// Stack a call needs above its Wasm frames for the chain's and the
/// runtime's own frames (instantiation, the call path), when it runs on the
/// caller's thread.
const HOST_FRAMES: u64 = 1 << 20;

/// The export that marks a contract as reentrant.
pub const REENTRANT_EXPORT: &str = "__detvm_reentrant";

/// What every frame of a chain shares.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    /// `consensus.host_fees`, shared with every call's host state.
    pub fees: Arc<HostFees>,
    /// What the engine and the fees were built from.
    pub consensus: ConsensusConfig,
    /// `consensus.hash()`, kept because every code-cache lookup keys by it.
    pub consensus_hash: [u8; 32],
    /// Compiled modules by code hash. The consensus configuration and the
    /// code generator are fixed for a chain's life, so the code hash alone
    /// decides how a module compiles.
    pub cache: Mutex<BTreeMap<[u8; 32], Compiled>>,
    /// Compiled modules on disk, if the chain has a directory for them
    /// (`docs/vm.md`, "Compiled code on disk"): what survives a restart.
    pub code_cache: Mutex<Option<Arc<CodeCache>>>,
}

/// A compiled module and what the chain needs to know about it.
#[derive(Clone)]
pub(crate) struct Compiled {
    pub module: Module,
    pub memory_pages: u64,
    /// It exports [`REENTRANT_EXPORT`].
    pub reentrant: bool,
}

impl Runtime {
    pub fn code_cache(&self) -> Option<Arc<CodeCache>> {
        match self.code_cache.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// What the host adds to code cache keys: a cached entry holds the
    /// outcome of the deploy checks below as well as the module, and those
    /// depend on this crate's rules and on the whole consensus
    /// configuration (the fees, and the limits and stack the engine was
    /// built with).
    fn cache_context(&self) -> Vec<u8> {
        [
            concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")).as_bytes(),
            &self.consensus_hash,
        ]
        .concat()
    }

    pub fn lock_cache(&self) -> MutexGuard<'_, BTreeMap<[u8; 32], Compiled>> {
        // Inserting a finished module is the only mutation: never torn.
        match self.cache.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The writes of the frames on the call stack, one layer per frame
/// (`None`: removed). Keys are global state keys. Reads look from the top
/// layer down, then in the store.
#[derive(Default)]
pub(crate) struct Overlay {
    layers: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl Overlay {
    pub fn get(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.layers.iter().rev().find_map(|layer| layer.get(key))
    }

    pub fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if self.layers.is_empty() {
            self.layers.push(BTreeMap::new());
        }
        if let Some(top) = self.layers.last_mut() {
            top.insert(key, value);
        }
    }

    fn push(&mut self) {
        self.layers.push(BTreeMap::new());
    }

    /// Ends the top layer: merged into the one below when its frame
    /// returned, dropped when it trapped.
    fn pop(&mut self, keep: bool) {
        let Some(top) = self.layers.pop() else { return };
        if !keep {
            return;
        }
        match self.layers.last_mut() {
            Some(below) => below.extend(top),
            None => self.layers.push(top),
        }
    }

    /// Every write left, in key order (only the bottom layer remains once
    /// the transaction's frame has ended).
    pub fn into_changes(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        for layer in self.layers {
            out.extend(layer);
        }
        out
    }
}

/// One call to run: what the callee sees.
pub(crate) struct FrameRequest {
    pub contract: ContractId,
    pub method: String,
    pub input: Vec<u8>,
    pub caller: String,
    pub amount: u128,
    pub gas: u64,
    pub read_only: bool,
    pub block_height: u64,
    pub block_timestamp: u64,
    /// The contracts of the frames below, the transaction's first.
    pub stack: Vec<String>,
}

/// How a frame ended.
pub(crate) enum FrameOutcome {
    Returned(Vec<u8>),
    Trapped {
        kind: TrapKind,
        message: Option<String>,
    },
}

/// What a frame that ran left behind.
pub(crate) struct FrameResult {
    pub outcome: FrameOutcome,
    pub gas_used: u64,
    pub logs: Vec<String>,
    pub events: Vec<Event>,
    pub calls: Vec<CallNode>,
}

/// Everything a frame carries in and back out: the writes, and the trace
/// of host calls when tracing.
pub(crate) struct Carried {
    pub overlay: Overlay,
    pub trace: Option<Vec<HostCallTrace>>,
}

/// The stored record of `contract` (`UnknownContract` if there is none).
pub(crate) fn contract_meta(
    storage: &dyn Storage,
    contract: &ContractId,
) -> Result<ContractMeta, Error> {
    use borsh::BorshDeserialize;
    let key = [CONTRACT_PREFIX, contract.as_str().as_bytes()].concat();
    let bytes = storage
        .get(&key)?
        .ok_or_else(|| Error::UnknownContract(contract.to_string()))?;
    ContractMeta::try_from_slice(&bytes)
        .map_err(|e| Error::Corrupt(Corruption::decode(format!("contract {contract}"), e)))
}

/// An account record as the frames on the stack see it.
pub(crate) fn read_account(
    storage: &dyn Storage,
    overlay: &Overlay,
    id: &str,
) -> Result<Option<Account>, Error> {
    let key = account_key(id);
    let bytes = match overlay.get(&key) {
        Some(value) => value.clone(),
        None => storage.get(&key)?,
    };
    bytes.map(|b| decode_account(id, &b)).transpose()
}

pub(crate) fn write_account(overlay: &mut Overlay, id: &str, account: &Account) {
    overlay.set(
        account_key(id),
        Some(borsh::to_vec(account).unwrap_or_default()),
    );
}

/// Resolves the contract and method, checks reentrancy and the attached
/// amount, then runs the frame in a new top layer of `carried.overlay`.
/// A refusal (unknown contract or method, reentrancy, balance) is an
/// `Err` for which [`Error::is_refusal`] holds, and leaves the overlay as
/// it was.
pub(crate) fn run_frame(
    rt: &Arc<Runtime>,
    storage: &Arc<dyn Storage>,
    request: FrameRequest,
    carried: &mut Carried,
) -> Result<FrameResult, Error> {
    let contract = &request.contract;
    let meta = contract_meta(storage.as_ref(), contract)?;
    let code = || {
        storage
            .get(&[CODE_PREFIX, &meta.code_hash[..]].concat())?
            .ok_or_else(|| {
                Error::Corrupt(Corruption::MissingCode {
                    contract: contract.clone(),
                })
            })
    };
    let compiled = module(rt, meta.code_hash, code).map_err(|e| match e {
        Error::Rejected(rejection) => Error::Engine(EngineFault::StoredCodeRejected {
            contract: contract.clone(),
            rejection: Box::new(rejection),
        }),
        other => other,
    })?;
    match compiled.module.export_func_type(&request.method) {
        None => {
            return Err(Error::UnknownMethod {
                contract: contract.clone(),
                method: request.method,
            });
        }
        Some(ty) if !(ty.params().is_empty() && ty.results().is_empty()) => {
            return Err(Error::NotAMethod {
                contract: contract.clone(),
                method: request.method,
                signature: ty.to_string(),
            });
        }
        Some(_) => {}
    }
    if !compiled.reentrant && request.stack.iter().any(|c| c == contract.as_str()) {
        return Err(Error::Reentrancy(contract.clone()));
    }
    let mut payer = None;
    if request.amount > 0 {
        let account =
            read_account(storage.as_ref(), &carried.overlay, &request.caller)?.unwrap_or_default();
        if account.balance < request.amount {
            return Err(Error::InsufficientBalance {
                account: request.caller.clone(),
                have: account.balance,
                need: request.amount,
            });
        }
        payer = Some(account);
    }

    carried.overlay.push();
    if let Some(mut from) = payer
        && request.caller != contract.as_str()
    {
        from.balance -= request.amount;
        write_account(&mut carried.overlay, &request.caller, &from);
        let mut to = read_account(storage.as_ref(), &carried.overlay, contract.as_str())?
            .unwrap_or_default();
        // Balances add up to at most the genesis total, which fits.
        to.balance = to.balance.saturating_add(request.amount);
        write_account(&mut carried.overlay, contract.as_str(), &to);
    }

    // Every call allocates and zeroes the initial memory: paid up front,
    // like `memory.grow`, before anything runs.
    let instantiate = rt
        .fees
        .instantiate_per_page
        .saturating_mul(compiled.memory_pages);
    let Some(method_gas) = request.gas.checked_sub(instantiate) else {
        carried.overlay.pop(false);
        return Ok(FrameResult {
            outcome: FrameOutcome::Trapped {
                kind: TrapKind::OutOfGas,
                message: None,
            },
            gas_used: request.gas,
            logs: Vec::new(),
            events: Vec::new(),
            calls: Vec::new(),
        });
    };

    let mut stack = request.stack;
    stack.push(contract.to_string());
    let mut state = HostState::new(rt.clone(), storage.clone());
    state.contract = contract.to_string();
    state.namespace = state_namespace(contract);
    state.caller = request.caller;
    state.block_height = request.block_height;
    state.block_timestamp = request.block_timestamp;
    state.input = request.input;
    state.amount = request.amount;
    state.read_only = request.read_only;
    state.stack = stack;
    state.overlay = std::mem::take(&mut carried.overlay);
    state.trace = carried.trace.take();

    let (outcome, mut state) =
        run_on_stack(rt, &compiled.module, &request.method, method_gas, state);
    carried.overlay = std::mem::take(&mut state.overlay);
    carried.trace = state.trace.take();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            carried.overlay.pop(false);
            return Err(e);
        }
    };
    if let Some(fault) = state.fault.take() {
        carried.overlay.pop(false);
        return Err(fault);
    }
    let (outcome, gas_used) = match outcome {
        Outcome::Success { gas_used, .. } => (
            FrameOutcome::Returned(std::mem::take(&mut state.return_value)),
            gas_used,
        ),
        Outcome::Trap {
            kind,
            message,
            gas_used,
        } => (FrameOutcome::Trapped { kind, message }, gas_used),
    };
    let returned = matches!(outcome, FrameOutcome::Returned(_));
    carried.overlay.pop(returned);
    if !returned {
        state.events.clear();
        drop_events(&mut state.calls);
    }
    Ok(FrameResult {
        outcome,
        gas_used: instantiate + gas_used,
        logs: std::mem::take(&mut state.logs),
        events: std::mem::take(&mut state.events),
        calls: std::mem::take(&mut state.calls),
    })
}

/// The compiled module of the code with `code_hash`, from the cache, or
/// compiled from `code()` and checked against the deploy rules. The code
/// is only fetched on a miss: most calls hit.
pub(crate) fn module(
    rt: &Arc<Runtime>,
    code_hash: [u8; 32],
    code: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> Result<Compiled, Error> {
    if let Some(compiled) = rt.lock_cache().get(&code_hash) {
        return Ok(compiled.clone());
    }
    let code = code()?;
    let code = code.as_slice();
    let disk = rt.code_cache().map(|cache| {
        (
            CacheKey::new(&rt.engine, &code_hash, &rt.cache_context()),
            cache,
        )
    });
    let loaded = match &disk {
        Some((key, cache)) => cache.get(&rt.engine, key),
        None => None,
    };
    let compiled = match loaded {
        // Stored only after the checks below passed; they depend on the
        // module alone, so they pass again.
        Some(Cached::Module(module)) => Compiled::new(module),
        Some(Cached::Rejected { kind, reason }) => {
            return Err(Error::Rejected(Rejection::Cached { kind, reason }));
        }
        None => {
            let checked = compile_and_check(rt, code);
            if let Some((key, cache)) = &disk {
                match &checked {
                    Ok((_, Some(artifact))) => cache.put_module(key, artifact),
                    Err(Refusal {
                        error: Error::Rejected(rejection),
                        permanent: true,
                    }) => cache.put_rejection(key, rejection.kind(), &rejection.to_string()),
                    _ => {}
                }
            }
            checked.map_err(|refusal| refusal.error)?.0
        }
    };
    rt.lock_cache().insert(code_hash, compiled.clone());
    Ok(compiled)
}

/// A refused module, and whether compiling it again would refuse it again
/// (so the refusal may be cached) rather than depend on the machine's
/// state (mapping memory).
struct Refusal {
    error: Error,
    permanent: bool,
}

/// Compiles `code` (keeping its artifact when there is a code cache) and
/// checks it against the deploy rules.
fn compile_and_check(
    rt: &Arc<Runtime>,
    code: &[u8],
) -> Result<(Compiled, Option<detvm_vm::Artifact>), Refusal> {
    let permanent = |e: &detvm_vm::Error| {
        matches!(
            e,
            detvm_vm::Error::Rejected(_)
                | detvm_vm::Error::Env(_)
                | detvm_vm::Error::Compile(_)
                | detvm_vm::Error::Link { .. }
                | detvm_vm::Error::Instantiation { .. }
        )
    };
    let refusal = |e: detvm_vm::Error| Refusal {
        permanent: permanent(&e),
        error: Error::Rejected(Rejection::Engine(e)),
    };
    let (module, artifact) = if rt.code_cache().is_some() {
        Module::new_with_artifact(&rt.engine, code)
            .map(|(module, artifact)| (module, Some(artifact)))
            .map_err(refusal)?
    } else {
        (Module::new(&rt.engine, code).map_err(refusal)?, None)
    };
    if module.has_start() {
        return Err(Refusal {
            error: Error::Rejected(Rejection::StartFunction),
            permanent: true,
        });
    }
    // Instantiation depends only on the module (no start function), so
    // trying it once here rejects a contract that could never run.
    let scratch: Arc<dyn Storage> = Arc::new(crate::storage::MemoryStorage::new());
    let mut store = Store::new(&rt.engine, HostState::new(rt.clone(), scratch));
    Instance::new(&mut store, &module, &rt.linker).map_err(|e| Refusal {
        permanent: permanent(&e),
        error: Error::Rejected(Rejection::Instantiation(e)),
    })?;
    Ok((Compiled::new(module), artifact))
}

impl Compiled {
    fn new(module: Module) -> Self {
        Self {
            reentrant: module.exports().iter().any(|e| e.name == REENTRANT_EXPORT),
            memory_pages: module.defined_memory_pages(),
            module,
        }
    }
}

/// Instantiates `module` and runs `method` on a native stack that fits
/// the engine's stack limit: the caller's own, when it has room, or a
/// thread made for the call. The host state always comes back, so the
/// caller gets its overlay back even when the engine fails.
fn run_on_stack(
    rt: &Arc<Runtime>,
    module: &Module,
    method: &str,
    gas: u64,
    state: HostState,
) -> (Result<Outcome, Error>, HostState) {
    // Derived from the module's measured native frames, so the
    // deterministic `stack_overflow` always comes first.
    let needed = module.native_stack_needed();
    let stack_size = native_stack::thread_stack_size(needed);
    let slot = Mutex::new(None::<HostState>);
    let work = || -> Result<Outcome, Error> {
        let mut store = Store::new(&rt.engine, state);
        let result = Instance::new(&mut store, module, &rt.linker)
            .map_err(|e| Error::Engine(EngineFault::Vm(e)))
            .and_then(|instance| {
                instance
                    .call(&mut store, method, &[], gas)
                    .map_err(|e| Error::Engine(EngineFault::Vm(e)))
            });
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(store.into_data());
        }
        result
    };
    // A thread costs more than a small call (tens of microseconds to
    // create and map its stack), so run here when this thread's stack
    // has room for the call and for the host frames around it.
    let result = if native_stack::available() >= needed.saturating_add(HOST_FRAMES) {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|_| Err(Error::Engine(EngineFault::CallPanicked)))
    } else {
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name("detvm-call".into())
                .stack_size(stack_size)
                .spawn_scoped(scope, work)
                .map_err(|e| Error::Engine(EngineFault::CallThread(e)))?;
            handle
                .join()
                .map_err(|_| Error::Engine(EngineFault::CallThreadPanicked))?
        })
    };
    let state = slot
        .into_inner()
        .ok()
        .flatten()
        .unwrap_or_else(|| HostState::lost(rt));
    (result, state)
}
