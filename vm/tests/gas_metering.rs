//! Gas and the deterministic stack: out of gas in loops, calls and bulk
//! operations, stack overflow, and that both are identical on every run.

use detvm_vm::*;

fn engine_with(configure: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut config = EngineConfig::default();
    configure(&mut config);
    Engine::new(config).expect("engine")
}

fn instantiate(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = Module::new(engine, &wat::parse_str(wat).expect("wat")).expect("module");
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &Linker::new(engine)).expect("instance");
    (store, instance)
}

fn assert_out_of_gas(outcome: &Outcome, gas_limit: u64) {
    assert_eq!(
        outcome,
        &Outcome::Trap {
            kind: TrapKind::OutOfGas,
            message: None,
            gas_used: gas_limit
        }
    );
}

#[test]
fn gas_used_follows_the_schedule() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module (func (export "add") (param i32 i32) (result i32)
             local.get 0 local.get 1 i32.add))"#,
    );
    // Two `local.get` and one `i32.add` at cost 1 each in schedule v1.
    let out = instance
        .call(&mut store, "add", &[Value::I32(1), Value::I32(2)], 1_000)
        .unwrap();
    assert_eq!(
        out,
        Outcome::Success {
            results: vec![Value::I32(3)],
            gas_used: 3
        }
    );
    // Exactly enough gas succeeds; one less is out of gas.
    let out = instance
        .call(&mut store, "add", &[Value::I32(1), Value::I32(2)], 3)
        .unwrap();
    assert_eq!(out.gas_used(), 3);
    assert!(out.results().is_some());
    let out = instance
        .call(&mut store, "add", &[Value::I32(1), Value::I32(2)], 2)
        .unwrap();
    assert_out_of_gas(&out, 2);
    let out = instance
        .call(&mut store, "add", &[Value::I32(1), Value::I32(2)], 0)
        .unwrap();
    assert_out_of_gas(&out, 0);
}

#[test]
fn out_of_gas_in_an_infinite_loop() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (global (export "n") (mut i64) (i64.const 0))
             (func (export "spin")
               (loop $l
                 (global.set 0 (i64.add (global.get 0) (i64.const 1)))
                 (br $l))))"#,
    );
    for limit in [0, 1, 999, 123_457] {
        let out = instance.call(&mut store, "spin", &[], limit).unwrap();
        assert_out_of_gas(&out, limit);
    }
    // Every iteration is paid before it runs: the counter is a pure
    // function of the gas limits, the same on every node.
    let first = instance.get_global(&store, "n");
    let (mut again, instance2) = instantiate(
        &engine,
        r#"(module
             (global (export "n") (mut i64) (i64.const 0))
             (func (export "spin")
               (loop $l
                 (global.set 0 (i64.add (global.get 0) (i64.const 1)))
                 (br $l))))"#,
    );
    for limit in [0, 1, 999, 123_457] {
        instance2.call(&mut again, "spin", &[], limit).unwrap();
    }
    assert_eq!(instance2.get_global(&again, "n"), first);
    assert!(matches!(first, Some(Value::I64(n)) if n > 10_000));
}

#[test]
fn out_of_gas_across_calls() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (func $leaf (param i32) (result i32) local.get 0 i32.const 1 i32.add)
             (func (export "run") (param i32) (result i32)
               (local $i i32)
               (loop $l
                 (local.set $i (call $leaf (local.get $i)))
                 (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
               local.get $i))"#,
    );
    let ok = instance
        .call(&mut store, "run", &[Value::I32(1_000)], 10_000_000)
        .unwrap();
    assert_eq!(ok.results(), Some(&[Value::I32(1_000)][..]));
    let used = ok.gas_used();
    assert!(used > 10_000, "each iteration pays for a call: {used}");
    let again = instance
        .call(&mut store, "run", &[Value::I32(1_000)], 10_000_000)
        .unwrap();
    assert_eq!(again.gas_used(), used);
    let out = instance
        .call(&mut store, "run", &[Value::I32(1_000)], used - 1)
        .unwrap();
    assert_out_of_gas(&out, used - 1);
    let out = instance
        .call(&mut store, "run", &[Value::I32(1_000)], used)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I32(1_000)][..]));
}

const BULK: &str = r#"
(module
  (memory (export "mem") 1)
  (data $d "0123456789")
  (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 0xaa) (local.get 1)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32 i32) (memory.init $d (local.get 0) (i32.const 0) (local.get 1))))
