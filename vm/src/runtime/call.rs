//! Calls from the host into compiled code: argument checks, the per-call
//! reset of the shared runtime state, the native stack rule, and turning
//! the trap code into an outcome.

use super::store::Store;
use super::{CallError, Error, FuncType, TrapKind, Value};
use crate::vmctx::{TrapCode, VMFuncRef};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned.
    Success {
        /// Its results.
        results: Vec<Value>,
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

impl Outcome {
    /// Gas used by the call.
    pub fn gas_used(&self) -> u64 {
        match self {
            Self::Success { gas_used, .. } | Self::Trap { gas_used, .. } => *gas_used,
        }
    }

    /// The results, if the call returned.
    pub fn results(&self) -> Option<&[Value]> {
        match self {
            Self::Success { results, .. } => Some(results),
            Self::Trap { .. } => None,
        }
    }

    /// The trap kind, if the call trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match self {
            Self::Success { .. } => None,
            Self::Trap { kind, .. } => Some(*kind),
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
            .ok_or_else(|| Error::Internal("function without a signature".into()))
    }

    /// Calls the function with `args` and `gas_limit`.
    ///
    /// The call starts with `gas_left = gas_limit`, the engine's stack limit
    /// and no pending trap, and runs on the current thread; see
    /// [`Error::NativeStackTooSmall`].
    pub fn call<T>(
        &self,
        store: &mut Store<T>,
        args: &[Value],
        gas_limit: u64,
    ) -> Result<Outcome, Error> {
        let objects = store.objects();
        if self.store_id != objects.id {
            return Err(Error::WrongStore);
        }
        // SAFETY: as in `ty`.
        let funcref = unsafe { &*(self.raw as *const VMFuncRef) };
        let (code, vmctx, type_id) = (funcref.code, funcref.vmctx, funcref.type_id);
        let (trampoline, ty) = objects
            .signatures
            .get(&type_id)
            .filter(|_| !code.is_null())
            .cloned()
            .ok_or_else(|| Error::Internal("function has no code or signature".into()))?;

        if args.len() != ty.params().len() {
            return Err(CallError::ArgumentCount {
                expected: ty.params().len(),
                actual: args.len(),
            }
            .into());
        }
        let mut values = vec![0; ty.params().len().max(ty.results().len()).max(1)];
        for (index, (arg, &expected)) in args.iter().zip(ty.params()).enumerate() {
            if arg.ty() != expected {
                return Err(CallError::ArgumentType {
                    index,
                    expected,
                    actual: arg.ty(),
                }
                .into());
            }
            values[index] = objects
                .value_to_raw(*arg)
                .map_err(|_| CallError::ForeignReference(index))?;
        }

        let stack_limit = objects.engine.config().stack.limit;
        let native_stack_limit = native_stack::limit_for_call(stack_limit)?;
        let runtime = objects.runtime();
        store.objects_mut().host_trap = None;
        // SAFETY: `runtime` is the store's live `VMRuntime`; no compiled
        // code is running (we hold the store exclusively).
        unsafe {
            (*runtime).gas_left = gas_limit as i64;
            (*runtime).stack_left = stack_limit as i64;
            (*runtime).trap_code = TrapCode::None as u32;
            (*runtime).native_stack_limit = native_stack_limit;
        }
        // Host functions reach the store through their own pointer while
        // compiled code runs; `store` is not touched until it returns.
        // SAFETY: `trampoline` was compiled for signature `type_id`, and
        // `code`/`vmctx` come from a `VMFuncRef` of that signature whose code
        // and context the store keeps alive. `values` has room for the
        // parameters and the results. Traps return normally (no unwinding).
        unsafe { trampoline(code, vmctx, values.as_mut_ptr()) };
        // SAFETY: as above; compiled code has returned.
        let (raw_code, gas_left) = unsafe {
            let code = (*runtime).trap_code;
            (*runtime).trap_code = TrapCode::None as u32;
            (code, (*runtime).gas_left as u64)
        };
        let gas_used = gas_limit.saturating_sub(gas_left);
        let objects = store.objects_mut();
        match TrapCode::from_raw(raw_code) {
            Some(TrapCode::None) => Ok(Outcome::Success {
                results: ty
                    .results()
                    .iter()
                    .zip(&values)
                    .map(|(&t, &raw)| Value::from_raw(raw, t, objects.id))
                    .collect(),
                gas_used,
            }),
            Some(TrapCode::NativeStackExhausted) => Err(Error::NativeStackExhausted),
            Some(code) => {
                let kind = TrapKind::from_code(code)
                    .ok_or_else(|| Error::Internal(format!("unexpected trap code {raw_code}")))?;
                let message = objects.host_trap.take().filter(|_| kind == TrapKind::Host);
                Ok(Outcome::Trap {
                    kind,
                    message,
                    gas_used: if kind == TrapKind::OutOfGas {
                        gas_limit
                    } else {
                        gas_used
                    },
                })
            }
            None => Err(Error::Internal(format!("unknown trap code {raw_code}"))),
        }
    }
}

/// The native stack rule.
///
/// Compiled code runs on the calling thread's stack. Its prologues trap
/// with `native_stack_exhausted` below `VMRuntime::native_stack_limit`,
/// which is set to the lowest address of the thread's stack plus
/// [`HOST_RESERVE`], so host functions and builtins called from the deepest
/// frame still have that much stack. Before entering, the runtime requires
/// [`FACTOR`] × the deterministic stack limit plus [`ENTRY_RESERVE`] bytes
/// between the current stack pointer and that limit: a Wasm frame's native
/// size is at most a small multiple of the frame size instrumentation
/// charges for it, so with this margin the deterministic `stack_overflow`
/// always fires first.
pub mod native_stack {
    use super::Error;

    /// Native bytes allowed per deterministic stack byte.
    pub const FACTOR: u64 = 4;
    /// Stack kept free below the deepest Wasm frame for host code.
    pub const HOST_RESERVE: u64 = 512 << 10;
    /// Stack for the entry trampoline and the runtime's own frames.
    pub const ENTRY_RESERVE: u64 = 64 << 10;

    /// Bytes of native stack a call needs for the deterministic stack limit
    /// `stack_limit`.
    pub fn needed(stack_limit: u64) -> u64 {
        stack_limit
            .saturating_mul(FACTOR)
            .saturating_add(ENTRY_RESERVE)
    }

    /// Bytes of native stack left for Wasm on the current thread: from
    /// here down to [`HOST_RESERVE`] above the thread's lowest stack
    /// address (0 where the bounds are unknown). An embedder compares it
    /// with [`needed`] to decide whether a call can run on this thread or
    /// needs one with a larger stack.
    pub fn available() -> u64 {
        limit_and_available().map_or(0, |(_, available)| available)
    }

    /// The native stack limit for a call from here, or why there is not
    /// enough stack for one.
    pub(crate) fn limit_for_call(stack_limit: u64) -> Result<usize, Error> {
        let needed = needed(stack_limit);
        let (limit, available) = limit_and_available().unwrap_or((0, 0));
        if available < needed {
            return Err(Error::NativeStackTooSmall { needed, available });
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

    #[cfg(target_os = "linux")]
    mod bounds {
        use std::cell::Cell;

        thread_local! {
            static LOW: Cell<Option<usize>> = const { Cell::new(None) };
        }

        /// Lowest usable address of the current thread's stack, cached per
        /// thread (a thread's stack never moves).
        pub fn thread_stack_low() -> Option<usize> {
            LOW.with(|low| {
                if low.get().is_none() {
                    low.set(query());
                }
                low.get()
            })
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
