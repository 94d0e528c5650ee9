//! Typed calls: results, signature checks, and that a `TypedFunc` ends every
//! call exactly as `Func::call` does (results, traps, messages, gas, state
//! afterwards).

use detvm_vm::*;

const GUEST: &str = r#"
(module
  (import "env" "fail" (func $fail (param i32)))
  (memory 1)
  (global $counter (mut i32) (i32.const 0))
  (func (export "nop"))
  (func (export "add") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "swap4") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  (func (export "f32_id") (param f32) (result f32) (local.get 0))
  (func (export "f64_id") (param f64) (result f64) (local.get 0))
  (func (export "f32_add") (param f32 f32) (result f32)
    (f32.add (local.get 0) (local.get 1)))
  (func (export "twelve")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i64)
    (result i64)
    (i64.add
      (i64.extend_i32_u
        (i32.add (local.get 0) (i32.add (local.get 1) (i32.add (local.get 2)
        (i32.add (local.get 3) (i32.add (local.get 4) (i32.add (local.get 5)
        (i32.add (local.get 6) (i32.add (local.get 7) (i32.add (local.get 8)
        (i32.add (local.get 9) (local.get 10))))))))))))
      (local.get 11)))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "count_then_trap") (param i32) (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (if (local.get 0) (then unreachable))
    (global.get $counter))
  (func (export "host_fail") (param i32) (call $fail (local.get 0)))
  (func (export "spin") (loop $l (br $l)))
  (func $deep (export "deep") (param i64) (result i64)
    (call $deep (i64.add (local.get 0) (i64.const 1))))
)
"#;

fn setup(engine: &Engine) -> (Store<()>, Instance) {
    let module = Module::new(engine, &wat::parse_str(GUEST).expect("wat")).expect("module");
    let mut linker = Linker::new(engine);
    linker.func("env", "fail", &[ValType::I32], &[], |_, args| {
        if args[0].as_i32() == Some(0) {
            Ok(Vec::new())
        } else {
            Err(HostError::message("refused"))
        }
    });
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &linker).expect("instance");
    (store, instance)
}

fn func(store: &Store<()>, instance: &Instance, name: &str) -> Func {
    instance.get_func(store, name).expect("export")
}

/// Drops the results, keeping how the call ended and its gas: what a typed
/// and an untyped call must agree on.
fn shape<R>(outcome: Outcome<R>) -> Outcome<()> {
    match outcome {
        Outcome::Success { gas_used, .. } => Outcome::Success {
            results: (),
            gas_used,
        },
        Outcome::Trap {
            kind,
            message,
            gas_used,
        } => Outcome::Trap {
            kind,
            message,
            gas_used,
        },
    }
}

fn engines() -> [Engine; 2] {
    let mut unmetered = EngineConfig::default();
    unmetered.metering = false;
    [Engine::default(), Engine::new(unmetered).expect("engine")]
}

#[test]
fn typed_calls_return_typed_results() {
    for engine in engines() {
        let (mut store, instance) = setup(&engine);
        let nop = func(&store, &instance, "nop")
            .typed::<(), ()>(&store)
            .unwrap();
        assert!(matches!(
            nop.call(&mut store, (), 1_000).unwrap(),
            Outcome::Success { results: (), .. }
        ));

        let add = func(&store, &instance, "add")
            .typed::<(i32, i64), i64>(&store)
            .unwrap();
        let out = add.call(&mut store, (-2, 44), 1_000).unwrap();
        assert_eq!(out.clone().into_results(), Some(42));
        let untyped = add
            .func()
            .call(&mut store, &[Value::I32(-2), Value::I64(44)], 1_000)
            .unwrap();
        assert_eq!(untyped.results(), Some(&[Value::I64(42)][..]));
        assert_eq!(out.gas_used(), untyped.gas_used());

        let swap = func(&store, &instance, "swap4")
            .typed::<(i32, i64, f32, f64), (f64, f32, i64, i32)>(&store)
            .unwrap();
        let out = swap
            .call(&mut store, (i32::MIN, i64::MAX, -1.5, 2.25), 1_000)
            .unwrap();
        assert_eq!(out.into_results(), Some((2.25, -1.5, i64::MAX, i32::MIN)));

        let twelve = func(&store, &instance, "twelve")
            .typed::<(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i64), i64>(&store)
            .unwrap();
        let out = twelve
            .call(
                &mut store,
                (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1 << 40),
                1_000,
            )
            .unwrap();
        assert_eq!(out.into_results(), Some(66 + (1 << 40)));
    }
}

