//! Compiled code through the public API: validation, instrumentation,
//! compilation, instantiation and calls, with metering on.

use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, Outcome, Store, TrapKind, Value};

fn instance(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let bytes = wat::parse_str(wat).expect("wat");
    let module = Module::new(&engine, &bytes).expect("module compiles");
    let mut store = Store::new(&engine, ());
    let linker = Linker::new(&engine);
    let inst = Instance::new(&mut store, &module, &linker).expect("instantiates");
    (store, inst)
}

#[test]
fn fib_runs_metered() {
    let (mut store, inst) = instance(
        r#"(module
            (func $fib (export "fib") (param i32) (result i32)
                (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                    (then (local.get 0))
                    (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                                   (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#,
    );
    let out = inst
        .call(&mut store, "fib", &[Value::I32(15)], 10_000_000)
        .expect("call");
    match out {
        Outcome::Success { results, gas_used } => {
            assert_eq!(results, vec![Value::I32(610)]);
            assert!(gas_used > 0);
        }
        other => panic!("unexpected {other:?}"),
    }
    let out = inst
        .call(&mut store, "fib", &[Value::I32(30)], 1_000)
        .expect("call");
    assert_eq!(out.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used(), 1_000);
}
