//! The determinism profile and the classifier that names the proposal a
//! construct outside it comes from.
//!
//! Whether a module is inside the profile is decided by wasmparser with
//! [`PROFILE`]. This module only answers the follow-up question "which
//! proposal does this construct need?", one function per kind of construct,
//! each returning `None` for constructs inside the profile. The rules are the
//! tables of `docs/determinism.md` §3.2, in the same order.

use wasmparser::{
    AbstractHeapType, BinaryReader, BlockType, BrTable, CompositeInnerType, FromReader, GlobalType,
    HeapType, Ieee32, Ieee64, MemArg, MemArgTarget, MemoryType, Operator, OperatorsReader,
    Ordering, RefType, ResumeTable, SubType, TableType, TryTable, V128, ValType, WasmFeatures,
};

/// The wasmparser feature set of the profile: WebAssembly 2.0 without
/// vector instructions.
pub(crate) const PROFILE: WasmFeatures = WasmFeatures::WASM2.difference(WasmFeatures::SIMD);

/// A WebAssembly proposal outside the determinism profile.
///
/// One variant per proposal wasmparser 0.263 can validate, except those in
/// the profile. Names are stable: they appear in errors and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// Vector instructions and the `v128` type.
    Simd,
    /// Relaxed vector instructions.
    RelaxedSimd,
    /// Shared memories and atomic instructions.
    Threads,
    /// Shared globals, tables, types and their atomic accessors.
    SharedEverythingThreads,
    /// 64-bit memories and tables.
    Memory64,
    /// More than one memory.
    MultiMemory,
    /// Exception handling: tags, `try_table`, `throw`, `exnref`.
    Exceptions,
    /// The legacy exception-handling instructions (`try`, `catch`, …).
    LegacyExceptions,
    /// Tail calls.
    TailCall,
    /// Garbage collection: structs, arrays, sub-typing, `i31`, casts.
    Gc,
    /// Typed function references and non-nullable references.
    FunctionReferences,
    /// Arithmetic in constant expressions.
    ExtendedConst,
    /// 128-bit arithmetic instructions.
    WideArithmetic,
    /// Memories with a page size other than 64 KiB.
    CustomPageSizes,
    /// Continuations and stack switching.
    StackSwitching,
    /// `memory.discard`.
    MemoryControl,
    /// Custom descriptors and exact reference types.
    CustomDescriptors,
    /// The compact encodings of the import section.
    CompactImports,
    /// Acquire-release orderings on atomics, and `pause`.
    AcquireReleaseAtomics,
    /// Memory instructions on GC arrays.
    MultibyteArrayAccess,
    /// A component instead of a core module.
    ComponentModel,
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: &'static [Feature] = &[
        Self::Simd,
        Self::RelaxedSimd,
        Self::Threads,
        Self::SharedEverythingThreads,
        Self::Memory64,
        Self::MultiMemory,
        Self::Exceptions,
        Self::LegacyExceptions,
        Self::TailCall,
        Self::Gc,
        Self::FunctionReferences,
        Self::ExtendedConst,
        Self::WideArithmetic,
        Self::CustomPageSizes,
        Self::StackSwitching,
        Self::MemoryControl,
        Self::CustomDescriptors,
        Self::CompactImports,
        Self::AcquireReleaseAtomics,
        Self::MultibyteArrayAccess,
        Self::ComponentModel,
    ];

    /// The stable name used in errors and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Simd => "simd",
            Self::RelaxedSimd => "relaxed_simd",
            Self::Threads => "threads",
            Self::SharedEverythingThreads => "shared_everything_threads",
            Self::Memory64 => "memory64",
            Self::MultiMemory => "multi_memory",
            Self::Exceptions => "exceptions",
            Self::LegacyExceptions => "legacy_exceptions",
            Self::TailCall => "tail_call",
            Self::Gc => "gc",
            Self::FunctionReferences => "function_references",
            Self::ExtendedConst => "extended_const",
            Self::WideArithmetic => "wide_arithmetic",
            Self::CustomPageSizes => "custom_page_sizes",
            Self::StackSwitching => "stack_switching",
            Self::MemoryControl => "memory_control",
            Self::CustomDescriptors => "custom_descriptors",
            Self::CompactImports => "compact_imports",
            Self::AcquireReleaseAtomics => "acquire_release_atomics",
            Self::MultibyteArrayAccess => "multibyte_array_access",
            Self::ComponentModel => "component_model",
        }
    }

    /// The feature with this stable name, if any.
    pub fn from_name(name: &str) -> Option<Feature> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The wasmparser flag that enables this feature.
    pub(crate) fn wasm_features(self) -> WasmFeatures {
        match self {
            Self::Simd => WasmFeatures::SIMD,
            Self::RelaxedSimd => WasmFeatures::RELAXED_SIMD,
            Self::Threads => WasmFeatures::THREADS,
            Self::SharedEverythingThreads => WasmFeatures::SHARED_EVERYTHING_THREADS,
            Self::Memory64 => WasmFeatures::MEMORY64,
            Self::MultiMemory => WasmFeatures::MULTI_MEMORY,
            Self::Exceptions => WasmFeatures::EXCEPTIONS,
            Self::LegacyExceptions => WasmFeatures::LEGACY_EXCEPTIONS,
            Self::TailCall => WasmFeatures::TAIL_CALL,
            Self::Gc => WasmFeatures::GC,
            Self::FunctionReferences => WasmFeatures::FUNCTION_REFERENCES,
            Self::ExtendedConst => WasmFeatures::EXTENDED_CONST,
            Self::WideArithmetic => WasmFeatures::WIDE_ARITHMETIC,
            Self::CustomPageSizes => WasmFeatures::CUSTOM_PAGE_SIZES,
            Self::StackSwitching => WasmFeatures::STACK_SWITCHING,
            Self::MemoryControl => WasmFeatures::MEMORY_CONTROL,
            Self::CustomDescriptors => WasmFeatures::CUSTOM_DESCRIPTORS,
            Self::CompactImports => WasmFeatures::COMPACT_IMPORTS,
            Self::AcquireReleaseAtomics => WasmFeatures::ACQUIRE_RELEASE_ATOMICS,
            Self::MultibyteArrayAccess => WasmFeatures::MULTIBYTE_ARRAY_ACCESS,
            Self::ComponentModel => WasmFeatures::COMPONENT_MODEL,
        }
    }

    /// The first feature (in [`Feature::ALL`] order) that `flags` names.
    pub(crate) fn from_wasm_features(flags: WasmFeatures) -> Option<Feature> {
        let outside = flags.difference(PROFILE);
        Self::ALL
            .iter()
            .copied()
            .find(|f| outside.intersects(f.wasm_features()))
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The feature a value type needs.
pub(crate) fn val_type(ty: ValType) -> Option<Feature> {
    match ty {
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => None,
        ValType::V128 => Some(Feature::Simd),
        ValType::Ref(r) => ref_type(r),
    }
}

/// The feature a reference type needs.
pub(crate) fn ref_type(ty: RefType) -> Option<Feature> {
    heap_type(ty.heap_type(), ty.is_nullable())
}

/// The feature a reference to `ty` needs; `ref.null` uses it with
/// `nullable = true`.
pub(crate) fn heap_type(ty: HeapType, nullable: bool) -> Option<Feature> {
    use AbstractHeapType as A;
    match ty {
        HeapType::Concrete(_) => Some(Feature::FunctionReferences),
        HeapType::Exact(_) => Some(Feature::CustomDescriptors),
        HeapType::Abstract { shared: true, .. } => Some(Feature::SharedEverythingThreads),
        HeapType::Abstract { shared: false, ty } => match (ty, nullable) {
            (A::Func | A::Extern, true) => None,
            (A::Func | A::Extern, false) => Some(Feature::FunctionReferences),
            (
                A::Any | A::None | A::Eq | A::Struct | A::Array | A::I31 | A::NoExtern | A::NoFunc,
                _,
            ) => Some(Feature::Gc),
            (A::Exn | A::NoExn, _) => Some(Feature::Exceptions),
            (A::Cont | A::NoCont, _) => Some(Feature::StackSwitching),
        },
    }
}

/// The feature a type definition needs, apart from being in an explicit
/// recursion group (which the caller sees and this function does not).
pub(crate) fn sub_type(ty: &SubType) -> Option<Feature> {
    if !ty.is_final || !ty.supertype_idxs.is_empty() {
        return Some(Feature::Gc);
    }
    let composite = &ty.composite_type;
    match &composite.inner {
        CompositeInnerType::Array(_) | CompositeInnerType::Struct(_) => return Some(Feature::Gc),
        CompositeInnerType::Cont(_) => return Some(Feature::StackSwitching),
        CompositeInnerType::Func(_) => {}
    }
    if composite.shared {
        return Some(Feature::SharedEverythingThreads);
    }
    if composite.descriptor_idx.is_some() || composite.describes_idx.is_some() {
        return Some(Feature::CustomDescriptors);
    }
    match &composite.inner {
        CompositeInnerType::Func(f) => f
            .params()
            .iter()
            .chain(f.results())
            .find_map(|t| val_type(*t)),
        _ => None,
    }
}

/// The feature a memory type needs.
pub(crate) fn memory_type(ty: &MemoryType) -> Option<Feature> {
    if ty.memory64 {
        Some(Feature::Memory64)
    } else if ty.shared {
        Some(Feature::Threads)
    } else if ty.page_size_log2.is_some() {
        Some(Feature::CustomPageSizes)
    } else {
        None
    }
}

/// The feature a table type needs.
pub(crate) fn table_type(ty: &TableType) -> Option<Feature> {
    if ty.table64 {
        Some(Feature::Memory64)
    } else if ty.shared {
        Some(Feature::SharedEverythingThreads)
    } else {
        ref_type(ty.element_type)
    }
}

/// The feature a global type needs.
pub(crate) fn global_type(ty: &GlobalType) -> Option<Feature> {
    if ty.shared {
        Some(Feature::SharedEverythingThreads)
    } else {
        val_type(ty.content_type)
    }
}

/// The feature an instruction in a function body needs: the proposal that
/// introduced it, else the first feature any of its immediates needs.
pub(crate) fn operator(op: &Operator<'_>) -> Option<Feature> {
    macro_rules! classify {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            match op {
                $(
                    Operator::$op $({ $($arg),* })? => {
                        proposal!($proposal).or_else(|| {
                            None $($( .or_else(|| $arg.feature()) )*)?
                        })
                    }
                )*
                // `Operator` is non-exhaustive, but the version is pinned and
                // the arms above are generated from the same list.
                _ => None,
            }
        };
    }
    // One arm per `@proposal` tag: a tag added to wasmparser fails to
    // compile here instead of silently classifying as "in the profile".
    #[rustfmt::skip]
    macro_rules! proposal {
        (mvp) => { None };
        (sign_extension) => { None };
        (saturating_float_to_int) => { None };
        (bulk_memory) => { None };
        (reference_types) => { None };
        (simd) => { Some(Feature::Simd) };
        (relaxed_simd) => { Some(Feature::RelaxedSimd) };
        (threads) => { Some(Feature::Threads) };
        (shared_everything_threads) => { Some(Feature::SharedEverythingThreads) };
        (exceptions) => { Some(Feature::Exceptions) };
        (legacy_exceptions) => { Some(Feature::LegacyExceptions) };
        (tail_call) => { Some(Feature::TailCall) };
        (function_references) => { Some(Feature::FunctionReferences) };
        (gc) => { Some(Feature::Gc) };
        (custom_descriptors) => { Some(Feature::CustomDescriptors) };
        (stack_switching) => { Some(Feature::StackSwitching) };
        (wide_arithmetic) => { Some(Feature::WideArithmetic) };
        (memory_control) => { Some(Feature::MemoryControl) };
        (acquire_release_atomics) => { Some(Feature::AcquireReleaseAtomics) };
    }
    wasmparser::for_each_operator!(classify)
}