#[test]
fn typed_floats_keep_every_bit() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let f32_id = func(&store, &instance, "f32_id")
        .typed::<f32, f32>(&store)
        .unwrap();
    let f64_id = func(&store, &instance, "f64_id")
        .typed::<f64, f64>(&store)
        .unwrap();
    for bits in [0x7fa0_0001_u32, 0xffc0_1234, 0x8000_0000, 0x7f80_0000, 1] {
        let out = f32_id.call(&mut store, f32::from_bits(bits), 100).unwrap();
        assert_eq!(out.into_results().map(f32::to_bits), Some(bits));
    }
    for bits in [0x7ff4_0000_0000_0001_u64, 0xfff8_0000_dead_beef, 1] {
        let out = f64_id.call(&mut store, f64::from_bits(bits), 100).unwrap();
        assert_eq!(out.into_results().map(f64::to_bits), Some(bits));
    }
    // Arithmetic still yields the canonical NaN, as through `Func::call`.
    let f32_add = func(&store, &instance, "f32_add")
        .typed::<(f32, f32), f32>(&store)
        .unwrap();
    let out = f32_add
        .call(&mut store, (f32::from_bits(0x7fa0_0001), 1.0), 100)
        .unwrap();
    assert_eq!(out.into_results().map(f32::to_bits), Some(0x7fc0_0000));
}

#[test]
fn wrong_signatures_are_rejected() {
    let engine = Engine::default();
    let (store, instance) = setup(&engine);
    let add = func(&store, &instance, "add");
    let expected_error = |params: &[ValType], results: &[ValType]| {
        Err(Error::Call(CallError::SignatureMismatch {
            expected: FuncType::new(params, results),
            actual: FuncType::new([ValType::I32, ValType::I64], [ValType::I64]),
        }))
    };
    assert_eq!(
        add.typed::<(i64, i32), i64>(&store).map(|_| ()),
        expected_error(&[ValType::I64, ValType::I32], &[ValType::I64])
    );
    assert_eq!(
        add.typed::<(i32, i64), i32>(&store).map(|_| ()),
        expected_error(&[ValType::I32, ValType::I64], &[ValType::I32])
    );
    assert_eq!(
        add.typed::<(i32, i64), ()>(&store).map(|_| ()),
        expected_error(&[ValType::I32, ValType::I64], &[])
    );
    assert_eq!(
        add.typed::<i32, i64>(&store).map(|_| ()),
        expected_error(&[ValType::I32], &[ValType::I64])
    );
    assert_eq!(
        add.typed::<(i32, i64), (i64, i64)>(&store).map(|_| ()),
        expected_error(&[ValType::I32, ValType::I64], &[ValType::I64, ValType::I64])
    );
    let message = add.typed::<(), ()>(&store).unwrap_err().to_string();
    assert_eq!(
        message,
        "function has signature [i32 i64] -> [i64], not [] -> []"
    );

    // A function of another store is refused, when typed and when called.
    let (mut other, _) = setup(&engine);
    assert_eq!(
        add.typed::<(i32, i64), i64>(&other).map(|_| ()),
        Err(Error::WrongStore)
    );
    let typed = add.typed::<(i32, i64), i64>(&store).unwrap();
    assert_eq!(
        typed.call(&mut other, (1, 2), 100).map(|_| ()),
        Err(Error::WrongStore)
    );
}

#[test]
fn traps_and_gas_are_those_of_func_call() {
    for engine in engines() {
        let (mut store, instance) = setup(&engine);
        let div = func(&store, &instance, "div");
        let typed_div = div.typed::<(i32, i32), i32>(&store).unwrap();
        for (a, b) in [(7, 2), (1, 0), (i32::MIN, -1), (-9, 3)] {
            for gas in [0, 1, 2, 3, 1_000] {
                let untyped = div
                    .call(&mut store, &[Value::I32(a), Value::I32(b)], gas)
                    .unwrap();
                let typed = typed_div.call(&mut store, (a, b), gas).unwrap();
                if let Some(results) = untyped.results() {
                    assert_eq!(results, [Value::I32(typed.clone().into_results().unwrap())]);
                }
                assert_eq!(shape(typed), shape(untyped), "div({a}, {b}) with {gas} gas");
            }
        }

        let load = func(&store, &instance, "load");
        let typed_load = load.typed::<i32, i32>(&store).unwrap();
        for address in [0, 65_532, 65_533, -1] {
            let untyped = load
                .call(&mut store, &[Value::I32(address)], 1_000)
                .unwrap();
            let typed = typed_load.call(&mut store, address, 1_000).unwrap();
            assert_eq!(shape(typed), shape(untyped), "load({address})");
        }

        // A host trap keeps its message.
        let host_fail = func(&store, &instance, "host_fail");
        let typed_fail = host_fail.typed::<i32, ()>(&store).unwrap();
        for arg in [0, 1] {
            let untyped = host_fail
                .call(&mut store, &[Value::I32(arg)], 1_000)
                .unwrap();
            let typed = typed_fail.call(&mut store, arg, 1_000).unwrap();
            assert_eq!(shape(typed.clone()), shape(untyped));
            if arg == 1 {
                assert_eq!(
                    typed,
                    Outcome::Trap {
                        kind: TrapKind::Host,
                        message: Some("refused".into()),
                        gas_used: typed.gas_used(),
                    }
                );
            }
        }
    }
}

