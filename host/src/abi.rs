//! The host functions of `docs/host-api.md`, from one table that drives both
//! the linker registration and the import allow-list.
//!
//! Each function follows the same order, so that the gas a trapping call
//! reports is defined: (1) `host_call_base`; (2) the checks that need no
//! allocation — view mode, bounds of every `(ptr, len)` pair in parameter
//! order, size limits; (3) every per-byte fee known from the arguments, in
//! one charge; (4) the work, charging a fee that depends on the result (a
//! stored value's length) before the result becomes visible.

use std::collections::BTreeMap;
use std::sync::Arc;

use detvm_metering::AllowedImport;
use detvm_vm::{Caller, HostError, Linker, ValType, Value};
use sha2::{Digest, Sha256};

use crate::account::receiving_account;
use crate::chain::{Error, MAX_ACCOUNT_LEN, check_account};
use crate::fees::HostFees;
use crate::frame::{self, Carried, FrameOutcome, FrameRequest, Overlay, Runtime};
use crate::receipt::{CallNode, CallOutcome, ContractId, Event};
use crate::storage::Storage;

/// The import module every host function lives in.
pub const HOST_MODULE: &str = "env";

type HostImpl = fn(&mut Caller<'_, HostState>, &[Value]) -> Result<Vec<Value>, HostError>;

/// One host function: its name and signature as contracts import it.
#[derive(Clone, Copy)]
pub struct HostFunction {
    /// Field name under [`HOST_MODULE`].
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types.
    pub results: &'static [ValType],
    implementation: HostImpl,
}

impl std::fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFunction")
            .field("name", &self.name)
            .field("params", &self.params)
            .field("results", &self.results)
            .finish_non_exhaustive()
    }
}

use ValType::{I32, I64};

const fn host(
    name: &'static str,
    params: &'static [ValType],
    results: &'static [ValType],
    implementation: HostImpl,
) -> HostFunction {
    HostFunction {
        name,
        params,
        results,
        implementation,
    }
}

/// Every host function, in the order of `docs/host-api.md`.
pub const HOST_FUNCTIONS: &[HostFunction] = &[
    host("input", &[I64], &[], input),
    host("register_len", &[I64], &[I64], register_len),
    host("read_register", &[I64, I32], &[], read_register),
    host("value_return", &[I32, I32], &[], value_return),
    host("log_utf8", &[I32, I32], &[], log_utf8),
    host("panic_utf8", &[I32, I32], &[], panic_utf8),
    host(
        "storage_write",
        &[I32, I32, I32, I32, I64],
        &[I32],
        storage_write,
    ),
    host("storage_read", &[I32, I32, I64], &[I32], storage_read),
    host("storage_remove", &[I32, I32, I64], &[I32], storage_remove),
    host("storage_has_key", &[I32, I32], &[I32], storage_has_key),
    host("current_contract", &[I64], &[], current_contract),
    host("caller", &[I64], &[], caller),
    host("block_height", &[], &[I64], block_height),
    host("block_timestamp", &[], &[I64], block_timestamp),
    host("sha256", &[I32, I32, I64], &[], sha256),
    host("keccak256", &[I32, I32, I64], &[], keccak256),
    host(
        "ed25519_verify",
        &[I32, I32, I32, I32],
        &[I32],
        ed25519_verify,
    ),
    host(
        "call_contract",
        &[I32, I32, I32, I32, I32, I32, I32, I64, I64],
        &[I32],
        call_contract,
    ),
    host("attached_amount", &[I32], &[], attached_amount),
    host("balance", &[I32, I32, I32], &[I32], balance),
    host("transfer", &[I32, I32, I32], &[], transfer),
    host("emit_event", &[I32, I32, I32, I32], &[], emit_event),
];

fn wasm_type(ty: ValType) -> wasmparser::ValType {
    match ty {
        ValType::I32 => wasmparser::ValType::I32,
        ValType::I64 => wasmparser::ValType::I64,
        ValType::F32 => wasmparser::ValType::F32,
        ValType::F64 => wasmparser::ValType::F64,
        ValType::FuncRef => wasmparser::ValType::FUNCREF,
        ValType::ExternRef => wasmparser::ValType::EXTERNREF,
    }
}

