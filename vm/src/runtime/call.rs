//! Calls from the host into compiled code: argument checks, the per-call
//! reset of the shared runtime state, the native stack rule, and turning
//! the trap code into an outcome.

use core::ffi::c_void;
use core::mem::MaybeUninit;
use std::sync::Arc;

use super::store::{Store, StoreObjects};
use super::trap_handler;
use super::{CallError, Error, FuncType, InternalError, TrapKind, Value};
use crate::vmctx::{EntryTrampoline, TrapCode, VMFuncRef, ValRaw};

/// A function in a [`Store`]: an instance export, an element of a table, or
/// the value of a non-null `funcref`. It can be called, stored in tables and
/// globals of the same store, and passed back into contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store_id: u64,
    /// Address of the function's `VMFuncRef`, owned by its store.
    pub(crate) raw: usize,
}

/// How a call ended, with the gas it used. Both variants are results the
/// network agrees on.
///
/// `R` is how the results are given: a vector of [`Value`]s for
/// [`Func::call`], the Rust types of the signature for
/// [`TypedFunc::call`](crate::TypedFunc::call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<R = Vec<Value>> {
    /// The function returned.
    Success {
        /// Its results.
        results: R,
        /// `gas_limit - gas_left`.
        gas_used: u64,
    },
    /// The function trapped.
    Trap {
        /// Why.
        kind: TrapKind,
        /// The host's message for [`TrapKind::Host`].
        message: Option<String>,
        /// Gas charged up to the trap; the whole limit for
        /// [`TrapKind::OutOfGas`].
        gas_used: u64,
    },
}

impl<R> Outcome<R> {
    /// Gas used by the call.
    pub fn gas_used(&self) -> u64 {
        match self {
            Self::Success { gas_used, .. } | Self::Trap { gas_used, .. } => *gas_used,
        }
    }

    /// The trap kind, if the call trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match self {
            Self::Success { .. } => None,
            Self::Trap { kind, .. } => Some(*kind),
        }
    }

    /// The results, if the call returned.
    pub fn into_results(self) -> Option<R> {
        match self {
            Self::Success { results, .. } => Some(results),
            Self::Trap { .. } => None,
        }
    }
}

impl Outcome {
    /// The results, if the call returned.
    pub fn results(&self) -> Option<&[Value]> {
        match self {
            Self::Success { results, .. } => Some(results),
            Self::Trap { .. } => None,
        }
    }
}

impl Func {
    /// An identifier unique among the functions of its store while the
    /// store lives, for display and debugging. It is derived from an
    /// address: it differs between runs and must never be persisted or fed
    /// into anything consensus-relevant.
    pub fn id(&self) -> u64 {
        self.raw as u64
    }

    /// The function's signature.
    pub fn ty<T>(&self, store: &Store<T>) -> Result<FuncType, Error> {
        let objects = store.objects();
        if self.store_id != objects.id {
            return Err(Error::WrongStore);
        }
        // SAFETY: `raw` addresses a `VMFuncRef` owned by this store (checked
        // above), which lives until the store is dropped.
        let type_id = unsafe { (*(self.raw as *const VMFuncRef)).type_id };
        objects
            .signatures
            .get(&type_id)
            .map(|(_, ty)| (**ty).clone())
            .ok_or_else(|| InternalError::FunctionWithoutSignature.into())
    }