/// The feature an instruction in a constant expression needs.
///
/// `imported_globals` is the number of imported globals: `global.get` of any
/// other global in a constant expression came with the GC proposal.
pub(crate) fn const_operator(op: &Operator<'_>, imported_globals: u32) -> Option<Feature> {
    operator(op).or(match op {
        Operator::I32Add
        | Operator::I32Sub
        | Operator::I32Mul
        | Operator::I64Add
        | Operator::I64Sub
        | Operator::I64Mul => Some(Feature::ExtendedConst),
        Operator::GlobalGet { global_index } if *global_index >= imported_globals => {
            Some(Feature::Gc)
        }
        _ => None,
    })
}

/// Whether the encoding of `op` depends on the features the decoder has:
/// memory immediates and the memory index of `memory.size`/`memory.grow`.
pub(crate) fn operator_encoding_varies(op: &Operator<'_>) -> bool {
    macro_rules! varies {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            match op {
                $(
                    Operator::$op $({ $($arg),* })? => {
                        false $($( || $arg.is_memarg() )*)?
                    }
                )*
                _ => false,
            }
        };
    }
    matches!(
        op,
        Operator::MemorySize { .. } | Operator::MemoryGrow { .. }
    ) || wasmparser::for_each_operator!(varies)
}

/// The feature whose binary grammar the encoding of the item at `offset`
/// needs, when the profile's grammar decodes it differently or not at all.
pub(crate) fn encoding<'a, T>(bytes: &'a [u8], offset: u64) -> Option<Feature>
where
    T: FromReader<'a> + PartialEq,
{
    first_encoding_feature(|features| {
        let mut reader = reader_at(bytes, offset, features)?;
        let value = reader.read::<T>().ok()?;
        Some((value, reader.original_position()))
    })
}