/// The import allow-list for validation, generated from [`HOST_FUNCTIONS`].
pub fn allowed_imports() -> Vec<AllowedImport> {
    HOST_FUNCTIONS
        .iter()
        .map(|f| {
            AllowedImport::new(
                HOST_MODULE,
                f.name,
                f.params.iter().copied().map(wasm_type).collect::<Vec<_>>(),
                f.results.iter().copied().map(wasm_type).collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// One host call of a traced call: the function and the gas it charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCallTrace {
    /// The host function.
    pub name: &'static str,
    /// Gas it charged (host fees only: no Wasm runs inside a host call).
    pub gas: u64,
    /// Whether it ended the call with a trap.
    pub trapped: bool,
}

/// Most host calls a trace keeps; the rest of a longer call is not traced.
pub const MAX_TRACED_CALLS: usize = 100_000;

/// Registers every function of [`HOST_FUNCTIONS`] in `linker`. A traced
/// call records each host call; the record reads the gas counter before
/// and after, so tracing never changes what a call is charged.
pub(crate) fn register(linker: &mut Linker<HostState>) {
    for f in HOST_FUNCTIONS {
        let (name, implementation) = (f.name, f.implementation);
        linker.func(
            HOST_MODULE,
            name,
            f.params,
            f.results,
            move |caller, args| {
                if caller.data().trace.is_none() {
                    return implementation(caller, args);
                }
                let before = caller.gas_left();
                let result = implementation(caller, args);
                let gas = before.saturating_sub(caller.gas_left());
                if let Some(trace) = caller.data_mut().trace.as_mut()
                    && trace.len() < MAX_TRACED_CALLS
                {
                    trace.push(HostCallTrace {
                        name,
                        gas,
                        trapped: result.is_err(),
                    });
                }
                result
            },
        );
    }
}

/// What the host functions of one call frame see and produce.
pub(crate) struct HostState {
    pub rt: Arc<Runtime>,
    pub fees: Arc<HostFees>,
    pub storage: Arc<dyn Storage>,
    pub contract: String,
    pub caller: String,
    pub block_height: u64,
    pub block_timestamp: u64,
    pub input: Vec<u8>,
    /// Native tokens attached to this call.
    pub amount: u128,
    /// A view call: writes trap.
    pub read_only: bool,
    /// Prepended to contract keys to reach the shared store.
    pub namespace: Vec<u8>,
    /// The writes of this frame and the frames below it.
    pub overlay: Overlay,
    /// The contracts of the frames on the call stack, this one last.
    pub stack: Vec<String>,
    pub registers: BTreeMap<u64, Vec<u8>>,
    pub register_bytes: u64,
    pub logs: Vec<String>,
    pub log_bytes: u64,
    pub events: Vec<Event>,
    pub event_bytes: u64,
    /// The calls this frame made.
    pub calls: Vec<CallNode>,
    pub return_value: Vec<u8>,
    /// A failure of the node seen during the call (storage, a nested
    /// call's engine): the call's result is then an error, not a receipt.
    pub fault: Option<Error>,
    /// The host calls made, when the call is traced.
    pub trace: Option<Vec<HostCallTrace>>,
}

impl HostState {
    pub fn new(rt: Arc<Runtime>, storage: Arc<dyn Storage>) -> Self {
        Self {
            fees: rt.fees.clone(),
            rt,
            storage,
            contract: String::new(),
            caller: String::new(),
            block_height: 0,
            block_timestamp: 0,
            input: Vec::new(),
            amount: 0,
            read_only: true,
            namespace: Vec::new(),
            overlay: Overlay::default(),
            stack: Vec::new(),
            registers: BTreeMap::new(),
            register_bytes: 0,
            logs: Vec::new(),
            log_bytes: 0,
            events: Vec::new(),
            event_bytes: 0,
            calls: Vec::new(),
            return_value: Vec::new(),
            fault: None,
            trace: None,
        }
    }

    /// A state standing in for one a failed engine call did not give
    /// back (the call's result is an error then).
    pub fn lost(rt: &Arc<Runtime>) -> Self {
        Self::new(rt.clone(), Arc::new(crate::storage::MemoryStorage::new()))
    }

    fn note_fault(&mut self, e: Error) -> HostError {
        self.fault = Some(e);
        HostError::message("node fault")
    }

    /// The value of contract key `key` as the call sees it.
    fn lookup(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let mut full = self.namespace.clone();
        full.extend_from_slice(key);
        if let Some(value) = self.overlay.get(&full) {
            return Ok(value.clone());
        }
        match self.storage.get(&full) {
            Ok(value) => Ok(value),
            Err(e) => Err(self.note_fault(e.into())),
        }
    }

    /// Sets contract key `key` in this frame's layer.
    fn put(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        let mut full = self.namespace.clone();
        full.extend_from_slice(key);
        self.overlay.set(full, value);
    }

    fn account(&mut self, id: &str) -> Result<Option<crate::Account>, HostError> {
        frame::read_account(self.storage.as_ref(), &self.overlay, id)
            .map_err(|e| self.note_fault(e))
    }

    /// Sets a register, within the register caps.
    fn set_register(&mut self, func: &str, reg: u64, bytes: Vec<u8>) -> Result<(), HostError> {
        let old = self.registers.get(&reg).map(|r| r.len() as u64);
        let count = self.registers.len() as u64 + u64::from(old.is_none());
        if count > self.fees.max_registers {
            return Err(HostError::message(format!(
                "{func}: more than {} registers set",
                self.fees.max_registers
            )));
        }
        let total = self.register_bytes - old.unwrap_or(0) + bytes.len() as u64;
        if total > self.fees.max_register_bytes {
            return Err(HostError::message(format!(
                "{func}: registers would hold {total} bytes, at most {}",
                self.fees.max_register_bytes
            )));
        }
        self.register_bytes = total;
        self.registers.insert(reg, bytes);
        Ok(())
    }
}

type Ctx<'a, 'b> = &'a mut Caller<'b, HostState>;

fn i32_arg(args: &[Value], i: usize) -> u64 {
    // Addresses and lengths are unsigned 32-bit.
    match args.get(i) {
        Some(Value::I32(v)) => u64::from(*v as u32),
        _ => 0,
    }
}

fn i64_arg(args: &[Value], i: usize) -> u64 {
    match args.get(i) {
        Some(Value::I64(v)) => *v as u64,
        _ => 0,
    }
}

fn fees(caller: &Caller<'_, HostState>) -> Arc<HostFees> {
    caller.data().fees.clone()
}

/// `a × b + …` in saturating arithmetic: a sum that does not fit is more
/// gas than any call has, so saturating to `u64::MAX` still runs out.
fn cost(terms: &[(u64, u64)]) -> u64 {
    terms
        .iter()
        .fold(0u64, |acc, &(a, b)| acc.saturating_add(a.saturating_mul(b)))
}

fn base(caller: Ctx<'_, '_>) -> Result<Arc<HostFees>, HostError> {
    let fees = fees(caller);
    caller.charge_gas(fees.host_call_base)?;
    Ok(fees)
}

/// Bounds-checks `(ptr, len)` without copying.
fn check_range(caller: Ctx<'_, '_>, ptr: u64, len: u64) -> Result<(), HostError> {
    caller.memory_read(ptr, len).map(|_| ())
}

fn read_bytes(caller: Ctx<'_, '_>, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
    caller.memory_read(ptr, len).map(<[u8]>::to_vec)
}

fn forbid_in_view(caller: Ctx<'_, '_>, func: &str) -> Result<(), HostError> {
    if caller.data().read_only {
        return Err(HostError::message(format!(
            "{func}: state cannot change in a view call"
        )));
    }
    Ok(())
}

fn check_limit(func: &str, what: &str, len: u64, max: u64) -> Result<(), HostError> {
    if len > max {
        return Err(HostError::message(format!(
            "{func}: {what} is {len} bytes, at most {max}"
        )));
    }
    Ok(())
}

fn write_register_from_host(
    caller: Ctx<'_, '_>,
    func: &str,
    reg: u64,
    bytes: Vec<u8>,
) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    caller.charge_gas(cost(&[(fees.register_write_per_byte, bytes.len() as u64)]))?;
    caller.data_mut().set_register(func, reg, bytes)?;
    Ok(vec![])
}

fn input(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let bytes = caller.data().input.clone();
    write_register_from_host(caller, "input", i64_arg(args, 0), bytes)
}

fn current_contract(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let bytes = caller.data().contract.clone().into_bytes();
    write_register_from_host(caller, "current_contract", i64_arg(args, 0), bytes)
}

fn caller(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let bytes = caller.data().caller.clone().into_bytes();
    write_register_from_host(caller, "caller", i64_arg(args, 0), bytes)
}

fn register_len(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    base(caller)?;
    let len = caller
        .data()
        .registers
        .get(&i64_arg(args, 0))
        .map_or(-1, |r| r.len() as i64);
    Ok(vec![Value::I64(len)])
}

fn read_register(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (reg, ptr) = (i64_arg(args, 0), i32_arg(args, 1));
    let Some(len) = caller.data().registers.get(&reg).map(|r| r.len() as u64) else {
        return Err(HostError::message(format!(
            "read_register: register {reg} is not set"
        )));
    };
    check_range(caller, ptr, len)?;
    caller.charge_gas(cost(&[(fees.memory_write_per_byte, len)]))?;
    // Taken out and put back rather than cloned: a register can be large.
    let bytes = caller.data_mut().registers.remove(&reg).unwrap_or_default();
    let written = caller.memory_write(ptr, &bytes);
    caller.data_mut().registers.insert(reg, bytes);
    written.map(|()| vec![])
}

fn value_return(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (ptr, len) = (i32_arg(args, 0), i32_arg(args, 1));
    check_range(caller, ptr, len)?;
    check_limit("value_return", "the return value", len, fees.max_return_len)?;
    caller.charge_gas(cost(&[(fees.memory_read_per_byte, len)]))?;
    let bytes = read_bytes(caller, ptr, len)?;
    caller.data_mut().return_value = bytes;
    Ok(vec![])
}

fn log_utf8(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (ptr, len) = (i32_arg(args, 0), i32_arg(args, 1));
    check_range(caller, ptr, len)?;
    let state = caller.data();
    if state.logs.len() as u64 >= fees.max_logs {
        return Err(HostError::message(format!(
            "log_utf8: more than {} logs",
            fees.max_logs
        )));
    }
    let total = state.log_bytes.saturating_add(len);
    if total > fees.max_log_bytes {
        return Err(HostError::message(format!(
            "log_utf8: logs would total {total} bytes, at most {}",
            fees.max_log_bytes
        )));
    }
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, len),
        (fees.log_per_byte, len),
    ]))?;
    let bytes = read_bytes(caller, ptr, len)?;
    let line = String::from_utf8(bytes)
        .map_err(|e| HostError::message(format!("log_utf8: not UTF-8: {e}")))?;
    let state = caller.data_mut();
    state.log_bytes = total;
    state.logs.push(line);
    Ok(vec![])
}

