//! NaN results are canonical after arithmetic on every CPU, and operations
//! that only move bits keep NaN payloads exactly (public API, both
//! optimisation levels).

mod common;

use common::Both;
use detvm_vm::Value;

const CANON32: u32 = 0x7fc0_0000;
const CANON64: u64 = 0x7ff8_0000_0000_0000;
const NANS32: [u32; 5] = [
    0x7fc0_0000,
    0xffc0_0000,
    0x7fa0_0001,
    0xff80_0001,
    0x7fff_ffff,
];
const NANS64: [u64; 5] = [
    0x7ff8_0000_0000_0000,
    0xfff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
    0xfff0_0000_0000_0001,
    0x7fff_ffff_ffff_ffff,
];

fn f32_bits(v: &[Value]) -> Vec<u32> {
    v.iter()
        .map(|v| match v {
            Value::F32(b) => *b,
            other => panic!("not f32: {other:?}"),
        })
        .collect()
}

fn f64_bits(v: &[Value]) -> Vec<u64> {
    v.iter()
        .map(|v| match v {
            Value::F64(b) => *b,
            other => panic!("not f64: {other:?}"),
        })
        .collect()
}

/// Every canonicalising operator, one export each, for `ty`.
fn arithmetic_module(ty: &str) -> String {
    let mut funcs = String::new();
    for op in ["add", "sub", "mul", "div", "min", "max"] {
        funcs += &format!(
            r#"(func (export "{op}") (param {ty} {ty}) (result {ty}) ({ty}.{op} (local.get 0) (local.get 1)))"#
        );
    }
    for op in ["sqrt", "ceil", "floor", "trunc", "nearest"] {
        funcs += &format!(
            r#"(func (export "{op}") (param {ty}) (result {ty}) ({ty}.{op} (local.get 0)))"#
        );
    }
    funcs +=
        r#"(func (export "promote") (param f32) (result f64) (f64.promote_f32 (local.get 0)))"#;
    funcs += r#"(func (export "demote") (param f64) (result f32) (f32.demote_f64 (local.get 0)))"#;
    format!("(module {funcs})")
}

#[test]
fn f32_arithmetic_yields_the_canonical_nan() {
    let mut m = Both::new(&arithmetic_module("f32"));
    for n in NANS32 {
        for other in [1.0f32.to_bits(), n, f32::NEG_INFINITY.to_bits()] {
            for op in ["add", "sub", "mul", "div", "min", "max"] {
                for args in [[n, other], [other, n]] {
                    let r = m.call(op, &[Value::F32(args[0]), Value::F32(args[1])]);
                    assert_eq!(f32_bits(&r.expect("runs")), [CANON32], "f32.{op}{args:x?}");
                }
            }
        }
        for op in ["sqrt", "ceil", "floor", "trunc", "nearest"] {
            let r = m.call(op, &[Value::F32(n)]).expect("runs");
            assert_eq!(f32_bits(&r), [CANON32], "f32.{op}({n:#x})");
        }
        let r = m.call("promote", &[Value::F32(n)]).expect("runs");
        assert_eq!(f64_bits(&r), [CANON64], "promote({n:#x})");
    }
    // NaNs created from non-NaN operands.
    let (zero, inf) = (0.0f32.to_bits(), f32::INFINITY.to_bits());
    let neg_inf = f32::NEG_INFINITY.to_bits();
    for (op, a, b) in [
        ("div", zero, zero),
        ("sub", inf, inf),
        ("mul", zero, neg_inf),
        ("add", neg_inf, inf),
    ] {
        let r = m.call(op, &[Value::F32(a), Value::F32(b)]).expect("runs");
        assert_eq!(f32_bits(&r), [CANON32], "f32.{op}");
    }
    let r = m
        .call("sqrt", &[Value::F32((-1.0f32).to_bits())])
        .expect("runs");
    assert_eq!(f32_bits(&r), [CANON32]);
}

#[test]
fn f64_arithmetic_yields_the_canonical_nan() {
    let mut m = Both::new(&arithmetic_module("f64"));
    for n in NANS64 {
        for other in [1.0f64.to_bits(), n, f64::NEG_INFINITY.to_bits()] {
            for op in ["add", "sub", "mul", "div", "min", "max"] {
                for args in [[n, other], [other, n]] {
                    let r = m.call(op, &[Value::F64(args[0]), Value::F64(args[1])]);
                    assert_eq!(f64_bits(&r.expect("runs")), [CANON64], "f64.{op}{args:x?}");
                }
            }
        }
        for op in ["sqrt", "ceil", "floor", "trunc", "nearest"] {
            let r = m.call(op, &[Value::F64(n)]).expect("runs");
            assert_eq!(f64_bits(&r), [CANON64], "f64.{op}({n:#x})");
        }
        let r = m.call("demote", &[Value::F64(n)]).expect("runs");
        assert_eq!(f32_bits(&r), [CANON32], "demote({n:#x})");
    }
    let (zero, inf) = (0.0f64.to_bits(), f64::INFINITY.to_bits());
    for (op, a, b) in [("div", zero, zero), ("sub", inf, inf), ("mul", zero, inf)] {
        let r = m.call(op, &[Value::F64(a), Value::F64(b)]).expect("runs");
        assert_eq!(f64_bits(&r), [CANON64], "f64.{op}");
    }
    let r = m
        .call("sqrt", &[Value::F64((-1.0f64).to_bits())])
        .expect("runs");
    assert_eq!(f64_bits(&r), [CANON64]);
}