/// [`encoding`] for the instruction at `offset`.
pub(crate) fn operator_encoding(bytes: &[u8], offset: u64) -> Option<Feature> {
    first_encoding_feature(|features| {
        let mut ops = OperatorsReader::new(reader_at(bytes, offset, features)?);
        let op = ops.read().ok()?;
        Some((op, ops.original_position()))
    })
}

fn reader_at(bytes: &[u8], offset: u64, features: WasmFeatures) -> Option<BinaryReader<'_>> {
    let rest = bytes.get(usize::try_from(offset).ok()?..)?;
    let mut reader = BinaryReader::new(rest, offset);
    reader.set_features(features);
    Some(reader)
}

/// `decode` decodes one item with the given features and returns it with
/// the offset just past it. The answer is the first feature, in
/// [`Feature::ALL`] order, that added to the profile decodes the item as
/// every feature together does.
fn first_encoding_feature<T: PartialEq>(
    decode: impl Fn(WasmFeatures) -> Option<(T, u64)>,
) -> Option<Feature> {
    let reference = decode(WasmFeatures::all())?;
    let same = |features: WasmFeatures| decode(features).as_ref() == Some(&reference);
    if same(PROFILE) {
        return None;
    }
    Feature::ALL
        .iter()
        .copied()
        .find(|f| same(PROFILE.union(f.wasm_features())))
}