"#;

#[test]
fn bulk_memory_pays_before_doing_the_work() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(&engine, BULK);
    let memory = instance.get_memory(&store, "mem").unwrap();
    let limit = 1_000_000;

    // Huge lengths: out of gas, not out of bounds, because the per-byte fee
    // is charged before the operation looks at its operands.
    let huge = Value::I32(-1);
    let out = instance
        .call(&mut store, "fill", &[Value::I32(0), huge], limit)
        .unwrap();
    assert_out_of_gas(&out, limit);
    let out = instance
        .call(
            &mut store,
            "copy",
            &[Value::I32(0), Value::I32(0), huge],
            limit,
        )
        .unwrap();
    assert_out_of_gas(&out, limit);
    let out = instance
        .call(&mut store, "init", &[Value::I32(0), huge], limit)
        .unwrap();
    assert_out_of_gas(&out, limit);

    // In-bounds but unaffordable: nothing is written.
    let out = instance
        .call(
            &mut store,
            "fill",
            &[Value::I32(0), Value::I32(65_536)],
            50_000,
        )
        .unwrap();
    assert_out_of_gas(&out, 50_000);
    assert!(memory.data(&store).unwrap().iter().all(|&b| b == 0));

    // Affordable: done, and the fee is per byte.
    let small = instance
        .call(&mut store, "fill", &[Value::I32(0), Value::I32(100)], limit)
        .unwrap();
    let large = instance
        .call(
            &mut store,
            "fill",
            &[Value::I32(0), Value::I32(1_100)],
            limit,
        )
        .unwrap();
    assert!(small.results().is_some() && large.results().is_some());
    assert_eq!(large.gas_used() - small.gas_used(), 1_000);
    assert!(
        memory.data(&store).unwrap()[..1_100]
            .iter()
            .all(|&b| b == 0xaa)
    );

    // Paid, then out of bounds.
    let out = instance
        .call(
            &mut store,
            "init",
            &[Value::I32(65_530), Value::I32(10)],
            limit,
        )
        .unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::MemoryOutOfBounds));
    assert!(out.gas_used() >= 10);
    assert_eq!(memory.data(&store).unwrap()[65_530..], [0; 6]);
}

#[test]
fn bulk_table_operations_pay_per_element() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
             (table 10 funcref)
             (func (export "grow") (param i32) (result i32)
               (table.grow (ref.null func) (local.get 0)))
             (func (export "fill") (param i32)
               (table.fill (i32.const 0) (ref.null func) (local.get 0))))"#,
    );
    let out = instance
        .call(&mut store, "grow", &[Value::I32(-1)], 1_000_000)
        .unwrap();
    assert_out_of_gas(&out, 1_000_000);
    let out = instance
        .call(&mut store, "fill", &[Value::I32(-1)], 1_000_000)
        .unwrap();
    assert_out_of_gas(&out, 1_000_000);
    let out = instance
        .call(&mut store, "fill", &[Value::I32(11)], 1_000_000)
        .unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::TableOutOfBounds));
}

const RECURSION: &str = r#"
(module
  (func $forever (export "forever") (param i64) (result i64)
    (i64.add (local.get 0) (call $forever (i64.add (local.get 0) (i64.const 1)))))
  (func $big (export "big") (param i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local.set 1 (local.get 0)) (local.set 2 (local.get 1)) (local.set 3 (local.get 2))
    (local.set 4 (local.get 3)) (local.set 5 (local.get 4)) (local.set 6 (local.get 5))
    (local.set 7 (local.get 6)) (local.set 8 (local.get 7)) (local.set 9 (local.get 8))
    (local.set 10 (local.get 9)) (local.set 11 (local.get 10)) (local.set 12 (local.get 11))
    (local.set 13 (local.get 12)) (local.set 14 (local.get 13)) (local.set 15 (local.get 14))
    (local.set 16 (local.get 15))
    (i64.add
      (i64.add (i64.add (local.get 1) (local.get 2)) (i64.add (local.get 3) (local.get 4)))
      (i64.add
        (call $big (i64.add (local.get 16) (i64.const 1)))
        (i64.add (i64.add (local.get 5) (local.get 6)) (i64.add (local.get 7) (local.get 8))))))
  (func $sum (export "sum") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (i64.add (local.get 0) (call $sum (i64.sub (local.get 0) (i64.const 1))))))))
