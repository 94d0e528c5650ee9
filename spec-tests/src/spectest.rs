//! The standard `spectest` host module the official scripts import from.
//!
//! It is written as an ordinary module and instantiated through the engine,
//! so its memory, table and globals are real engine objects and imports of
//! them are checked like any other.

/// The `spectest` module: the exports the suite's scripts expect, with the
/// values and limits the spec interpreter gives them.
pub(crate) const SPECTEST_WAT: &str = r#"
(module
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2)
  (func (export "print"))
  (func (export "print_i32") (param i32))
  (func (export "print_i64") (param i64))
  (func (export "print_f32") (param f32))
  (func (export "print_f64") (param f64))
  (func (export "print_i32_f32") (param i32 f32))
  (func (export "print_f64_f64") (param f64 f64))
)
"#;
