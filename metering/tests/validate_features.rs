//! The determinism profile: what is accepted, and the feature name and
//! offset reported for what is not.

use detvm_metering::{Config, Feature, ValidationError, validate};
use wasmparser::{Parser, Payload};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("bad test module: {e}\n{text}"))
}

fn accept(bytes: &[u8]) {
    if let Err(e) = validate(bytes, &Config::default()) {
        panic!("rejected: {e}");
    }
}

/// The feature and offset `validate` reports.
fn unsupported(bytes: &[u8]) -> (Feature, u64) {
    match validate(bytes, &Config::default()) {
        Err(ValidationError::UnsupportedFeature {
            feature, offset, ..
        }) => (feature, offset),
        other => panic!("expected unsupported_feature, got {other:?}"),
    }
}

fn assert_unsupported(bytes: &[u8], feature: &str, offset: u64) {
    let (found, at) = unsupported(bytes);
    assert_eq!((found.name(), at), (feature, offset));
    assert_eq!(Feature::from_name(feature), Some(found));
}

/// Offset of the `n`th instruction of the first function body, located
/// independently of the code under test.
fn op_offset(bytes: &[u8], n: usize) -> u64 {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Ok(Payload::CodeSectionEntry(body)) = payload {
            let mut ops = body.get_operators_reader().expect("operators");
            for _ in 0..n {
                ops.read().expect("op");
            }
            return ops.original_position();
        }
    }
    panic!("no function body");
}

/// Offset of the contents of the first section with `id`.
fn section_start(bytes: &[u8], id: u8) -> u64 {
    for payload in Parser::new(0).parse_all(bytes) {
        if let Some((found, range)) = payload.expect("payload").as_section()
            && found == id
        {
            return range.start;
        }
    }
    panic!("no section {id}");
}

/// A module with one empty function whose body is `body` (without the
/// final `end`, which is added), built byte by byte for encodings the text
/// format cannot express.
fn module_with_body(body: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type: (func)
    m.extend([0x03, 0x02, 0x01, 0x00]); // function 0: type 0
    m.extend([0x05, 0x03, 0x01, 0x00, 0x01]); // memory 1
    let mut code = vec![0x00]; // no locals
    code.extend(body);
    code.push(0x0b);
    let mut section = vec![0x01, code.len() as u8];
    section.extend(code);
    m.push(0x0a);
    m.push(section.len() as u8);
    m.extend(section);
    m
}

// ---- Accepted: every part of the profile. ----

#[test]
fn mvp_with_floats_is_accepted() {
    accept(&wat(r#"
        (module
          (type $bin (func (param i32 i32) (result i32)))
          (import "env" "log" (func $log (param i64)))
          (memory 1 2)
          (table 2 funcref)
          (global $g (mut i32) (i32.const 0))
          (global $pi f64 (f64.const 3.14159))
          (elem (i32.const 0) $add $fac)
          (data (i32.const 16) "hello")
          (func $add (type $bin) local.get 0 local.get 1 i32.add)
          (func $fac (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 1))
              (else (i32.mul (local.get 0)
                      (call $fac (i32.sub (local.get 0) (i32.const 1)))))))
          (func (export "run") (param f32) (result f64)
            (local i64)
            (block $out
              (loop $l
                (br_if $out (i32.ge_u (global.get $g) (i32.const 10)))
                (global.set $g (i32.add (global.get $g) (i32.const 1)))
                (br $l)))
            (call_indirect (type $bin) (i32.const 1) (i32.const 2) (i32.const 0))
            drop
            (i64.store (i32.const 0) (i64.const 7))
            (call $log (i64.load (i32.const 0)))
            (f64.add (f64.promote_f32 (f32.sqrt (local.get 0))) (global.get $pi)))
          (func $init (global.set $g (i32.const 0)))
          (start $init))
    "#));
}

