//! Trap sites (`docs/vm.md`, "Traps: explicit checks"): a failed check
//! executes a trap instruction and the handler ends the innermost call on
//! its thread, with the outcome a trap exit would give, however calls nest,
//! on any thread, from freshly compiled or cached code.

use std::sync::{Arc, Mutex};

use detvm_vm::*;

/// Traps at a trap site of each kind the translator writes, and
/// `unreachable` (a trap exit) for comparison. Every export stores to
/// memory first, so the outcome also shows what the trap left behind.
const TRAPS: &str = r#"
(module
  (memory (export "mem") 1)
  (table 2 funcref)
  (elem (i32.const 0) $ok)
  (type $i (func (result i32)))
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $ok (result i32) (i32.const 7))
  (func (export "ok") (result i32)
    (i32.store (i32.const 0) (i32.const 1))
    (i32.load (i32.const 0)))
  (func (export "load") (param i32) (result i32)
    (i32.store (i32.const 4) (i32.const 2))
    (global.set $g (i32.const 1))
    (i32.load (local.get 0)))
  (func (export "div") (param i32) (result i32)
    (global.set $g (i32.const 2))
    (i32.div_u (i32.const 10) (local.get 0)))
  (func (export "trunc") (param f64) (result i32)
    (global.set $g (i32.const 3))
    (i32.trunc_f64_s (local.get 0)))
  (func (export "indirect") (param i32) (result i32)
    (global.set $g (i32.const 4))
    (call_indirect (type $i) (local.get 0)))
  (func $deep (export "deep") (param i32 i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $deep (i32.sub (local.get 0) (i32.const 1)) (local.get 1)))
      (else (i32.load (local.get 1)))))
  (func (export "unreachable") unreachable))
"#;

const GAS: u64 = 1_000_000;

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &Linker::new(engine)).expect("instantiates");
    (store, instance)
}

fn trap_of(outcome: &Outcome) -> Option<TrapKind> {
    match outcome {
        Outcome::Trap { kind, .. } => Some(*kind),
        Outcome::Success { .. } => None,
    }
}

fn global(store: &mut Store<()>, instance: &Instance) -> Option<i32> {
    instance.get_global(store, "g").and_then(|g| g.as_i32())
}

/// Every kind of trap site, at metering on and off, against what the
/// specification says; the instance is called again after each trap.
#[test]
fn each_trap_site_ends_the_call_with_its_trap() {
    let bytes = wat::parse_str(TRAPS).expect("wat");
    for metering in [true, false] {
        let mut config = EngineConfig::default();
        config.metering = metering;
        let engine = Engine::new(config).expect("engine");
        let module = Module::new(&engine, &bytes).expect("compiles");
        let (mut store, instance) = instantiate(&engine, &module);
        let cases: [(&str, Vec<Value>, Option<TrapKind>, i32); 9] = [
            (
                "load",
                vec![Value::I32(65_533)],
                Some(TrapKind::MemoryOutOfBounds),
                1,
            ),
            ("load", vec![Value::I32(65_532)], None, 1),
            (
                "div",
                vec![Value::I32(0)],
                Some(TrapKind::IntegerDivideByZero),
                2,
            ),
            ("div", vec![Value::I32(3)], None, 2),
            (
                "trunc",
                vec![Value::F64(f64::NAN.to_bits())],
                Some(TrapKind::InvalidConversionToInteger),
                3,
            ),
            (
                "trunc",
                vec![Value::F64(3e9f64.to_bits())],
                Some(TrapKind::IntegerOverflow),
                3,
            ),
            (
                "indirect",
                vec![Value::I32(1)],
                Some(TrapKind::UninitializedElement),
                4,
            ),
            (
                "indirect",
                vec![Value::I32(2)],
                Some(TrapKind::TableOutOfBounds),
                4,
            ),
            (
                "deep",
                vec![Value::I32(50), Value::I32(-1)],
                Some(TrapKind::MemoryOutOfBounds),
                4,
            ),
        ];
        for (name, args, expected, g) in cases {
            let outcome = instance.call(&mut store, name, &args, GAS).expect("runs");
            assert_eq!(
                trap_of(&outcome),
                expected,
                "{name}({args:?}), metering {metering}"
            );
            // What ran before the trap stays; nothing after it ran.
            assert_eq!(global(&mut store, &instance), Some(g), "{name}");
            let again = instance.call(&mut store, "ok", &[], GAS).expect("runs");
            assert!(
                matches!(again, Outcome::Success { .. }),
                "{name}: then {again:?}"
            );
        }
        let trap = instance
            .call(&mut store, "unreachable", &[], GAS)
            .expect("runs");
        assert_eq!(trap_of(&trap), Some(TrapKind::Unreachable));
    }
}

/// A trap site charges what a trap exit at the same place would: the gas of
/// the blocks entered, the same at every depth of calls.
#[test]
fn gas_at_a_trap_site_is_what_the_blocks_before_it_charged() {
    let bytes = wat::parse_str(TRAPS).expect("wat");
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).expect("compiles");
    let (mut store, instance) = instantiate(&engine, &module);
    let mut previous = 0;
    for depth in 0..20 {
        let trapped = instance
            .call(
                &mut store,
                "deep",
                &[Value::I32(depth), Value::I32(-1)],
                GAS,
            )
            .expect("runs");
        let ok = instance
            .call(&mut store, "deep", &[Value::I32(depth), Value::I32(0)], GAS)
            .expect("runs");
        assert_eq!(trap_of(&trapped), Some(TrapKind::MemoryOutOfBounds));
        // The load is the last thing either call does, so the trapping call
        // was charged all the successful one was.
        assert_eq!(trapped.gas_used(), ok.gas_used(), "depth {depth}");
        assert!(
            trapped.gas_used() > previous,
            "depth {depth}: gas grows with the calls"
        );
        previous = trapped.gas_used();
    }
    // Out of gas before the trap site: the whole limit, as always.
    let short = instance
        .call(
            &mut store,
            "deep",
            &[Value::I32(19), Value::I32(-1)],
            previous - 1,
        )
        .expect("runs");
    assert_eq!(trap_of(&short), Some(TrapKind::OutOfGas));
    assert_eq!(short.gas_used(), previous - 1);
}

