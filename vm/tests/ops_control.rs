//! Control flow, multi-value, calls and memory through the public API at
//! both optimisation levels.

mod common;

use common::Both;
use detvm_vm::{HostError, ValType, Value};

fn i32s(v: &[i32]) -> Vec<Value> {
    v.iter().map(|&x| Value::I32(x)).collect()
}

const CONTROL: &str = r#"(module
    (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64 i32)))
    (type $bin (func (param i32 i32) (result i32)))
    (type $mixt (func (param i32 i64 f32 f64) (result f64 i32)))
    (memory 1 3)
    (table 4 funcref)
    (elem (i32.const 0) $add $sub $mix)
    (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
    (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
    (func (export "sum") (param i32) (result i32)
        (local i32)
        (block $done
            (loop $top
                (br_if $done (i32.eqz (local.get 0)))
                (local.set 1 (i32.add (local.get 1) (local.get 0)))
                (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                (br $top)))
        (local.get 1))
    (func (export "table") (param i32) (result i32)
        (block $c (result i32) (block $b (result i32) (block $a (result i32)
            (br_table $a $b $c $b (i32.const 7) (local.get 0)))
            (return (i32.add (i32.const 100))))
            (return (i32.add (i32.const 200))))
        (i32.add (i32.const 300)))
    (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
    (func (export "multi") (param i32 i32) (result i32 i32 i32)
        (local.get 0)
        (call $swap (local.get 0) (local.get 1))
        (block (param i32 i32) (result i32 i32)
            (br_if 0 (i32.eqz (local.get 0)))
            (call $swap)))
    (func (export "loop_params") (param i32) (result i32)
        (i32.const 0) (local.get 0)
        (loop $l (param i32 i32) (result i32)
            (local.set 0)
            (if (param i32) (result i32) (i32.eqz (local.get 0))
                (then)
                (else
                    (i32.add (local.get 0))
                    (i32.sub (local.get 0) (i32.const 1))
                    (br $l)))))
    (func (export "ind") (param i32 i32 i32) (result i32)
        (call_indirect (type $bin) (local.get 0) (local.get 1) (local.get 2)))
    (func (export "host") (param i32) (result f64 i32)
        (call $mix (local.get 0) (i64.const 5) (f32.const 1.5) (f64.const 2.25)))
    (func (export "host_ind") (param i32) (result f64 i32)
        (call_indirect (type $mixt) (local.get 0) (i64.const 5) (f32.const 1.5) (f64.const 2.25)
            (i32.const 2)))
    (func (export "grow") (param i32) (result i32 i32 i32)
        (i32.store (i32.const 65532) (i32.const 0x01020304))
        (memory.grow (local.get 0))
        (i32.store (i32.const 65536) (i32.const 9))
        (i32.load (i32.const 65532))
        (i32.add (memory.size) (i32.load (i32.const 65536)))))"#;

/// The control-flow module, with its `env.mix` host function.
fn control() -> Both {
    Both::with_linker(CONTROL, |linker| {
        linker.func(
            "env",
            "mix",
            &[ValType::I32, ValType::I64, ValType::F32, ValType::F64],
            &[ValType::F64, ValType::I32],
            |_, args| {
                let (Value::I32(a), Value::I64(b), Value::F32(c), Value::F64(d)) =
                    (args[0], args[1], args[2], args[3])
                else {
                    return Err(HostError::message("bad arguments"));
                };
                if a == 0 {
                    return Err(HostError::message("zero"));
                }
                let sum =
                    f64::from(a) + b as f64 + f64::from(f32::from_bits(c)) + f64::from_bits(d);
                Ok(vec![Value::F64(sum.to_bits()), Value::I32(-1)])
            },
        );
    })
}

#[test]
fn loops_branches_and_multi_value() {
    let mut m = control();
    assert_eq!(m.call("sum", &i32s(&[100])), Ok(i32s(&[5050])));
    for (k, r) in [(0, 107), (1, 207), (2, 307), (3, 207), (-1, 207)] {
        assert_eq!(m.call("table", &i32s(&[k])), Ok(i32s(&[r])), "br_table {k}");
    }
    assert_eq!(m.call("multi", &i32s(&[1, 2])), Ok(i32s(&[1, 1, 2])));
    assert_eq!(m.call("multi", &i32s(&[0, 2])), Ok(i32s(&[0, 2, 0])));
    assert_eq!(m.call("loop_params", &i32s(&[100])), Ok(i32s(&[5050])));
}

#[test]
fn direct_indirect_and_host_calls() {
    let mut m = control();
    assert_eq!(m.call("ind", &i32s(&[7, 5, 0])), Ok(i32s(&[12])));
    assert_eq!(m.call("ind", &i32s(&[7, 5, 1])), Ok(i32s(&[2])));
    let expected = Ok(vec![
        Value::F64((-1.0f64 + 5.0 + 1.5 + 2.25).to_bits()),
        Value::I32(-1),
    ]);
    assert_eq!(m.call("host", &i32s(&[-1])), expected);
    assert_eq!(m.call("host_ind", &i32s(&[-1])), expected);
    assert_eq!(m.call("host", &i32s(&[0])), Err("host"));
    assert_eq!(m.call("host_ind", &i32s(&[0])), Err("host"));
    assert_eq!(
        m.call("ind", &i32s(&[7, 5, 2])),
        Err("indirect_call_type_mismatch")
    );
}

#[test]
fn memory_grow_moves_are_seen() {
    let mut m = control();
    assert_eq!(
        m.call("grow", &i32s(&[1])),
        Ok(i32s(&[1, 0x01020304, 2 + 9]))
    );
    assert_eq!(
        m.call("grow", &i32s(&[5])),
        Ok(i32s(&[-1, 0x01020304, 2 + 9]))
    );
}

/// Globals as compiled code and the runtime both see them: initialised by
/// the runtime, read and written by compiled code, read and set again
/// through the API. The runtime keeps a global's cell little-endian; code
/// that accessed it in the host's byte order would read every value
/// byte-swapped on a big-endian host (s390x).
const GLOBALS: &str = r#"(module
    (global $a (export "a") (mut i32) (i32.const 0x01020304))
    (global $b (export "b") (mut i64) (i64.const 0x0102030405060708))
    (global $c (export "c") (mut f32) (f32.const 1.5))
    (global $d (export "d") (mut f64) (f64.const -2.25))
    (global $e i32 (i32.const -7))
    (func (export "get") (result i32 i64 f32 f64 i32)
        (global.get $a) (global.get $b) (global.get $c) (global.get $d) (global.get $e))
    (func (export "bump")
        (global.set $a (i32.add (global.get $a) (i32.const 1)))
        (global.set $b (i64.add (global.get $b) (i64.const 1)))
        (global.set $c (f32.add (global.get $c) (f32.const 1)))
        (global.set $d (f64.add (global.get $d) (f64.const 1)))))"#;

#[test]
fn globals_keep_their_values_between_runtime_and_code() {
    use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, Outcome, Store};
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let bytes = wat::parse_str(GLOBALS).expect("wat");
    let module = Module::new(&engine, &bytes).expect("compiles");
    let mut store = Store::new(&engine, ());
    let linker = Linker::new(&engine);
    let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
    let call = |store: &mut Store<()>, name: &str| match instance
        .call(store, name, &[], 1 << 40)
        .expect("call")
    {
        Outcome::Success { results, .. } => results,
        other => panic!("{name}: {other:?}"),
    };
    let initial = vec![
        Value::I32(0x01020304),
        Value::I64(0x0102030405060708),
        Value::F32(1.5f32.to_bits()),
        Value::F64((-2.25f64).to_bits()),
        Value::I32(-7),
    ];
    assert_eq!(call(&mut store, "get",), initial);
    call(&mut store, "bump");
    let got = |store: &Store<()>, name| instance.get_global(store, name).expect(name);
    assert_eq!(got(&store, "a"), Value::I32(0x01020305));
    assert_eq!(got(&store, "b"), Value::I64(0x0102030405060709));
    assert_eq!(got(&store, "c"), Value::F32(2.5f32.to_bits()));
    assert_eq!(got(&store, "d"), Value::F64((-1.25f64).to_bits()));
    for (name, value) in [
        ("a", Value::I32(-0x0a0b0c0d)),
        ("b", Value::I64(-0x0102030405060708)),
        ("c", Value::F32(0x7fc0_0001)),
        ("d", Value::F64(0x7ff8_0000_0000_0001)),
    ] {
        let global = instance.get_global_handle(&store, name).expect(name);
        global.set(&mut store, value).expect("set");
    }
    assert_eq!(
        call(&mut store, "get"),
        vec![
            Value::I32(-0x0a0b0c0d),
            Value::I64(-0x0102030405060708),
            Value::F32(0x7fc0_0001),
            Value::F64(0x7ff8_0000_0000_0001),
            Value::I32(-7),
        ]
    );
}

/// Bulk-memory and table builtins are Rust `extern "C"` functions taking
/// `u32`s. `i32.wrap_i64` leaves the discarded high bits in the register;
/// C ABIs that have the caller widen 32-bit arguments (s390x, riscv64)
/// must still see the wrapped value, not an operand out of bounds.
const WRAPPED_OPERANDS: &str = r#"(module
    (memory 1 2)
    (table 4 funcref)
    (data $seg "\01\02\03\04")
    (elem $els func $f $f)
    (func $f)
    (func (export "bulk") (param $hi i64) (result i32 i32 i32 i32)
        (memory.fill (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 16)))
                     (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0xab)))
                     (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 4))))
        (memory.copy (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 32)))
                     (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 16)))
                     (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 4))))
        (memory.init $seg (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 48)))
                          (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0)))
                          (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 4))))
        (table.init $els (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 1)))
                         (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0)))
                         (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 2))))
        (table.copy (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0)))
                    (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 1)))
                    (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 1))))
        (table.fill (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 3)))
                    (ref.func $f)
                    (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 1))))
        (i32.load (i32.const 16))
        (i32.load (i32.const 32))
        (i32.load (i32.const 48))
        (i32.add
            (memory.grow (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0))))
            (i32.mul (i32.const 16)
                (table.grow (ref.null func)
                    (i32.wrap_i64 (i64.or (local.get $hi) (i64.const 0)))))))
    (func (export "null_at") (param i32) (result i32)
        (ref.is_null (table.get (local.get 0)))))"#;

#[test]
fn builtins_see_wrapped_operands() {
    let mut m = Both::new(WRAPPED_OPERANDS);
    for hi in [0i64, 0x0000_0001_0000_0000, -0x1_0000_0000] {
        assert_eq!(
            m.call("bulk", &[Value::I64(hi)]),
            Ok(i32s(&[
                0xabab_abab_u32 as i32,
                0xabab_abab_u32 as i32,
                0x0403_0201,
                1 + 16 * 4
            ])),
            "high bits {hi:#x}"
        );
        for i in 0..4 {
            assert_eq!(m.call("null_at", &i32s(&[i])), Ok(i32s(&[0])), "elem {i}");
        }
    }
}