fn panic_utf8(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (ptr, len) = (i32_arg(args, 0), i32_arg(args, 1));
    check_range(caller, ptr, len)?;
    caller.charge_gas(cost(&[(fees.memory_read_per_byte, len)]))?;
    let kept = len.min(fees.max_log_bytes);
    let bytes = caller.memory_read(ptr, kept)?;
    Err(HostError::message(
        String::from_utf8_lossy(bytes).into_owned(),
    ))
}

fn storage_write(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "storage_write";
    let fees = base(caller)?;
    let (key_ptr, key_len) = (i32_arg(args, 0), i32_arg(args, 1));
    let (value_ptr, value_len) = (i32_arg(args, 2), i32_arg(args, 3));
    let reg = i64_arg(args, 4);
    forbid_in_view(caller, NAME)?;
    check_range(caller, key_ptr, key_len)?;
    check_range(caller, value_ptr, value_len)?;
    check_limit(NAME, "the key", key_len, fees.max_key_len)?;
    check_limit(NAME, "the value", value_len, fees.max_value_len)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, key_len.saturating_add(value_len)),
        (fees.storage_write_base, 1),
        (fees.storage_write_key_byte, key_len),
        (fees.storage_write_value_byte, value_len),
    ]))?;
    let key = read_bytes(caller, key_ptr, key_len)?;
    let value = read_bytes(caller, value_ptr, value_len)?;
    let old = caller.data_mut().lookup(&key)?;
    charge_old_value(caller, old.as_deref())?;
    let state = caller.data_mut();
    state.put(&key, Some(value));
    match old {
        Some(old) => {
            state.set_register(NAME, reg, old)?;
            Ok(vec![Value::I32(1)])
        }
        None => Ok(vec![Value::I32(0)]),
    }
}

