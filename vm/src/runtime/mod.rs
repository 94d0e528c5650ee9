//! Instances, memories, tables, globals, host functions and calls.
//!
//! The runtime side of the protocol in `docs/vm.md`: it owns every object
//! compiled code points into, implements the builtins, and turns trap codes
//! into outcomes.

mod builtins;
mod call;
mod engine;
mod errors;
mod global;
mod host;
mod instance;
mod linker;
pub(crate) mod memory;
pub(crate) mod module;
mod store;
mod table;
pub(crate) mod trap_handler;
mod typed;
mod values;

pub use call::{Func, MAX_CALL_GAS, Outcome, native_stack};
pub use engine::{Engine, EngineConfig, OptLevel};
pub use errors::{
    AccessError, CallError, ConfigError, Error, HostError, InternalError, ResourceError,
    SharedError, TrapKind,
};
pub use global::Global;
pub use host::Caller;
pub use instance::Instance;
pub use linker::{Extern, Linker};
pub use memory::Memory;
pub(crate) use memory::PAGE_SIZE;
pub use module::{ExportType, ImportType, Module};
pub use store::Store;
pub use table::Table;
pub use typed::{TypedFunc, WasmParams, WasmResults, WasmTy};
pub use values::{
    ExternRef, ExternType, FuncType, GlobalType, MemoryType, TableType, ValType, Value,
};
