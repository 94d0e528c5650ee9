//! The token workload of [`crate::token`] on the peer engines: the same
//! token `.wasm` (uninstrumented), the same setup and the same ring of
//! transfers, each one call the way a node runs it: a fresh store and
//! instance of the module compiled once (wasmtime through `InstancePre`,
//! wasmi through `Linker::instantiate_and_start`), the `transfer` method,
//! and the call's writes committed only if it returned.
//!
//! The host is a stub with the semantics of detvm's (`docs/host-api.md`),
//! limited to the functions the token imports: per-call registers, a write
//! overlay over a committed in-memory store, logs checked for UTF-8,
//! `panic_utf8` ending the call, bounds-checked memory accesses, view calls
//! in which writes trap, events and `keccak256`, and the same size limits (`HostFees::v2`). It
//! charges no gas or fees: the peers meter the contract's own code with
//! their fuel (or not at all), and host calls are free. There is one
//! contract, so keys need no namespace.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use borsh::BorshSerialize;
use detvm_host::HostFees;

use crate::peers::Peer;
use crate::token::ACCOUNTS;

/// Fuel given to every call's store on the metered peers: as much as
/// allowed, so no call runs out.
const FUEL: u64 = 1 << 62;

/// The import module of every host function.
const HOST_MODULE: &str = "env";

/// Why a call ended without returning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    /// A host function refused the call, or the contract called
    /// `panic_utf8`: the message.
    #[error("host: {0}")]
    Host(String),
    /// A host function was given a `(ptr, len)` outside the memory.
    #[error("memory_out_of_bounds")]
    MemoryOutOfBounds,
    /// The engine trapped while running the contract's code.
    #[error("{0}")]
    Wasm(String),
}

impl wasmi::errors::HostError for Trap {}

/// A failure of the peer token workload.
#[derive(Debug, thiserror::Error)]
pub enum PeerTokenError {
    /// The engine did not compile, link or instantiate the contract, or the
    /// method is not exported as `[] -> []`.
    #[error("{peer}: {message}")]
    Engine {
        /// The peer's report name.
        peer: &'static str,
        /// The engine's error.
        message: String,
    },
    /// A call trapped; it changed no state.
    #[error("{method} trapped: {trap}")]
    Trapped {
        /// The method called.
        method: String,
        /// Why it ended.
        trap: Trap,
    },
    /// `balance_of` returned bytes that are not a borsh `u128`.
    #[error("balance_of returned {0} bytes, not a u128")]
    BadBalance(usize),
}

/// What the host functions of one call see and produce: detvm's
/// `HostState` without gas, block or namespace.
struct Host {
    /// detvm's fee table, for its size limits.
    limits: Arc<HostFees>,
    caller: String,
    input: Vec<u8>,
    /// A view call: writes trap.
    read_only: bool,
    /// The committed state, moved in for the call and back out after it.
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The call's writes (`None`: removed), committed only if it returns.
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    registers: BTreeMap<u64, Vec<u8>>,
    register_bytes: u64,
    logs: Vec<String>,
    log_bytes: u64,
    /// Each event's topics and data.
    events: Vec<(Vec<[u8; 32]>, Vec<u8>)>,
    event_bytes: u64,
    return_value: Vec<u8>,
}

fn host_trap(message: String) -> Trap {
    Trap::Host(message)
}

/// `(ptr, len)` as a range of `memory`, read as unsigned 32-bit.
fn range(memory: &[u8], ptr: i32, len: u64) -> Result<Range<usize>, Trap> {
    let start = u64::from(ptr as u32);
    match start.checked_add(len) {
        Some(end) if end <= memory.len() as u64 => Ok(start as usize..end as usize),
        _ => Err(Trap::MemoryOutOfBounds),
    }
}

fn len_arg(len: i32) -> u64 {
    u64::from(len as u32)
}

fn check_limit(func: &str, what: &str, len: u64, max: u64) -> Result<(), Trap> {
    if len > max {
        return Err(host_trap(format!(
            "{func}: {what} is {len} bytes, at most {max}"
        )));
    }
    Ok(())
}

