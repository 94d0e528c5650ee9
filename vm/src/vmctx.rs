//! The one source of truth for what compiled code and the runtime share:
//! the layout of the instance context, the builtin (libcall) table, and the
//! trap codes.
//!
//! Compiled code reaches every piece of instance state through the
//! [`VMContext`] pointer it receives as its first argument, at the offsets
//! computed here with `offset_of!`. Changing a struct here changes both sides
//! at once; nothing else may hard-code an offset. `docs/vm.md` describes the
//! protocol in prose.
//!
//! Everything here is `#[repr(C)]` and pointer-sized fields are 64-bit: detvm
//! targets 64-bit hosts only.

use core::ffi::c_void;
use core::mem::offset_of;

/// A WebAssembly value as compiled code stores it in argument/result arrays:
/// every profile type fits in 64 bits (there is no `v128`). Integers and
/// float bits are stored zero-extended, as a `u64` in the host's byte order
/// (both sides read and write whole slots); references are raw pointers
/// (`0` is null).
pub type ValRaw = u64;

/// State shared by every instance taking part in one call: the gas and stack
/// counters of the instrumentation ABI and the pending trap.
///
/// Instances that import each other's functions must share one `VMRuntime`,
/// so that gas, stack and traps cross instance boundaries unchanged.
#[repr(C)]
#[derive(Debug)]
pub struct VMRuntime {
    /// `detvm.gas_left`: remaining gas, as a signed i64 that instrumented
    /// code compares unsigned.
    pub gas_left: i64,
    /// `detvm.stack_left`: remaining deterministic stack bytes.
    pub stack_left: i64,
    /// Lowest native stack address compiled code may grow down to; a frame
    /// whose stack pointer is below it traps with
    /// [`TrapCode::NativeStackExhausted`] (a safety net, never a result).
    pub native_stack_limit: usize,
    /// The pending trap, [`TrapCode::None`] while running normally.
    pub trap_code: u32,
    /// Padding to keep the layout explicit.
    pub _pad: u32,
}

/// Byte offsets into [`VMRuntime`].
pub mod runtime_offsets {
    use super::*;
    /// Offset of [`VMRuntime::gas_left`].
    pub const GAS_LEFT: i32 = offset_of!(VMRuntime, gas_left) as i32;
    /// Offset of [`VMRuntime::stack_left`].
    pub const STACK_LEFT: i32 = offset_of!(VMRuntime, stack_left) as i32;
    /// Offset of [`VMRuntime::native_stack_limit`].
    pub const NATIVE_STACK_LIMIT: i32 = offset_of!(VMRuntime, native_stack_limit) as i32;
    /// Offset of [`VMRuntime::trap_code`].
    pub const TRAP_CODE: i32 = offset_of!(VMRuntime, trap_code) as i32;
}

/// The context every compiled function receives as its first argument.
///
/// Host-function stubs receive a [`VMHostContext`] instead, whose first two
/// fields have the same layout, so `runtime` and `builtins` can be read
/// without knowing which of the two a pointer is.
#[repr(C)]
#[derive(Debug)]
pub struct VMContext {
    /// The shared per-call state.
    pub runtime: *mut VMRuntime,
    /// The builtin functions compiled code calls for non-trivial operations.
    pub builtins: *const VMBuiltins,
    /// The instance's linear memory (possibly another instance's, when
    /// imported), or null when the module has none.
    pub memory: *mut VMMemory,
    /// One pointer per global index (imported first) to its 16-byte cell.
    pub globals: *const *mut VMGlobal,
    /// One pointer per table index (imported first).
    pub tables: *const *mut VMTable,
    /// One entry per function index (imported first). `ref.func i` is the
    /// address of entry `i`; a direct call to an imported function calls
    /// through its entry.
    pub funcs: *const VMFuncRef,
    /// Engine-wide canonical signature id for each of the module's type
    /// indices, compared against [`VMFuncRef::type_id`] by `call_indirect`.
    pub type_ids: *const u32,
    /// The runtime's instance object, opaque to compiled code; builtins use
    /// it to find segments and other non-hot state.
    pub instance: *mut c_void,
}

