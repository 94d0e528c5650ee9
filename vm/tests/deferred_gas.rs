//! Deferred exhaustion checks (`docs/vm.md`, "Deferred exhaustion
//! checks"): with the counters in registers most gas charges subtract
//! without testing, and the test comes at the next point where running
//! past a failing charge could be seen. Nothing may differ from the module
//! as instrumented: at every gas limit around every charge, each call must
//! end the same way (results, trap, gas) and leave the same memory,
//! globals, table and host calls as with the slot strategy, which tests
//! every charge where it is made.

use std::sync::{Arc, Mutex};

use detvm_vm::{
    Engine, EngineConfig, Extern, Instance, Linker, MAX_CALL_GAS, Module, OptLevel, Outcome,
    Schedule, Store, ValType, Value,
};

const MODULE: &str = r#"(module
  (import "env" "note" (func $note (param i32)))
  (memory (export "memory") 1 4)
  (global $g (export "g") (mut i32) (i32.const 0))
  (table $t (export "table") 2 funcref)
  (type $unit (func (result i32)))
  (elem declare func $seven)

  (func $seven (result i32) (i32.const 7))

  ;; Pure work in several metered blocks, whose charges are all deferred.
  (func $work (param $x i32) (result i32)
    (if (i32.and (local.get $x) (i32.const 1))
      (then (local.set $x (i32.mul (local.get $x) (i32.const 3))))
      (else (local.set $x (i32.add (local.get $x) (i32.const 5)))))
    (block
      (br_if 0 (i32.eqz (local.get $x)))
      (local.set $x (i32.xor (local.get $x) (i32.const 0x55))))
    (if (i32.gt_u (local.get $x) (i32.const 10))
      (then (local.set $x (i32.sub (local.get $x) (i32.const 1)))))
    (local.get $x))

  (func (export "divide") (param $x i32) (result i32)
    (i32.div_u (call $work (local.get $x)) (i32.sub (local.get $x) (local.get $x))))

  (func (export "load_out_of_bounds") (param $x i32) (result i32)
    (i32.load (i32.add (call $work (local.get $x)) (i32.const 0x3ffff))))

  (func (export "unreachable") (param $x i32) (result i32)
    (drop (call $work (local.get $x)))
    (if (local.get $x) (then (nop)))
    unreachable)

  ;; Stores after branches; the second and third reuse the first's check.
  (func (export "stores") (param $x i32) (result i32)
    (local $a i32)
    (local.set $a (i32.and (call $work (local.get $x)) (i32.const 0xfc)))
    (i32.store (local.get $a) (i32.const 1))
    (block (br_if 0 (i32.eqz (local.get $x)))
      (i32.store (local.get $a) (i32.const 2)))
    (if (local.get $x)
      (then (i32.store (local.get $a) (i32.const 3))))
    (i32.store8 offset=8 (local.get $a) (local.get $x))
    (local.get $a))

  (func (export "set_global") (param $x i32) (result i32)
    (if (i32.gt_u (local.get $x) (i32.const 2))
      (then (global.set $g (i32.const 1))))
    (global.set $g (i32.add (global.get $g) (call $work (local.get $x))))
    (if (local.get $x) (then (global.set $g (i32.const 9))))
    (global.get $g))

  (func (export "host") (param $x i32) (result i32)
    (call $note (call $work (local.get $x)))
    (if (local.get $x) (then (call $note (i32.const -1))))
    (i32.const 0))

  (func (export "grow_and_fill") (param $x i32) (result i32)
    (block (br_if 0 (i32.eqz (local.get $x)))
      (drop (memory.grow (i32.const 1))))
    (memory.fill (i32.const 16) (call $work (local.get $x)) (i32.const 64))
    (if (local.get $x)
      (then (memory.copy (i32.const 100) (i32.const 16) (i32.const 32))))
    (memory.size))

  (func (export "set_table") (param $x i32) (result i32)
    (if (call $work (local.get $x)) (then (nop)))
    (table.set $t (i32.const 1) (ref.func $seven))
    (call_indirect (type $unit) (i32.const 1)))

  (func (export "call_null") (param $x i32) (result i32)
    (drop (call $work (local.get $x)))
    (call_indirect (type $unit) (i32.const 0)))

  ;; Nothing observable but the result: exhaustion is found at the return.
  (func (export "compute") (param $x i32) (result i32)
    (call $work (call $work (local.get $x))))

  ;; A loop with branches and an address it never changes: its accesses
  ;; are proven before it, so the stores in its arms carry no bounds check.
  (func (export "invariant_loop") (param $x i32) (result i32) (local $i i32)
    (loop $l
      (if (i32.and (local.get $i) (i32.const 1))
        (then (i32.store offset=8 (local.get $x)
          (i32.add (i32.load offset=8 (local.get $x)) (local.get $i))))
        (else (i32.store (local.get $x) (local.get $i))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 9))))
    (i32.load (local.get $x)))

  ;; Recursion: every activation's tail is deferred until its return.
  (func $down (export "down") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else
        (i32.store (i32.shl (local.get $n) (i32.const 2)) (local.get $n))
        (i32.add (call $down (i32.sub (local.get $n) (i32.const 1))) (local.get $n))))))"#;

