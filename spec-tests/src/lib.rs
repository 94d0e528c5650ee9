//! Runs the official WebAssembly 2.0 test suite against detvm.