/// Checks that one more record (a log, an event) of `len` bytes stays
/// within `func`'s count and byte limits, in detvm's order and words, and
/// returns the new byte total.
fn admit(
    func: &str,
    (records, held, max_records): (&str, usize, u64),
    (bytes, total, len, max_bytes): (&str, u64, u64, u64),
) -> Result<u64, Trap> {
    if held as u64 >= max_records {
        return Err(host_trap(format!(
            "{func}: more than {max_records} {records}"
        )));
    }
    let total = total.saturating_add(len);
    if total > max_bytes {
        return Err(host_trap(format!(
            "{func}: {bytes} would total {total} bytes, at most {max_bytes}"
        )));
    }
    Ok(total)
}

impl Host {
    /// The host of one call of `caller` over `committed`.
    fn new(
        limits: Arc<HostFees>,
        caller: &str,
        input: Vec<u8>,
        read_only: bool,
        committed: BTreeMap<Vec<u8>, Vec<u8>>,
    ) -> Self {
        Self {
            limits,
            caller: caller.to_string(),
            input,
            read_only,
            committed,
            overlay: BTreeMap::new(),
            registers: BTreeMap::new(),
            register_bytes: 0,
            logs: Vec::new(),
            log_bytes: 0,
            events: Vec::new(),
            event_bytes: 0,
            return_value: Vec::new(),
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.overlay.get(key) {
            Some(value) => value.clone(),
            None => self.committed.get(key).cloned(),
        }
    }

    fn set_register(&mut self, func: &str, reg: u64, bytes: Vec<u8>) -> Result<(), Trap> {
        let old = self.registers.get(&reg).map(|r| r.len() as u64);
        let count = self.registers.len() as u64 + u64::from(old.is_none());
        if count > self.limits.max_registers {
            return Err(host_trap(format!(
                "{func}: more than {} registers set",
                self.limits.max_registers
            )));
        }
        let total = self.register_bytes - old.unwrap_or(0) + bytes.len() as u64;
        if total > self.limits.max_register_bytes {
            return Err(host_trap(format!(
                "{func}: registers would hold {total} bytes, at most {}",
                self.limits.max_register_bytes
            )));
        }
        self.register_bytes = total;
        self.registers.insert(reg, bytes);
        Ok(())
    }

    fn forbid_in_view(&self, func: &str) -> Result<(), Trap> {
        if self.read_only {
            return Err(host_trap(format!(
                "{func}: state cannot change in a view call"
            )));
        }
        Ok(())
    }

    fn input(&mut self, reg: i64) -> Result<(), Trap> {
        let bytes = self.input.clone();
        self.set_register("input", reg as u64, bytes)
    }

    fn caller(&mut self, reg: i64) -> Result<(), Trap> {
        let bytes = self.caller.clone().into_bytes();
        self.set_register("caller", reg as u64, bytes)
    }

    fn register_len(&self, reg: i64) -> i64 {
        self.registers
            .get(&(reg as u64))
            .map_or(-1, |r| r.len() as i64)
    }

    fn read_register(&self, memory: &mut [u8], reg: i64, ptr: i32) -> Result<(), Trap> {
        let reg = reg as u64;
        let Some(bytes) = self.registers.get(&reg) else {
            return Err(host_trap(format!(
                "read_register: register {reg} is not set"
            )));
        };
        let at = range(memory, ptr, bytes.len() as u64)?;
        memory[at].copy_from_slice(bytes);
        Ok(())
    }

    fn value_return(&mut self, memory: &[u8], ptr: i32, len: i32) -> Result<(), Trap> {
        let len = len_arg(len);
        let at = range(memory, ptr, len)?;
        check_limit(
            "value_return",
            "the return value",
            len,
            self.limits.max_return_len,
        )?;
        self.return_value = memory[at].to_vec();
        Ok(())
    }

    fn log_utf8(&mut self, memory: &[u8], ptr: i32, len: i32) -> Result<(), Trap> {
        let len = len_arg(len);
        let at = range(memory, ptr, len)?;
        let total = admit(
            "log_utf8",
            ("logs", self.logs.len(), self.limits.max_logs),
            ("logs", self.log_bytes, len, self.limits.max_log_bytes),
        )?;
        let line = String::from_utf8(memory[at].to_vec())
            .map_err(|e| host_trap(format!("log_utf8: not UTF-8: {e}")))?;
        self.log_bytes = total;
        self.logs.push(line);
        Ok(())
    }

    fn keccak256(&mut self, memory: &[u8], ptr: i32, len: i32, reg: i64) -> Result<(), Trap> {
        use sha3::Digest as _;
        let at = range(memory, ptr, len_arg(len))?;
        let digest = sha3::Keccak256::digest(&memory[at]).to_vec();
        self.set_register("keccak256", reg as u64, digest)
    }

    fn emit_event(
        &mut self,
        memory: &[u8],
        (topics_ptr, count): (i32, i32),
        (data_ptr, data_len): (i32, i32),
    ) -> Result<(), Trap> {
        let count = len_arg(count);
        let data_len = len_arg(data_len);
        let topics_at = range(memory, topics_ptr, count.saturating_mul(32))?;
        let data_at = range(memory, data_ptr, data_len)?;
        if count > self.limits.max_event_topics {
            return Err(host_trap(format!(
                "emit_event: {count} topics, at most {}",
                self.limits.max_event_topics
            )));
        }
        let total = admit(
            "emit_event",
            ("events", self.events.len(), self.limits.max_events),
            (
                "event data",
                self.event_bytes,
                data_len,
                self.limits.max_event_bytes,
            ),
        )?;
        let topics = memory[topics_at]
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        self.event_bytes = total;
        self.events.push((topics, memory[data_at].to_vec()));
        Ok(())
    }

    fn panic_utf8(&self, memory: &[u8], ptr: i32, len: i32) -> Trap {
        let len = len_arg(len);
        let at = match range(memory, ptr, len) {
            Ok(at) => at,
            Err(trap) => return trap,
        };
        let kept = len.min(self.limits.max_log_bytes) as usize;
        let bytes = &memory[at.start..at.start + kept];
        host_trap(String::from_utf8_lossy(bytes).into_owned())
    }

    /// Bounds and the key limit of a function taking a key; the key.
    fn key(&self, memory: &[u8], func: &str, ptr: i32, len: i32) -> Result<Vec<u8>, Trap> {
        let len = len_arg(len);
        let at = range(memory, ptr, len)?;
        check_limit(func, "the key", len, self.limits.max_key_len)?;
        Ok(memory[at].to_vec())
    }

    fn storage_write(
        &mut self,
        memory: &[u8],
        (key_ptr, key_len): (i32, i32),
        (value_ptr, value_len): (i32, i32),
        reg: i64,
    ) -> Result<i32, Trap> {
        const NAME: &str = "storage_write";
        self.forbid_in_view(NAME)?;
        let (key_len, value_len) = (len_arg(key_len), len_arg(value_len));
        let key_at = range(memory, key_ptr, key_len)?;
        let value_at = range(memory, value_ptr, value_len)?;
        check_limit(NAME, "the key", key_len, self.limits.max_key_len)?;
        check_limit(NAME, "the value", value_len, self.limits.max_value_len)?;
        let key = memory[key_at].to_vec();
        let value = memory[value_at].to_vec();
        let old = self.lookup(&key);
        self.overlay.insert(key, Some(value));
        match old {
            Some(old) => {
                self.set_register(NAME, reg as u64, old)?;
                Ok(1)
            }
            None => Ok(0),
        }
    }

    fn storage_read(&mut self, memory: &[u8], ptr: i32, len: i32, reg: i64) -> Result<i32, Trap> {
        const NAME: &str = "storage_read";
        let key = self.key(memory, NAME, ptr, len)?;
        let Some(value) = self.lookup(&key) else {
            return Ok(0);
        };
        self.set_register(NAME, reg as u64, value)?;
        Ok(1)
    }

    fn storage_remove(&mut self, memory: &[u8], ptr: i32, len: i32, reg: i64) -> Result<i32, Trap> {
        const NAME: &str = "storage_remove";
        self.forbid_in_view(NAME)?;
        let key = self.key(memory, NAME, ptr, len)?;
        let old = self.lookup(&key);
        self.overlay.insert(key, None);
        match old {
            Some(old) => {
                self.set_register(NAME, reg as u64, old)?;
                Ok(1)
            }
            None => Ok(0),
        }
    }

    fn storage_has_key(&self, memory: &[u8], ptr: i32, len: i32) -> Result<i32, Trap> {
        let key = self.key(memory, "storage_has_key", ptr, len)?;
        Ok(i32::from(self.lookup(&key).is_some()))
    }

    /// Applies the overlay to the committed state.
    fn commit(&mut self) {
        for (key, value) in std::mem::take(&mut self.overlay) {
            match value {
                Some(value) => self.committed.insert(key, value),
                None => self.committed.remove(&key),
            };
        }
    }
}

/// A store's data: the call's host state and the instance's memory, set
/// once the instance exists.
struct Call<M> {
    host: Host,
    memory: Option<M>,
}

/// Defines the token's imports in `$linker` for engine `$engine`
/// (`wasmtime` or `wasmi`: the same host-function API), turning a [`Trap`]
/// into the engine's error with `$to_error`.
macro_rules! define_host {
    ($engine:ident, $linker:expr, $to_error:path) => {{
        use $engine::{Caller, Error};
        type Ctx<'a> = Caller<'a, Call<$engine::Memory>>;
        let linker = $linker;

        /// The memory and the host state of a call.
        fn parts<'a>(caller: &'a mut Ctx<'_>) -> Result<(&'a mut [u8], &'a mut Host), Error> {
            let Some(memory) = caller.data().memory else {
                return Err($to_error(host_trap(
                    "the contract exports no memory".into(),
                )));
            };
            let (bytes, call) = memory.data_and_store_mut(caller);
            Ok((bytes, &mut call.host))
        }

        linker.func_wrap(HOST_MODULE, "input", |mut c: Ctx<'_>, reg: i64| {
            c.data_mut().host.input(reg).map_err($to_error)
        })?;
        linker.func_wrap(HOST_MODULE, "register_len", |c: Ctx<'_>, reg: i64| {
            c.data().host.register_len(reg)
        })?;
        linker.func_wrap(
            HOST_MODULE,
            "read_register",
            |mut c: Ctx<'_>, reg: i64, ptr: i32| {
                let (memory, host) = parts(&mut c)?;
                host.read_register(memory, reg, ptr).map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "value_return",
            |mut c: Ctx<'_>, ptr: i32, len: i32| {
                let (memory, host) = parts(&mut c)?;
                host.value_return(memory, ptr, len).map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "log_utf8",
            |mut c: Ctx<'_>, ptr: i32, len: i32| {
                let (memory, host) = parts(&mut c)?;
                host.log_utf8(memory, ptr, len).map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "keccak256",
            |mut c: Ctx<'_>, ptr: i32, len: i32, reg: i64| {
                let (memory, host) = parts(&mut c)?;
                host.keccak256(memory, ptr, len, reg).map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "emit_event",
            |mut c: Ctx<'_>, topics_ptr: i32, count: i32, data_ptr: i32, data_len: i32| {
                let (memory, host) = parts(&mut c)?;
                host.emit_event(memory, (topics_ptr, count), (data_ptr, data_len))
                    .map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "panic_utf8",
            |mut c: Ctx<'_>, ptr: i32, len: i32| -> Result<(), Error> {
                let (memory, host) = parts(&mut c)?;
                Err($to_error(host.panic_utf8(memory, ptr, len)))
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "storage_write",
            |mut c: Ctx<'_>,
             key_ptr: i32,
             key_len: i32,
             value_ptr: i32,
             value_len: i32,
             reg: i64| {
                let (memory, host) = parts(&mut c)?;
                host.storage_write(memory, (key_ptr, key_len), (value_ptr, value_len), reg)
                    .map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "storage_read",
            |mut c: Ctx<'_>, ptr: i32, len: i32, reg: i64| {
                let (memory, host) = parts(&mut c)?;
                host.storage_read(memory, ptr, len, reg).map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "storage_remove",
            |mut c: Ctx<'_>, ptr: i32, len: i32, reg: i64| {
                let (memory, host) = parts(&mut c)?;
                host.storage_remove(memory, ptr, len, reg)
                    .map_err($to_error)
            },
        )?;
        linker.func_wrap(
            HOST_MODULE,
            "storage_has_key",
            |mut c: Ctx<'_>, ptr: i32, len: i32| {
                let (memory, host) = parts(&mut c)?;
                host.storage_has_key(memory, ptr, len).map_err($to_error)
            },
        )?;
        linker.func_wrap(HOST_MODULE, "caller", |mut c: Ctx<'_>, reg: i64| {
            c.data_mut().host.caller(reg).map_err($to_error)
        })?;
        Ok::<(), Error>(())
    }};
}