    /// Calls the function with `args` and `gas_limit`.
    ///
    /// The call starts with `gas_left = gas_limit`, the engine's stack limit
    /// and no pending trap, and runs on the current thread; see
    /// [`Error::NativeStackTooSmall`].
    #[inline]
    pub fn call<T>(
        &self,
        store: &mut Store<T>,
        args: &[Value],
        gas_limit: u64,
    ) -> Result<Outcome, Error> {
        let objects = store.objects();
        let target = self.target(objects)?;
        // SAFETY: the store keeps every signature it registered (and so the
        // `Arc` behind this pointer) until it is dropped, and `store` outlives
        // this call.
        let ty = unsafe { &*target.ty };
        if args.len() != ty.params().len() {
            return Err(CallError::ArgumentCount {
                expected: ty.params().len(),
                actual: args.len(),
            }
            .into());
        }
        // The parameters go in, the results come out, through one array:
        // on the stack unless the signature is unusually wide.
        if ty.params().len().max(ty.results().len()) > INLINE_SLOTS {
            return call_wide(store, &target, ty, args, gas_limit);
        }
        let mut values = [MaybeUninit::<ValRaw>::uninit(); INLINE_SLOTS];
        // SAFETY: `target` and `ty` were resolved from `store` just above,
        // and `values` has room for the parameters and the results.
        unsafe { call_with(store, &target, ty, args, gas_limit, &mut values) }
    }

    /// What calling this function needs from its store: code, context,
    /// entry trampoline and signature.
    #[inline]
    pub(crate) fn target(&self, objects: &StoreObjects) -> Result<Target, Error> {
        if self.store_id != objects.id {
            return Err(Error::WrongStore);
        }
        // SAFETY: `raw` addresses a `VMFuncRef` owned by this store (checked
        // above), which lives until the store is dropped.
        let funcref = unsafe { &*(self.raw as *const VMFuncRef) };
        let (code, vmctx, type_id) = (funcref.code, funcref.vmctx, funcref.type_id);
        let (trampoline, ty) = objects
            .signatures
            .get(&type_id)
            .filter(|_| !code.is_null())
            // Not `ok_or`: building the error eagerly costs its drop on
            // every call (about a tenth of an empty call's instructions).
            .ok_or_else(|| Error::Internal(InternalError::FunctionWithoutSignature))?;
        Ok(Target {
            code,
            vmctx,
            trampoline: *trampoline,
            ty: Arc::as_ptr(ty),
        })
    }
}

/// Argument/result slots kept on the stack by [`Func::call`]; wider
/// signatures use a heap array.
const INLINE_SLOTS: usize = 16;

/// [`Func::call`] for a signature with more than [`INLINE_SLOTS`]
/// parameters or results, through a heap array.
#[cold]
#[inline(never)]
fn call_wide<T>(
    store: &mut Store<T>,
    target: &Target,
    ty: &FuncType,
    args: &[Value],
    gas_limit: u64,
) -> Result<Outcome, Error> {
    let slots = ty.params().len().max(ty.results().len());
    let mut values = vec![MaybeUninit::<ValRaw>::uninit(); slots];
    // SAFETY: the caller's `target` and `ty` come from `store`, and
    // `values` has a slot for every parameter and result.
    unsafe { call_with(store, target, ty, args, gas_limit, &mut values) }
}

/// The body of [`Func::call`]: checks and writes the arguments into
/// `values`, calls, and decodes the results.
///
/// # Safety
///
/// `target` and its signature `ty` must have been resolved from `store`,
/// `args` must have one value per parameter, and `values` must have
/// `max(params, results)` slots.
#[inline(always)]
unsafe fn call_with<T>(
    store: &mut Store<T>,
    target: &Target,
    ty: &FuncType,
    args: &[Value],
    gas_limit: u64,
    values: &mut [MaybeUninit<ValRaw>],
) -> Result<Outcome, Error> {
    let objects = store.objects();
    for (index, ((arg, &expected), slot)) in args
        .iter()
        .zip(ty.params())
        .zip(values.iter_mut())
        .enumerate()
    {
        if arg.ty() != expected {
            return Err(CallError::ArgumentType {
                index,
                expected,
                actual: arg.ty(),
            }
            .into());
        }
        let raw = objects
            .value_to_raw(*arg)
            .map_err(|_| CallError::ForeignReference(index))?;
        slot.write(raw);
    }
    let results = |values: *const ValRaw, store_id| {
        let mut results = Vec::with_capacity(ty.results().len());
        for (i, &t) in ty.results().iter().enumerate() {
            // SAFETY: `enter` calls this only after the call returned,
            // when the trampoline has written one slot per result.
            results.push(Value::from_raw(unsafe { *values.add(i) }, t, store_id));
        }
        results
    };
    // SAFETY: the caller's contract; the parameters were written above.
    unsafe {
        enter(
            store,
            target,
            values.as_mut_ptr().cast::<ValRaw>(),
            gas_limit,
            results,
        )
    }
}

