//! Semantics of operators, control flow, calls, memory and tables.

use super::harness::{HostFn, Instance, OPTS, run};
use crate::vmctx::TrapCode;

fn i32s(v: &[i32]) -> Vec<u64> {
    v.iter().map(|&x| u64::from(x as u32)).collect()
}

fn i64s(v: &[i64]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

#[test]
fn add_and_locals() {
    let wat = r#"(module
        (func (export "f") (param i32 i32) (result i32)
            (local i32)
            (local.set 2 (i32.add (local.get 0) (local.get 1)))
            (local.get 2)))"#;
    assert_eq!(run(wat, "f", &i32s(&[2, 40])), Ok(i32s(&[42])));
    assert_eq!(run(wat, "f", &i32s(&[-1, 1])), Ok(i32s(&[0])));
}

#[test]
fn locals_start_at_zero() {
    let wat = r#"(module
        (func (export "f") (result i32 i64 f32 f64 externref funcref)
            (local i32 i64 f32 f64 externref funcref)
            local.get 0 local.get 1 local.get 2 local.get 3 local.get 4 local.get 5))"#;
    assert_eq!(run(wat, "f", &[]), Ok(vec![0; 6]));
}

#[test]
fn integer_arithmetic() {
    let wat = r#"(module
        (func (export "i32") (param i32 i32) (result i32 i32 i32 i32 i32 i32 i32 i32)
            (i32.sub (local.get 0) (local.get 1))
            (i32.mul (local.get 0) (local.get 1))
            (i32.shl (local.get 0) (local.get 1))
            (i32.shr_s (local.get 0) (local.get 1))
            (i32.shr_u (local.get 0) (local.get 1))
            (i32.rotl (local.get 0) (local.get 1))
            (i32.rotr (local.get 0) (local.get 1))
            (i32.xor (local.get 0) (local.get 1)))
        (func (export "bits") (param i32 i64) (result i32 i32 i32 i64 i64 i64)
            (i32.clz (local.get 0)) (i32.ctz (local.get 0)) (i32.popcnt (local.get 0))
            (i64.clz (local.get 1)) (i64.ctz (local.get 1)) (i64.popcnt (local.get 1)))
        (func (export "div") (param i32 i32) (result i32 i32 i32 i32)
            (i32.div_s (local.get 0) (local.get 1))
            (i32.div_u (local.get 0) (local.get 1))
            (i32.rem_s (local.get 0) (local.get 1))
            (i32.rem_u (local.get 0) (local.get 1)))
        (func (export "div64") (param i64 i64) (result i64 i64 i64 i64)
            (i64.div_s (local.get 0) (local.get 1))
            (i64.div_u (local.get 0) (local.get 1))
            (i64.rem_s (local.get 0) (local.get 1))
            (i64.rem_u (local.get 0) (local.get 1)))
        (func (export "rem") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
        (func (export "rem64") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1)))
        (func (export "remc") (param i32) (result i32) (i32.rem_s (local.get 0) (i32.const -1)))
        (func (export "divc") (param i32) (result i32 i32 i32)
            (i32.div_s (local.get 0) (i32.const -1))
            (i32.rem_s (local.get 0) (i32.const -1))
            (i32.div_u (local.get 0) (i32.const 10))))"#;
    let x: i32 = -123456789;
    let s: i32 = 35; // shift counts are masked
    assert_eq!(
        run(wat, "i32", &i32s(&[x, s])),
        Ok(i32s(&[
            x.wrapping_sub(s),
            x.wrapping_mul(s),
            x << 3,
            x >> 3,
            ((x as u32) >> 3) as i32,
            x.rotate_left(3),
            x.rotate_right(3),
            x ^ s,
        ]))
    );
    assert_eq!(run(wat, "bits", &[0, 0]), Ok(vec![32, 32, 0, 64, 64, 0]));
    assert_eq!(
        run(wat, "bits", &[0x00f0_0000, 0x0000_0100_0000_0003]),
        Ok(vec![8, 20, 4, 23, 0, 3])
    );
    assert_eq!(
        run(wat, "div", &i32s(&[-7, 2])),
        Ok(i32s(&[
            -3,
            ((-7i32 as u32) / 2) as i32,
            -1,
            ((-7i32 as u32) % 2) as i32
        ]))
    );
    assert_eq!(run(wat, "rem", &i32s(&[i32::MIN, -1])), Ok(vec![0]));
    assert_eq!(run(wat, "rem64", &i64s(&[i64::MIN, -1])), Ok(vec![0]));
    assert_eq!(run(wat, "rem", &i32s(&[-7, -1])), Ok(vec![0]));
    assert_eq!(
        run(wat, "div64", &i64s(&[-7, 2])),
        Ok(i64s(&[
            -3,
            ((-7i64 as u64) / 2) as i64,
            -1,
            ((-7i64 as u64) % 2) as i64
        ]))
    );
    assert_eq!(run(wat, "divc", &i32s(&[7])), Ok(i32s(&[-7, 0, 0])));
    assert_eq!(run(wat, "remc", &i32s(&[i32::MIN])), Ok(vec![0]));
}

