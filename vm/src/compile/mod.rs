//! Translation of a module's functions to native code with Cranelift.