/// Steps (1) to (3) of a function taking a key: base, bounds, key limit,
/// then the fees; returns the key.
fn key_arg(
    caller: Ctx<'_, '_>,
    args: &[Value],
    func: &str,
    write: bool,
) -> Result<Vec<u8>, HostError> {
    let fees = base(caller)?;
    let (key_ptr, key_len) = (i32_arg(args, 0), i32_arg(args, 1));
    if write {
        forbid_in_view(caller, func)?;
    }
    check_range(caller, key_ptr, key_len)?;
    check_limit(func, "the key", key_len, fees.max_key_len)?;
    let (op_base, per_key_byte) = if write {
        (fees.storage_write_base, fees.storage_write_key_byte)
    } else {
        (fees.storage_read_base, fees.storage_read_key_byte)
    };
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, key_len),
        (op_base, 1),
        (per_key_byte, key_len),
    ]))?;
    read_bytes(caller, key_ptr, key_len)
}

/// The old value a write or remove hands back in a register is read from
/// storage like any other value, so it is priced like `storage_read`'s:
/// otherwise one call could copy megabytes for a base fee.
fn charge_old_value(caller: Ctx<'_, '_>, old: Option<&[u8]>) -> Result<(), HostError> {
    let Some(old) = old else { return Ok(()) };
    let per_byte = fees(caller).storage_read_value_byte;
    caller.charge_gas(cost(&[(per_byte, old.len() as u64)]))
}