#[test]
fn comparisons_and_select() {
    let wat = r#"(module
        (func (export "cmp") (param i32 i32) (result i32 i32 i32 i32 i32)
            (i32.lt_s (local.get 0) (local.get 1))
            (i32.lt_u (local.get 0) (local.get 1))
            (i32.ge_s (local.get 0) (local.get 1))
            (i32.eqz (local.get 0))
            (i32.ne (local.get 0) (local.get 1)))
        (func (export "cmp64") (param i64 i64) (result i32 i32 i32)
            (i64.gt_s (local.get 0) (local.get 1))
            (i64.le_u (local.get 0) (local.get 1))
            (i64.eqz (local.get 0)))
        (func (export "sel") (param i64 i64 i32) (result i64)
            (select (local.get 0) (local.get 1) (local.get 2)))
        (func (export "tsel") (param f64 f64 i32) (result f64)
            (select (result f64) (local.get 0) (local.get 1) (local.get 2))))"#;
    assert_eq!(run(wat, "cmp", &i32s(&[-1, 1])), Ok(vec![1, 0, 0, 0, 1]));
    assert_eq!(run(wat, "cmp64", &i64s(&[-1, 1])), Ok(vec![0, 0, 0]));
    assert_eq!(run(wat, "sel", &[5, 6, 0]), Ok(vec![6]));
    assert_eq!(run(wat, "sel", &[5, 6, 0x8000_0000]), Ok(vec![5]));
    assert_eq!(run(wat, "tsel", &[1, 2, 1]), Ok(vec![1]));
}