/// How one call ended, before the engine's error is read.
enum Ended {
    /// The method returned.
    Returned,
    /// The engine refused to set the call up (a [`PeerTokenError::Engine`]).
    Setup(String),
    /// The call trapped.
    Trapped(Trap),
}

mod wasmtime_peer {
    use super::*;
    use wasmtime::{Config, Engine, InstancePre, Linker, Module, Store};

    /// A compiled token ready to instantiate.
    pub(super) struct Token {
        engine: Engine,
        pre: InstancePre<Call<wasmtime::Memory>>,
        fuel: bool,
    }

    fn to_error(trap: Trap) -> wasmtime::Error {
        wasmtime::Error::new(trap)
    }

    impl Token {
        pub(super) fn new(code: &[u8], fuel: bool) -> Result<Self, String> {
            let mut config = Config::new();
            config.consume_fuel(fuel);
            let engine = Engine::new(&config).map_err(|e| e.to_string())?;
            let module = Module::new(&engine, code).map_err(|e| e.to_string())?;
            let mut linker = Linker::new(&engine);
            (|| define_host!(wasmtime, &mut linker, to_error))().map_err(|e| e.to_string())?;
            let pre = linker.instantiate_pre(&module).map_err(|e| e.to_string())?;
            Ok(Self { engine, pre, fuel })
        }