#[test]
fn floats_of_every_kind_are_accepted() {
    accept(&wat(r#"
        (module (func (param f32 f64) (result f64)
          (f64.div
            (f64.convert_i64_s (i64.trunc_f32_s (f32.nearest (local.get 0))))
            (f64.copysign (f64.reinterpret_i64 (i64.const 1)) (local.get 1)))))
    "#));
}

#[test]
fn mutable_global_import_and_export_are_accepted() {
    accept(&wat(r#"
        (module
          (import "env" "counter" (global $c (mut i64)))
          (global $own (export "own") (mut i32) (i32.const 1))
          (export "counter" (global $c)))
    "#));
}

#[test]
fn sign_extension_is_accepted() {
    accept(&wat(r#"
        (module (func (param i32 i64) (result i64)
          (drop (i32.extend8_s (local.get 0)))
          (drop (i32.extend16_s (local.get 0)))
          (drop (i64.extend8_s (local.get 1)))
          (drop (i64.extend16_s (local.get 1)))
          (i64.extend32_s (local.get 1))))
    "#));
}

#[test]
fn saturating_conversions_are_accepted() {
    accept(&wat(r#"
        (module (func (param f32 f64) (result i64)
          (drop (i32.trunc_sat_f32_s (local.get 0)))
          (drop (i32.trunc_sat_f64_u (local.get 1)))
          (drop (i64.trunc_sat_f32_u (local.get 0)))
          (i64.trunc_sat_f64_s (local.get 1))))
    "#));
}

#[test]
fn multi_value_is_accepted() {
    accept(&wat(r#"
        (module
          (func $pair (result i32 i64) (i32.const 1) (i64.const 2))
          (func (result i64 i32)
            (call $pair)
            (block (param i32 i64) (result i64 i32)
              drop drop (i64.const 3) (i32.const 4)))
          (func (local i64)))
    "#));
}

#[test]
fn bulk_memory_is_accepted() {
    accept(&wat(r#"
        (module
          (memory 1)
          (table 4 funcref)
          (data $d "abc")
          (elem $e func $f)
          (elem declare func $f)
          (func $f
            (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3))
            (data.drop $d)
            (memory.copy (i32.const 8) (i32.const 0) (i32.const 3))
            (memory.fill (i32.const 0) (i32.const 0) (i32.const 1))
            (table.init $e (i32.const 0) (i32.const 0) (i32.const 1))
            (elem.drop $e)
            (table.copy (i32.const 1) (i32.const 0) (i32.const 1))))
    "#));
}

#[test]
fn reference_types_are_accepted() {
    accept(&wat(r#"
        (module
          (table $t1 1 funcref)
          (table $t2 1 externref)
          (global $r (mut externref) (ref.null extern))
          (elem declare func $f)
          (func $f (param externref) (result funcref)
            (table.set $t2 (i32.const 0) (local.get 0))
            (drop (table.grow $t1 (ref.null func) (i32.const 1)))
            (drop (table.size $t2))
            (table.fill $t1 (i32.const 0) (ref.func $f) (i32.const 1))
            (drop (ref.is_null (table.get $t2 (i32.const 0))))
            (global.set $r (select (result externref) (local.get 0) (global.get $r) (i32.const 1)))
            (ref.func $f)))
    "#));
}

#[test]
fn funcref_in_the_prefixed_encoding_is_accepted() {
    // `(ref null func)` written as `0x63 0x70` is `funcref`.
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x04, 0x05, 0x01, 0x63, 0x70, 0x00, 0x01]);
    accept(&m);
}

// ---- Rejected: one test per feature. ----

#[test]
fn simd_in_a_type() {
    assert_unsupported(&wat("(module (type (func (param v128))))"), "simd", 11);
}

#[test]
fn simd_in_a_local() {
    let m = wat("(module (func (local i32 v128)))");
    // The local declaration `01 7b` after `01 7f`.
    let code = section_start(&m, 10);
    assert_unsupported(&m, "simd", code + 5);
}

#[test]
fn simd_in_a_global() {
    assert_unsupported(
        &wat("(module (global v128 (v128.const i64x2 0 0)))"),
        "simd",
        11,
    );
}

#[test]
fn simd_in_an_instruction() {
    let m = wat("(module (func (result i32) (i32x4.extract_lane 0 (v128.const i64x2 0 0))))");
    assert_unsupported(&m, "simd", op_offset(&m, 0));
}

#[test]
fn simd_in_a_block_type() {
    let m = wat("(module (func (block (result v128) unreachable) drop))");
    assert_unsupported(&m, "simd", op_offset(&m, 0));
}

#[test]
fn relaxed_simd() {
    let m = wat("(module (func unreachable i8x16.relaxed_swizzle drop))");
    assert_unsupported(&m, "relaxed_simd", op_offset(&m, 1));
}

#[test]
fn threads_shared_memory() {
    assert_unsupported(&wat("(module (memory 1 1 shared))"), "threads", 11);
}

#[test]
fn threads_atomic_instruction() {
    let m = wat("(module (memory 1) (func (result i32) (i32.atomic.load (i32.const 0))))");
    assert_unsupported(&m, "threads", op_offset(&m, 1));
}

#[test]
fn memory64() {
    assert_unsupported(&wat("(module (memory i64 1))"), "memory64", 11);
}

#[test]
fn memory64_table() {
    assert_unsupported(&wat("(module (table i64 1 funcref))"), "memory64", 11);
}

#[test]
fn multi_memory() {
    // Memory section: id, size, count, then `00 01` and the second at 13.
    assert_unsupported(&wat("(module (memory 1) (memory 2))"), "multi_memory", 13);
}

#[test]
fn multi_memory_imported_and_defined() {
    let m = wat(r#"(module (import "env" "m" (memory 1)) (memory 1))"#);
    assert_unsupported(&m, "multi_memory", section_start(&m, 5) + 1);
}

#[test]
fn exceptions_tag_section() {
    let m = wat("(module (tag))");
    assert_unsupported(&m, "exceptions", section_start(&m, 13));
}

#[test]
fn exceptions_instruction() {
    let m = wat("(module (func (try_table)))");
    assert_unsupported(&m, "exceptions", op_offset(&m, 0));
}

#[test]
fn exceptions_exnref() {
    assert_unsupported(
        &wat("(module (type (func (param exnref))))"),
        "exceptions",
        11,
    );
}

#[test]
fn legacy_exceptions() {
    // `try` with an empty block type, then `end`.
    let m = module_with_body(&[0x06, 0x40, 0x0b]);
    assert_unsupported(&m, "legacy_exceptions", op_offset(&m, 0));
}

#[test]
fn tail_call() {
    let m = wat("(module (func $f return_call $f))");
    assert_unsupported(&m, "tail_call", op_offset(&m, 0));
}

#[test]
fn gc_struct_type() {
    assert_unsupported(&wat("(module (type (struct (field i32))))"), "gc", 11);
}

#[test]
fn gc_recursion_group() {
    assert_unsupported(&wat("(module (rec (type (func))))"), "gc", 11);
}

#[test]
fn gc_final_subtype_prefix() {
    // `(sub final (func))`: decodes like `(func)` but only with GC's grammar.
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x06, 0x01, 0x4f, 0x00, 0x60, 0x00, 0x00]);
    assert_unsupported(&m, "gc", 11);
}

#[test]
fn gc_instruction() {
    let m = wat("(module (func (result i32) (ref.is_null (ref.i31 (i32.const 1)))))");
    assert_unsupported(&m, "gc", op_offset(&m, 1));
}

#[test]
fn gc_anyref() {
    assert_unsupported(&wat("(module (global anyref (ref.null any)))"), "gc", 11);
}

#[test]
fn gc_global_get_of_a_defined_global_in_a_constant() {
    // global 1's initialiser starts at 16: `7f 00 41 01 0b` is global 0.
    let m = wat("(module (global i32 (i32.const 1)) (global i32 (global.get 0)))");
    assert_unsupported(&m, "gc", 18);
}

#[test]
fn function_references_non_nullable() {
    assert_unsupported(
        &wat("(module (func (param (ref func))))"),
        "function_references",
        11,
    );
}

#[test]
fn function_references_typed_reference() {
    assert_unsupported(
        &wat("(module (type $t (func)) (type (func (param (ref null $t)))))"),
        "function_references",
        14,
    );
}

#[test]
fn function_references_instruction() {
    let m = wat("(module (type $t (func)) (func (param (ref null $t)) unreachable call_ref $t))");
    // The parameter type is reported first: it comes earlier in the binary.
    assert_unsupported(&m, "function_references", 14);
}

#[test]
fn function_references_table_initialiser() {
    let m = wat("(module (func $f) (elem declare func $f) (table 1 funcref (ref.func $f)))");
    let start = section_start(&m, 4);
    assert_unsupported(&m, "function_references", start + 1);
}

#[test]
fn extended_const() {
    // global at 11: `7f 00`, `41 01` at 13, `41 02` at 15, `i32.add` at 17.
    let m = wat("(module (global i32 (i32.add (i32.const 1) (i32.const 2))))");
    assert_unsupported(&m, "extended_const", 17);
}

#[test]
fn wide_arithmetic() {
    let m = wat(r#"(module (func (param i64 i64 i64 i64) (result i64 i64)
        local.get 0 local.get 1 local.get 2 local.get 3 i64.add128))"#);
    assert_unsupported(&m, "wide_arithmetic", op_offset(&m, 4));
}

#[test]
fn custom_page_sizes() {
    assert_unsupported(
        &wat("(module (memory 1 (pagesize 1)))"),
        "custom_page_sizes",
        11,
    );
}

#[test]
fn shared_everything_threads() {
    let m = wat("(module (global (shared i32) (i32.const 0)))");
    assert_unsupported(&m, "shared_everything_threads", 11);
}

#[test]
fn stack_switching() {
    assert_unsupported(
        &wat("(module (type $f (func)) (type (cont $f)))"),
        "stack_switching",
        14,
    );
}

#[test]
fn memory_control() {
    let m = wat("(module (memory 1) (func (memory.discard (i32.const 0) (i32.const 0))))");
    assert_unsupported(&m, "memory_control", op_offset(&m, 2));
}

#[test]
fn custom_descriptors_exact_function_import() {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]);
    // import "m" "f" (func exact (type 0)), at 17.
    m.extend([0x02, 0x07, 0x01, 0x01, b'm', 0x01, b'f', 0x20, 0x00]);
    assert_unsupported(&m, "custom_descriptors", 17);
}

#[test]
fn compact_imports() {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]);
    // One group at 17: module "m", empty name, 0x7f, one item "f" (func 0).
    m.extend([
        0x02, 0x0a, 0x01, 0x01, b'm', 0x00, 0x7f, 0x01, 0x01, b'f', 0x00, 0x00,
    ]);
    assert_unsupported(&m, "compact_imports", 17);
}

#[test]
fn acquire_release_atomics() {
    // `pause` is 0xfe 0x04.
    let m = module_with_body(&[0xfe, 0x04]);
    assert_unsupported(&m, "acquire_release_atomics", op_offset(&m, 0));
}

#[test]
fn component_model() {
    assert_unsupported(&wat("(component)"), "component_model", 4);
}

// ---- Encodings that only later proposals' grammars accept. ----

#[test]
fn memory_grow_with_a_leb_memory_index_is_multi_memory() {
    // memory.grow with its index 0 written as `80 00`.
    let m = module_with_body(&[0x41, 0x00, 0x40, 0x80, 0x00, 0x1a]);
    assert_unsupported(&m, "multi_memory", op_offset(&m, 1));
}

#[test]
fn memory_immediate_with_an_explicit_memory_index_is_multi_memory() {
    // i32.load with flags 0x42 (align 2, memory index present), memory 0,
    // offset 0.
    let m = module_with_body(&[0x41, 0x00, 0x28, 0x42, 0x00, 0x00, 0x1a]);
    assert_unsupported(&m, "multi_memory", op_offset(&m, 1));
}

#[test]
fn long_memory_offset_encoding_is_memory64() {
    // i32.load with offset 0 written in 6 bytes.
    let m = module_with_body(&[
        0x41, 0x00, 0x28, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a,
    ]);
    assert_unsupported(&m, "memory64", op_offset(&m, 1));
}

#[test]
fn long_memory_limits_encoding_is_memory64() {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    // memory with minimum 1 written in 6 bytes.
    m.extend([0x05, 0x08, 0x01, 0x00, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert_unsupported(&m, "memory64", 11);
}

// ---- Precedence. ----

#[test]
fn the_first_construct_is_reported() {
    // SIMD type first, then a tail call: SIMD wins.
    let m = wat("(module (type (func (param v128))) (func $f return_call $f))");
    assert_unsupported(&m, "simd", 11);
    // A tail call first, then SIMD later in the same body.
    let m = wat("(module (func $f (return_call $f) (drop (v128.const i64x2 0 0))))");
    assert_unsupported(&m, "tail_call", op_offset(&m, 0));
}

#[test]
fn invalid_module_using_a_feature_is_invalid() {
    // SIMD, and a type error: not valid WebAssembly under any feature set.
    let m = wat("(module (func (result i32) (v128.const i64x2 0 0)))");
    let e = validate(&m, &Config::default()).unwrap_err();
    assert_eq!(e.kind(), "invalid", "{e}");
}

#[test]
fn error_message_names_feature_and_offset() {
    let e = validate(&wat("(module (memory i64 1))"), &Config::default()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("memory64") && text.contains("11"), "{text}");
    assert_eq!(e.kind(), "unsupported_feature");
    assert_eq!(e.offset(), 11);
}

#[test]
fn feature_names_are_unique_and_round_trip() {
    for (i, f) in Feature::ALL.iter().enumerate() {
        assert_eq!(Feature::from_name(f.name()), Some(*f));
        assert_eq!(f.to_string(), f.name());
        for g in &Feature::ALL[i + 1..] {
            assert_ne!(f.name(), g.name());
        }
    }
    assert_eq!(Feature::from_name("mvp"), None);
}
