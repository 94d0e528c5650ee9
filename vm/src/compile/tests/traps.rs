//! One test per trap kind compiled code raises, with the exact boundaries.

use super::harness::{HostFn, Instance, OPTS, run};
use crate::vmctx::TrapCode;

#[path = "trunc_cases.rs"]
mod trunc_cases;

#[test]
fn unreachable_traps() {
    let wat = r#"(module (func (export "f") (result i32) unreachable))"#;
    assert_eq!(run(wat, "f", &[]), Err(TrapCode::Unreachable));
}

const MEMORY: &str = r#"(module
    (memory 1)
    (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
    (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
    (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
    (func (export "load_far") (param i32) (result i32) (i32.load offset=4294967295 (local.get 0)))
    (func (export "load16_off") (param i32) (result i32) (i32.load16_u offset=65534 (local.get 0)))
    (func (export "store32") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
    (func (export "store_then_trap") (param i32)
        (i32.store (i32.const 0) (i32.const 7))
        (i64.store (local.get 0) (i64.const -1))
        (i32.store (i32.const 0) (i32.const 8)))
    (func (export "peek") (result i32) (i32.load (i32.const 0)))
    (func (export "widening") (param i32) (result i32)
        (i32.add (i32.load8_u (local.get 0)) (i32.load offset=4 (local.get 0))))
    (func (export "narrowing") (param i32) (result i32)
        (i32.add (i32.load offset=4 (local.get 0)) (i32.load8_u offset=7 (local.get 0))))
    (func (export "after_branch") (param i32 i32) (result i32)
        (if (local.get 1) (then (drop (i32.load (local.get 0)))))
        (i32.load offset=2 (local.get 0)))
    (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 1) (local.get 1)))
)"#;

#[test]
fn memory_out_of_bounds() {
    let oob = Err(TrapCode::MemoryOutOfBounds);
    let end = 65536u64;
    assert_eq!(run(MEMORY, "load32", &[end - 4]), Ok(vec![0]));
    // Straddling the end by one byte.
    assert_eq!(run(MEMORY, "load32", &[end - 3]), oob);
    assert_eq!(run(MEMORY, "load64", &[end - 8]), Ok(vec![0]));
    assert_eq!(run(MEMORY, "load64", &[end - 7]), oob);
    assert_eq!(run(MEMORY, "load8", &[end - 1]), Ok(vec![0]));
    assert_eq!(run(MEMORY, "load8", &[end]), oob);
    // Addresses near 2^32 must not wrap around to low memory.
    assert_eq!(run(MEMORY, "load32", &[0xffff_ffff]), oob);
    assert_eq!(run(MEMORY, "load32", &[0xffff_fffc]), oob);
    assert_eq!(run(MEMORY, "load_far", &[0]), oob);
    assert_eq!(run(MEMORY, "load_far", &[1]), oob);
    assert_eq!(run(MEMORY, "load_far", &[0xffff_ffff]), oob);
    // offset + size straddling the end.
    assert_eq!(run(MEMORY, "load16_off", &[0]), Ok(vec![0]));
    assert_eq!(run(MEMORY, "load16_off", &[1]), oob);
    assert_eq!(run(MEMORY, "store32", &[end - 2, 5]), oob);
    assert_eq!(run(MEMORY, "fill", &[end - 2, 3]), oob);
    // A proven bound covers narrower accesses to the same address only.
    assert_eq!(run(MEMORY, "widening", &[end - 8]), Ok(vec![0]));
    assert_eq!(run(MEMORY, "widening", &[end - 7]), oob);
    assert_eq!(run(MEMORY, "narrowing", &[end - 8]), Ok(vec![0]));
    assert_eq!(run(MEMORY, "narrowing", &[end - 7]), oob);
    // A bound proven in one arm does not carry over the join.
    assert_eq!(run(MEMORY, "after_branch", &[end - 4, 1]), oob);
    assert_eq!(run(MEMORY, "after_branch", &[end - 4, 0]), oob);
    assert_eq!(run(MEMORY, "after_branch", &[end - 6, 1]), Ok(vec![0]));
    for opt in OPTS {
        let mut inst = Instance::new(MEMORY, opt, Vec::new());
        // Nothing after the trapping store runs, and the store itself writes
        // nothing.
        assert_eq!(inst.call("store_then_trap", &[end - 4]), oob);
        assert_eq!(inst.call("peek", &[]), Ok(vec![7]));
        assert!(inst.memory()[65532..].iter().all(|&b| b == 0));
    }
    let empty =
        r#"(module (memory 0) (func (export "f") (result i32) (i32.load8_u (i32.const 0))))"#;
    assert_eq!(run(empty, "f", &[]), oob);
}

const TABLES: &str = r#"(module
    (type $v (func (result i32)))
    (type $w (func (result i64)))
    (table $t 3 funcref)
    (table $e 2 externref)
    (elem (table $t) (i32.const 0) func $a $b)
    (func $a (result i32) (i32.const 1))
    (func $b (result i64) (i64.const 2))
    (func (export "call") (param i32) (result i32) (call_indirect $t (type $v) (local.get 0)))
    (func (export "get") (param i32) (result externref) (table.get $e (local.get 0)))
    (func (export "set") (param i32) (table.set $e (local.get 0) (ref.null extern)))
    (func (export "fill") (param i32) (table.fill $e (local.get 0) (ref.null extern) (i32.const 2)))
    (func (export "copy") (param i32) (table.copy $t $t (i32.const 0) (local.get 0) (i32.const 2)))
)"#;