#[test]
fn conversions_and_sign_extension() {
    let wat = r#"(module
        (func (export "ext") (param i32 i64) (result i32 i32 i64 i64 i64 i64 i64 i32)
            (i32.extend8_s (local.get 0)) (i32.extend16_s (local.get 0))
            (i64.extend8_s (local.get 1)) (i64.extend16_s (local.get 1))
            (i64.extend32_s (local.get 1))
            (i64.extend_i32_s (local.get 0)) (i64.extend_i32_u (local.get 0))
            (i32.wrap_i64 (local.get 1)))
        (func (export "cvt") (param i32 i64) (result f32 f32 f64 f64 f32 f64)
            (f32.convert_i32_s (local.get 0)) (f32.convert_i32_u (local.get 0))
            (f64.convert_i64_s (local.get 1)) (f64.convert_i64_u (local.get 1))
            (f32.convert_i64_u (local.get 1)) (f64.convert_i32_u (local.get 0)))
        (func (export "sat") (param f32 f64) (result i32 i32 i64 i64 i32 i64)
            (i32.trunc_sat_f32_s (local.get 0)) (i32.trunc_sat_f32_u (local.get 0))
            (i64.trunc_sat_f64_s (local.get 1)) (i64.trunc_sat_f64_u (local.get 1))
            (i32.trunc_sat_f64_s (local.get 1)) (i64.trunc_sat_f32_u (local.get 0))))"#;
    assert_eq!(
        run(wat, "ext", &[0x1234_8080, 0x8000_0000_8000_8080]),
        Ok(vec![
            0xffff_ff80,
            0xffff_8080,
            (-128i64) as u64,
            0xffff_ffff_ffff_8080,
            0xffff_ffff_8000_8080,
            0x1234_8080,
            0x1234_8080,
            0x8000_8080,
        ])
    );
    let r = run(wat, "cvt", &[u64::from(u32::MAX), u64::MAX]).expect("runs");
    assert_eq!(r[0], u64::from((-1.0f32).to_bits()));
    assert_eq!(r[1], u64::from(4294967296.0f32.to_bits()));
    assert_eq!(r[2], (-1.0f64).to_bits());
    assert_eq!(r[3], 18446744073709551616.0f64.to_bits());
    assert_eq!(r[4], u64::from(18446744073709551616.0f32.to_bits()));
    assert_eq!(r[5], 4294967295.0f64.to_bits());
    // u64 -> f32 must round to nearest even, not twice.
    let tricky: u64 = 0x0020_0000_2000_0001;
    let r = run(wat, "cvt", &[0, tricky]).expect("runs");
    assert_eq!(r[4], u64::from((tricky as f32).to_bits()));
    let nan32 = u64::from(f32::NAN.to_bits());
    let nan64 = f64::NAN.to_bits();
    assert_eq!(run(wat, "sat", &[nan32, nan64]), Ok(vec![0; 6]));
    assert_eq!(
        run(
            wat,
            "sat",
            &[u64::from((-1e30f32).to_bits()), (1e300f64).to_bits()]
        ),
        Ok(vec![
            0x8000_0000,
            0,
            i64::MAX as u64,
            u64::MAX,
            0x7fff_ffff,
            0
        ])
    );
}

#[test]
fn float_rounding_and_minmax() {
    let wat = r#"(module
        (func (export "f64") (param f64) (result f64 f64 f64 f64 f64)
            (f64.nearest (local.get 0)) (f64.ceil (local.get 0))
            (f64.floor (local.get 0)) (f64.trunc (local.get 0)) (f64.sqrt (local.get 0)))
        (func (export "f32") (param f32) (result f32 f32)
            (f32.nearest (local.get 0)) (f32.trunc (local.get 0)))
        (func (export "min") (param f64 f64) (result f64 f64)
            (f64.min (local.get 0) (local.get 1)) (f64.max (local.get 0) (local.get 1)))
        (func (export "min32") (param f32 f32) (result f32 f32)
            (f32.min (local.get 0) (local.get 1)) (f32.max (local.get 0) (local.get 1))))"#;
    let f = |x: f64| x.to_bits();
    for (x, nearest) in [
        (2.5, 2.0),
        (3.5, 4.0),
        (-2.5, -2.0),
        (0.5, 0.0),
        (-0.5, -0.0),
    ] {
        let r = run(wat, "f64", &[f(x)]).expect("runs");
        assert_eq!(r[0], f(nearest), "nearest({x})");
    }
    let r = run(wat, "f64", &[f(-1.5)]).expect("runs");
    assert_eq!(r[1..4], [f(-1.0), f(-2.0), f(-1.0)]);
    let r = run(wat, "f32", &[u64::from(2.5f32.to_bits())]).expect("runs");
    assert_eq!(
        r,
        vec![u64::from(2.0f32.to_bits()), u64::from(2.0f32.to_bits())]
    );
    let r = run(wat, "f32", &[u64::from((-0.4f32).to_bits())]).expect("runs");
    assert_eq!(r[0], u64::from((-0.0f32).to_bits()));
    // -0 < +0 in both argument orders.
    assert_eq!(
        run(wat, "min", &[f(0.0), f(-0.0)]),
        Ok(vec![f(-0.0), f(0.0)])
    );
    assert_eq!(
        run(wat, "min", &[f(-0.0), f(0.0)]),
        Ok(vec![f(-0.0), f(0.0)])
    );
    assert_eq!(
        run(wat, "min", &[f(1.0), f(-3.0)]),
        Ok(vec![f(-3.0), f(1.0)])
    );
    let z = |x: f32| u64::from(x.to_bits());
    assert_eq!(
        run(wat, "min32", &[z(0.0), z(-0.0)]),
        Ok(vec![z(-0.0), z(0.0)])
    );
    assert_eq!(
        run(wat, "min32", &[z(-0.0), z(0.0)]),
        Ok(vec![z(-0.0), z(0.0)])
    );
}

