//! detvm's engine: compiles instrumented WebAssembly to native code with
//! Cranelift and runs it with deterministic results, gas, stack and traps.

#![deny(missing_docs)]

#[allow(dead_code)]
mod compile;
pub mod env;
#[allow(dead_code)]
mod runtime;
pub mod vmctx;
