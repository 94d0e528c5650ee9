//! The fixed interface between instrumented code and the engine that runs it.
//!
//! Instrumented modules import exactly these four items, in this order, ahead
//! of every import the original module had. Any engine that provides them
//! with the documented behaviour runs instrumented code with detvm's gas and
//! stack semantics. The `vm` crate lowers them inline instead of calling out,
//! and reads the indices from here so that both sides cannot disagree.

/// The import module name reserved for instrumentation.
///
/// A contract that imports anything from this module is rejected by
/// validation, so the names below can never be forged by a contract.
pub const MODULE: &str = "detvm";

/// `(func)`: called when a metered block cannot be paid for. Must trap.
pub const OUT_OF_GAS: &str = "out_of_gas";
/// `(func)`: called when a function frame does not fit. Must trap.
pub const STACK_OVERFLOW: &str = "stack_overflow";
/// `(global (mut i64))`: remaining gas, set by the host before a call.
pub const GAS_LEFT: &str = "gas_left";
/// `(global (mut i64))`: remaining stack bytes, set by the host before a call.
pub const STACK_LEFT: &str = "stack_left";

/// Function index of `detvm.out_of_gas` in an instrumented module.
pub const OUT_OF_GAS_FUNC: u32 = 0;
/// Function index of `detvm.stack_overflow` in an instrumented module.
pub const STACK_OVERFLOW_FUNC: u32 = 1;
/// Global index of `detvm.gas_left` in an instrumented module.
pub const GAS_LEFT_GLOBAL: u32 = 0;
/// Global index of `detvm.stack_left` in an instrumented module.
pub const STACK_LEFT_GLOBAL: u32 = 1;

/// How far every original function index is shifted by instrumentation.
pub const RESERVED_FUNCS: u32 = 2;
/// How far every original global index is shifted by instrumentation.
pub const RESERVED_GLOBALS: u32 = 2;
/// How many imports instrumentation adds ahead of the module's own.
pub const RESERVED_IMPORTS: u32 = 4;