/// A resolved call target. Valid while its store lives: a `VMFuncRef`
/// never changes after instantiation, and the store keeps code, contexts
/// and signatures until it is dropped.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    pub code: *const u8,
    pub vmctx: *mut c_void,
    pub trampoline: EntryTrampoline,
    /// The signature, owned by the store's `signatures`.
    pub ty: *const FuncType,
}

/// The most gas a call starts with (`docs/gas.md` §5.6): a larger limit
/// behaves as this one, so compiled code may subtract several charges
/// before testing the counter without it wrapping.
pub const MAX_CALL_GAS: u64 = 1 << 62;

/// Runs `target` with the arguments already in `values` and `gas_limit`,
/// and turns how it ended into an [`Outcome`], decoding the results from
/// `values` with `results` (given `values` and the store id) if it
/// returned.
///
/// The call starts with `gas_left = gas_limit`, the engine's stack limit
/// and no pending trap; everything it leaves behind is reset when it
/// returns or at the next call.
///
/// # Safety
///
/// `target` must have been resolved from `store` (so `store` keeps it
/// alive), and `values` must hold the target's parameters in its first
/// slots and have room for `max(params, results)` slots.
#[inline(always)]
pub(crate) unsafe fn enter<T, R>(
    store: &mut Store<T>,
    target: &Target,
    values: *mut ValRaw,
    gas_limit: u64,
    results: impl FnOnce(*const ValRaw, u64) -> R,
) -> Result<Outcome<R>, Error> {
    let objects = store.objects_mut();
    let stack_limit = objects.engine.config().stack.limit;
    let native_stack_limit = native_stack::limit_for_call(objects.native_stack_needed)?;
    let runtime = objects.runtime();
    objects.host_trap = None;
    let gas_start = gas_limit.min(MAX_CALL_GAS);
    // SAFETY: `runtime` is the store's live `VMRuntime`; no compiled
    // code is running (we hold the store exclusively).
    unsafe {
        (*runtime).gas_left = gas_start as i64;
        (*runtime).stack_left = stack_limit as i64;
        (*runtime).trap_code = TrapCode::None as u32;
        (*runtime).native_stack_limit = native_stack_limit;
    }
    // Host functions reach the store through their own pointer while
    // compiled code runs; `store` is not touched until it returns.
    // SAFETY: `trampoline` was compiled for the signature of the
    // `VMFuncRef` `code` and `vmctx` come from, whose code and context the
    // store keeps alive (caller's contract), `values` is laid out as that
    // signature needs, and `runtime` is the one `vmctx` points to. A trap
    // exit returns normally; a trap site ends the call through the handler
    // with its code stored in `runtime`.
    unsafe {
        trap_handler::call_catching(
            runtime,
            target.trampoline,
            target.code,
            target.vmctx,
            values,
        )
    }
    .map_err(|_| Error::Internal(InternalError::TrapHandlerMissing))?;
    // SAFETY: as above; compiled code has returned.
    let (mut raw_code, gas_left) = unsafe {
        let code = (*runtime).trap_code;
        (*runtime).trap_code = TrapCode::None as u32;
        (code, (*runtime).gas_left)
    };
    // A negative counter is a charge that failed before the call ended,
    // however it ended (`docs/vm.md`, "Deferred exhaustion checks").
    let gas_used = match u64::try_from(gas_left) {
        Ok(left) => gas_start.saturating_sub(left),
        Err(_) => {
            if raw_code != TrapCode::NativeStackExhausted as u32 {
                raw_code = TrapCode::OutOfGas as u32;
            }
            gas_limit
        }
    };
    if raw_code == TrapCode::None as u32 {
        return Ok(Outcome::Success {
            results: results(values, store.objects().id),
            gas_used,
        });
    }
    trapped(store.objects_mut(), raw_code, gas_limit, gas_used)
}