#[test]
fn blocks_loops_and_branches() {
    let wat = r#"(module
        (func (export "sum") (param i32) (result i32)
            (local i32)
            (block $done
                (loop $top
                    (br_if $done (i32.eqz (local.get 0)))
                    (local.set 1 (i32.add (local.get 1) (local.get 0)))
                    (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                    (br $top)))
            (local.get 1))
        (func (export "ifelse") (param i32) (result i32)
            (if (result i32) (local.get 0) (then (i32.const 10)) (else (i32.const 20))))
        (func (export "ifnoelse") (param i32) (result i32)
            (local i32)
            (local.set 1 (i32.const 5))
            (if (local.get 0) (then (local.set 1 (i32.const 6))))
            (local.get 1))
        (func (export "table") (param i32) (result i32)
            (block $c (block $b (block $a
                (br_table $a $b $c (local.get 0)))
                (return (i32.const 100)))
                (return (i32.const 101)))
            (i32.const 102))
        (func (export "table_args") (param i32) (result i32)
            (block $c (result i32) (block $b (result i32) (block $a (result i32)
                (br_table $a $b $c $b (i32.const 7) (local.get 0)))
                (return (i32.add (i32.const 100))))
                (return (i32.add (i32.const 200))))
            (i32.add (i32.const 300)))
        (func (export "multi") (param i32) (result i32 i32)
            (local.get 0)
            (block (param i32) (result i32 i32)
                (i32.const 2)
                (br_if 0 (local.get 0))
                (drop) (drop) (i32.const 7) (i32.const 8)))
        (func (export "loop_params") (param i32) (result i32)
            ;; counts down with the counter as a loop parameter
            (i32.const 0) (local.get 0)
            (loop $l (param i32 i32) (result i32)
                (local.set 0)
                (if (param i32) (result i32) (i32.eqz (local.get 0))
                    (then)
                    (else
                        (i32.add (local.get 0))
                        (i32.sub (local.get 0) (i32.const 1))
                        (br $l)))))
        (func (export "dead") (param i32) (result i32)
            (block (result i32)
                (br 0 (local.get 0))
                (i32.add) (unreachable) (block (loop (if (i32.const 0) (then) (else)))) (br 1))
            (return)
            (i32.const 9) (i64.const 1) (drop)))"#;
    assert_eq!(run(wat, "sum", &[100]), Ok(vec![5050]));
    assert_eq!(run(wat, "ifelse", &[1]), Ok(vec![10]));
    assert_eq!(run(wat, "ifelse", &[0]), Ok(vec![20]));
    assert_eq!(run(wat, "ifnoelse", &[0]), Ok(vec![5]));
    assert_eq!(run(wat, "ifnoelse", &[3]), Ok(vec![6]));
    for (i, r) in [
        (0, 100),
        (1, 101),
        (2, 102),
        (3, 102),
        (u64::from(u32::MAX), 102),
    ] {
        assert_eq!(run(wat, "table", &[i]), Ok(vec![r]), "br_table {i}");
    }
    for (i, r) in [(0, 107), (1, 207), (2, 307), (3, 207), (9, 207)] {
        assert_eq!(
            run(wat, "table_args", &[i]),
            Ok(vec![r]),
            "br_table args {i}"
        );
    }
    assert_eq!(run(wat, "multi", &[1]), Ok(vec![1, 2]));
    assert_eq!(run(wat, "multi", &[0]), Ok(vec![7, 8]));
    assert_eq!(run(wat, "dead", &[4]), Ok(vec![4]));
    assert_eq!(run(wat, "loop_params", &[100]), Ok(vec![5050]));
}