fn storage_read(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "storage_read";
    let key = key_arg(caller, args, NAME, false)?;
    let reg = i64_arg(args, 2);
    let Some(value) = caller.data_mut().lookup(&key)? else {
        return Ok(vec![Value::I32(0)]);
    };
    let per_byte = fees(caller).storage_read_value_byte;
    caller.charge_gas(cost(&[(per_byte, value.len() as u64)]))?;
    caller.data_mut().set_register(NAME, reg, value)?;
    Ok(vec![Value::I32(1)])
}

fn storage_remove(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "storage_remove";
    let key = key_arg(caller, args, NAME, true)?;
    let reg = i64_arg(args, 2);
    let old = caller.data_mut().lookup(&key)?;
    charge_old_value(caller, old.as_deref())?;
    let state = caller.data_mut();
    state.put(&key, None);
    match old {
        Some(old) => {
            state.set_register(NAME, reg, old)?;
            Ok(vec![Value::I32(1)])
        }
        None => Ok(vec![Value::I32(0)]),
    }
}

fn storage_has_key(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let key = key_arg(caller, args, "storage_has_key", false)?;
    let present = caller.data_mut().lookup(&key)?.is_some();
    Ok(vec![Value::I32(i32::from(present))])
}

fn block_height(caller: Ctx<'_, '_>, _: &[Value]) -> Result<Vec<Value>, HostError> {
    base(caller)?;
    Ok(vec![Value::I64(caller.data().block_height as i64)])
}

fn block_timestamp(caller: Ctx<'_, '_>, _: &[Value]) -> Result<Vec<Value>, HostError> {
    base(caller)?;
    Ok(vec![Value::I64(caller.data().block_timestamp as i64)])
}

fn sha256(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (ptr, len, reg) = (i32_arg(args, 0), i32_arg(args, 1), i64_arg(args, 2));
    check_range(caller, ptr, len)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, len),
        (fees.sha256_base, 1),
        (fees.sha256_per_byte, len),
    ]))?;
    let digest = Sha256::digest(caller.memory_read(ptr, len)?).to_vec();
    caller.data_mut().set_register("sha256", reg, digest)?;
    Ok(vec![])
}

fn keccak256(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    use sha3::Digest as _;
    let fees = base(caller)?;
    let (ptr, len, reg) = (i32_arg(args, 0), i32_arg(args, 1), i64_arg(args, 2));
    check_range(caller, ptr, len)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, len),
        (fees.keccak256_base, 1),
        (fees.keccak256_per_byte, len),
    ]))?;
    let digest = sha3::Keccak256::digest(caller.memory_read(ptr, len)?).to_vec();
    caller.data_mut().set_register("keccak256", reg, digest)?;
    Ok(vec![])
}

