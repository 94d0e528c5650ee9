//! Stores: own everything instances create and the shared runtime state
//! compiled code writes to.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::global::GlobalData;
use super::host::HostFuncData;
use super::instance::InstanceData;
use super::memory::MemoryData;
use super::table::TableData;
use super::{Engine, Error, FuncType, Global, Memory, Module, Table, Value};
use crate::vmctx::{EntryTrampoline, TrapCode, VMGlobal, VMRuntime, ValRaw};

/// Distinguishes stores, so that handles and function references cannot be
/// used with a store they do not belong to. Never affects results.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// Owns instances, memories, tables, globals and host functions, plus the
/// user data `T` host functions can reach through [`Caller`](crate::Caller).
///
/// Nothing is freed before the store is dropped: instances may refer to each
/// other's functions, tables and memories through raw pointers.
pub struct Store<T> {
    inner: Box<StoreInner<T>>,
}

/// The store's contents, boxed so host functions can hold a stable pointer
/// to it while compiled code runs.
pub(crate) struct StoreInner<T> {
    pub objects: StoreObjects,
    #[expect(
        clippy::vec_box,
        reason = "compiled code holds pointers into each element"
    )]
    pub host_funcs: Vec<Box<HostFuncData<T>>>,
    pub data: T,
}

/// Everything in a store that does not depend on `T`.
///
/// Objects are boxed one by one: compiled code and other instances hold raw
/// pointers to them, which must survive the vectors growing.
#[expect(clippy::vec_box, reason = "element addresses must be stable")]
pub(crate) struct StoreObjects {
    pub id: u64,
    pub engine: Engine,
    /// Owned (allocated in [`StoreObjects::new`], freed on drop); a raw
    /// pointer because compiled code writes through it while Rust code
    /// holds other references into the store.
    runtime: *mut VMRuntime,
    pub instances: Vec<Box<InstanceData>>,
    pub memories: Vec<Box<MemoryData>>,
    pub tables: Vec<Box<TableData>>,
    pub globals: Vec<Box<GlobalData>>,
    /// The signature and an entry trampoline for each canonical signature
    /// id of the modules instantiated here (which the store keeps alive),
    /// so calls need no engine lookup.
    pub signatures: BTreeMap<u32, (EntryTrampoline, Arc<FuncType>)>,
    pub modules: Vec<Module>,
    /// Native stack a call needs above `native_stack_limit`: the largest
    /// [`Module::native_stack_needed`] of the modules registered here,
    /// since a call can reach any of them (`docs/vm.md`, native stack).
    pub native_stack_needed: u64,
    /// Message of the pending host trap.
    pub host_trap: Option<String>,
    /// A cell the reserved instrumentation globals point at; compiled code
    /// never touches it (it uses `VMRuntime`), so it just avoids null.
    pub reserved_global: Box<VMGlobal>,
}

impl Drop for StoreObjects {
    fn drop(&mut self) {
        // SAFETY: `runtime` came from `Box::into_raw` in `new` and is freed
        // only here; nothing runs compiled code once the store is dropped.
        drop(unsafe { Box::from_raw(self.runtime) });
    }
}

impl StoreObjects {
    fn new(engine: &Engine) -> Self {
        Self {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            engine: engine.clone(),
            runtime: Box::into_raw(Box::new(VMRuntime {
                gas_left: 0,
                stack_left: 0,
                native_stack_limit: 0,
                trap_code: TrapCode::None as u32,
                _pad: 0,
            })),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            signatures: BTreeMap::new(),
            modules: Vec::new(),
            native_stack_needed: super::native_stack::ENTRY_RESERVE,
            host_trap: None,
            reserved_global: Box::default(),
        }
    }

    pub fn runtime(&self) -> *mut VMRuntime {
        self.runtime
    }

    fn check(&self, store_id: u64) -> Result<(), Error> {
        if store_id == self.id {
            Ok(())
        } else {
            Err(Error::WrongStore)
        }
    }

    pub fn push_memory(&mut self, data: Box<MemoryData>) -> Memory {
        self.memories.push(data);
        Memory {
            store_id: self.id,
            index: (self.memories.len() - 1) as u32,
        }
    }

