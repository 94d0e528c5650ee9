//! Host functions: how compiled code reaches a Rust closure, and what the
//! closure can do through [`Caller`].

use core::mem::MaybeUninit;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::memory::{MemoryData, checked_range};
use super::store::StoreInner;
use super::{FuncType, HostError, TrapKind, Value};
use crate::vmctx::{TrapCode, VMBuiltins, VMHostContext, VMRuntime, ValRaw};

/// The closure behind a host function.
pub(crate) type HostCallback<T> =
    dyn Fn(&mut Caller<'_, T>, &[Value]) -> Result<Vec<Value>, HostError> + Send + Sync;

/// A host function as a linker holds it, before it is bound to a store.
pub(crate) struct HostFuncDef<T> {
    pub ty: Arc<FuncType>,
    pub type_id: u32,
    pub callback: Arc<HostCallback<T>>,
}

impl<T> Clone for HostFuncDef<T> {
    fn clone(&self) -> Self {
        Self {
            ty: self.ty.clone(),
            type_id: self.type_id,
            callback: self.callback.clone(),
        }
    }
}

/// The part of a bound host function the non-generic `call_host` builtin
/// reads: the context compiled code passes, then the store-typed entry.
#[repr(C)]
pub(crate) struct HostFuncHeader {
    pub ctx: VMHostContext,
    dispatch: unsafe fn(*const HostFuncHeader, *mut ValRaw),
}

/// A host function bound to a store, for one import of one instance.
#[repr(C)]
pub(crate) struct HostFuncData<T> {
    header: HostFuncHeader,
    store: *mut StoreInner<T>,
    /// Store index of the importing instance's memory, the memory
    /// [`Caller`] accesses.
    memory: Option<u32>,
    ty: Arc<FuncType>,
    callback: Arc<HostCallback<T>>,
}

impl<T> HostFuncData<T> {
    pub fn new(
        def: &HostFuncDef<T>,
        store: *mut StoreInner<T>,
        runtime: *mut VMRuntime,
        builtins: *const VMBuiltins,
        memory: Option<u32>,
    ) -> Box<Self> {
        let mut data = Box::new(Self {
            header: HostFuncHeader {
                ctx: VMHostContext {
                    runtime,
                    builtins,
                    func: core::ptr::null(),
                },
                dispatch: dispatch::<T>,
            },
            store,
            memory,
            ty: def.ty.clone(),
            callback: def.callback.clone(),
        });
        data.header.ctx.func = (&raw const *data).cast();
        data
    }

    /// The `vmctx` compiled code passes to the host stub.
    pub fn vmctx(&mut self) -> *mut VMHostContext {
        &raw mut self.header.ctx
    }
}

/// Entry point of the `call_host` builtin.
///
/// # Safety
///
/// `ctx` must be the `VMHostContext` of a live [`HostFuncData`] (the first
/// field of its header), and `values` must hold `max(params, results)`
/// slots with the arguments in front.
pub(crate) unsafe fn call_host(ctx: *mut VMHostContext, values: *mut ValRaw) {
    let header = ctx.cast::<HostFuncHeader>().cast_const();
    // SAFETY: `ctx` is the first field of a `#[repr(C)]` `HostFuncHeader`
    // (caller's contract), so the cast pointer is valid for reads.
    let (dispatch, runtime) = unsafe { ((*header).dispatch, (*header).ctx.runtime) };
    // A deferred gas charge may have failed since compiled code last
    // tested (`docs/vm.md`, "Deferred exhaustion checks"): the host must
    // not run past it.
    // SAFETY: `runtime` is the store's live `VMRuntime`; the stub stored
    // the counters before calling here.
    unsafe {
        if (*runtime).gas_left < 0 {
            (*runtime).trap_code = TrapCode::OutOfGas as u32;
            return;
        }
    }
    // SAFETY: `dispatch` was set for this header's store type `T`.
    unsafe { dispatch(header, values) }
}

/// Runs the closure of the `HostFuncData<T>` behind `header`.
///
/// # Safety
///
/// As [`call_host`]; additionally the store `T` must be the one this
/// function was monomorphised for (guaranteed by construction) and no other
/// reference into the store may be live (compiled code is running, and the
/// call path holds only raw pointers while it does).
unsafe fn dispatch<T>(header: *const HostFuncHeader, values: *mut ValRaw) {
    // SAFETY: `header` is the first field of a `#[repr(C)]` `HostFuncData<T>`.
    let func = unsafe { &*header.cast::<HostFuncData<T>>() };
    let store = func.store;
    let memory = func.memory;
    let runtime = func.header.ctx.runtime;
    // Borrowed, not cloned: both `Arc`s belong to this `HostFuncData`,
    // which the store owns and never drops or replaces while it lives, and
    // nothing the callback can reach through `Caller` touches the store's
    // host functions; the pointees are immutable.
    let ty: *const FuncType = Arc::as_ptr(&func.ty);
    let callback: *const HostCallback<T> = Arc::as_ptr(&func.callback);
    // SAFETY: as just said.
    let (ty, callback) = unsafe { (&*ty, &*callback) };

    // SAFETY: the store outlives every host function bound to it, and
    // nothing else references it while compiled code runs.
    let store = unsafe { &mut *store };
    let store_id = store.objects.id;
    let params = ty.params();
    // SAFETY: `values` holds at least `params` initialised slots.
    let arg = |i: usize| Value::from_raw(unsafe { *values.add(i) }, params[i], store_id);
    // The arguments live on the stack unless there are unusually many;
    // only the slots used are written.
    let mut inline = [const { MaybeUninit::<Value>::uninit() }; INLINE_ARGS];
    let heap: Vec<Value>;
    let args: &[Value] = if params.len() <= INLINE_ARGS {
        for (i, slot) in inline.iter_mut().enumerate().take(params.len()) {
            slot.write(arg(i));
        }
        // SAFETY: the first `params.len()` elements were just written
        // (`Value` is `Copy`, so nothing needs dropping later).
        unsafe { core::slice::from_raw_parts(inline.as_ptr().cast::<Value>(), params.len()) }
    } else {
        heap = (0..params.len()).map(arg).collect();
        &heap
    };

    // Why the call traps, if it does: set only off the fast path (so the
    // common case reads back the `None` it started with).
    let mut trap: Option<(TrapKind, Option<String>)> = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut caller = Caller {
            store: &mut *store,
            memory,
            runtime,
            pending: Cell::new(None),
        };
        let result = callback(&mut caller, args);
        if let Some(pending) = caller.pending.get() {
            trap = Some((pending, None));
            return;
        }
        match result {
            Ok(results) => match check_results(ty, &results, store_id) {
                Ok(()) => {
                    for (i, value) in results.iter().enumerate() {
                        // SAFETY: `values` has room for `results` slots.
                        unsafe { *values.add(i) = value.to_raw() };
                    }
                }
                Err(message) => trap = Some((TrapKind::Host, Some(message))),
            },
            Err(e) => trap = Some(e.into_parts()),
        }
    }));
    if let Err(panic) = outcome {
        trap = Some((TrapKind::Host, Some(panic_message(&*panic))));
    }
    if let Some((kind, message)) = trap {
        store.objects.host_trap = message;
        // SAFETY: `runtime` is the store's live `VMRuntime`.
        unsafe { (*runtime).trap_code = kind.code() as u32 };
    }
}

