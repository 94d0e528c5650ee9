//! Gas at a trap in the middle of a metered block: the block is paid in
//! full before it runs, so a trap at any of its checks leaves exactly what
//! running the block to its end would have, whichever check it is, however
//! many checks of the same kind came before, and across calls made inside
//! the block.

use detvm_vm::*;

const GAS: u64 = 1_000_000;

fn instantiate(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, &wat::parse_str(wat).expect("wat")).expect("module");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instance");
    (store, instance)
}

fn call(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Value]) -> Outcome {
    instance.call(store, name, args, GAS).expect("call")
}

/// One metered block (no branches) with several loads, a division and a
/// call in the middle; each argument makes a different check fail.
const STRAIGHT: &str = r#"(module
  (memory 1)
  (func $callee (param i32) (result i32)
    local.get 0 i32.const 7 i32.mul i32.const 3 i32.xor)
  (func (export "run") (param $a i32) (param $b i32) (param $d i32) (result i32)
    local.get $a i32.load
    local.get $a i32.load offset=8
    i32.add
    local.get $a i32.load offset=16
    i32.add
    local.get $d
    i32.div_u
    call $callee
    local.get $b i32.load
    i32.add
    local.get $b i32.load offset=4
    i32.add
    i32.const 100
    local.get $d
    i32.rem_u
    i32.add))"#;

#[test]
fn a_trap_anywhere_in_a_block_leaves_the_full_block_charged() {
    let (mut store, instance) = instantiate(STRAIGHT);
    let ok = call(
        &mut store,
        &instance,
        "run",
        &[Value::I32(0), Value::I32(0), Value::I32(1)],
    );
    assert!(ok.results().is_some(), "{ok:?}");
    let full = ok.gas_used();
    assert!(full > 0);
    let page = 65_536;
    let run = |store: &mut Store<()>, a: i32, b: i32, d: i32, kind: TrapKind| {
        let out = call(
            store,
            &instance,
            "run",
            &[Value::I32(a), Value::I32(b), Value::I32(d)],
        );
        assert_eq!(out.trap_kind(), Some(kind), "a={a} b={b} d={d}: {out:?}");
        out.gas_used()
    };
    // Before the call: the first load of the block, the second and third
    // (same base, the first passed) and the division after three loads.
    // All leave the block paid, and the callee not yet.
    let before_call = [
        run(&mut store, page, 0, 1, TrapKind::MemoryOutOfBounds),
        run(&mut store, page - 8, 0, 1, TrapKind::MemoryOutOfBounds),
        run(&mut store, page - 16, 0, 1, TrapKind::MemoryOutOfBounds),
        run(&mut store, 0, 0, 0, TrapKind::IntegerDivideByZero),
    ];
    assert!(
        before_call.iter().all(|&g| g == before_call[0]),
        "{before_call:?}"
    );
    assert!(before_call[0] < full);
    // After the call, which reloaded the counters: everything paid.
    assert_eq!(
        run(&mut store, 0, page, 1, TrapKind::MemoryOutOfBounds),
        full
    );
    assert_eq!(
        run(&mut store, 0, page - 4, 1, TrapKind::MemoryOutOfBounds),
        full
    );
}

/// A loop whose body loads from a moving address and traps once it leaves
/// memory: every iteration paid so far, and no more.
const LOOP: &str = r#"(module
  (memory 1)
  (func (export "sum") (param $p i32) (param $n i32) (result i32)
    (local $acc i32)
    (loop $next
      (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $p))))
      (local.set $acc (i32.add (local.get $acc) (i32.load offset=4 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $next (local.get $n)))
    (local.get $acc)))"#;

#[test]
fn a_trap_in_a_loop_leaves_the_iterations_paid() {
    let (mut store, instance) = instantiate(LOOP);
    let used = |store: &mut Store<()>, p: i32, n: i32| {
        call(store, &instance, "sum", &[Value::I32(p), Value::I32(n)])
    };
    let one = used(&mut store, 0, 1).gas_used();
    let two = used(&mut store, 0, 2).gas_used();
    let per_iteration = two - one;
    assert!(per_iteration > 0);
    // Iteration k (from 1) reads at p + 8 (k - 1): the first load of
    // iteration k fails from `first(k)`, only the second from `first(k) - 4`.
    let first = |k: i32| 65_536 - 8 * (k - 1);
    let mut previous = None;
    for k in 1..=4 {
        let a = used(&mut store, first(k), 10);
        let b = used(&mut store, first(k) - 4, 10);
        for out in [&a, &b] {
            assert_eq!(
                out.trap_kind(),
                Some(TrapKind::MemoryOutOfBounds),
                "{k}: {out:?}"
            );
        }
        // Both fail inside iteration k, which was paid in full.
        assert_eq!(a.gas_used(), b.gas_used(), "iteration {k}");
        if let Some(before) = previous {
            assert_eq!(a.gas_used() - before, per_iteration, "iteration {k}");
        }
        previous = Some(a.gas_used());
    }
}

