//! detvm's engine: compiles instrumented WebAssembly to native code with
//! Cranelift and runs it with deterministic results, gas, stack and traps.
//!
//! The flow is wasmtime-like:
//!
//! 1. an [`Engine`] holds the configuration ([`EngineConfig`]: limits, gas
//!    schedule, stack bound) and the code generator;
//! 2. [`Module::new`] validates, instruments and compiles a contract;
//! 3. a [`Store`] owns instances and the user data host functions see;
//! 4. a [`Linker`] resolves imports (host functions, other instances);
//! 5. [`Instance::new`] instantiates, and [`Instance::call`] runs an export
//!    with a gas limit, returning an [`Outcome`];
//! 6. for calls made often, [`Func::typed`] checks a function's signature
//!    once against Rust types and gives a [`TypedFunc`], whose calls need no
//!    type checks and no allocation.
//!
//! ```
//! use detvm_vm::{Engine, Instance, Linker, Module, Outcome, Store, ValType, Value};
//!
//! let engine = Engine::default();
//! let wasm = wat::parse_str(
//!     r#"(module
//!          (import "env" "double" (func $double (param i64) (result i64)))
//!          (func (export "run") (param i64) (result i64)
//!            (call $double (local.get 0))))"#,
//! )?;
//! let module = Module::new(&engine, &wasm)?;
//! let mut linker = Linker::new(&engine);
//! linker.func("env", "double", &[ValType::I64], &[ValType::I64], |caller, args| {
//!     caller.charge_gas(10)?;
//!     Ok(vec![Value::I64(args[0].as_i64().unwrap_or_default() * 2)])
//! });
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &linker)?;
//! match instance.call(&mut store, "run", &[Value::I64(21)], 1_000)? {
//!     Outcome::Success { results, gas_used } => {
//!         assert_eq!(results, [Value::I64(42)]);
//!         assert!(gas_used >= 10);
//!     }
//!     Outcome::Trap { kind, .. } => panic!("trapped: {kind}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Calls run on the calling thread's stack; call from a thread with at least
//! 2 MiB of stack (see [`native_stack`]).
//!
//! `docs/vm.md` describes the protocol between compiled code and the runtime
//! and the runtime's rules (instantiation order, traps, native stack).

#![deny(missing_docs)]

mod artifact;
#[allow(dead_code)]
mod compile;
pub mod env;
mod runtime;
pub mod vmctx;

pub use artifact::image::LoadError;
pub use artifact::{Artifact, CODEGEN_VERSION, CacheKey, CacheStats, Cached, CodeCache};
pub use compile::{
    CodegenFailure, CompileError, ImageProblem, IndexSpace, IsaError, TranslateProblem,
};
pub use detvm_metering::{
    ImportPolicy, Limits, MeteringError, Schedule, StackConfig, ValidationError,
};
pub use runtime::{
    AccessError, CallError, Caller, ConfigError, Engine, EngineConfig, Error, ExportType, Extern,
    ExternRef, ExternType, Func, FuncType, Global, GlobalType, HostError, ImportType, Instance,
    InternalError, Linker, MAX_CALL_GAS, Memory, MemoryType, Module, OptLevel, Outcome,
    ResourceError, SharedError, Store, Table, TableType, TrapKind, TypedFunc, ValType, Value,
    WasmParams, WasmResults, WasmTy, native_stack,
};