    pub fn push_table(&mut self, data: Box<TableData>) -> Table {
        self.tables.push(data);
        Table {
            store_id: self.id,
            index: (self.tables.len() - 1) as u32,
        }
    }

    pub fn push_global(&mut self, data: Box<GlobalData>) -> Global {
        self.globals.push(data);
        Global {
            store_id: self.id,
            index: (self.globals.len() - 1) as u32,
        }
    }

    pub fn memory(&self, m: Memory) -> Result<&MemoryData, Error> {
        self.check(m.store_id)?;
        self.memories
            .get(m.index as usize)
            .map(|b| &**b)
            .ok_or(Error::WrongStore)
    }

    pub fn memory_mut(&mut self, m: Memory) -> Result<&mut MemoryData, Error> {
        self.check(m.store_id)?;
        self.memories
            .get_mut(m.index as usize)
            .map(|b| &mut **b)
            .ok_or(Error::WrongStore)
    }

    pub fn table(&self, t: Table) -> Result<&TableData, Error> {
        self.check(t.store_id)?;
        self.tables
            .get(t.index as usize)
            .map(|b| &**b)
            .ok_or(Error::WrongStore)
    }

    pub fn table_mut(&mut self, t: Table) -> Result<&mut TableData, Error> {
        self.check(t.store_id)?;
        self.tables
            .get_mut(t.index as usize)
            .map(|b| &mut **b)
            .ok_or(Error::WrongStore)
    }

    pub fn global(&self, g: Global) -> Result<&GlobalData, Error> {
        self.check(g.store_id)?;
        self.globals
            .get(g.index as usize)
            .map(|b| &**b)
            .ok_or(Error::WrongStore)
    }

    pub fn global_mut(&mut self, g: Global) -> Result<&mut GlobalData, Error> {
        self.check(g.store_id)?;
        self.globals
            .get_mut(g.index as usize)
            .map(|b| &mut **b)
            .ok_or(Error::WrongStore)
    }

    /// Raw encoding of a value for this store; a funcref from another store
    /// is refused.
    pub fn value_to_raw(&self, value: Value) -> Result<ValRaw, Error> {
        if let Value::FuncRef(Some(f)) = value {
            self.check(f.store_id)?;
        }
        Ok(value.to_raw())
    }

    /// Makes the entry trampolines of `module` available for calls through
    /// function references of its signatures, and keeps its code alive.
    pub fn register_module(&mut self, module: &Module) {
        if self.modules.iter().any(|m| m.same(module)) {
            return;
        }
        let inner = &module.inner;
        for (type_index, &id) in inner.type_ids.iter().enumerate() {
            if self.signatures.contains_key(&id) {
                continue;
            }
            if let Some(ty) = self.engine.signature(id) {
                let trampoline = inner.code.entry_trampoline(type_index as u32);
                self.signatures.insert(id, (trampoline, ty));
            }
        }
        self.native_stack_needed = self.native_stack_needed.max(module.native_stack_needed());
        self.modules.push(module.clone());
    }
}

// SAFETY: the raw pointers inside a store point only into allocations the
// store itself owns (or into modules it keeps alive, which are immutable
// code and data); moving the store to another thread moves all of them
// together. A store is never shared between threads (`Store` is not Sync).
unsafe impl<T: Send> Send for Store<T> {}

impl<T> Store<T> {
    /// An empty store for instances of `engine`'s modules, holding `data`.
    pub fn new(engine: &Engine, data: T) -> Self {
        Self {
            inner: Box::new(StoreInner {
                objects: StoreObjects::new(engine),
                host_funcs: Vec::new(),
                data,
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.objects.engine
    }

    /// The user data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// Consumes the store, returning the user data.
    pub fn into_data(self) -> T {
        self.inner.data
    }

    pub(crate) fn objects(&self) -> &StoreObjects {
        &self.inner.objects
    }

    pub(crate) fn objects_mut(&mut self) -> &mut StoreObjects {
        &mut self.inner.objects
    }

    pub(crate) fn inner_mut(&mut self) -> &mut StoreInner<T> {
        &mut self.inner
    }

    pub(crate) fn inner_ptr(&mut self) -> *mut StoreInner<T> {
        &mut *self.inner
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("instances", &self.inner.objects.instances.len())
            .field("data", &self.inner.data)
            .finish_non_exhaustive()
    }
}