/// A host function that calls into another store (as a cross-contract call
/// does) sees that call's trap site end only that call; the outer call
/// goes on, and its own trap site ends it.
#[test]
fn a_trap_site_in_a_nested_call_ends_only_that_call() {
    const OUTER: &str = r#"
    (module
      (import "env" "inner" (func $inner (param i32) (result i32)))
      (memory 1)
      (func (export "run") (param i32 i32) (result i32)
        (local $r i32)
        (local.set $r (call $inner (local.get 0)))
        (i32.store (i32.const 0) (local.get $r))
        (i32.add (local.get $r) (i32.load (local.get 1)))))
    "#;
    let engine = Engine::default();
    let inner_module =
        Module::new(&engine, &wat::parse_str(TRAPS).expect("wat")).expect("compiles");
    let inner = Arc::new(Mutex::new(instantiate(&engine, &inner_module)));
    let seen: Arc<Mutex<Vec<Option<TrapKind>>>> = Arc::default();
    let mut linker = Linker::<()>::new(&engine);
    {
        let (inner, seen) = (inner.clone(), seen.clone());
        linker.func(
            "env",
            "inner",
            &[ValType::I32],
            &[ValType::I32],
            move |_, args| {
                let mut guard = inner.lock().expect("not poisoned");
                let (store, instance) = &mut *guard;
                let outcome = instance
                    .call(store, "load", &[args[0]], GAS)
                    .map_err(|e| HostError::message(e.to_string()))?;
                seen.lock().expect("not poisoned").push(trap_of(&outcome));
                Ok(vec![Value::I32(if trap_of(&outcome).is_some() {
                    100
                } else {
                    5
                })])
            },
        );
    }
    let outer_module =
        Module::new(&engine, &wat::parse_str(OUTER).expect("wat")).expect("compiles");
    let mut store = Store::new(&engine, ());
    let outer = Instance::new(&mut store, &outer_module, &linker).expect("instantiates");

    let run = |store: &mut Store<()>, a: i32, b: i32| {
        outer
            .call(store, "run", &[Value::I32(a), Value::I32(b)], GAS)
            .expect("runs")
    };
    // The inner call traps; the outer one goes on and returns.
    let outcome = run(&mut store, 70_000, 0);
    let Outcome::Success { results, .. } = outcome else {
        panic!("the outer call goes on: {outcome:?}");
    };
    assert_eq!(results, vec![Value::I32(200)]);
    // The inner call returns; the outer one traps at its own site.
    let outcome = run(&mut store, 0, 65_536);
    assert_eq!(trap_of(&outcome), Some(TrapKind::MemoryOutOfBounds));
    // Both trap.
    let outcome = run(&mut store, 65_535, 70_000);
    assert_eq!(trap_of(&outcome), Some(TrapKind::MemoryOutOfBounds));
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        vec![
            Some(TrapKind::MemoryOutOfBounds),
            None,
            Some(TrapKind::MemoryOutOfBounds)
        ]
    );
    // Both stores still work.
    assert!(matches!(run(&mut store, 0, 0), Outcome::Success { .. }));
}

/// Trap sites on several threads at once, each with its own store of one
/// shared module: every call gets its own outcome.
#[test]
fn trap_sites_on_many_threads_end_their_own_calls() {
    let engine = Engine::default();
    let module = Module::new(&engine, &wat::parse_str(TRAPS).expect("wat")).expect("compiles");
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (engine, module) = (&engine, &module);
            scope.spawn(move || {
                let (mut store, instance) = instantiate(engine, module);
                for i in 0..500 {
                    let traps = (i + t) % 2 == 0;
                    let divisor = if traps { 0 } else { 1 + i };
                    let outcome = instance
                        .call(&mut store, "div", &[Value::I32(divisor)], GAS)
                        .expect("runs");
                    let expected = traps.then_some(TrapKind::IntegerDivideByZero);
                    assert_eq!(trap_of(&outcome), expected, "thread {t}, call {i}");
                }
            });
        }
    });
}

/// Code loaded from the cache traps at the same sites with the same
/// outcomes as the code just compiled.
#[test]
fn cached_code_traps_like_fresh_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = wat::parse_str(TRAPS).expect("wat");
    let engine = Engine::default();
    let cache = CodeCache::open(dir.path(), 1 << 30);
    let (fresh, artifact) = Module::new_with_artifact(&engine, &bytes).expect("compiles");
    let key = CacheKey::new(&engine, &[7; 32], b"trap sites");
    cache.put_module(&key, &artifact);
    let Some(Cached::Module(loaded)) = cache.get(&engine, &key) else {
        panic!("the module is cached");
    };
    let mut outcomes = Vec::new();
    for module in [&fresh, &loaded] {
        let (mut store, instance) = instantiate(&engine, module);
        let mut these = Vec::new();
        for (name, arg) in [("load", 65_533), ("div", 0), ("indirect", 1), ("load", 0)] {
            let outcome = instance
                .call(&mut store, name, &[Value::I32(arg)], GAS)
                .expect("runs");
            these.push((trap_of(&outcome), outcome.gas_used()));
        }
        outcomes.push(these);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0][0].0, Some(TrapKind::MemoryOutOfBounds));
}