        pub(super) fn call(&self, host: Host, method: &str) -> (Host, Ended) {
            let mut store = Store::new(&self.engine, Call { host, memory: None });
            let ended = self.run(&mut store, method);
            (store.into_data().host, ended)
        }

        fn run(&self, store: &mut Store<Call<wasmtime::Memory>>, method: &str) -> Ended {
            if self.fuel
                && let Err(e) = store.set_fuel(FUEL)
            {
                return Ended::Setup(e.to_string());
            }
            let instance = match self.pre.instantiate(&mut *store) {
                Ok(instance) => instance,
                Err(e) => return Ended::Setup(e.to_string()),
            };
            store.data_mut().memory = instance.get_memory(&mut *store, "memory");
            let func = match instance.get_typed_func::<(), ()>(&mut *store, method) {
                Ok(func) => func,
                Err(e) => return Ended::Setup(e.to_string()),
            };
            match func.call(&mut *store, ()) {
                Ok(()) => Ended::Returned,
                Err(e) => Ended::Trapped(match e.downcast_ref::<Trap>() {
                    Some(trap) => trap.clone(),
                    None => Trap::Wasm(e.to_string()),
                }),
            }
        }
    }
}

mod wasmi_peer {
    use super::*;
    use wasmi::{CompilationMode, Config, Engine, Linker, Module, Store};