fn ed25519_verify(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let (sig_ptr, key_ptr) = (i32_arg(args, 0), i32_arg(args, 1));
    let (msg_ptr, msg_len) = (i32_arg(args, 2), i32_arg(args, 3));
    check_range(caller, sig_ptr, 64)?;
    check_range(caller, key_ptr, 32)?;
    check_range(caller, msg_ptr, msg_len)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, msg_len.saturating_add(96)),
        (fees.ed25519_verify_base, 1),
        (fees.ed25519_verify_per_byte, msg_len),
    ]))?;
    let signature: [u8; 64] = caller
        .memory_read(sig_ptr, 64)?
        .try_into()
        .unwrap_or([0; 64]);
    let key: [u8; 32] = caller
        .memory_read(key_ptr, 32)?
        .try_into()
        .unwrap_or([0; 32]);
    let message = caller.memory_read(msg_ptr, msg_len)?;
    let valid = ed25519_dalek::VerifyingKey::from_bytes(&key).is_ok_and(|key| {
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature))
            .is_ok()
    });
    Ok(vec![Value::I32(i32::from(valid))])
}

fn read_amount(caller: Ctx<'_, '_>, ptr: u64) -> Result<u128, HostError> {
    let bytes: [u8; 16] = caller.memory_read(ptr, 16)?.try_into().unwrap_or([0; 16]);
    Ok(u128::from_le_bytes(bytes))
}

/// Reads and checks an account id argument (bounds and length were
/// checked before the charge).
fn account_arg(caller: Ctx<'_, '_>, func: &str, ptr: u64, len: u64) -> Result<String, HostError> {
    let bytes = read_bytes(caller, ptr, len)?;
    String::from_utf8(bytes)
        .ok()
        .filter(|id| check_account(id).is_ok())
        .ok_or_else(|| HostError::message(format!("{func}: invalid account id")))
}

fn attached_amount(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    let fees = base(caller)?;
    let ptr = i32_arg(args, 0);
    check_range(caller, ptr, 16)?;
    caller.charge_gas(cost(&[(fees.memory_write_per_byte, 16)]))?;
    let amount = caller.data().amount;
    caller.memory_write(ptr, &amount.to_le_bytes())?;
    Ok(vec![])
}

fn balance(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "balance";
    let fees = base(caller)?;
    let (id_ptr, id_len, ptr) = (i32_arg(args, 0), i32_arg(args, 1), i32_arg(args, 2));
    check_range(caller, id_ptr, id_len)?;
    check_range(caller, ptr, 16)?;
    check_limit(NAME, "the account id", id_len, MAX_ACCOUNT_LEN as u64)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, id_len),
        (fees.memory_write_per_byte, 16),
        (fees.balance_base, 1),
    ]))?;
    let id = account_arg(caller, NAME, id_ptr, id_len)?;
    let account = caller.data_mut().account(&id)?;
    let amount = account.as_ref().map_or(0, |a| a.balance);
    caller.memory_write(ptr, &amount.to_le_bytes())?;
    Ok(vec![Value::I32(i32::from(account.is_some()))])
}

fn transfer(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "transfer";
    let fees = base(caller)?;
    let (id_ptr, id_len, amount_ptr) = (i32_arg(args, 0), i32_arg(args, 1), i32_arg(args, 2));
    forbid_in_view(caller, NAME)?;
    check_range(caller, id_ptr, id_len)?;
    check_range(caller, amount_ptr, 16)?;
    check_limit(NAME, "the account id", id_len, MAX_ACCOUNT_LEN as u64)?;
    caller.charge_gas(cost(&[
        (fees.memory_read_per_byte, id_len.saturating_add(16)),
        (fees.transfer_base, 1),
    ]))?;
    let to = account_arg(caller, NAME, id_ptr, id_len)?;
    let amount = read_amount(caller, amount_ptr)?;
    let state = caller.data_mut();
    let stored = state.account(&to)?;
    let Some(mut receiver) = receiving_account(&to, stored) else {
        return Err(HostError::message(format!(
            "{NAME}: unknown account `{to}`"
        )));
    };
    let from = state.contract.clone();
    let mut sender = state.account(&from)?.unwrap_or_default();
    if sender.balance < amount {
        return Err(HostError::message(format!(
            "{NAME}: insufficient balance: the contract has {}, the transfer is {amount}",
            sender.balance
        )));
    }
    if amount == 0 || to == from {
        return Ok(vec![]);
    }
    sender.balance -= amount;
    frame::write_account(&mut state.overlay, &from, &sender);
    // Balances add up to at most the genesis total, which fits.
    receiver.balance = receiver.balance.saturating_add(amount);
    frame::write_account(&mut state.overlay, &to, &receiver);
    Ok(vec![])
}