/// Byte offsets into [`VMContext`].
pub mod vmctx_offsets {
    use super::*;
    /// Offset of [`VMContext::runtime`].
    pub const RUNTIME: i32 = offset_of!(VMContext, runtime) as i32;
    /// Offset of [`VMContext::builtins`].
    pub const BUILTINS: i32 = offset_of!(VMContext, builtins) as i32;
    /// Offset of [`VMContext::memory`].
    pub const MEMORY: i32 = offset_of!(VMContext, memory) as i32;
    /// Offset of [`VMContext::globals`].
    pub const GLOBALS: i32 = offset_of!(VMContext, globals) as i32;
    /// Offset of [`VMContext::tables`].
    pub const TABLES: i32 = offset_of!(VMContext, tables) as i32;
    /// Offset of [`VMContext::funcs`].
    pub const FUNCS: i32 = offset_of!(VMContext, funcs) as i32;
    /// Offset of [`VMContext::type_ids`].
    pub const TYPE_IDS: i32 = offset_of!(VMContext, type_ids) as i32;
}

/// The context a host-function stub receives in place of a [`VMContext`].
#[repr(C)]
#[derive(Debug)]
pub struct VMHostContext {
    /// Same offset and meaning as [`VMContext::runtime`].
    pub runtime: *mut VMRuntime,
    /// Same offset and meaning as [`VMContext::builtins`].
    pub builtins: *const VMBuiltins,
    /// The runtime's host function object, opaque to compiled code.
    pub func: *const c_void,
}

/// Whether compiled code for this target may leave loads unchecked
/// (`docs/vm.md`, "Faulting loads"). Not on riscv64, whose Sv39 machines
/// give a process too little address space for the reservations.
pub(crate) const FAULTING_LOADS: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "s390x"
));

/// Whether compiled code for this target may also leave stores unchecked
/// (`docs/vm.md`, "Faulting loads"): only on x86-64, whose faults are
/// precise, so a store that straddles the end of a memory writes nothing
/// before it faults. aarch64 and riscv64 may write the bytes before the
/// end first.
pub(crate) const FAULTING_STORES: bool = cfg!(target_arch = "x86_64");

/// Bytes past the furthest 32-bit address that stay inaccessible, so that a
/// faulting access with `offset + size` up to this reaches no other mapping.
pub(crate) const GUARD_BYTES: u64 = 2 << 30;

/// A linear memory as compiled code sees it. `length` changes on
/// `memory.grow` (the base never moves), so code reloads the descriptor
/// after anything that may grow memory (any call or builtin).
#[repr(C)]
#[derive(Debug)]
pub struct VMMemory {
    /// Address of byte 0.
    pub base: *mut u8,
    /// Current length in bytes (a multiple of 65,536).
    pub length: u64,
}

/// Byte offsets into [`VMMemory`].
pub mod memory_offsets {
    use super::*;
    /// Offset of [`VMMemory::base`].
    pub const BASE: i32 = offset_of!(VMMemory, base) as i32;
    /// Offset of [`VMMemory::length`].
    pub const LENGTH: i32 = offset_of!(VMMemory, length) as i32;
}

/// A table as compiled code sees it: an array of raw references.
#[repr(C)]
#[derive(Debug)]
pub struct VMTable {
    /// Address of element 0; each element is a [`ValRaw`]-sized raw
    /// reference (`0` = null).
    pub elements: *mut usize,
    /// Current length in elements.
    pub length: u64,
}

/// Byte offsets into [`VMTable`].
pub mod table_offsets {
    use super::*;
    /// Offset of [`VMTable::elements`].
    pub const ELEMENTS: i32 = offset_of!(VMTable, elements) as i32;
    /// Offset of [`VMTable::length`].
    pub const LENGTH: i32 = offset_of!(VMTable, length) as i32;
}

/// A global's storage: the value sits at offset 0 in its natural width,
/// little-endian (references as pointer-sized raw values).
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy, Default)]
pub struct VMGlobal {
    /// The raw bytes.
    pub bytes: [u8; 16],
}

/// A function reference: what a `funcref` points to and what call sites call
/// through. Its address is stable for the life of the owning instance.
#[repr(C)]
#[derive(Debug)]
pub struct VMFuncRef {
    /// Native code with the Wasm calling convention (see `docs/vm.md`).
    pub code: *const u8,
    /// The first argument to pass to `code`: a [`VMContext`] for Wasm
    /// functions, a [`VMHostContext`] for host functions.
    pub vmctx: *mut c_void,
    /// Canonical signature id, engine-wide.
    pub type_id: u32,
    /// Padding to keep the layout explicit.
    pub _pad: u32,
}