    /// A compiled token and the linker that instantiates it.
    pub(super) struct Token {
        engine: Engine,
        module: Module,
        linker: Linker<Call<wasmi::Memory>>,
    }

    fn to_error(trap: Trap) -> wasmi::Error {
        wasmi::Error::host(trap)
    }

    impl Token {
        pub(super) fn new(code: &[u8]) -> Result<Self, String> {
            let mut config = Config::default();
            config.consume_fuel(true);
            config.compilation_mode(CompilationMode::Eager);
            let engine = Engine::new(&config);
            let module = Module::new(&engine, code).map_err(|e| e.to_string())?;
            let mut linker = Linker::new(&engine);
            (|| define_host!(wasmi, &mut linker, to_error))().map_err(|e| e.to_string())?;
            Ok(Self {
                engine,
                module,
                linker,
            })
        }

        pub(super) fn call(&self, host: Host, method: &str) -> (Host, Ended) {
            let mut store = Store::new(&self.engine, Call { host, memory: None });
            let ended = self.run(&mut store, method);
            (store.into_data().host, ended)
        }

        fn run(&self, store: &mut Store<Call<wasmi::Memory>>, method: &str) -> Ended {
            if let Err(e) = store.set_fuel(FUEL) {
                return Ended::Setup(e.to_string());
            }
            let instance = match self.linker.instantiate_and_start(&mut *store, &self.module) {
                Ok(instance) => instance,
                Err(e) => return Ended::Setup(e.to_string()),
            };
            store.data_mut().memory = instance.get_memory(&*store, "memory");
            let func = match instance.get_typed_func::<(), ()>(&*store, method) {
                Ok(func) => func,
                Err(e) => return Ended::Setup(e.to_string()),
            };
            match func.call(&mut *store, ()) {
                Ok(()) => Ended::Returned,
                Err(e) => Ended::Trapped(match e.downcast_ref::<Trap>() {
                    Some(trap) => trap.clone(),
                    None => Trap::Wasm(e.to_string()),
                }),
            }
        }
    }
}