#[test]
fn typed_calls_run_out_of_gas() {
    let engine = Engine::default();
    let (mut store, instance) = setup(&engine);
    let spin = func(&store, &instance, "spin");
    let typed = spin.typed::<(), ()>(&store).unwrap();
    for gas in [0, 1, 10, 12_345] {
        let expected = Outcome::Trap {
            kind: TrapKind::OutOfGas,
            message: None,
            gas_used: gas,
        };
        assert_eq!(typed.call(&mut store, (), gas).unwrap(), expected);
        assert_eq!(shape(spin.call(&mut store, &[], gas).unwrap()), expected);
    }
    // The deterministic stack limit, likewise.
    let deep = func(&store, &instance, "deep");
    let typed = deep.typed::<i64, i64>(&store).unwrap();
    let untyped = deep.call(&mut store, &[Value::I64(0)], u64::MAX).unwrap();
    let out = typed.call(&mut store, 0, u64::MAX).unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::StackOverflow));
    assert_eq!(shape(out), shape(untyped));
}

#[test]
fn calls_after_a_trap_start_afresh() {
    for engine in engines() {
        let (mut store, instance) = setup(&engine);
        let count = func(&store, &instance, "count_then_trap")
            .typed::<i32, i32>(&store)
            .unwrap();
        let first = count.call(&mut store, 0, 1_000).unwrap();
        assert_eq!(first.clone().into_results(), Some(1));
        // The trap leaves the state as it was at the trap (the counter was
        // incremented) and does not leak into the next call.
        let trapped = count.call(&mut store, 1, 1_000).unwrap();
        assert_eq!(trapped.trap_kind(), Some(TrapKind::Unreachable));
        let after = count.call(&mut store, 0, 1_000).unwrap();
        assert_eq!(after.clone().into_results(), Some(3));
        assert_eq!(after.gas_used(), first.gas_used());
        // Out of gas, then a full call again.
        let starved = count.call(&mut store, 0, 1).unwrap();
        if engine.config().metering {
            assert_eq!(starved.trap_kind(), Some(TrapKind::OutOfGas));
        }
        let nop = func(&store, &instance, "nop")
            .typed::<(), ()>(&store)
            .unwrap();
        let host_fail = func(&store, &instance, "host_fail")
            .typed::<i32, ()>(&store)
            .unwrap();
        let failed = host_fail.call(&mut store, 1, 1_000).unwrap();
        assert_eq!(failed.trap_kind(), Some(TrapKind::Host));
        let out = nop.call(&mut store, (), 1_000).unwrap();
        assert_eq!(out.trap_kind(), None);
    }
}

#[test]
fn unmetered_runaway_recursion_is_the_same_engine_error() {
    let mut config = EngineConfig::default();
    config.metering = false;
    let engine = Engine::new(config).expect("engine");
    let (mut store, instance) = setup(&engine);
    let deep = func(&store, &instance, "deep");
    let typed = deep.typed::<i64, i64>(&store).unwrap();
    assert_eq!(
        typed.call(&mut store, 0, 0).map(|_| ()),
        Err(Error::NativeStackExhausted)
    );
    assert_eq!(
        deep.call(&mut store, &[Value::I64(0)], 0).map(|_| ()),
        Err(Error::NativeStackExhausted)
    );
    let nop = func(&store, &instance, "nop")
        .typed::<(), ()>(&store)
        .unwrap();
    assert!(
        nop.call(&mut store, (), 0)
            .unwrap()
            .into_results()
            .is_some()
    );
}

#[test]
fn typed_funcs_are_plain_handles() {
    fn send_sync_copy<T: Send + Sync + Copy>() {}
    send_sync_copy::<TypedFunc<(i32, i64), (f32, f64)>>();
}
