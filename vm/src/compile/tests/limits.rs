//! Modules at each `Limits::contract()` boundary compile, run correctly, and
//! compile in time linear in their size (printed, not asserted).

use std::time::Instant;

use detvm_fixtures::limits::{self, Nest};

use super::harness::{Instance, compile, compile_unverified};
use crate::compile::OptLevel;

fn timed(what: &str, bytes: &[u8]) {
    for opt in [OptLevel::None, OptLevel::Speed] {
        let code = compile(bytes, opt);
        assert!(code.is_ok(), "{what}: {:?}", code.err());
        let start = Instant::now();
        let code = compile_unverified(bytes, opt);
        let elapsed = start.elapsed();
        assert!(code.is_ok(), "{what}: {:?}", code.err());
        println!("{what} ({} bytes) at {opt:?}: {elapsed:?}", bytes.len());
    }
}

fn run(bytes: Vec<u8>, arg: u64) -> u64 {
    let mut inst = Instance::from_bytes(bytes, OptLevel::Speed, Vec::new());
    inst.call("run", &[arg]).expect("runs")[0]
}

#[test]
fn nested_blocks_loops_and_ifs() {
    for (kind, expected) in [(Nest::Block, 2), (Nest::Loop, 3), (Nest::If, 2)] {
        let bytes = limits::nested(kind, 5_000);
        timed(&format!("5000 nested {kind:?}"), &bytes);
        assert_eq!(run(bytes, 1), expected, "{kind:?}");
    }
}

#[test]
fn many_locals() {
    let bytes = limits::many_locals(4_096);
    timed("4096 locals", &bytes);
    assert_eq!(run(bytes, 1), 4096 + 4096 * 4095 / 2);
}

#[test]
fn big_function() {
    let (bytes, expected) = limits::big_function(256 << 10);
    timed("256 KiB function", &bytes);
    assert_eq!(run(bytes, 0), expected as u64);
}

#[test]
fn many_functions() {
    let bytes = limits::many_functions(10_000);
    timed("10000 functions", &bytes);
    assert_eq!(run(bytes, 300), 300);
}

#[test]
fn wide_br_table() {
    for with_value in [false, true] {
        let bytes = limits::wide_br_table(65_536, with_value);
        timed(
            &format!("65536 br_table targets (value: {with_value})"),
            &bytes,
        );
        let plus = if with_value { 7 } else { 0 };
        for (k, label) in [
            (0u64, 0u64),
            (5, 1),
            (65_534, 2),
            (65_535, 3),
            (65_536, 3),
            (1 << 31, 3),
        ] {
            assert_eq!(run(bytes.clone(), k), 100 * (label + 1) + plus, "k = {k}");
        }
    }
}

#[test]
fn large_function_rule() {
    use crate::compile::is_large_function;
    assert!(!is_large_function(1_000, 64 << 10));
    assert!(is_large_function(1_001, 0));
    assert!(is_large_function(0, (64 << 10) + 1));
}

/// A function mixing a loop, memory, a call, locals and a trap, wrapped in
/// `blocks` nested blocks.
fn wrapped_kernel(blocks: usize) -> String {
    format!(
        r#"(module
          (memory 1)
          (func $mix (param i64 i64) (result i64)
            (i64.add (i64.mul (local.get 0) (i64.const 0x9E3779B97F4A7C15))
                     (i64.rotl (local.get 1) (i64.const 7))))
          (func (export "run") (param $n i64) (result i64) (local $i i64) (local $acc i64)
            {open}
            (if (i64.eq (local.get $n) (i64.const 0xdead)) (then unreachable))
            (local.set $acc (local.get $n))
            (loop $l
              (i64.store (i32.wrap_i64 (i64.and (i64.mul (local.get $i) (i64.const 8)) (i64.const 0xfff8)))
                         (local.get $acc))
              (local.set $acc
                (call $mix (local.get $acc)
                  (i64.load (i32.wrap_i64 (i64.and (i64.mul (local.get $i) (i64.const 24)) (i64.const 0xfff8))))))
              (local.set $acc (i64.xor (local.get $acc) (local.get $i)))
              (local.set $i (i64.add (local.get $i) (i64.const 1)))
              (br_if $l (i64.lt_u (local.get $i) (local.get $n))))
            (drop (i64.load (i32.wrap_i64 (local.get $n))))
            {close}
            (local.get $acc)))"#,
        open = "(block ".repeat(blocks),
        close = ")".repeat(blocks),
    )
}

#[test]
fn large_functions_compute_the_same() {
    use super::harness::Instance as Inst;
    let small = wrapped_kernel(10);
    let large = wrapped_kernel(1_001);
    for opt in [OptLevel::None, OptLevel::Speed] {
        let mut a = Inst::new(&small, opt, Vec::new());
        let mut b = Inst::new(&large, opt, Vec::new());
        for n in [0u64, 1, 7, 1_000, 20_000, 0xdead, 70_000] {
            let result = b.call("run", &[n]);
            assert_eq!(a.call("run", &[n]), result, "n = {n} at {opt:?}");
            assert_eq!(result.is_err(), n >= 0xdead, "n = {n} at {opt:?}");
            assert!(
                a.memory() == b.memory(),
                "n = {n}: memory differs at {opt:?}"
            );
        }
    }
}