/// The feature an instruction's immediate needs.
trait Immediate {
    fn feature(&self) -> Option<Feature>;

    fn is_memarg(&self) -> bool {
        false
    }
}

macro_rules! no_feature {
    ($($t:ty),*) => {
        $(impl Immediate for $t {
            fn feature(&self) -> Option<Feature> {
                None
            }
        })*
    };
}

// Plain indices and constants, and immediates only out-of-profile
// instructions carry (those are classified by their proposal first).
no_feature!(
    u8,
    [u8; 16],
    u32,
    i32,
    i64,
    Ieee32,
    Ieee64,
    V128,
    Ordering,
    BrTable<'_>,
    TryTable,
    ResumeTable
);

impl Immediate for MemArg {
    fn is_memarg(&self) -> bool {
        true
    }

    fn feature(&self) -> Option<Feature> {
        if let MemArgTarget::Array(_) = self.target {
            Some(Feature::MultibyteArrayAccess)
        } else if self.ordering.is_some() {
            Some(Feature::AcquireReleaseAtomics)
        } else {
            None
        }
    }
}

impl Immediate for BlockType {
    fn feature(&self) -> Option<Feature> {
        match self {
            BlockType::Empty | BlockType::FuncType(_) => None,
            BlockType::Type(t) => val_type(*t),
        }
    }
}

impl Immediate for ValType {
    fn feature(&self) -> Option<Feature> {
        val_type(*self)
    }
}

impl Immediate for Vec<ValType> {
    fn feature(&self) -> Option<Feature> {
        self.iter().find_map(|t| val_type(*t))
    }
}

impl Immediate for RefType {
    fn feature(&self) -> Option<Feature> {
        ref_type(*self)
    }
}