fn emit_event(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "emit_event";
    let fees = base(caller)?;
    let (topics_ptr, count) = (i32_arg(args, 0), i32_arg(args, 1));
    let (data_ptr, data_len) = (i32_arg(args, 2), i32_arg(args, 3));
    let topic_bytes = count.saturating_mul(32);
    check_range(caller, topics_ptr, topic_bytes)?;
    check_range(caller, data_ptr, data_len)?;
    if count > fees.max_event_topics {
        return Err(HostError::message(format!(
            "{NAME}: {count} topics, at most {}",
            fees.max_event_topics
        )));
    }
    let state = caller.data();
    if state.events.len() as u64 >= fees.max_events {
        return Err(HostError::message(format!(
            "{NAME}: more than {} events",
            fees.max_events
        )));
    }
    let total = state.event_bytes.saturating_add(data_len);
    if total > fees.max_event_bytes {
        return Err(HostError::message(format!(
            "{NAME}: event data would total {total} bytes, at most {}",
            fees.max_event_bytes
        )));
    }
    caller.charge_gas(cost(&[
        (
            fees.memory_read_per_byte,
            topic_bytes.saturating_add(data_len),
        ),
        (fees.event_base, 1),
        (fees.event_per_topic, count),
        (fees.event_per_byte, data_len),
    ]))?;
    let topics = caller
        .memory_read(topics_ptr, topic_bytes)?
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0; 32]))
        .collect();
    let data = read_bytes(caller, data_ptr, data_len)?;
    let state = caller.data_mut();
    state.event_bytes = total;
    let contract = state.contract.clone();
    state.events.push(Event {
        contract,
        topics,
        data,
    });
    Ok(vec![])
}

/// Longest method name a contract may call.
pub const MAX_METHOD_LEN: u64 = 256;

