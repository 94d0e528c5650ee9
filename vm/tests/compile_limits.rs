//! Modules at each `Limits::contract()` boundary pass the whole pipeline
//! (validation, instrumentation, compilation) and run correctly. Compile
//! times are printed for inspection, not asserted.

use std::time::Instant;

use detvm_fixtures::limits::{self, Nest};
use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, OptLevel, Outcome, Store, Value};

/// Compiles at both optimisation levels, printing the time, and returns
/// `run(arg)` at each.
fn check(what: &str, bytes: &[u8], arg: i32) -> Vec<i32> {
    let mut results = Vec::new();
    for opt in [OptLevel::None, OptLevel::Speed] {
        let mut config = EngineConfig::default();
        config.opt_level = opt;
        let engine = Engine::new(config).expect("engine");
        let start = Instant::now();
        let module = Module::new(&engine, bytes);
        let elapsed = start.elapsed();
        let module = module.unwrap_or_else(|e| panic!("{what}: {e}"));
        println!("{what}: {} bytes, {opt:?}: {elapsed:?}", bytes.len());
        let mut store = Store::new(&engine, ());
        let linker = Linker::new(&engine);
        let inst = Instance::new(&mut store, &module, &linker).expect("instantiates");
        match inst
            .call(&mut store, "run", &[Value::I32(arg)], 1 << 40)
            .expect("call")
        {
            Outcome::Success { results: r, .. } => match r[..] {
                [Value::I32(v)] => results.push(v),
                _ => panic!("{what}: unexpected results {r:?}"),
            },
            other => panic!("{what}: {other:?}"),
        }
    }
    results
}

#[test]
fn five_thousand_nested_blocks() {
    for (kind, expected) in [(Nest::Block, 2), (Nest::Loop, 3), (Nest::If, 2)] {
        let bytes = limits::nested(kind, 5_000);
        let what = format!("5000 nested {kind:?}");
        assert_eq!(check(&what, &bytes, 1), [expected; 2], "{what}");
    }
}

#[test]
fn four_thousand_ninety_six_locals() {
    let bytes = limits::many_locals(4_096);
    assert_eq!(check("4096 locals", &bytes, 1), [4096 + 4096 * 4095 / 2; 2]);
}

#[test]
fn function_of_256_kib() {
    let (bytes, expected) = limits::big_function(256 << 10);
    assert_eq!(check("256 KiB function", &bytes, 0), [expected; 2]);
}

#[test]
fn ten_thousand_functions() {
    let bytes = limits::many_functions(10_000);
    assert_eq!(check("10000 functions", &bytes, 100), [100; 2]);
}

#[test]
fn br_table_with_65536_targets() {
    for with_value in [false, true] {
        let bytes = limits::wide_br_table(65_536, with_value);
        let what = format!("65536 br_table targets (value: {with_value})");
        let plus = if with_value { 7 } else { 0 };
        assert_eq!(check(&what, &bytes, 65_534), [300 + plus; 2], "{what}");
        assert_eq!(check(&what, &bytes, -1), [400 + plus; 2], "{what}");
    }
}