/// The outcome (or engine error) for a call that ended with trap code
/// `raw_code`.
#[cold]
#[inline(never)]
fn trapped<R>(
    objects: &mut StoreObjects,
    raw_code: u32,
    gas_limit: u64,
    gas_used: u64,
) -> Result<Outcome<R>, Error> {
    let message = objects.host_trap.take();
    match TrapCode::from_raw(raw_code) {
        Some(TrapCode::NativeStackExhausted) => Err(Error::NativeStackExhausted),
        Some(code) => {
            let kind = TrapKind::from_code(code).ok_or_else(|| {
                Error::Internal(InternalError::UnexpectedTrapCode { code: raw_code })
            })?;
            Ok(Outcome::Trap {
                kind,
                message: message.filter(|_| kind == TrapKind::Host),
                gas_used: if kind == TrapKind::OutOfGas {
                    gas_limit
                } else {
                    gas_used
                },
            })
        }
        None => Err(InternalError::UnknownTrapCode { code: raw_code }.into()),
    }
}

/// The native stack rule (`docs/vm.md`, native stack).
///
/// Compiled code runs on the calling thread's stack. Its prologues trap
/// with `native_stack_exhausted` below `VMRuntime::native_stack_limit`,
/// which is set to the lowest address of the thread's stack plus
/// [`HOST_RESERVE`], so host functions and builtins called from the deepest
/// frame still have that much stack. Before entering, the runtime requires
/// the store's [`Store::native_stack_needed`](crate::Store::native_stack_needed)
/// bytes between the current stack pointer and that limit: derived from
/// the measured native frames of its modules, that is enough for the
/// deterministic `stack_overflow` to fire first, so the guard never does.
pub mod native_stack {
    use super::Error;
    use crate::compile::NativeFrames;

    /// Native bytes assumed per deterministic stack byte for a module
    /// compiled without metering, which has no charged frames to bound its
    /// native ones (measurement only; deep recursion there may exhaust the
    /// native stack).
    pub const UNMETERED_RATIO: u64 = 4;
    /// Stack kept free below the deepest Wasm frame for host code.
    pub const HOST_RESERVE: u64 = 512 << 10;
    /// Stack for the entry trampoline and the runtime's own frames.
    pub const ENTRY_RESERVE: u64 = 64 << 10;

    /// Bytes of native stack above the limit that calls into code with
    /// `frames` need under the deterministic stack limit `stack_limit`: a
    /// chain of frames charged at most `stack_limit` in all, plus the one
    /// frame allocated before its own charge fails, plus the entry.
    pub(crate) fn needed(frames: NativeFrames, stack_limit: u64) -> u64 {
        frames
            .ratio
            .unwrap_or(UNMETERED_RATIO)
            .saturating_mul(stack_limit)
            .saturating_add(frames.max_frame)
            .saturating_add(ENTRY_RESERVE)
    }

    /// Stack a thread made for calls needs beyond [`HOST_RESERVE`] and the
    /// calls' own need: the host frames between the thread's entry and
    /// the call.
    pub const THREAD_MARGIN: u64 = 8 << 20;

    /// The stack size of a thread made to run calls that need `needed`
    /// bytes (e.g. [`Module::native_stack_needed`](crate::Module::native_stack_needed)).
    pub fn thread_stack_size(needed: u64) -> usize {
        let size = needed
            .saturating_add(HOST_RESERVE)
            .saturating_add(THREAD_MARGIN);
        usize::try_from(size).unwrap_or(usize::MAX)
    }

