//! detvm's engine: compiles instrumented WebAssembly to native code with
//! Cranelift and runs it with deterministic results, gas, stack and traps.