/// Loads of one base in a row, as in a struct read, and the same with a
/// store in between; their bounds checks may be merged only when nothing
/// observable lies between them.
const FIELDS: &str = r#"(module
  (memory (export "mem") 1)
  (func (export "fields") (param $p i32) (result i32)
    local.get $p i32.load
    local.get $p i32.load offset=4
    i32.add
    local.get $p i32.load offset=12
    i32.add)
  (func (export "store_between") (param $p i32) (result i32)
    local.get $p i32.load
    i32.const 0
    i32.const 7
    i32.store
    local.get $p i32.load offset=8
    i32.add))"#;

#[test]
fn a_later_field_out_of_bounds_traps_as_before() {
    let (mut store, instance) = instantiate(FIELDS);
    let full = call(&mut store, &instance, "fields", &[Value::I32(0)]).gas_used();
    // The first load fits, the second or the third does not.
    for p in [65_536 - 4, 65_536 - 12, 65_536 - 15] {
        let out = call(&mut store, &instance, "fields", &[Value::I32(p)]);
        assert_eq!(
            out,
            Outcome::Trap {
                kind: TrapKind::MemoryOutOfBounds,
                message: None,
                gas_used: full
            },
            "p={p}"
        );
    }
    // The store between the loads happens before the second one traps.
    let out = call(
        &mut store,
        &instance,
        "store_between",
        &[Value::I32(65_536 - 8)],
    );
    assert_eq!(out.trap_kind(), Some(TrapKind::MemoryOutOfBounds));
    let memory = instance.get_memory(&store, "mem").unwrap();
    let mut word = [0; 4];
    memory.read(&store, 0, &mut word).unwrap();
    assert_eq!(u32::from_le_bytes(word), 7);
}

/// `call_indirect` after calls and a join, with nothing before it that
/// makes `VMRuntime` hold the counters: whichever of its checks fails
/// (bounds, null, type; one branch in the code), the trap leaves exactly
/// what the successful call leaves minus the callee's own gas.
const INDIRECT: &str = r#"(module
  (memory 1)
  (type $v (func (result i32)))
  (table $t 3 funcref)
  (elem (table $t) (i32.const 0) func $ok $other)
  (func $ok (export "ok") (result i32) (i32.const 1))
  (func $other (param i32) (result i32) (local.get 0))
  (func $work (param i32) (result i32)
    (i32.xor (i32.mul (local.get 0) (i32.const 3)) (i32.const 5)))
  (func (export "run") (param $i i32) (result i32)
    (local $x i32)
    (local.set $x (call $work (i32.const 7)))
    (if (i32.gt_u (local.get $x) (i32.const 1000))
      (then (local.set $x (call $work (local.get $x)))))
    (local.set $x (i32.add (local.get $x) (i32.const 1)))
    (drop (local.get $x))
    (call_indirect $t (type $v) (local.get $i))))"#;

#[test]
fn an_indirect_call_trap_leaves_the_caller_paid_and_the_callee_not() {
    let (mut store, instance) = instantiate(INDIRECT);
    let callee = call(&mut store, &instance, "ok", &[]).gas_used();
    let ok = call(&mut store, &instance, "run", &[Value::I32(0)]);
    assert_eq!(ok.results(), Some(&[Value::I32(1)][..]), "{ok:?}");
    let caller = ok.gas_used() - callee;
    for (index, kind) in [
        (1, TrapKind::IndirectCallTypeMismatch),
        (2, TrapKind::UninitializedElement),
        (3, TrapKind::TableOutOfBounds),
        (-1, TrapKind::TableOutOfBounds),
    ] {
        let out = call(&mut store, &instance, "run", &[Value::I32(index)]);
        assert_eq!(
            out,
            Outcome::Trap {
                kind,
                message: None,
                gas_used: caller
            },
            "index {index}"
        );
    }
}