/// What a call did and left behind.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    outcome: Result<(Vec<Value>, u64), (&'static str, u64)>,
    memory: Vec<u8>,
    global: Value,
    table_set: bool,
    notes: Vec<i32>,
}

/// The reference (slot strategy: every charge tests) first, then the
/// register strategy, which defers, at both optimisation levels.
fn engines(schedule: &Schedule) -> Vec<Engine> {
    [
        (true, OptLevel::Speed),
        (false, OptLevel::Speed),
        (false, OptLevel::None),
    ]
    .into_iter()
    .map(|(slots, opt)| {
        let mut config = EngineConfig::default();
        config.slot_strategy_only = slots;
        config.opt_level = opt;
        config.schedule = schedule.clone();
        Engine::new(config).expect("engine")
    })
    .collect()
}

fn run(engine: &Engine, module: &Module, name: &str, x: i32, gas: u64) -> Seen {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let mut linker = Linker::new(engine);
    let seen = Arc::clone(&notes);
    linker.func("env", "note", &[ValType::I32], &[], move |_, args| {
        seen.lock()
            .expect("notes")
            .push(args[0].as_i32().unwrap_or_default());
        Ok(vec![])
    });
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &linker).expect("instantiates");
    let outcome = match instance
        .call(&mut store, name, &[Value::I32(x)], gas)
        .expect("call")
    {
        Outcome::Success { results, gas_used } => Ok((results, gas_used)),
        Outcome::Trap { kind, gas_used, .. } => Err((kind.name(), gas_used)),
    };
    let memory = match instance.get_export(&store, "memory") {
        Some(Extern::Memory(m)) => m.data(&store).expect("memory").to_vec(),
        _ => panic!("memory export"),
    };
    let global = match instance.get_export(&store, "g") {
        Some(Extern::Global(g)) => g.get(&store).expect("global"),
        _ => panic!("global export"),
    };
    let table_set = match instance.get_export(&store, "table") {
        Some(Extern::Table(t)) => !matches!(t.get(&store, 1), Ok(Value::FuncRef(None))),
        _ => panic!("table export"),
    };
    let notes = notes.lock().expect("notes").clone();
    Seen {
        outcome,
        memory,
        global,
        table_set,
        notes,
    }
}

/// Calls `name(x)` at every gas limit from 0 to a little past what the
/// whole call needs, in every engine, and requires each to match the
/// reference. Returns how many limits ran out of gas and how many did not.
fn agree_at_every_limit(name: &str, x: i32) -> (u64, u64) {
    agree_with(MODULE, &Schedule::default(), name, x)
}

/// [`agree_at_every_limit`] for another module and schedule.
fn agree_with(wat: &str, schedule: &Schedule, name: &str, x: i32) -> (u64, u64) {
    let bytes = wat::parse_str(wat).expect("wat");
    let engines = engines(schedule);
    let modules: Vec<Module> = engines
        .iter()
        .map(|e| Module::new(e, &bytes).expect("compiles"))
        .collect();
    let full = run(&engines[0], &modules[0], name, x, 1 << 30);
    let needed = match full.outcome {
        Ok((_, used)) | Err((_, used)) => used,
    };
    let (mut exhausted, mut finished) = (0, 0);
    for gas in 0..=needed + 3 {
        let reference = run(&engines[0], &modules[0], name, x, gas);
        match reference.outcome {
            Err(("out_of_gas", _)) => exhausted += 1,
            _ => finished += 1,
        }
        for (engine, module) in engines.iter().zip(&modules).skip(1) {
            let seen = run(engine, module, name, x, gas);
            assert_eq!(
                seen,
                reference,
                "{name}({x}) at gas {gas}: slots={} opt={:?}",
                engine.config().slot_strategy_only,
                engine.config().opt_level
            );
        }
    }
    assert!(
        exhausted >= 2 && finished >= 3,
        "{name}({x}): {exhausted} / {finished}"
    );
    (exhausted, finished)
}

#[test]
fn a_trap_after_a_failed_charge_is_out_of_gas() {
    for x in [0, 1, 6] {
        agree_at_every_limit("divide", x);
        agree_at_every_limit("load_out_of_bounds", x);
        agree_at_every_limit("unreachable", x);
        agree_at_every_limit("call_null", x);
    }
}