"#;

#[test]
fn infinite_recursion_overflows_the_deterministic_stack() {
    let engine = Engine::default();
    let mut gas = Vec::new();
    for _ in 0..3 {
        let (mut store, instance) = instantiate(&engine, RECURSION);
        for name in ["forever", "big"] {
            for _ in 0..2 {
                let out = instance
                    .call(&mut store, name, &[Value::I64(0)], 1_000_000_000)
                    .unwrap();
                assert_eq!(
                    out.trap_kind(),
                    Some(TrapKind::StackOverflow),
                    "{name}: {out:?}"
                );
                gas.push((name, out.gas_used()));
            }
        }
    }
    for pair in gas.chunks(4).skip(1) {
        assert_eq!(
            pair,
            &gas[..4],
            "stack overflow must use the same gas on every run"
        );
    }
    assert!(gas[0].1 > 1_000 && gas[0].1 < 1_000_000_000);
}

#[test]
fn deep_but_bounded_recursion_succeeds() {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(&engine, RECURSION);
    let out = instance
        .call(&mut store, "sum", &[Value::I64(1_000)], 100_000_000)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I64(500_500)][..]));
}

#[test]
fn stack_limit_comes_from_the_engine() {
    let small = engine_with(|c| c.stack.limit = 4_096);
    let (mut store, instance) = instantiate(&small, RECURSION);
    let out = instance
        .call(&mut store, "sum", &[Value::I64(1_000)], 100_000_000)
        .unwrap();
    assert_eq!(out.trap_kind(), Some(TrapKind::StackOverflow));
    let out = instance
        .call(&mut store, "sum", &[Value::I64(10)], 100_000_000)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I64(55)][..]));
}

#[test]
fn without_metering_the_native_safety_net_catches_runaway_recursion() {
    let engine = engine_with(|c| c.metering = false);
    let (mut store, instance) = instantiate(&engine, RECURSION);
    let result = instance.call(&mut store, "forever", &[Value::I64(0)], 0);
    assert_eq!(result, Err(Error::NativeStackExhausted));
    // The store is still usable afterwards.
    let out = instance
        .call(&mut store, "sum", &[Value::I64(100)], 0)
        .unwrap();
    assert_eq!(out.results(), Some(&[Value::I64(5_050)][..]));
}

/// A recursive function with `count` locals of type `ty`, all live across
/// the recursive call, so the native frame must hold every one of them.
fn wide_recursion(ty: &str, count: usize) -> String {
    let mut body = String::new();
    for i in 1..=count {
        body.push_str(&format!("(local.set {i} (local.get 0))\n"));
    }
    body.push_str("(drop (call $wide (local.get 0)))\n");
    let mut sum = "(local.get 1)".to_string();
    for i in 2..=count {
        sum = format!("({ty}.add {sum} (local.get {i}))");
    }
    format!(
        r#"(module (func $wide (export "wide") (param {ty}) (result {ty})
             (local {locals})
             {body}
             {sum}))"#,
        locals = vec![ty; count].join(" ")
    )
}

#[test]
fn wide_frames_hit_the_deterministic_limit_before_the_native_one() {
    let engine = Engine::default();
    for (ty, count) in [
        ("i32", 1),
        ("i32", 64),
        ("i32", 700),
        ("f32", 300),
        ("i64", 300),
    ] {
        let module =
            Module::new(&engine, &wat::parse_str(wide_recursion(ty, count)).unwrap()).unwrap();
        // Run with barely more native stack than the runtime demands for
        // this module, so the test checks the documented bound rather
        // than a test thread's slack.
        let stack = native_stack::HOST_RESERVE + module.native_stack_needed() + (128 << 10);
        let out = std::thread::Builder::new()
            .stack_size(stack as usize)
            .spawn(move || {
                let engine = module.engine().clone();
                let mut store = Store::new(&engine, ());
                let instance = Instance::new(&mut store, &module, &Linker::new(&engine)).unwrap();
                let arg = match ty {
                    "i32" => Value::I32(1),
                    "i64" => Value::I64(1),
                    _ => Value::F32(1.0f32.to_bits()),
                };
                instance.call(&mut store, "wide", &[arg], u64::MAX)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            out.as_ref().ok().and_then(Outcome::trap_kind),
            Some(TrapKind::StackOverflow),
            "{count} {ty} locals: {out:?}"
        );
    }
}