#[test]
fn min_max_follow_wasm_on_zeros() {
    let mut m = Both::new(&arithmetic_module("f64"));
    let (p, n) = (0.0f64.to_bits(), (-0.0f64).to_bits());
    for args in [[p, n], [n, p]] {
        let a = [Value::F64(args[0]), Value::F64(args[1])];
        assert_eq!(f64_bits(&m.call("min", &a).expect("runs")), [n]);
        assert_eq!(f64_bits(&m.call("max", &a).expect("runs")), [p]);
    }
    let mut m = Both::new(&arithmetic_module("f32"));
    let (p, n) = (0.0f32.to_bits(), (-0.0f32).to_bits());
    for args in [[p, n], [n, p]] {
        let a = [Value::F32(args[0]), Value::F32(args[1])];
        assert_eq!(f32_bits(&m.call("min", &a).expect("runs")), [n]);
        assert_eq!(f32_bits(&m.call("max", &a).expect("runs")), [p]);
    }
}

#[test]
fn nearest_rounds_half_to_even() {
    let mut m = Both::new(&arithmetic_module("f64"));
    for (x, r) in [
        (0.5, 0.0),
        (1.5, 2.0),
        (2.5, 2.0),
        (-2.5, -2.0),
        (-0.5, -0.0),
        (4503599627370497.0, 4503599627370497.0),
    ] {
        let out = m
            .call("nearest", &[Value::F64(f64::to_bits(x))])
            .expect("runs");
        assert_eq!(f64_bits(&out), [f64::to_bits(r)], "nearest({x})");
    }
    let mut m = Both::new(&arithmetic_module("f32"));
    for (x, r) in [
        (0.5f32, 0.0f32),
        (1.5, 2.0),
        (2.5, 2.0),
        (-3.5, -4.0),
        (8388609.0, 8388609.0),
    ] {
        let out = m.call("nearest", &[Value::F32(x.to_bits())]).expect("runs");
        assert_eq!(f32_bits(&out), [r.to_bits()], "nearest({x})");
    }
}

#[test]
fn bit_moving_operations_keep_payloads() {
    let mut m = Both::new(
        r#"(module
        (memory 1)
        (global $g32 (mut f32) (f32.const 0))
        (global $g64 (mut f64) (f64.const 0))
        (func (export "f32") (param f32 f32 i32)
            (result f32 f32 f32 f32 i32 f32 f32)
            (local f32)
            (local.set 3 (local.get 0))
            (f32.store offset=1 (i32.const 8) (local.get 0))
            (global.set $g32 (local.get 0))
            (f32.neg (local.get 0))
            (f32.abs (local.get 0))
            (f32.copysign (local.get 0) (local.get 1))
            (f32.reinterpret_i32 (i32.reinterpret_f32 (local.get 0)))
            (i32.reinterpret_f32 (local.get 0))
            (select (local.get 0) (local.get 1) (local.get 2))
            (local.get 3))
        (func (export "f32b") (result f32 f32 f32)
            (f32.load offset=1 (i32.const 8))
            (global.get $g32)
            (f32.const -nan:0x7fffff))
        (func (export "f64") (param f64 f64 i32) (result f64 f64 f64 f64 i64 f64)
            (f64.store offset=3 (i32.const 0) (local.get 0))
            (global.set $g64 (local.get 0))
            (f64.neg (local.get 0))
            (f64.abs (local.get 0))
            (f64.copysign (local.get 0) (local.get 1))
            (f64.reinterpret_i64 (i64.reinterpret_f64 (local.get 0)))
            (i64.reinterpret_f64 (local.get 0))
            (select (result f64) (local.get 0) (local.get 1) (local.get 2)))
        (func (export "f64b") (result f64 f64 f64)
            (f64.load offset=3 (i32.const 0))
            (global.get $g64)
            (f64.const nan:0x4000000000001)))"#,
    );
    for n in NANS32 {
        let r = m
            .call(
                "f32",
                &[
                    Value::F32(n),
                    Value::F32((-1.0f32).to_bits()),
                    Value::I32(1),
                ],
            )
            .expect("runs");
        assert_eq!(r[4], Value::I32(n as i32));
        let mut floats = r.clone();
        floats.remove(4);
        floats.extend(m.call("f32b", &[]).expect("runs"));
        assert_eq!(
            f32_bits(&floats),
            [
                n ^ 0x8000_0000,
                n & 0x7fff_ffff,
                n | 0x8000_0000,
                n,
                n,
                n,
                n,
                n,
                0xffff_ffff
            ],
            "{n:#x}"
        );
    }
    for n in NANS64 {
        let r = m
            .call(
                "f64",
                &[Value::F64(n), Value::F64(1.0f64.to_bits()), Value::I32(1)],
            )
            .expect("runs");
        assert_eq!(r[4], Value::I64(n as i64));
        let mut floats = r.clone();
        floats.remove(4);
        floats.extend(m.call("f64b", &[]).expect("runs"));
        assert_eq!(
            f64_bits(&floats),
            [
                n ^ (1 << 63),
                n & !(1 << 63),
                n & !(1 << 63),
                n,
                n,
                n,
                n,
                0x7ff4_0000_0000_0001
            ],
            "{n:#x}"
        );
    }
}