impl Immediate for HeapType {
    fn feature(&self) -> Option<Feature> {
        // Only `ref.null` in the profile carries a bare heap type, and it
        // produces a nullable reference.
        heap_type(*self, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wasmparser's component-model sub-features, which only occur inside a
    /// component and so are covered by [`Feature::ComponentModel`].
    const COMPONENT_MODEL_PARTS: WasmFeatures = WasmFeatures::CM_VALUES
        .union(WasmFeatures::CM_NESTED_NAMES)
        .union(WasmFeatures::CM_ASYNC)
        .union(WasmFeatures::CM_ASYNC_STACKFUL)
        .union(WasmFeatures::CM_MORE_ASYNC_BUILTINS)
        .union(WasmFeatures::CM_THREADING)
        .union(WasmFeatures::CM_ERROR_CONTEXT)
        .union(WasmFeatures::CM_FIXED_LENGTH_LISTS)
        .union(WasmFeatures::CM_GC)
        .union(WasmFeatures::CM_MAP)
        .union(WasmFeatures::CM64)
        .union(WasmFeatures::CM_IMPLEMENTS)
        .union(WasmFeatures::CM_CANON_NAMES)
        .union(WasmFeatures::CM_FORWARD)
        .union(WasmFeatures::CM_ACCESSORS);

    #[test]
    fn the_profile_is_wasm2_without_simd() {
        let expected = WasmFeatures::MUTABLE_GLOBAL
            | WasmFeatures::SATURATING_FLOAT_TO_INT
            | WasmFeatures::SIGN_EXTENSION
            | WasmFeatures::REFERENCE_TYPES
            | WasmFeatures::MULTI_VALUE
            | WasmFeatures::BULK_MEMORY
            | WasmFeatures::FLOATS
            | WasmFeatures::GC_TYPES;
        assert_eq!(PROFILE, expected);
    }

    #[test]
    fn every_feature_is_outside_the_profile() {
        for f in Feature::ALL {
            assert!(!PROFILE.intersects(f.wasm_features()), "{f}");
            assert_eq!(Feature::from_wasm_features(f.wasm_features()), Some(*f));
        }
    }

    #[test]
    fn every_wasmparser_feature_outside_the_profile_has_a_name() {
        let named = Feature::ALL
            .iter()
            .fold(WasmFeatures::empty(), |acc, f| acc | f.wasm_features());
        let unnamed = WasmFeatures::all()
            .difference(PROFILE)
            .difference(named)
            .difference(COMPONENT_MODEL_PARTS);
        assert!(unnamed.is_empty(), "no `Feature` for {unnamed:?}");
    }

    #[test]
    fn profile_flags_name_no_feature() {
        assert_eq!(Feature::from_wasm_features(PROFILE), None);
        assert_eq!(Feature::from_wasm_features(WasmFeatures::FLOATS), None);
    }

    #[test]
    fn value_types() {
        assert_eq!(val_type(ValType::F64), None);
        assert_eq!(val_type(ValType::FUNCREF), None);
        assert_eq!(val_type(ValType::EXTERNREF), None);
        assert_eq!(val_type(ValType::V128), Some(Feature::Simd));
        assert_eq!(val_type(ValType::Ref(RefType::ANYREF)), Some(Feature::Gc));
        assert_eq!(
            val_type(ValType::Ref(RefType::EXNREF)),
            Some(Feature::Exceptions)
        );
        let non_null_func = RefType::new(false, HeapType::FUNC).map(ValType::Ref);
        assert_eq!(
            non_null_func.and_then(val_type),
            Some(Feature::FunctionReferences)
        );
    }

    #[test]
    fn operators_by_proposal() {
        assert_eq!(operator(&Operator::I32Add), None);
        assert_eq!(operator(&Operator::I32Extend8S), None);
        assert_eq!(operator(&Operator::I64TruncSatF64U), None);
        assert_eq!(operator(&Operator::MemoryFill { mem: 0 }), None);
        assert_eq!(operator(&Operator::RefIsNull), None);
        assert_eq!(
            operator(&Operator::ReturnCall { function_index: 0 }),
            Some(Feature::TailCall)
        );
        assert_eq!(
            operator(&Operator::MemoryAtomicNotify {
                memarg: MemArg {
                    align: 2,
                    max_align: 2,
                    offset: 0,
                    target: MemArgTarget::Memory(0),
                    ordering: None
                }
            }),
            Some(Feature::Threads)
        );
        assert_eq!(
            operator(&Operator::I64Add128),
            Some(Feature::WideArithmetic)
        );
        assert_eq!(operator(&Operator::RefI31), Some(Feature::Gc));
        assert_eq!(
            operator(&Operator::TypedSelect { ty: ValType::V128 }),
            Some(Feature::Simd)
        );
        assert_eq!(
            operator(&Operator::RefNull {
                hty: HeapType::EXTERN
            }),
            None
        );
        assert_eq!(
            operator(&Operator::RefNull {
                hty: HeapType::Abstract {
                    shared: false,
                    ty: AbstractHeapType::Any
                }
            }),
            Some(Feature::Gc)
        );
        assert_eq!(
            const_operator(&Operator::I64Mul, 0),
            Some(Feature::ExtendedConst)
        );
        assert_eq!(
            const_operator(&Operator::GlobalGet { global_index: 0 }, 1),
            None
        );
        assert_eq!(
            const_operator(&Operator::GlobalGet { global_index: 1 }, 1),
            Some(Feature::Gc)
        );
    }
}