enum Compiled {
    Wasmtime(wasmtime_peer::Token),
    Wasmi(wasmi_peer::Token),
}

/// The token contract on one peer engine, initialised and minted to
/// [`ACCOUNTS`] accounts like [`crate::token::TokenChain`].
pub struct PeerToken {
    peer: Peer,
    compiled: Compiled,
    limits: Arc<HostFees>,
    /// The contract's committed storage.
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    accounts: Vec<String>,
    next: usize,
}

impl PeerToken {
    /// Compiles `code` (the token contract) with `peer`, initialises it as
    /// `owner` and gives every account the same balance as
    /// [`crate::token::TokenChain::new`] does.
    pub fn new(peer: Peer, code: &[u8]) -> Result<Self, PeerTokenError> {
        let compiled = match peer {
            Peer::Wasmtime => wasmtime_peer::Token::new(code, false).map(Compiled::Wasmtime),
            Peer::WasmtimeFuel => wasmtime_peer::Token::new(code, true).map(Compiled::Wasmtime),
            Peer::WasmiFuel => wasmi_peer::Token::new(code).map(Compiled::Wasmi),
        }
        .map_err(|message| PeerTokenError::Engine {
            peer: peer.name(),
            message,
        })?;
        let owner = "owner";
        let mut this = Self {
            peer,
            compiled,
            limits: Arc::new(HostFees::v2()),
            committed: BTreeMap::new(),
            accounts: (0..ACCOUNTS).map(|i| format!("account{i:03}")).collect(),
            next: 0,
        };
        this.call(owner, "init", &("TOK".to_string(),))?;
        for account in this.accounts.clone() {
            this.call(owner, "mint", &(account, 1_000_000_000u128))?;
        }
        Ok(this)
    }

    /// Runs `n` transfers of one unit along the ring of
    /// [`crate::token::TokenChain::transfers`]. Any transfer that does not
    /// return is an error.
    pub fn transfers(&mut self, n: usize) -> Result<(), PeerTokenError> {
        for _ in 0..n {
            let from = self.accounts[self.next].clone();
            let to = self.accounts[(self.next + 1) % ACCOUNTS].clone();
            self.next = (self.next + 1) % ACCOUNTS;
            self.call(&from, "transfer", &(to, 1u128))?;
        }
        Ok(())
    }

    /// Runs one transfer of `amount` from `from` to `to`, committed if it
    /// returns.
    pub fn transfer(&mut self, from: &str, to: &str, amount: u128) -> Result<(), PeerTokenError> {
        self.call(from, "transfer", &(to.to_string(), amount))
            .map(drop)
    }

    /// The committed balance of `account`, read through the contract in a
    /// view call.
    pub fn balance(&mut self, account: &str) -> Result<u128, PeerTokenError> {
        let input = borsh::to_vec(&(account.to_string(),)).expect("encodes");
        let bytes = self.run(account, "balance_of", input, true)?;
        borsh::from_slice(&bytes).map_err(|_| PeerTokenError::BadBalance(bytes.len()))
    }

