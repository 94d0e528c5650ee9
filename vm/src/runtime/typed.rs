//! Typed calls: a function whose signature was checked once against Rust
//! types, called without any per-call type check or heap allocation.

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use super::call::{Func, Target, enter};
use super::store::Store;
use super::{CallError, Error, FuncType, Outcome, ValType};
use crate::vmctx::ValRaw;

/// The most parameters or results a typed signature can have (the largest
/// tuple implementing [`WasmParams`] / [`WasmResults`]).
const MAX_ARITY: usize = 12;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that stands for one WebAssembly value type in a typed
/// signature: `i32`, `i64`, `f32` and `f64`.
///
/// Floats keep every bit, NaN payloads included: they are moved as their
/// IEEE 754 bit patterns (`to_bits` / `from_bits`), never computed with.
pub trait WasmTy: Copy + sealed::Sealed {
    /// The WebAssembly type.
    const TYPE: ValType;
    #[doc(hidden)]
    fn into_raw(self) -> ValRaw;
    #[doc(hidden)]
    fn from_raw(raw: ValRaw) -> Self;
}

impl sealed::Sealed for i32 {}
impl WasmTy for i32 {
    const TYPE: ValType = ValType::I32;
    #[inline(always)]
    fn into_raw(self) -> ValRaw {
        u64::from(self as u32)
    }
    #[inline(always)]
    fn from_raw(raw: ValRaw) -> Self {
        raw as u32 as i32
    }
}

impl sealed::Sealed for i64 {}
impl WasmTy for i64 {
    const TYPE: ValType = ValType::I64;
    #[inline(always)]
    fn into_raw(self) -> ValRaw {
        self as u64
    }
    #[inline(always)]
    fn from_raw(raw: ValRaw) -> Self {
        raw as i64
    }
}

impl sealed::Sealed for f32 {}
impl WasmTy for f32 {
    const TYPE: ValType = ValType::F32;
    #[inline(always)]
    fn into_raw(self) -> ValRaw {
        u64::from(self.to_bits())
    }
    #[inline(always)]
    fn from_raw(raw: ValRaw) -> Self {
        f32::from_bits(raw as u32)
    }
}

impl sealed::Sealed for f64 {}
impl WasmTy for f64 {
    const TYPE: ValType = ValType::F64;
    #[inline(always)]
    fn into_raw(self) -> ValRaw {
        self.to_bits()
    }
    #[inline(always)]
    fn from_raw(raw: ValRaw) -> Self {
        f64::from_bits(raw)
    }
}

/// The parameters of a typed signature: `()`, one [`WasmTy`], or a tuple
/// of up to 12 of them.
pub trait WasmParams: Sized + sealed::Sealed {
    /// The parameter types, in order.
    const TYPES: &'static [ValType];
    #[doc(hidden)]
    fn store(self, slots: &mut [MaybeUninit<ValRaw>; MAX_ARITY]);
}

/// The results of a typed signature: `()`, one [`WasmTy`], or a tuple of
/// up to 12 of them.
pub trait WasmResults: Sized + sealed::Sealed {
    /// The result types, in order.
    const TYPES: &'static [ValType];
    /// Reads the results from the first `TYPES.len()` slots.
    ///
    /// # Safety
    ///
    /// Those slots must be initialised.
    #[doc(hidden)]
    unsafe fn load(slots: *const ValRaw) -> Self;
}

impl WasmParams for () {
    const TYPES: &'static [ValType] = &[];
    #[inline(always)]
    fn store(self, _: &mut [MaybeUninit<ValRaw>; MAX_ARITY]) {}
}

impl WasmResults for () {
    const TYPES: &'static [ValType] = &[];
    #[inline(always)]
    unsafe fn load(_: *const ValRaw) -> Self {}
}

impl sealed::Sealed for () {}

impl<A: WasmTy> WasmParams for A {
    const TYPES: &'static [ValType] = &[A::TYPE];
    #[inline(always)]
    fn store(self, slots: &mut [MaybeUninit<ValRaw>; MAX_ARITY]) {
        slots[0] = MaybeUninit::new(self.into_raw());
    }
}

impl<A: WasmTy> WasmResults for A {
    const TYPES: &'static [ValType] = &[A::TYPE];
    #[inline(always)]
    unsafe fn load(slots: *const ValRaw) -> Self {
        // SAFETY: the caller's contract covers slot 0.
        A::from_raw(unsafe { *slots })
    }
}