/// Arguments of a host call kept on the stack; more go to the heap.
const INLINE_ARGS: usize = 8;

#[inline]
fn check_results(ty: &FuncType, results: &[Value], store_id: u64) -> Result<(), String> {
    if results.len() != ty.results().len() {
        return Err(format!(
            "host function returned {} values, its type has {}",
            results.len(),
            ty.results().len()
        ));
    }
    for (i, (value, &expected)) in results.iter().zip(ty.results()).enumerate() {
        if value.ty() != expected {
            return Err(format!(
                "host function result {i} is {}, its type says {expected}",
                value.ty()
            ));
        }
        if let Value::FuncRef(Some(f)) = value
            && f.store_id != store_id
        {
            return Err(format!(
                "host function result {i} is a function of another store"
            ));
        }
    }
    Ok(())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string payload".into());
    format!("host function panicked: {detail}")
}

/// What a host function can reach while it runs: the store's user data, the
/// memory of the instance that imported it, and the call's gas.
///
/// Running out of gas and out-of-bounds memory accesses are sticky: once a
/// method has reported one, the call traps with that kind when the host
/// function returns, whatever it returns.
pub struct Caller<'a, T> {
    store: &'a mut StoreInner<T>,
    memory: Option<u32>,
    runtime: *mut VMRuntime,
    pending: Cell<Option<TrapKind>>,
}

impl<T> Caller<'_, T> {
    /// The store's user data.
    pub fn data(&self) -> &T {
        &self.store.data
    }

    /// The store's user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }

    fn memory_data(&self) -> Option<&MemoryData> {
        self.memory
            .and_then(|i| self.store.objects.memories.get(i as usize))
            .map(|m| &**m)
    }

    fn fail(&self, kind: TrapKind) -> HostError {
        if self.pending.get().is_none() {
            self.pending.set(Some(kind));
        }
        HostError::of_kind(kind)
    }

    /// Size in bytes of the memory (zero if the importing instance has
    /// none).
    pub fn memory_len(&self) -> u64 {
        self.memory_data().map_or(0, |m| m.bytes().len() as u64)
    }

    /// `len` bytes of memory at `offset`; out of bounds (or no memory) is a
    /// `memory_out_of_bounds` trap.
    pub fn memory_read(&self, offset: u64, len: u64) -> Result<&[u8], HostError> {
        let bytes = self.memory_data().map_or(&[][..], MemoryData::bytes);
        match checked_range(offset, len, bytes.len()) {
            Some(range) => Ok(&bytes[range]),
            None => Err(self.fail(TrapKind::MemoryOutOfBounds)),
        }
    }

    /// Writes `bytes` to memory at `offset`; out of bounds (or no memory)
    /// is a `memory_out_of_bounds` trap and writes nothing.
    pub fn memory_write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), HostError> {
        let memory = self
            .memory
            .and_then(|i| self.store.objects.memories.get_mut(i as usize));
        let target = memory.map_or(&mut [][..], |m| m.bytes_mut());
        match checked_range(offset, bytes.len() as u64, target.len()) {
            Some(range) => {
                target[range].copy_from_slice(bytes);
                Ok(())
            }
            None => Err(self.fail(TrapKind::MemoryOutOfBounds)),
        }
    }

    /// Gas left in the current call.
    pub fn gas_left(&self) -> u64 {
        // SAFETY: `runtime` is the store's live `VMRuntime`; compiled code
        // is suspended in this host call.
        unsafe { (*self.runtime).gas_left as u64 }
    }

    /// Charges `amount` gas to the current call; if less is left, the call
    /// traps with `out_of_gas` (and reports the whole limit as used).
    pub fn charge_gas(&mut self, amount: u64) -> Result<(), HostError> {
        let left = self.gas_left();
        if amount > left {
            // SAFETY: as in `gas_left`.
            unsafe { (*self.runtime).gas_left = 0 };
            return Err(self.fail(TrapKind::OutOfGas));
        }
        // SAFETY: as in `gas_left`.
        unsafe { (*self.runtime).gas_left = (left - amount) as i64 };
        Ok(())
    }
}
