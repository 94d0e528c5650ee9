//! Modules at each `Limits::contract()` boundary compile, run correctly, and
//! compile in time linear in their size (printed, not asserted).

#[path = "limit_modules.rs"]
mod gen_modules;

use std::time::Instant;

use gen_modules::Nest;

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
        let bytes = gen_modules::nested(kind, 5_000);
        timed(&format!("5000 nested {kind:?}"), &bytes);
        assert_eq!(run(bytes, 1), expected, "{kind:?}");
    }
}

#[test]
fn many_locals() {
    let bytes = gen_modules::many_locals(4_096);
    timed("4096 locals", &bytes);
    assert_eq!(run(bytes, 1), 4096 + 4096 * 4095 / 2);
}

#[test]
fn big_function() {
    let (bytes, expected) = gen_modules::big_function(256 << 10);
    timed("256 KiB function", &bytes);
    assert_eq!(run(bytes, 0), expected as u64);
}

#[test]
fn many_functions() {
    let bytes = gen_modules::many_functions(10_000);
    timed("10000 functions", &bytes);
    assert_eq!(run(bytes, 300), 300);
}

#[test]
fn wide_br_table() {
    for with_value in [false, true] {
        let bytes = gen_modules::wide_br_table(65_536, with_value);
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