macro_rules! tuples {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<$($name: WasmTy),+> sealed::Sealed for ($($name,)+) {}

        impl<$($name: WasmTy),+> WasmParams for ($($name,)+) {
            const TYPES: &'static [ValType] = &[$($name::TYPE),+];
            #[inline(always)]
            fn store(self, slots: &mut [MaybeUninit<ValRaw>; MAX_ARITY]) {
                $(slots[$index] = MaybeUninit::new(self.$index.into_raw());)+
            }
        }

        impl<$($name: WasmTy),+> WasmResults for ($($name,)+) {
            const TYPES: &'static [ValType] = &[$($name::TYPE),+];
            #[inline(always)]
            unsafe fn load(slots: *const ValRaw) -> Self {
                // SAFETY: the caller's contract covers one slot per
                // element.
                unsafe { ($($name::from_raw(*slots.add($index)),)+) }
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

/// A [`Func`] whose signature was checked against the Rust types `P`
/// (parameters) and `R` (results) by [`Func::typed`], and that calls it
/// with no further type checks and no heap allocation.
///
/// Like a [`Func`] it belongs to one store and is only a handle: it is
/// `Copy`, and using it with another store is [`Error::WrongStore`].
pub struct TypedFunc<P, R> {
    func: Func,
    target: Target,
    signature: PhantomData<fn(P) -> R>,
}

// SAFETY: the pointers in `target` are only dereferenced by `call`, which
// first checks that the store it was given is the store they belong to;
// a `&mut Store` is needed for that, so a `TypedFunc` is exactly as usable
// from another thread as the `Func` it was made from.
unsafe impl<P, R> Send for TypedFunc<P, R> {}
// SAFETY: as for `Send`: nothing is reachable through `&TypedFunc` alone.
unsafe impl<P, R> Sync for TypedFunc<P, R> {}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P, R> fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedFunc")
            .field("func", &self.func)
            .finish_non_exhaustive()
    }
}

impl Func {
    /// This function as a [`TypedFunc`] taking `P` and returning `R`, or
    /// [`CallError::SignatureMismatch`] if its signature is not exactly
    /// `P -> R`.
    ///
    /// ```
    /// use detvm_vm::{Engine, Instance, Linker, Module, Outcome, Store};
    ///
    /// let engine = Engine::default();
    /// let wasm = wat::parse_str(
    ///     r#"(module (func (export "add") (param i32 i64) (result i64)
    ///          (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))"#,
    /// )?;
    /// let module = Module::new(&engine, &wasm)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &Linker::new(&engine))?;
    /// let add = instance.get_func(&store, "add").unwrap();
    /// let add = add.typed::<(i32, i64), i64>(&store)?;
    /// match add.call(&mut store, (-2, 44), 1_000)? {
    ///     Outcome::Success { results, .. } => assert_eq!(results, 42),
    ///     Outcome::Trap { kind, .. } => panic!("trapped: {kind}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: &Store<impl Sized>,
    ) -> Result<TypedFunc<P, R>, Error> {
        let target = self.target(store.objects())?;
        // SAFETY: the store keeps the signature alive (see `Target`), and
        // `store` is borrowed for this whole function.
        let ty = unsafe { &*target.ty };
        if ty.params() != P::TYPES || ty.results() != R::TYPES {
            return Err(CallError::SignatureMismatch {
                expected: FuncType::new(P::TYPES, R::TYPES),
                actual: ty.clone(),
            }
            .into());
        }
        Ok(TypedFunc {
            func: *self,
            target,
            signature: PhantomData,
        })
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }

    /// Calls the function with `params` and `gas_limit`, exactly as
    /// [`Func::call`] would: the same gas, the same traps, the same state
    /// afterwards; only the results come back as `R`.
    #[inline]
    pub fn call<T>(
        &self,
        store: &mut Store<T>,
        params: P,
        gas_limit: u64,
    ) -> Result<Outcome<R>, Error> {
        if self.func.store_id != store.objects().id {
            return Err(Error::WrongStore);
        }
        let mut slots = [MaybeUninit::<ValRaw>::uninit(); MAX_ARITY];
        params.store(&mut slots);
        // SAFETY: `enter` calls this only after the call returned, when
        // the trampoline has written the first `R::TYPES.len()` slots.
        let results = |values, _| unsafe { R::load(values) };
        // SAFETY: `target` was resolved from this store (checked just
        // above: store ids are never reused), and its signature is
        // `P -> R` (checked by `Func::typed`), so the first
        // `P::TYPES.len()` slots hold the parameters and `MAX_ARITY` slots
        // are room enough for the results too.
        unsafe {
            enter(
                store,
                &self.target,
                slots.as_mut_ptr().cast::<ValRaw>(),
                gas_limit,
                results,
            )
        }
    }
}