    /// Bytes of native stack left for Wasm on the current thread: from
    /// here down to [`HOST_RESERVE`] above the thread's lowest stack
    /// address (0 where the bounds are unknown). An embedder compares it
    /// with [`Module::native_stack_needed`](crate::Module::native_stack_needed)
    /// to decide whether a call can run on this thread or needs one with a
    /// larger stack.
    pub fn available() -> u64 {
        limit_and_available().map_or(0, |(_, available)| available)
    }

    /// The native stack limit for a call from here that needs `needed`
    /// bytes above it, or why there is not enough stack for one.
    #[inline]
    pub(crate) fn limit_for_call(needed: u64) -> Result<usize, Error> {
        let (limit, available) = limit_and_available().unwrap_or((0, 0));
        if available < needed {
            return Err(too_small(needed, available));
        }
        Ok(limit)
    }

    /// The lowest address Wasm frames may use on this thread, and the
    /// bytes between the caller's frame and it.
    #[inline(always)]
    fn limit_and_available() -> Option<(usize, u64)> {
        let low = bounds::thread_stack_low()?;
        let limit = low.saturating_add(HOST_RESERVE as usize);
        let marker = 0u8;
        let sp = core::hint::black_box(&raw const marker) as usize;
        Some((limit, sp.saturating_sub(limit) as u64))
    }

    #[cold]
    #[inline(never)]
    fn too_small(needed: u64, available: u64) -> Error {
        Error::NativeStackTooSmall { needed, available }
    }

    #[cfg(target_os = "linux")]
    mod bounds {
        use std::cell::Cell;

        thread_local! {
            static LOW: Cell<Option<usize>> = const { Cell::new(None) };
        }

        /// Lowest usable address of the current thread's stack, cached per
        /// thread (a thread's stack never moves).
        #[inline]
        pub fn thread_stack_low() -> Option<usize> {
            match LOW.get() {
                Some(low) => Some(low),
                None => first_query(),
            }
        }

        #[cold]
        #[inline(never)]
        fn first_query() -> Option<usize> {
            let low = query();
            LOW.set(low);
            low
        }

        fn query() -> Option<usize> {
            // SAFETY: `attr` is initialised by `pthread_getattr_np` before
            // use and destroyed exactly once; the out-pointers are valid.
            unsafe {
                let mut attr: libc::pthread_attr_t = core::mem::zeroed();
                if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                    return None;
                }
                let mut addr: *mut libc::c_void = core::ptr::null_mut();
                let mut size: libc::size_t = 0;
                let mut guard: libc::size_t = 0;
                let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0
                    && libc::pthread_attr_getguardsize(&attr, &mut guard) == 0;
                libc::pthread_attr_destroy(&mut attr);
                // Some C libraries report the guard area as part of the
                // stack; skipping it is always safe.
                ok.then(|| (addr as usize).saturating_add(guard))
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    mod bounds {
        /// Stack bounds are only known on Linux; elsewhere every call is
        /// refused rather than risking a crash.
        pub fn thread_stack_low() -> Option<usize> {
            None
        }
    }
}

impl crate::Module {
    /// Bytes of native stack a call into this module needs between the
    /// caller's stack pointer and [`native_stack::HOST_RESERVE`] above the
    /// bottom of the thread's stack (`docs/vm.md`, native stack): derived
    /// from the native frames measured when the module was compiled and
    /// the engine's stack limit. With this much, every call ends in a
    /// result or a deterministic trap; with less it is refused with
    /// [`Error::NativeStackTooSmall`]. An embedder that gives a call a
    /// thread of its own sizes it as this plus `HOST_RESERVE` plus its own
    /// frames.
    pub fn native_stack_needed(&self) -> u64 {
        native_stack::needed(
            self.inner.code.native_frames(),
            self.inner.engine.config().stack.limit,
        )
    }
}

impl<T> crate::Store<T> {
    /// Bytes of native stack a call in this store needs (see
    /// [`Module::native_stack_needed`](crate::Module::native_stack_needed)):
    /// the largest of the modules instantiated in it, since a call can
    /// reach any of them through imports and tables.
    pub fn native_stack_needed(&self) -> u64 {
        self.objects().native_stack_needed
    }
}
