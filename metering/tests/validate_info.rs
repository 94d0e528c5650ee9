//! What `validate` reports about an accepted module, including lowered
//! memory and table maxima.

use detvm_metering::{Config, Limits, MemoryInfo, ModuleInfo, TableInfo, validate};

fn info(text: &str) -> ModuleInfo {
    let bytes = wat::parse_str(text).unwrap_or_else(|e| panic!("bad test module: {e}"));
    validate(&bytes, &Config::default()).unwrap_or_else(|e| panic!("rejected: {e}"))
}

fn memory(text: &str) -> MemoryInfo {
    info(text).memory.expect("a memory")
}

#[test]
fn every_field_is_filled() {
    let text = r#"
        (module
          (type (func))
          (type (func (param i32) (result i32)))
          (import "env" "f" (func (type 0)))
          (import "env" "g" (global i32))
          (import "env" "t" (table 1 funcref))
          (global (mut i64) (i64.const 0))
          (global f32 (f32.const 1))
          (table 3 4 funcref)
          (memory 2 3)
          (func (type 1) (local i32 i64) (local f64)
            (block (loop (if (local.get 0) (then (br 2)))))
            (local.get 0))
          (func (export "main") (local i32)
            (block (block)))
          (export "mem" (memory 0))
          (export "g" (global 1))
          (elem (i32.const 0) 1 2)
          (elem declare func 1)
          (data (i32.const 0) "x")
          (data "y"))
    "#;
    let bytes = wat::parse_str(text).unwrap();
    let info = validate(&bytes, &Config::default()).expect("accepted");
    assert_eq!(info.size, bytes.len());
    assert_eq!(info.types, 2);
    assert_eq!(info.imported_functions, 1);
    assert_eq!(info.defined_functions, 2);
    assert_eq!(info.globals, 3);
    assert_eq!(info.imports, 3);
    assert_eq!(info.exports, 3);
    assert_eq!(info.data_segments, 2);
    assert_eq!(info.element_segments, 2);
    assert_eq!(info.total_locals, 4);
    assert_eq!(info.total_blocks, 5);
    assert_eq!(info.tables.len(), 2);
    assert!(info.tables[0].imported && !info.tables[1].imported);
    assert_eq!((info.tables[1].initial, info.tables[1].maximum), (3, 4));
    let mem = info.memory.expect("memory");
    assert_eq!(
        (mem.imported, mem.initial, mem.maximum, mem.declared_maximum),
        (false, 2, 3, Some(3))
    );
    assert!(!mem.maximum_lowered());
}

#[test]
fn an_empty_module() {
    let info = info("(module)");
    assert_eq!(info.size, 8);
    assert_eq!(info.memory, None);
    assert!(info.tables.is_empty());
    assert_eq!(info.types + info.defined_functions + info.imports, 0);
}

#[test]
fn memory_maximum_above_the_limit_is_lowered() {
    let m = memory("(module (memory 1 65536))");
    assert_eq!(
        (m.initial, m.maximum, m.declared_maximum),
        (1, 1_024, Some(65_536))
    );
    assert!(m.maximum_lowered());
}

#[test]
fn memory_without_a_maximum_gets_the_limit() {
    let m = memory("(module (memory 1))");
    assert_eq!((m.maximum, m.declared_maximum), (1_024, None));
    assert!(m.maximum_lowered());
}

#[test]
fn memory_maximum_at_or_below_the_limit_is_kept() {
    let m = memory("(module (memory 0 1024))");
    assert_eq!((m.maximum, m.declared_maximum), (1_024, Some(1_024)));
    assert!(!m.maximum_lowered());
    let m = memory("(module (memory 0 7))");
    assert_eq!(m.maximum, 7);
}

#[test]
fn imported_memory_is_lowered_too() {
    let m = memory(r#"(module (import "env" "memory" (memory 2 5000)))"#);
    assert!(m.imported);
    assert_eq!(
        (m.initial, m.maximum, m.declared_maximum),
        (2, 1_024, Some(5_000))
    );
}

#[test]
fn lowering_follows_the_configured_limit() {
    let bytes = wat::parse_str("(module (memory 1 70000) (table 1 funcref))").unwrap();
    // 70,000 pages is above what a 32-bit memory may declare: invalid.
    assert!(validate(&bytes, &Config::with_limits(Limits::spec())).is_err());
    let bytes = wat::parse_str("(module (memory 1) (table 1 funcref))").unwrap();
    let mut limits = Limits::spec();
    limits.memory_pages = 100;
    limits.table_elements = 50;
    let info = validate(&bytes, &Config::with_limits(limits)).expect("accepted");
    assert_eq!(info.memory.map(|m| m.maximum), Some(100));
    assert_eq!(info.tables[0].maximum, 50);
    let spec = validate(&bytes, &Config::with_limits(Limits::spec())).expect("accepted");
    assert_eq!(spec.memory.map(|m| m.maximum), Some(65_536));
    assert_eq!(spec.tables[0].maximum, 10_000_000);
}

#[test]
fn table_maxima_are_lowered() {
    let info = info(
        r#"(module
            (import "env" "t" (table 1 4294967295 funcref))
            (table 10 externref))"#,
    );
    let t: &[TableInfo] = &info.tables;
    assert_eq!(t.len(), 2);
    assert!(t[0].imported);
    assert_eq!(
        (t[0].initial, t[0].maximum, t[0].declared_maximum),
        (1, 10_000, Some(u64::from(u32::MAX)))
    );
    assert!(!t[1].imported);
    assert_eq!(
        (t[1].initial, t[1].maximum, t[1].declared_maximum),
        (10, 10_000, None)
    );
}

#[test]
fn table_maximum_below_the_limit_is_kept() {
    let info = info("(module (table 2 9 funcref))");
    assert_eq!(
        (info.tables[0].maximum, info.tables[0].declared_maximum),
        (9, Some(9))
    );
}

#[test]
fn counts_include_imports() {
    let info = info(
        r#"(module
            (import "a" "f1" (func))
            (import "a" "f2" (func))
            (import "a" "g" (global (mut i32)))
            (import "a" "m" (memory 1))
            (global i32 (i32.const 0))
            (func))"#,
    );
    assert_eq!(info.imported_functions, 2);
    assert_eq!(info.defined_functions, 1);
    assert_eq!(info.globals, 2);
    assert_eq!(info.imports, 4);
    assert!(info.memory.is_some_and(|m| m.imported));
}

#[test]
fn custom_sections_do_not_count() {
    let plain = info("(module (func))");
    let bytes = wat::parse_str(r#"(module (func) (@custom "x" "payload"))"#).unwrap();
    let with_custom = validate(&bytes, &Config::default()).expect("accepted");
    assert_eq!(with_custom.defined_functions, plain.defined_functions);
    assert_eq!(with_custom.size, bytes.len());
}
