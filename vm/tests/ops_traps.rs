//! Every trap kind compiled code raises, through the public API at both
//! optimisation levels, including the exact boundaries of the trapping
//! float-to-int truncations.

#[path = "../src/compile/tests/trunc_cases.rs"]
mod trunc_cases;

mod common;

use common::Both;
use detvm_vm::Value;

fn i32v(x: i64) -> Value {
    Value::I32(x as i32)
}

#[test]
fn unreachable() {
    let mut m = Both::new(r#"(module (func (export "f") (result i32) unreachable))"#);
    assert_eq!(m.call("f", &[]), Err("unreachable"));
}

#[test]
fn memory_out_of_bounds() {
    let mut m = Both::new(
        r#"(module
        (memory 1)
        (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
        (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
        (func (export "load_far") (param i32) (result i32) (i32.load offset=4294967295 (local.get 0)))
        (func (export "load16_off") (param i32) (result i32) (i32.load16_u offset=65534 (local.get 0)))
        (func (export "store_then_trap") (param i32)
            (i32.store (i32.const 0) (i32.const 7))
            (i64.store (local.get 0) (i64.const -1))
            (i32.store (i32.const 0) (i32.const 8)))
        (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
        (func (export "copy") (param i32) (memory.copy (i32.const 0) (local.get 0) (i32.const 4))))"#,
    );
    let oob = Err("memory_out_of_bounds");
    assert_eq!(m.call("load32", &[i32v(65532)]), Ok(vec![Value::I32(0)]));
    assert_eq!(m.call("load32", &[i32v(65533)]), oob);
    assert_eq!(m.call("load64", &[i32v(65528)]), Ok(vec![Value::I64(0)]));
    assert_eq!(m.call("load64", &[i32v(65529)]), oob);
    for addr in [0xffff_ffffi64, 0xffff_fffc, 0x8000_0000] {
        assert_eq!(m.call("load32", &[i32v(addr)]), oob, "{addr:#x}");
    }
    for addr in [0i64, 1, 0xffff_ffff] {
        assert_eq!(m.call("load_far", &[i32v(addr)]), oob, "{addr:#x}");
    }
    assert_eq!(m.call("load16_off", &[i32v(0)]), Ok(vec![Value::I32(0)]));
    assert_eq!(m.call("load16_off", &[i32v(1)]), oob);
    assert_eq!(m.call("copy", &[i32v(65533)]), oob);
    assert_eq!(m.call("store_then_trap", &[i32v(65532)]), oob);
    assert_eq!(m.call("peek", &[i32v(0)]), Ok(vec![Value::I32(7)]));
    assert_eq!(m.call("peek", &[i32v(65532)]), Ok(vec![Value::I32(0)]));
}

#[test]
fn memory_of_no_pages_traps_every_access_until_it_grows() {
    // Length 0: the bound `length - end` is negative, below every address.
    let mut m = Both::new(
        r#"(module
        (memory 0)
        (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
        (func (export "load_far") (param i32) (result i32) (i32.load offset=4294967295 (local.get 0)))
        (func (export "grow") (result i32) (memory.grow (i32.const 1))))"#,
    );
    let oob = Err("memory_out_of_bounds");
    for addr in [0i64, 1, 0x7fff_ffff, 0xffff_ffff] {
        assert_eq!(m.call("load8", &[i32v(addr)]), oob, "{addr:#x}");
    }
    assert_eq!(m.call("load_far", &[i32v(0)]), oob);
    assert_eq!(m.call("grow", &[]), Ok(vec![Value::I32(0)]));
    assert_eq!(m.call("load8", &[i32v(65535)]), Ok(vec![Value::I32(0)]));
    assert_eq!(m.call("load8", &[i32v(65536)]), oob);
    assert_eq!(m.call("load_far", &[i32v(0)]), oob);
}

const TABLES: &str = r#"(module
    (type $v (func (result i32)))
    (table $t 3 funcref)
    (table $e 2 externref)
    (elem (table $t) (i32.const 0) func $a $b)
    (func $a (result i32) (i32.const 1))
    (func $b (result i64) (i64.const 2))
    (func (export "call") (param i32) (result i32) (call_indirect $t (type $v) (local.get 0)))
    (func (export "get") (param i32) (result i32) (ref.is_null (table.get $e (local.get 0))))
    (func (export "set") (param i32) (table.set $e (local.get 0) (ref.null extern))))"#;

#[test]
fn table_out_of_bounds() {
    let mut m = Both::new(TABLES);
    let oob = Err("table_out_of_bounds");
    assert_eq!(m.call("get", &[i32v(1)]), Ok(vec![Value::I32(1)]));
    assert_eq!(m.call("get", &[i32v(2)]), oob);
    assert_eq!(m.call("get", &[i32v(-1)]), oob);
    assert_eq!(m.call("set", &[i32v(2)]), oob);
    assert_eq!(m.call("call", &[i32v(3)]), oob);
    assert_eq!(m.call("call", &[i32v(-1)]), oob);
}

#[test]
fn uninitialized_element() {
    let mut m = Both::new(TABLES);
    assert_eq!(m.call("call", &[i32v(0)]), Ok(vec![Value::I32(1)]));
    assert_eq!(m.call("call", &[i32v(2)]), Err("uninitialized_element"));
}

#[test]
fn indirect_call_type_mismatch() {
    let mut m = Both::new(TABLES);
    assert_eq!(
        m.call("call", &[i32v(1)]),
        Err("indirect_call_type_mismatch")
    );
}

/// `call_indirect` checks bounds, null and type in one branch and picks
/// the trap code after it: each at its boundary, in a table that grows.
#[test]
fn indirect_call_checks_at_their_boundaries() {
    let mut m = Both::new(
        r#"(module
        (type $v (func (result i32)))
        (table $empty 0 funcref)
        (table $t 1 funcref)
        (func $a (result i32) (i32.const 7))
        (func $b (param i32) (result i32) (local.get 0))
        (elem declare func $a $b)
        (func (export "empty") (param i32) (result i32)
          (call_indirect $empty (type $v) (local.get 0)))
        (func (export "call") (param i32) (result i32)
          (call_indirect $t (type $v) (local.get 0)))
        (func (export "grow") (result i32) (table.grow $t (ref.null func) (i32.const 2)))
        (func (export "set") (param i32 i32)
          (if (local.get 1)
            (then (table.set $t (local.get 0) (ref.func $a)))
            (else (table.set $t (local.get 0) (ref.func $b))))))"#,
    );
    let oob = Err("table_out_of_bounds");
    let null = Err("uninitialized_element");
    for index in [0, 1, 0x7fff_ffff, -0x8000_0000, -1] {
        assert_eq!(m.call("empty", &[i32v(index)]), oob, "{index:#x}");
    }
    assert_eq!(m.call("call", &[i32v(0)]), null);
    assert_eq!(m.call("call", &[i32v(1)]), oob);
    assert_eq!(m.call("call", &[i32v(-0x8000_0000)]), oob);
    assert_eq!(m.call("grow", &[]), Ok(vec![Value::I32(1)]));
    assert_eq!(m.call("call", &[i32v(1)]), null);
    assert_eq!(m.call("call", &[i32v(2)]), null);
    assert_eq!(m.call("call", &[i32v(3)]), oob);
    assert_eq!(m.call("set", &[i32v(2), i32v(1)]), Ok(vec![]));
    assert_eq!(m.call("call", &[i32v(2)]), Ok(vec![Value::I32(7)]));
    assert_eq!(m.call("set", &[i32v(2), i32v(0)]), Ok(vec![]));
    assert_eq!(
        m.call("call", &[i32v(2)]),
        Err("indirect_call_type_mismatch")
    );
    assert_eq!(m.call("call", &[i32v(1)]), null);
}

#[test]
fn integer_divide_by_zero() {
    for (ty, op) in [
        ("i32", "div_s"),
        ("i32", "div_u"),
        ("i32", "rem_s"),
        ("i32", "rem_u"),
        ("i64", "div_s"),
        ("i64", "div_u"),
        ("i64", "rem_s"),
        ("i64", "rem_u"),
    ] {
        let mut m = Both::new(&format!(
            r#"(module
                (func (export "f") (param {ty} {ty}) (result {ty}) ({ty}.{op} (local.get 0) (local.get 1)))
                (func (export "c") (param {ty}) (result {ty}) ({ty}.{op} (local.get 0) ({ty}.const 0))))"#
        ));
        let (five, zero) = if ty == "i32" {
            (Value::I32(5), Value::I32(0))
        } else {
            (Value::I64(5), Value::I64(0))
        };
        assert_eq!(
            m.call("f", &[five, zero]),
            Err("integer_divide_by_zero"),
            "{ty}.{op}"
        );
        assert_eq!(
            m.call("c", &[five]),
            Err("integer_divide_by_zero"),
            "{ty}.{op}"
        );
        assert_eq!(m.call("f", &[zero, five]), Ok(vec![zero]), "{ty}.{op}");
    }
}