/// Byte offsets into [`VMFuncRef`].
pub mod funcref_offsets {
    use super::*;
    /// Offset of [`VMFuncRef::code`].
    pub const CODE: i32 = offset_of!(VMFuncRef, code) as i32;
    /// Offset of [`VMFuncRef::vmctx`].
    pub const VMCTX: i32 = offset_of!(VMFuncRef, vmctx) as i32;
    /// Offset of [`VMFuncRef::type_id`].
    pub const TYPE_ID: i32 = offset_of!(VMFuncRef, type_id) as i32;
    /// Size of one entry in [`VMContext::funcs`](super::VMContext::funcs).
    pub const SIZE: i32 = core::mem::size_of::<VMFuncRef>() as i32;
}

/// Builtins compiled code calls for operations too large to inline. Every
/// one takes the caller's [`VMContext`] first. Those that can trap store the
/// trap code in [`VMRuntime::trap_code`] and return; compiled code checks
/// `trap_code` after every builtin call and ends the call if it is set.
///
/// Integer arguments are Wasm `i32` operands passed as `u32`; raw references
/// as `usize`. All use the platform C calling convention.
#[repr(C)]
#[derive(Debug)]
pub struct VMBuiltins {
    /// `memory.grow`: returns the old size in pages, or `u32::MAX` (-1).
    pub memory_grow: unsafe extern "C" fn(*mut VMContext, delta: u32) -> u32,
    /// `memory.fill`; traps `memory_out_of_bounds`.
    pub memory_fill: unsafe extern "C" fn(*mut VMContext, dst: u32, val: u32, len: u32),
    /// `memory.copy`; traps `memory_out_of_bounds`.
    pub memory_copy: unsafe extern "C" fn(*mut VMContext, dst: u32, src: u32, len: u32),
    /// `memory.init`; traps `memory_out_of_bounds`.
    pub memory_init: unsafe extern "C" fn(*mut VMContext, seg: u32, dst: u32, src: u32, len: u32),
    /// `data.drop`.
    pub data_drop: unsafe extern "C" fn(*mut VMContext, seg: u32),
    /// `table.grow`: returns the old size, or `u32::MAX` (-1).
    pub table_grow:
        unsafe extern "C" fn(*mut VMContext, table: u32, init: usize, delta: u32) -> u32,
    /// `table.fill`; traps `table_out_of_bounds`.
    pub table_fill:
        unsafe extern "C" fn(*mut VMContext, table: u32, dst: u32, val: usize, len: u32),
    /// `table.copy`; traps `table_out_of_bounds`.
    pub table_copy: unsafe extern "C" fn(
        *mut VMContext,
        dst_table: u32,
        src_table: u32,
        dst: u32,
        src: u32,
        len: u32,
    ),
    /// `table.init`; traps `table_out_of_bounds`.
    pub table_init:
        unsafe extern "C" fn(*mut VMContext, table: u32, seg: u32, dst: u32, src: u32, len: u32),
    /// `elem.drop`.
    pub elem_drop: unsafe extern "C" fn(*mut VMContext, seg: u32),
    /// Calls the host function behind a [`VMHostContext`]. Arguments are in
    /// `values[..params]`; results are written to `values[..results]`. On a
    /// trap, results are unspecified and `trap_code` is set.
    pub call_host: unsafe extern "C" fn(*mut VMHostContext, values: *mut ValRaw),
}