#[test]
fn nothing_is_stored_past_a_failed_charge() {
    for x in [0, 1, 6] {
        agree_at_every_limit("stores", x);
        agree_at_every_limit("set_global", x);
        agree_at_every_limit("grow_and_fill", x);
        agree_at_every_limit("set_table", x);
        agree_at_every_limit("invariant_loop", x * 4);
    }
}

#[test]
fn no_host_call_runs_past_a_failed_charge() {
    for x in [0, 1, 6] {
        agree_at_every_limit("host", x);
    }
}

#[test]
fn a_return_after_a_failed_charge_is_out_of_gas() {
    for x in [0, 1, 6] {
        agree_at_every_limit("compute", x);
    }
    agree_at_every_limit("down", 12);
}

/// A limit above [`MAX_CALL_GAS`] behaves as that much and reports the
/// gas used as the difference.
#[test]
fn limits_above_the_cap_use_the_same_gas() {
    let bytes = wat::parse_str(MODULE).expect("wat");
    for engine in engines(&Schedule::default()) {
        let module = Module::new(&engine, &bytes).expect("compiles");
        let small = run(&engine, &module, "down", 20, 1 << 20);
        for gas in [MAX_CALL_GAS, MAX_CALL_GAS + 1, u64::MAX] {
            let big = run(&engine, &module, "down", 20, gas);
            assert_eq!(big, small, "limit {gas}");
        }
        assert!(matches!(small.outcome, Ok((ref r, used)) if r == &[Value::I32(210)] && used > 0));
    }
}

/// Where paths join, the one with an untested charge counts: with stores,
/// constants, locals and structure free, the blocks after the joins below
/// have no charge of their own to test.
#[test]
fn joins_bring_the_untested_path_along() {
    const JOINS: &str = r#"(module
      (import "env" "note" (func $note (param i32)))
      (memory (export "memory") 1)
      (global $g (export "g") (mut i32) (i32.const 0))
      (table $t (export "table") 2 funcref)

      (func (export "if_else") (param $x i32) (result i32)
        (if (local.get $x)
          (then (local.set $x (i32.mul (local.get $x) (i32.mul (local.get $x) (local.get $x)))))
          (else (i32.store (i32.const 0) (i32.const 1))))
        (i32.store (i32.const 4) (local.get $x))
        (local.get $x))

      (func (export "branch_out") (param $x i32) (result i32)
        (block
          (local.set $x (i32.mul (local.get $x) (i32.mul (local.get $x) (local.get $x))))
          (br_if 0 (local.get $x))
          (i32.store (i32.const 0) (i32.const 1)))
        (i32.store (i32.const 4) (local.get $x))
        (local.get $x)))"#;
    let mut schedule = Schedule::default();
    schedule.structure = 0;
    schedule.store = 0;
    schedule.constant = 0;
    schedule.local = 0;
    for x in [0, 3] {
        agree_with(JOINS, &schedule, "if_else", x);
        agree_with(JOINS, &schedule, "branch_out", x);
    }
}

/// A loop whose head has no charge of its own (its first block is free
/// under this schedule) still tests the counter on every iteration, so a
/// loop that only makes deferred charges ends with `out_of_gas`. Run on a
/// thread: without the test at the head it would spin for 2^62 gas.
#[test]
fn a_loop_head_without_a_charge_tests() {
    const SPIN: &str = r#"(module
      (func (export "spin") (param $x i32) (result i32)
        (loop $l
          (block $b (br_if $b (local.get $x)))
          (local.set $x (i32.mul (local.get $x) (i32.const 3)))
          (br $l))
        unreachable))"#;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut schedule = Schedule::default();
        schedule.structure = 0;
        schedule.branch = 0;
        schedule.local = 0;
        schedule.constant = 0;
        let bytes = wat::parse_str(SPIN).expect("wat");
        let mut kinds = Vec::new();
        for engine in engines(&schedule) {
            let module = Module::new(&engine, &bytes).expect("compiles");
            let mut store = Store::new(&engine, ());
            let instance =
                Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");
            for gas in [0, 1, 7, 1_000, 100_000] {
                let outcome = instance
                    .call(&mut store, "spin", &[Value::I32(1)], gas)
                    .expect("call");
                kinds.push((
                    outcome.trap_kind().map(|k| k.name()),
                    outcome.gas_used(),
                    gas,
                ));
            }
        }
        let _ = done.send(kinds);
    });
    let kinds = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("every call ends");
    for (kind, used, gas) in kinds {
        assert_eq!((kind, used), (Some("out_of_gas"), gas));
    }
}