#[test]
fn table_out_of_bounds() {
    let oob = Err(TrapCode::TableOutOfBounds);
    assert_eq!(run(TABLES, "get", &[1]), Ok(vec![0]));
    assert_eq!(run(TABLES, "get", &[2]), oob);
    assert_eq!(run(TABLES, "get", &[0xffff_ffff]), oob);
    assert_eq!(run(TABLES, "set", &[2]), oob);
    assert_eq!(run(TABLES, "call", &[3]), oob);
    assert_eq!(run(TABLES, "call", &[0x8000_0000]), oob);
    assert_eq!(run(TABLES, "fill", &[1]), oob);
    assert_eq!(run(TABLES, "copy", &[2]), oob);
}

#[test]
fn uninitialized_element() {
    assert_eq!(run(TABLES, "call", &[0]), Ok(vec![1]));
    assert_eq!(
        run(TABLES, "call", &[2]),
        Err(TrapCode::UninitializedElement)
    );
}

#[test]
fn indirect_call_type_mismatch() {
    assert_eq!(
        run(TABLES, "call", &[1]),
        Err(TrapCode::IndirectCallTypeMismatch)
    );
}

#[test]
fn integer_divide_by_zero() {
    for op in ["i32.div_s", "i32.div_u", "i32.rem_s", "i32.rem_u"] {
        let wat = format!(
            r#"(module
                (func (export "f") (param i32 i32) (result i32) ({op} (local.get 0) (local.get 1)))
                (func (export "c") (param i32) (result i32) ({op} (local.get 0) (i32.const 0))))"#
        );
        assert_eq!(
            run(&wat, "f", &[5, 0]),
            Err(TrapCode::IntegerDivideByZero),
            "{op}"
        );
        assert_eq!(
            run(&wat, "c", &[5]),
            Err(TrapCode::IntegerDivideByZero),
            "{op}"
        );
        assert_eq!(run(&wat, "f", &[0, 5]), Ok(vec![0]), "{op}");
    }
    for op in ["i64.div_s", "i64.div_u", "i64.rem_s", "i64.rem_u"] {
        let wat = format!(
            r#"(module
                (func (export "f") (param i64 i64) (result i64) ({op} (local.get 0) (local.get 1)))
                (func (export "c") (param i64) (result i64) ({op} (local.get 0) (i64.const 0))))"#
        );
        assert_eq!(
            run(&wat, "f", &[5, 0]),
            Err(TrapCode::IntegerDivideByZero),
            "{op}"
        );
        assert_eq!(
            run(&wat, "c", &[5]),
            Err(TrapCode::IntegerDivideByZero),
            "{op}"
        );
        // Only the low 32 bits of an i32 count; here all 64 do.
        assert!(run(&wat, "f", &[5, 1 << 32]).is_ok(), "{op}");
    }
}