/// Byte offsets into [`VMBuiltins`].
pub mod builtin_offsets {
    use super::*;
    /// Offset of [`VMBuiltins::memory_grow`].
    pub const MEMORY_GROW: i32 = offset_of!(VMBuiltins, memory_grow) as i32;
    /// Offset of [`VMBuiltins::memory_fill`].
    pub const MEMORY_FILL: i32 = offset_of!(VMBuiltins, memory_fill) as i32;
    /// Offset of [`VMBuiltins::memory_copy`].
    pub const MEMORY_COPY: i32 = offset_of!(VMBuiltins, memory_copy) as i32;
    /// Offset of [`VMBuiltins::memory_init`].
    pub const MEMORY_INIT: i32 = offset_of!(VMBuiltins, memory_init) as i32;
    /// Offset of [`VMBuiltins::data_drop`].
    pub const DATA_DROP: i32 = offset_of!(VMBuiltins, data_drop) as i32;
    /// Offset of [`VMBuiltins::table_grow`].
    pub const TABLE_GROW: i32 = offset_of!(VMBuiltins, table_grow) as i32;
    /// Offset of [`VMBuiltins::table_fill`].
    pub const TABLE_FILL: i32 = offset_of!(VMBuiltins, table_fill) as i32;
    /// Offset of [`VMBuiltins::table_copy`].
    pub const TABLE_COPY: i32 = offset_of!(VMBuiltins, table_copy) as i32;
    /// Offset of [`VMBuiltins::table_init`].
    pub const TABLE_INIT: i32 = offset_of!(VMBuiltins, table_init) as i32;
    /// Offset of [`VMBuiltins::elem_drop`].
    pub const ELEM_DROP: i32 = offset_of!(VMBuiltins, elem_drop) as i32;
    /// Offset of [`VMBuiltins::call_host`].
    pub const CALL_HOST: i32 = offset_of!(VMBuiltins, call_host) as i32;
}

/// Why execution stopped early, as stored in [`VMRuntime::trap_code`].
///
/// The numbering is part of the compiled-code ABI; the names are the stable
/// trap kinds reported to users.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrapCode {
    /// No trap is pending.
    None = 0,
    /// `unreachable` was executed.
    Unreachable = 1,
    /// A memory access or bulk memory operation was out of bounds.
    MemoryOutOfBounds = 2,
    /// A table access or bulk table operation was out of bounds.
    TableOutOfBounds = 3,
    /// `call_indirect` hit a null table element.
    UninitializedElement = 4,
    /// `call_indirect` hit a function of another signature.
    IndirectCallTypeMismatch = 5,
    /// Integer division or remainder by zero.
    IntegerDivideByZero = 6,
    /// Signed division overflow, or a float-to-int truncation out of range.
    IntegerOverflow = 7,
    /// Float-to-int truncation of a NaN.
    InvalidConversionToInteger = 8,
    /// `detvm.out_of_gas` was called.
    OutOfGas = 9,
    /// `detvm.stack_overflow` was called.
    StackOverflow = 10,
    /// A host function trapped; its message is kept by the runtime.
    Host = 11,
    /// The native stack safety net fired before the deterministic stack
    /// limit did: an engine error, never a contract result.
    NativeStackExhausted = 12,
}

/// The raw code of a trap site that ends a call whose trap code a builtin
/// or a host function already set: the handler stores nothing. No
/// [`TrapCode`] has this number.
pub const PROPAGATE_TRAP_CODE: u8 = 100;

impl TrapCode {
    /// Decodes a raw `trap_code`, mapping unknown values to `None`.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::None,
            1 => Self::Unreachable,
            2 => Self::MemoryOutOfBounds,
            3 => Self::TableOutOfBounds,
            4 => Self::UninitializedElement,
            5 => Self::IndirectCallTypeMismatch,
            6 => Self::IntegerDivideByZero,
            7 => Self::IntegerOverflow,
            8 => Self::InvalidConversionToInteger,
            9 => Self::OutOfGas,
            10 => Self::StackOverflow,
            11 => Self::Host,
            12 => Self::NativeStackExhausted,
            _ => return None,
        })
    }

    /// The stable name of the trap kind.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unreachable => "unreachable",
            Self::MemoryOutOfBounds => "memory_out_of_bounds",
            Self::TableOutOfBounds => "table_out_of_bounds",
            Self::UninitializedElement => "uninitialized_element",
            Self::IndirectCallTypeMismatch => "indirect_call_type_mismatch",
            Self::IntegerDivideByZero => "integer_divide_by_zero",
            Self::IntegerOverflow => "integer_overflow",
            Self::InvalidConversionToInteger => "invalid_conversion_to_integer",
            Self::OutOfGas => "out_of_gas",
            Self::StackOverflow => "stack_overflow",
            Self::Host => "host",
            Self::NativeStackExhausted => "native_stack_exhausted",
        }
    }
}

/// Signature of an entry trampoline, compiled once per function type: calls
/// `code` with `vmctx` and the arguments in `values[..params]`, and writes
/// the results to `values[..results]`.
pub type EntryTrampoline =
    unsafe extern "C" fn(code: *const u8, vmctx: *mut c_void, values: *mut ValRaw);