#[test]
fn integer_overflow_in_division() {
    let mut m = Both::new(
        r#"(module
        (func (export "d32") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
        (func (export "r32") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
        (func (export "d64") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
        (func (export "r64") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1))))"#,
    );
    let (min32, neg32) = (Value::I32(i32::MIN), Value::I32(-1));
    let (min64, neg64) = (Value::I64(i64::MIN), Value::I64(-1));
    assert_eq!(m.call("d32", &[min32, neg32]), Err("integer_overflow"));
    assert_eq!(m.call("d64", &[min64, neg64]), Err("integer_overflow"));
    assert_eq!(m.call("r32", &[min32, neg32]), Ok(vec![Value::I32(0)]));
    assert_eq!(m.call("r64", &[min64, neg64]), Ok(vec![Value::I64(0)]));
    assert_eq!(m.call("d32", &[min32, Value::I32(1)]), Ok(vec![min32]));
}

#[test]
fn trapping_truncations_at_their_boundaries() {
    for (op, from, signed, wide) in trunc_cases::TRUNCATIONS {
        let to = if wide { "i64" } else { "i32" };
        let mut m = Both::new(&format!(
            r#"(module (func (export "f") (param {from}) (result {to}) ({op} (local.get 0))))"#
        ));
        let cases = if from == "f32" {
            trunc_cases::f32_cases(signed, wide)
        } else {
            trunc_cases::f64_cases(signed, wide)
        };
        for (input, expected) in cases {
            let arg = if from == "f32" {
                Value::F32(input as u32)
            } else {
                Value::F64(input)
            };
            let expected = expected.map(|bits| {
                vec![if wide {
                    Value::I64(bits as i64)
                } else {
                    Value::I32(bits as u32 as i32)
                }]
            });
            assert_eq!(m.call("f", &[arg]), expected, "{op}({input:#x})");
        }
    }
}