fn call_contract(caller: Ctx<'_, '_>, args: &[Value]) -> Result<Vec<Value>, HostError> {
    const NAME: &str = "call_contract";
    let fees = base(caller)?;
    let (contract_ptr, contract_len) = (i32_arg(args, 0), i32_arg(args, 1));
    let (method_ptr, method_len) = (i32_arg(args, 2), i32_arg(args, 3));
    let (args_ptr, args_len) = (i32_arg(args, 4), i32_arg(args, 5));
    let amount_ptr = i32_arg(args, 6);
    let (gas, reg) = (i64_arg(args, 7), i64_arg(args, 8));
    check_range(caller, contract_ptr, contract_len)?;
    check_range(caller, method_ptr, method_len)?;
    check_range(caller, args_ptr, args_len)?;
    check_range(caller, amount_ptr, 16)?;
    check_limit(
        NAME,
        "the contract id",
        contract_len,
        MAX_ACCOUNT_LEN as u64,
    )?;
    check_limit(NAME, "the method name", method_len, MAX_METHOD_LEN)?;
    check_limit(NAME, "the arguments", args_len, fees.max_input_len)?;
    if caller.data().stack.len() as u64 >= fees.max_call_depth {
        return Err(HostError::message(format!(
            "{NAME}: call depth limit of {} frames reached",
            fees.max_call_depth
        )));
    }
    let amount = read_amount(caller, amount_ptr)?;
    if amount > 0 && caller.data().read_only {
        return Err(HostError::message(format!(
            "{NAME}: a view call cannot attach tokens"
        )));
    }
    let handed = method_len.saturating_add(args_len);
    caller.charge_gas(cost(&[
        (fees.call_base, 1),
        (
            fees.memory_read_per_byte,
            contract_len.saturating_add(handed).saturating_add(16),
        ),
        (fees.call_per_byte, handed),
    ]))?;
    let contract = read_bytes(caller, contract_ptr, contract_len)?;
    let method = String::from_utf8_lossy(&read_bytes(caller, method_ptr, method_len)?).into_owned();
    let input = read_bytes(caller, args_ptr, args_len)?;
    let contract_text = String::from_utf8_lossy(&contract).into_owned();

    let left = caller.gas_left();
    let limit = gas.min(left - left / fees.call_reserve_divisor.max(1));
    let state = caller.data_mut();
    let events_before = u32::try_from(state.events.len()).unwrap_or(u32::MAX);
    let result = match ContractId::parse(&contract_text) {
        None => Err(Error::UnknownContract(contract_text.clone())),
        Some(id) => {
            let request = FrameRequest {
                contract: id,
                method: method.clone(),
                input,
                caller: state.contract.clone(),
                amount,
                gas: limit,
                read_only: state.read_only,
                block_height: state.block_height,
                block_timestamp: state.block_timestamp,
                stack: state.stack.clone(),
            };
            let mut carried = Carried {
                overlay: std::mem::take(&mut state.overlay),
                trace: state.trace.take(),
            };
            let (rt, storage) = (state.rt.clone(), state.storage.clone());
            let result = frame::run_frame(&rt, &storage, request, &mut carried);
            state.overlay = carried.overlay;
            state.trace = carried.trace;
            result
        }
    };
    let mut node = CallNode {
        contract: contract_text,
        method,
        amount,
        gas_limit: 0,
        gas_used: 0,
        outcome: CallOutcome::Returned { value: Vec::new() },
        logs: Vec::new(),
        events: Vec::new(),
        events_before,
        calls: Vec::new(),
    };
    let (status, bytes) = match result {
        Err(e) if e.is_refusal() => {
            let (kind, message) = (e.kind().to_owned(), e.to_string());
            let text = format!("{kind}: {message}");
            node.outcome = CallOutcome::Refused { kind, message };
            (2, text.into_bytes())
        }
        Err(e) => return Err(state.note_fault(e)),
        Ok(ran) => {
            node.gas_limit = limit;
            node.gas_used = ran.gas_used;
            node.logs = ran.logs;
            node.events = ran.events;
            node.calls = ran.calls;
            let (status, bytes, outcome) = match ran.outcome {
                FrameOutcome::Returned(value) => {
                    (0, value.clone(), CallOutcome::Returned { value })
                }
                FrameOutcome::Trapped { kind, message } => {
                    let text = match &message {
                        Some(m) => format!("{}: {m}", kind.name()),
                        None => kind.name().to_owned(),
                    };
                    let outcome = CallOutcome::Trapped {
                        kind: kind.name().to_owned(),
                        message,
                    };
                    (1, text.into_bytes(), outcome)
                }
            };
            node.outcome = outcome;
            (status, bytes)
        }
    };
    let used = node.gas_used;
    state.calls.push(node);
    // At most the limit, which is at most what was left.
    caller.charge_gas(used)?;
    caller.charge_gas(cost(&[(fees.register_write_per_byte, bytes.len() as u64)]))?;
    caller.data_mut().set_register(NAME, reg, bytes)?;
    Ok(vec![Value::I32(status)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_the_table() {
        let list = allowed_imports();
        assert_eq!(list.len(), HOST_FUNCTIONS.len());
        let write = list.iter().find(|a| a.name == "storage_write").unwrap();
        assert_eq!(write.module, "env");
        assert_eq!(
            write.params,
            vec![
                wasmparser::ValType::I32,
                wasmparser::ValType::I32,
                wasmparser::ValType::I32,
                wasmparser::ValType::I32,
                wasmparser::ValType::I64
            ]
        );
        assert_eq!(write.results, vec![wasmparser::ValType::I32]);
        let mut names: Vec<&str> = HOST_FUNCTIONS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HOST_FUNCTIONS.len(), "names are unique");
    }

    #[test]
    fn cost_saturates() {
        assert_eq!(cost(&[(2, 3), (1, 4)]), 10);
        assert_eq!(cost(&[(u64::MAX, 2), (1, 1)]), u64::MAX);
    }
}