#[test]
fn calls_direct_indirect_and_many_results() {
    let wat = r#"(module
        (type $bin (func (param i32 i32) (result i32)))
        (table 4 funcref)
        (elem (i32.const 0) $add $sub)
        (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
        (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
        (func $fib (param i32) (result i32)
            (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                (then (local.get 0))
                (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                               (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
        (func (export "fib") (param i32) (result i32) (call $fib (local.get 0)))
        (func (export "ind") (param i32 i32 i32) (result i32)
            (call_indirect (type $bin) (local.get 0) (local.get 1) (local.get 2)))
        (func $many (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
            (local.get 0) (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)
            (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9))
        (func (export "many") (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
            (call $many (local.get 0)))
        (func (export "sum_many") (param i64) (result i64)
            (call $many (local.get 0))
            i64.add i64.add i64.add i64.add i64.add i64.add i64.add i64.add i64.add))"#;
    assert_eq!(run(wat, "fib", &[20]), Ok(vec![6765]));
    assert_eq!(run(wat, "ind", &[7, 5, 0]), Ok(vec![12]));
    assert_eq!(run(wat, "ind", &[7, 5, 1]), Ok(vec![2]));
    assert_eq!(
        run(wat, "many", &[77]),
        Ok(vec![77, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
    assert_eq!(run(wat, "sum_many", &[100]), Ok(vec![145]));
}

#[test]
fn host_functions_through_stubs() {
    let wat = r#"(module
        (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64 i32)))
        (import "env" "fail" (func $fail))
        (table 1 funcref)
        (elem (i32.const 0) $mix)
        (type $t (func (param i32 i64 f32 f64) (result f64 i32)))
        (func (export "direct") (result f64 i32)
            (call $mix (i32.const -1) (i64.const 5) (f32.const 1.5) (f64.const 2.25)))
        (func (export "indirect") (result f64 i32)
            (call_indirect (type $t) (i32.const 3) (i64.const 4) (f32.const 0.5) (f64.const 0.25)
                (i32.const 0)))
        (func (export "fail") (result i32)
            (call $fail) (i32.const 1)))"#;
    for opt in OPTS {
        let mix: HostFn = Box::new(|args: &[u64]| {
            // Slots are zero-extended: an i32 -1 arrives as 0xffff_ffff.
            assert_eq!(args[0] >> 32, 0);
            let a = f64::from(args[0] as u32 as i32);
            let b = args[1] as i64 as f64;
            let c = f64::from(f32::from_bits(args[2] as u32));
            let d = f64::from_bits(args[3]);
            Some(vec![(a + b + c + d).to_bits(), u64::from(u32::MAX)])
        });
        let fail: HostFn = Box::new(|_| None);
        let mut inst = Instance::new(wat, opt, vec![("mix", mix), ("fail", fail)]);
        assert_eq!(
            inst.call("direct", &[]),
            Ok(vec![7.75f64.to_bits(), u64::from(u32::MAX)])
        );
        assert_eq!(
            inst.call("indirect", &[]),
            Ok(vec![7.75f64.to_bits(), u64::from(u32::MAX)])
        );
        assert_eq!(inst.call("fail", &[]), Err(TrapCode::Host));
        // The trap was reset; the instance still works.
        assert_eq!(
            inst.call("direct", &[]),
            Ok(vec![7.75f64.to_bits(), u64::from(u32::MAX)])
        );
    }
}

#[test]
fn memory_loads_stores_and_grow() {
    let wat = r#"(module
        (memory 1 4)
        (data (i32.const 16) "\01\02\03\04\05\06\07\08\ff\fe")
        (func (export "loads") (result i64 i32 i32 i64 i64 i32)
            (i64.load (i32.const 16))
            (i32.load8_s (i32.const 24))
            (i32.load16_u offset=8 (i32.const 16))
            (i64.load32_s (i32.const 22))
            (i64.load16_s (i32.const 24))
            (i32.load offset=1 (i32.const 16)))
        (func (export "stores") (param i32 i64)
            (i64.store offset=100 (local.get 0) (local.get 1))
            (i32.store8 (local.get 0) (i32.const 0x1ff))
            (i64.store16 offset=2 (local.get 0) (i64.const -1))
            (i64.store32 offset=4 (local.get 0) (i64.const 0x1122334455667788)))
        (func (export "grow") (param i32) (result i32 i32)
            (i32.store (i32.const 0) (i32.const 0x12345678))
            (memory.grow (local.get 0))
            ;; the base moved: later accesses must see the new memory
            (i32.store (i32.const 65536) (i32.const 99))
            (i32.add (i32.load (i32.const 0)) (memory.size))
            )
        (func (export "last") (result i32)
            (drop (memory.grow (i32.const 1)))
            (i32.load (i32.const 131068)))
        (func (export "bulk") (result i64)
            (memory.fill (i32.const 1000) (i32.const 0xab) (i32.const 5))
            (memory.copy (i32.const 1002) (i32.const 16) (i32.const 4))
            (i64.load (i32.const 1000))))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        assert_eq!(
            inst.call("loads", &[]),
            Ok(vec![
                0x0807_0605_0403_0201,
                0xffff_ffff,
                0xfeff,
                0xffff_ffff_feff_0807,
                0xffff_ffff_ffff_feff,
                0x0504_0302,
            ])
        );
        inst.call("stores", &[200, 0x0102_0304_0506_0708])
            .expect("stores");
        let m = inst.memory();
        assert_eq!(&m[300..308], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&m[200..208], &[0xff, 0, 0xff, 0xff, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(inst.call("grow", &[1]), Ok(vec![1, 0x12345678 + 2]));
        assert_eq!(inst.memory()[65536], 99);
        assert_eq!(
            inst.call("grow", &[5]).map(|v| v[0]),
            Ok(u64::from(u32::MAX))
        );
        assert_eq!(inst.call("last", &[]), Ok(vec![0]));
        assert_eq!(
            inst.call("bulk", &[]),
            Ok(vec![u64::from_le_bytes([0xab, 0xab, 1, 2, 3, 4, 0, 0])])
        );
    }
}

#[test]
fn passive_segments() {
    let wat = r#"(module
        (memory 1)
        (data $d "hello")
        (table $t 4 funcref)
        (elem $e funcref (ref.func $f) (ref.null func))
        (func $f (result i32) (i32.const 5))
        (func (export "init") (result i64)
            (memory.init $d (i32.const 8) (i32.const 1) (i32.const 4))
            (data.drop $d)
            (i64.load (i32.const 8)))
        (func (export "again")
            (memory.init $d (i32.const 8) (i32.const 0) (i32.const 1)))
        (func (export "tinit") (result i32 i32)
            (table.init $t $e (i32.const 2) (i32.const 0) (i32.const 2))
            (elem.drop $e)
            (ref.is_null (table.get $t (i32.const 2)))
            (ref.is_null (table.get $t (i32.const 3)))))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        assert_eq!(
            inst.call("init", &[]),
            Ok(vec![u64::from_le_bytes(*b"ello\0\0\0\0")])
        );
        assert_eq!(inst.call("again", &[]), Err(TrapCode::MemoryOutOfBounds));
        assert_eq!(inst.call("tinit", &[]), Ok(vec![0, 1]));
    }
}

#[test]
fn tables_and_references() {
    let wat = r#"(module
        (type $v (func (result i32)))
        (table $a 2 funcref)
        (table $b 1 10 externref)
        (func $one (result i32) (i32.const 1))
        (elem declare func $one)
        (func (export "set_call") (result i32)
            (table.set $a (i32.const 1) (ref.func $one))
            (call_indirect $a (type $v) (i32.const 1)))
        (func (export "ext") (param externref) (result externref i32 i32)
            (table.set $b (i32.const 0) (local.get 0))
            (table.get $b (i32.const 0))
            (ref.is_null (local.get 0))
            (table.size $b))
        (func (export "grow") (param externref) (result i32 i32 i32 externref)
            (table.grow $b (local.get 0) (i32.const 3))
            (table.grow $b (ref.null extern) (i32.const 100))
            (table.size $b)
            (table.get $b (i32.const 3)))
        (func (export "fill_copy") (param externref) (result externref)
            (table.fill $b (i32.const 0) (local.get 0) (i32.const 1))
            (table.copy $b $b (i32.const 0) (i32.const 0) (i32.const 1))
            (table.get $b (i32.const 0)))
        (func (export "funcs") (result i32)
            (ref.is_null (ref.func $one))))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        assert_eq!(inst.call("set_call", &[]), Ok(vec![1]));
        assert_eq!(
            inst.call("ext", &[0xdead_beef_0000]),
            Ok(vec![0xdead_beef_0000, 0, 1])
        );
        assert_eq!(inst.call("ext", &[0]), Ok(vec![0, 1, 1]));
        assert_eq!(
            inst.call("grow", &[0x77]),
            Ok(vec![1, u64::from(u32::MAX), 4, 0x77])
        );
        assert_eq!(inst.call("fill_copy", &[0x55]), Ok(vec![0x55]));
        assert_eq!(inst.call("funcs", &[]), Ok(vec![0]));
    }
}

#[test]
fn globals() {
    let wat = r#"(module
        (global $g (mut i64) (i64.const -5))
        (global $f (mut f32) (f32.const 1.5))
        (global $c i32 (i32.const 42))
        (global $r (mut externref) (ref.null extern))
        (func (export "f") (param i64 externref) (result i64 f32 i32 externref)
            (global.set $g (i64.add (global.get $g) (local.get 0)))
            (global.set $r (local.get 1))
            (global.get $g) (global.get $f) (global.get $c) (global.get $r)))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        assert_eq!(
            inst.call("f", &[10, 0x1234]),
            Ok(vec![5, u64::from(1.5f32.to_bits()), 42, 0x1234])
        );
        assert_eq!(inst.call("f", &[10, 0]).map(|v| v[0]), Ok(15));
    }
}

#[test]
fn instrumentation_imports_are_inline() {
    let wat = r#"(module
        (import "detvm" "out_of_gas" (func $oog))
        (import "detvm" "stack_overflow" (func $so))
        (import "detvm" "gas_left" (global $gas (mut i64)))
        (import "detvm" "stack_left" (global $stack (mut i64)))
        (func (export "charge") (param i64) (result i64)
            (if (i64.lt_u (global.get $gas) (local.get 0)) (then (call $oog)))
            (global.set $gas (i64.sub (global.get $gas) (local.get 0)))
            (global.set $stack (i64.sub (global.get $stack) (i64.const 16)))
            (global.get $gas))
        (func (export "overflow") (result i32)
            (call $so) (i32.const 1)))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        inst.set_counters(100, 1000);
        assert_eq!(inst.call("charge", &[30]), Ok(vec![70]));
        assert_eq!(inst.counters(), (70, 984));
        assert_eq!(inst.call("charge", &[71]), Err(TrapCode::OutOfGas));
        assert_eq!(inst.counters(), (70, 984));
        assert_eq!(inst.call("overflow", &[]), Err(TrapCode::StackOverflow));
    }
}

#[test]
fn native_stack_safety_net() {
    let wat = r#"(module
        (func $down (param i64) (result i64)
            (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
        (func (export "f") (result i64) (call $down (i64.const 0))))"#;
    for opt in OPTS {
        let mut inst = Instance::new(wat, opt, Vec::new());
        assert_eq!(inst.call("f", &[]), Err(TrapCode::NativeStackExhausted));
    }
}