    /// The accounts, in ring order.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// The engine this token runs on.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    fn call(
        &mut self,
        from: &str,
        method: &str,
        args: &impl BorshSerialize,
    ) -> Result<Vec<u8>, PeerTokenError> {
        let input = borsh::to_vec(args).expect("encodes");
        self.run(from, method, input, false)
    }

    /// One call: the committed state goes into the call's host and comes
    /// back; the overlay is applied only if the method returned and the
    /// call is not a view. Returns the method's return value.
    fn run(
        &mut self,
        caller: &str,
        method: &str,
        input: Vec<u8>,
        read_only: bool,
    ) -> Result<Vec<u8>, PeerTokenError> {
        let host = Host::new(
            self.limits.clone(),
            caller,
            input,
            read_only,
            std::mem::take(&mut self.committed),
        );
        let (mut host, ended) = match &self.compiled {
            Compiled::Wasmtime(token) => token.call(host, method),
            Compiled::Wasmi(token) => token.call(host, method),
        };
        if matches!(ended, Ended::Returned) && !read_only {
            host.commit();
        }
        self.committed = host.committed;
        match ended {
            Ended::Returned => Ok(host.return_value),
            Ended::Setup(message) => Err(PeerTokenError::Engine {
                peer: self.peer.name(),
                message,
            }),
            Ended::Trapped(trap) => Err(PeerTokenError::Trapped {
                method: method.to_string(),
                trap,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenChain;

    fn code() -> Vec<u8> {
        detvm_testkit::contracts::wasm("token").expect("the token is built")
    }

    /// Every peer ends a run of transfers with exactly detvm's balances.
    #[test]
    fn transfers_give_detvm_balances() {
        let code = code();
        let mut detvm = TokenChain::new(&code).expect("detvm sets up");
        detvm.transfers(ACCOUNTS + 3).expect("detvm transfers");
        let expected: Vec<u128> = detvm
            .accounts()
            .iter()
            .map(|a| detvm.balance(a).expect("balance"))
            .collect();
        for peer in Peer::ALL {
            let mut token = PeerToken::new(peer, &code).expect("sets up");
            assert_eq!(token.peer(), peer);
            let accounts = token.accounts().to_vec();
            assert_eq!(accounts, detvm.accounts());
            let before: Vec<u128> = accounts
                .iter()
                .map(|a| token.balance(a).expect("balance"))
                .collect();
            token.transfers(ACCOUNTS + 3).expect("transfers succeed");
            let after: Vec<u128> = accounts
                .iter()
                .map(|a| token.balance(a).expect("balance"))
                .collect();
            assert_eq!(after, expected, "{}", peer.name());
            assert_eq!(
                before.iter().sum::<u128>(),
                after.iter().sum::<u128>(),
                "{}",
                peer.name()
            );
            assert_ne!(before, after, "{}", peer.name());
        }
    }

    /// A transfer of more than the balance traps with the contract's
    /// message and changes nothing.
    #[test]
    fn overdraft_traps_and_changes_nothing() {
        let code = code();
        for peer in Peer::ALL {
            let mut token = PeerToken::new(peer, &code).expect("sets up");
            let committed = token.committed.clone();
            let err = token
                .transfer("account000", "account001", 1_000_000_001)
                .expect_err("an overdraft fails");
            match &err {
                PeerTokenError::Trapped {
                    method,
                    trap: Trap::Host(message),
                } => {
                    assert_eq!(method, "transfer");
                    assert!(
                        message.starts_with("insufficient balance"),
                        "{}: {message}",
                        peer.name()
                    );
                }
                other => panic!("{}: {other}", peer.name()),
            }
            assert_eq!(token.committed, committed, "{}", peer.name());
            assert_eq!(token.balance("account000").expect("balance"), 1_000_000_000);
            assert_eq!(token.balance("account001").expect("balance"), 1_000_000_000);
            // The state is usable afterwards.
            token.transfers(1).expect("transfers succeed");
            assert_eq!(token.balance("account000").expect("balance"), 999_999_999);
        }
    }

    /// The stub's view calls refuse writes, like detvm's.
    #[test]
    fn views_cannot_write() {
        let code = code();
        let mut token = PeerToken::new(Peer::WasmiFuel, &code).expect("sets up");
        let input = borsh::to_vec(&("account001".to_string(), 1u128)).expect("encodes");
        let err = token
            .run("account000", "transfer", input, true)
            .expect_err("a write in a view traps");
        assert!(
            matches!(&err, PeerTokenError::Trapped { trap: Trap::Host(m), .. }
                if m.contains("view call")),
            "{err}"
        );
        assert_eq!(token.balance("account000").expect("balance"), 1_000_000_000);
    }

    /// The stub's events keep detvm's bounds and limits.
    #[test]
    fn events_are_checked_like_detvm_s() {
        let limits = Arc::new(HostFees::v2());
        let mut host = Host::new(limits.clone(), "a", Vec::new(), false, BTreeMap::new());
        let mut memory = vec![0u8; 256];
        memory[..32].fill(7);
        memory[200..203].copy_from_slice(b"abc");
        host.emit_event(&memory, (0, 1), (200, 3))
            .expect("an event");
        assert_eq!(host.events, vec![(vec![[7; 32]], b"abc".to_vec())]);
        assert_eq!(
            host.emit_event(&memory, (240, 1), (0, 0)),
            Err(Trap::MemoryOutOfBounds),
            "topics past the end"
        );
        assert_eq!(
            host.emit_event(&memory, (0, 0), (200, 57)),
            Err(Trap::MemoryOutOfBounds),
            "data past the end"
        );
        let many = i32::try_from(limits.max_event_topics + 1).unwrap();
        assert!(matches!(
            host.emit_event(&memory, (0, many), (0, 0)),
            Err(Trap::Host(m)) if m.contains("topics")
        ));
        for _ in 1..limits.max_events {
            host.emit_event(&memory, (0, 0), (0, 0))
                .expect("within the limit");
        }
        assert!(matches!(
            host.emit_event(&memory, (0, 0), (0, 0)),
            Err(Trap::Host(m)) if m.contains("events")
        ));
        assert_eq!(host.events.len() as u64, limits.max_events);
    }

    /// The list the ordinary tests check the token against is what the
    /// stub defines (shown on wasmtime; wasmi's linker is filled by the
    /// same macro).
    #[test]
    fn the_stub_defines_the_listed_functions() {
        use crate::token::PEER_HOST_FUNCTIONS;
        let engine = wasmtime::Engine::default();
        let mut linker = wasmtime::Linker::new(&engine);
        fn to_error(trap: Trap) -> wasmtime::Error {
            wasmtime::Error::new(trap)
        }
        (|| define_host!(wasmtime, &mut linker, to_error))().expect("defines");
        let mut store = wasmtime::Store::new(
            &engine,
            Call::<wasmtime::Memory> {
                host: Host::new(
                    Arc::new(HostFees::v2()),
                    "a",
                    Vec::new(),
                    false,
                    BTreeMap::new(),
                ),
                memory: None,
            },
        );
        let mut defined: Vec<String> = linker
            .iter(&mut store)
            .map(|(module, name, _)| format!("{module}::{name}"))
            .collect();
        defined.sort();
        let listed: Vec<String> = PEER_HOST_FUNCTIONS
            .iter()
            .map(|name| format!("{HOST_MODULE}::{name}"))
            .collect();
        assert_eq!(defined, listed);
    }

    #[test]
    fn keccak256_is_detvm_s() {
        let mut host = Host::new(
            Arc::new(HostFees::v2()),
            "a",
            Vec::new(),
            false,
            BTreeMap::new(),
        );
        let memory = b"abc".to_vec();
        host.keccak256(&memory, 0, 3, 9).expect("hashes");
        // Keccak-256("abc"), the original (pre-SHA-3) padding.
        assert_eq!(
            detvm_host::hex(&host.registers[&9]),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        assert_eq!(
            host.keccak256(&memory, 1, 3, 9),
            Err(Trap::MemoryOutOfBounds)
        );
    }

    #[test]
    fn memory_ranges_are_checked() {
        let memory = [0u8; 16];
        assert_eq!(range(&memory, 4, 12), Ok(4..16));
        assert_eq!(range(&memory, 4, 13), Err(Trap::MemoryOutOfBounds));
        assert_eq!(range(&memory, -1, 1), Err(Trap::MemoryOutOfBounds));
    }
}