#[test]
fn integer_overflow_in_division() {
    let wat = r#"(module
        (func (export "d32") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
        (func (export "d64") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
        (func (export "c32") (param i32) (result i32) (i32.div_s (local.get 0) (i32.const -1))))"#;
    let min32 = u64::from(i32::MIN as u32);
    let neg1_32 = u64::from(u32::MAX);
    assert_eq!(
        run(wat, "d32", &[min32, neg1_32]),
        Err(TrapCode::IntegerOverflow)
    );
    assert_eq!(run(wat, "c32", &[min32]), Err(TrapCode::IntegerOverflow));
    assert_eq!(run(wat, "c32", &[min32 + 1]), Ok(vec![0x7fff_ffff]));
    assert_eq!(
        run(wat, "d64", &[i64::MIN as u64, u64::MAX]),
        Err(TrapCode::IntegerOverflow)
    );
    assert_eq!(
        run(wat, "d64", &[i64::MIN as u64, 1]),
        Ok(vec![i64::MIN as u64])
    );
}

#[test]
fn trapping_truncations_at_their_boundaries() {
    for (op, from, signed, wide) in trunc_cases::TRUNCATIONS {
        let to = if wide { "i64" } else { "i32" };
        let wat = format!(
            r#"(module (func (export "f") (param {from}) (result {to}) ({op} (local.get 0))))"#
        );
        let cases = if from == "f32" {
            trunc_cases::f32_cases(signed, wide)
        } else {
            trunc_cases::f64_cases(signed, wide)
        };
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            for &(input, expected) in &cases {
                let got = inst.call("f", &[input]).map(|v| v[0]).map_err(|t| t.name());
                assert_eq!(got, expected, "{op}({input:#x}) at {opt:?}");
            }
        }
    }
}

#[test]
fn traps_propagate_through_every_kind_of_call() {
    let wat = r#"(module
        (import "env" "h" (func $h (param i32) (result i32)))
        (type $t (func (param i32) (result i32)))
        (memory 1)
        (table 2 funcref)
        (elem (i32.const 0) $inner $h)
        (func $inner (param i32) (result i32)
            (if (local.get 0) (then unreachable))
            (i32.const 3))
        (func $mid (param i32) (result i32)
            (i32.add (call_indirect (type $t) (local.get 0) (i32.const 0)) (i32.const 1)))
        (func (export "direct") (param i32) (result i32)
            (drop (call $mid (local.get 0)))
            (i32.store (i32.const 0) (i32.const 1))
            (i32.const 9))
        (func (export "host") (param i32) (result i32)
            (drop (call $h (local.get 0)))
            (i32.store (i32.const 0) (i32.const 1))
            (i32.const 9))
        (func (export "host_indirect") (param i32) (result i32)
            (drop (call_indirect (type $t) (local.get 0) (i32.const 1)))
            (i32.store (i32.const 0) (i32.const 1))
            (i32.const 9))
        (func (export "peek") (result i32) (i32.load (i32.const 0)))
    (func (export "widening") (param i32) (result i32)
        (i32.add (i32.load8_u (local.get 0)) (i32.load offset=4 (local.get 0))))
    (func (export "narrowing") (param i32) (result i32)
        (i32.add (i32.load offset=4 (local.get 0)) (i32.load8_u offset=7 (local.get 0))))
    (func (export "after_branch") (param i32 i32) (result i32)
        (if (local.get 1) (then (drop (i32.load (local.get 0)))))
        (i32.load offset=2 (local.get 0))))"#;
    for opt in OPTS {
        let h: HostFn = Box::new(|args: &[u64]| if args[0] == 0 { Some(vec![4]) } else { None });
        let mut inst = Instance::new(wat, opt, vec![("h", h)]);
        assert_eq!(inst.call("direct", &[1]), Err(TrapCode::Unreachable));
        assert_eq!(inst.call("host", &[1]), Err(TrapCode::Host));
        assert_eq!(inst.call("host_indirect", &[1]), Err(TrapCode::Host));
        assert_eq!(inst.call("peek", &[]), Ok(vec![0]));
        assert_eq!(inst.call("direct", &[0]), Ok(vec![9]));
        assert_eq!(inst.call("host_indirect", &[0]), Ok(vec![9]));
        assert_eq!(inst.call("peek", &[]), Ok(vec![1]));
    }
}
