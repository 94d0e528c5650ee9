//! The `detvm` counters kept in variables: passed in registers across Wasm
//! calls, synchronised with `VMRuntime` around host calls, entry and trap
//! exits, with the charge sites lowered as one unit and the general
//! lowering alike.

use super::harness::{HostFn, Instance, OPTS, translated_clif, with_host_counters, without_sites};
use crate::vmctx::TrapCode;

/// The imports of an instrumented module, and `$charge_N` / `$frame_N`
/// spelled out as the instrumentation writes them (the fused sequence).
const PRELUDE: &str = r#"
    (import "detvm" "out_of_gas" (func $oog))
    (import "detvm" "stack_overflow" (func $so))
    (import "detvm" "gas_left" (global $gas (mut i64)))
    (import "detvm" "stack_left" (global $stack (mut i64)))
"#;

fn charge(c: u64) -> String {
    format!(
        "global.get $gas i64.const {c} i64.lt_u if call $oog end \
         global.get $gas i64.const {c} i64.sub global.set $gas"
    )
}

fn frame(f: u64) -> String {
    format!(
        "global.get $stack i64.const {f} i64.lt_u if call $so end \
         global.get $stack i64.const {f} i64.sub global.set $stack"
    )
}

fn release(f: u64) -> String {
    format!("global.get $stack i64.const {f} i64.add global.set $stack")
}

/// The same charge, not in the fixed form (the amount comes from a local),
/// so it takes the general lowering.
fn charge_general(c: u64) -> String {
    format!(
        "i64.const {c} local.set $amount \
         global.get $gas local.get $amount i64.lt_u if call $oog end \
         global.get $gas local.get $amount i64.sub global.set $gas"
    )
}

fn module(body: &str) -> String {
    format!("(module {PRELUDE} {body})")
}

/// Runs `f` with the charge lowered as one unit (a charge site), and by
/// the general lowering: in another shape, and in the fixed shape without
/// a site.
fn each_lowering(f: impl Fn(&dyn Fn(u64) -> String)) {
    f(&charge);
    f(&charge_general);
    without_sites(|| f(&charge));
}

/// What [`each_lowering`] relies on: a fixed shape is lowered as one unit
/// only where a site says so. Deferred gas charges add no block; the
/// general lowering adds the `if`'s.
#[test]
fn only_a_charge_site_is_lowered_as_one_unit() {
    let wat = module(&format!(
        r#"(func (export "run") (param i32) (result i32) (local $amount i64)
             {c5} (local.set 0 (i32.add (local.get 0) (i32.const 1)))
             {c5} (local.set 0 (i32.add (local.get 0) (i32.const 1)))
             {c5} (local.get 0))"#,
        c5 = charge(5),
    ));
    let bytes = wat::parse_str(&wat).expect("wat");
    let blocks = |clif: Vec<String>| clif.concat().matches("\nblock").count();
    let sites = blocks(translated_clif(&bytes));
    let shapes = blocks(without_sites(|| translated_clif(&bytes)));
    assert!(
        sites + 4 <= shapes,
        "{sites} blocks with sites, {shapes} without"
    );
    for opt in OPTS {
        let compile = || Instance::new(&wat, opt, Vec::new());
        for mut inst in [compile(), without_sites(compile)] {
            inst.set_counters(20, 1000);
            assert_eq!(inst.call("run", &[1]), Ok(vec![3]));
            assert_eq!(inst.counters(), (5, 1000));
        }
        // The last charge fails. Deferred, it leaves the counter negative
        // for the runtime to report; in the general lowering it traps
        // with the counter from before it.
        let mut inst = compile();
        inst.set_counters(14, 1000);
        assert_eq!(inst.call("run", &[1]), Ok(vec![3]));
        assert_eq!(inst.counters(), (-1, 1000));
        let mut inst = without_sites(compile);
        inst.set_counters(14, 1000);
        assert_eq!(inst.call("run", &[1]), Err(TrapCode::OutOfGas));
        assert_eq!(inst.counters(), (4, 1000));
    }
}

/// Adds one to the `i32` at `addr`: a mark that the code before it ran.
fn mark(addr: u32) -> String {
    format!("(i32.store (i32.const {addr}) (i32.add (i32.load (i32.const {addr})) (i32.const 1)))")
}

fn marks(inst: &Instance, count: usize) -> Vec<u32> {
    inst.memory()[..4 * count]
        .chunks(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
        .collect()
}

/// A failed checking charge ends the call where it stands, nothing after
/// it runs: at a loop head, and at the opaque charge that consumes the
/// head's counter. What `VMRuntime` holds then is not defined (an
/// `out_of_gas` reports the whole limit without reading it).
#[test]
fn a_failed_checking_charge_ends_the_call_there() {
    let wat = module(&format!(
        r#"(memory 1)
           (func (export "run") (param $n i32) (local $amount i64)
             (block $done
               (loop $l
                 {c3}
                 (br_if $done (i32.eqz (local.get $n)))
                 {c5}
                 {mark}
                 (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                 (br $l))))"#,
        c3 = charge(3),
        c5 = charge(5),
        mark = mark(0),
    ));
    for opt in OPTS {
        let run = |gas: i64| {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(gas, 1000);
            let outcome = inst.call("run", &[1]);
            (outcome, marks(&inst, 1)[0])
        };
        assert_eq!(run(11), (Ok(vec![]), 1));
        // The charge after the exit test (opaque) fails in the first
        // iteration, the loop head's in the second.
        assert_eq!(run(7), (Err(TrapCode::OutOfGas), 0));
        assert_eq!(run(8), (Err(TrapCode::OutOfGas), 1));
        assert_eq!(run(10), (Err(TrapCode::OutOfGas), 1));
    }
}

/// A failed checking charge stores nothing: a hundred loops, each opened
/// by one, and the cold blocks they branch to hold a trap instruction
/// alone and take no argument; each still fails at the right loop.
#[test]
fn failed_checking_charges_store_nothing() {
    let one_loop = format!(
        "(loop $l {c2} {mark} (br_if $l (local.get 0)))",
        c2 = charge(2),
        mark = mark(0)
    );
    let wat = module(&format!(
        r#"(memory 1) (func (export "run") (param i32) (local $amount i64) {})"#,
        one_loop.repeat(100)
    ));
    let clif = translated_clif(&wat::parse_str(&wat).expect("wat")).concat();
    let cold: Vec<&str> = clif
        .split("\nblock")
        .filter(|block| {
            block
                .lines()
                .next()
                .is_some_and(|head| head.ends_with("cold:"))
        })
        .collect();
    assert!(cold.iter().all(|block| !block.contains(": i64")), "{clif}");
    let storing = cold.iter().filter(|block| block.contains("store")).count();
    let trapping_alone = cold
        .iter()
        .filter(|block| {
            block
                .lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty() && *l != "}")
                .count()
                == 1
        })
        .count();
    assert_eq!(storing, 0, "{clif}");
    assert!(
        trapping_alone >= 100,
        "{trapping_alone} exits of a trap alone:\n{clif}"
    );
    for opt in OPTS {
        let mut inst = Instance::new(&wat, opt, Vec::new());
        // With 0, each loop runs once.
        inst.set_counters(200, 1000);
        assert_eq!(inst.call("run", &[0]), Ok(vec![]));
        assert_eq!(inst.counters(), (0, 1000));
        assert_eq!(marks(&inst, 1), [100]);
        for limit in [1, 2, 63, 64, 65, 150, 199] {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(limit, 1000);
            assert_eq!(inst.call("run", &[0]), Err(TrapCode::OutOfGas), "{limit}");
            // The loops paid for ran; the next one's charge failed.
            assert_eq!(marks(&inst, 1), [limit as u32 / 2], "{limit}");
        }
    }
}

#[test]
fn a_trap_in_a_callee_leaves_the_callees_counters() {
    each_lowering(|charge| {
        let wat = module(&format!(
            r#"(func $callee (param i32) (local $amount i64)
                 {c10} {f16}
                 (if (local.get 0) (then unreachable))
                 {r16})
               (func (export "run") (param i32) (local $amount i64)
                 {c5}
                 (call $callee (i32.const 0))
                 {c5}
                 (call $callee (local.get 0))
                 {c5})"#,
            c10 = charge(10),
            c5 = charge(5),
            f16 = frame(16),
            r16 = release(16),
        ));
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(100, 1000);
            assert_eq!(inst.call("run", &[0]), Ok(vec![]));
            assert_eq!(inst.counters(), (100 - 35, 1000));
            inst.set_counters(100, 1000);
            assert_eq!(inst.call("run", &[1]), Err(TrapCode::Unreachable));
            // Charged up to the trap; the callee's frame is still taken.
            assert_eq!(inst.counters(), (100 - 30, 1000 - 16));
        }
    });
}

#[test]
fn out_of_gas_in_a_callee_of_a_loop() {
    each_lowering(|charge| {
        let wat = module(&format!(
            r#"(memory 1)
               (func $callee (local $amount i64) {c7} {callee_ran})
               (func (export "run") (param $n i32) (result i32) (local $amount i64)
                 (loop $next
                   {c3}
                   {loop_ran}
                   (call $callee)
                   (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                   (br_if $next (local.get $n)))
                 (i32.const 7))"#,
            c7 = charge(7),
            c3 = charge(3),
            loop_ran = mark(0),
            callee_ran = mark(4),
        ));
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(105, 1000);
            assert_eq!(inst.call("run", &[10]), Ok(vec![7]));
            assert_eq!(inst.counters(), (5, 1000));
            // The 11th iteration: the loop's charge leaves 2, the callee's
            // charge of 7 fails.
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(105, 1000);
            assert_eq!(inst.call("run", &[11]), Err(TrapCode::OutOfGas));
            assert_eq!(marks(&inst, 2), [11, 10]);
            // Failing in the loop itself.
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(101, 1000);
            assert_eq!(inst.call("run", &[11]), Err(TrapCode::OutOfGas));
            assert_eq!(marks(&inst, 2), [10, 10]);
        }
    });
}

fn host_charge() -> Vec<(&'static str, HostFn)> {
    vec![(
        "charge",
        Box::new(|args: &[u64]| {
            with_host_counters(|gas, _| {
                let amount = args[0] as i64;
                if amount > *gas {
                    *gas = 0;
                    None
                } else {
                    *gas -= amount;
                    Some(vec![])
                }
            })
        }),
    )]
}

#[test]
fn host_charges_inside_a_loop() {
    each_lowering(|charge| {
        let wat = format!(
            r#"(module
                 (import "detvm" "out_of_gas" (func $oog))
                 (import "detvm" "stack_overflow" (func $so))
                 (import "detvm" "gas_left" (global $gas (mut i64)))
                 (import "detvm" "stack_left" (global $stack (mut i64)))
                 (import "env" "charge" (func $charge (param i64)))
                 (func (export "run") (param $n i32) (result i64) (local $amount i64)
                   (loop $next
                     {c1}
                     (call $charge (i64.const 10))
                     (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                     (br_if $next (local.get $n)))
                   (global.get $gas)))"#,
            c1 = charge(1),
        );
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, host_charge());
            inst.set_counters(1000, 1000);
            assert_eq!(inst.call("run", &[50]), Ok(vec![1000 - 50 * 11]));
            assert_eq!(inst.counters(), (1000 - 50 * 11, 1000));
            // The host runs out: gas_left is what the host left.
            inst.set_counters(1000, 1000);
            assert_eq!(inst.call("run", &[100]), Err(TrapCode::Host));
            assert_eq!(inst.counters(), (0, 1000));
        }
    });
}

#[test]
fn stack_left_is_restored_across_calls() {
    let wat = module(&format!(
        r#"(func $down (param $d i32) (result i32)
             {f24}
             (if (result i32) (local.get $d)
               (then (call $down (i32.sub (local.get $d) (i32.const 1))))
               (else (i32.wrap_i64 (global.get $stack))))
             {r24})
           (func (export "run") (param i32) (result i32 i64)
             {f8}
             (call $down (local.get 0))
             (global.get $stack)
             {r8})"#,
        f24 = frame(24),
        r24 = release(24),
        f8 = frame(8),
        r8 = release(8),
    ));
    for opt in OPTS {
        let mut inst = Instance::new(&wat, opt, Vec::new());
        inst.set_counters(1000, 1000);
        // The innermost call sees every frame taken; after the calls the
        // caller's own frame is all that is.
        assert_eq!(
            inst.call("run", &[3]),
            Ok(vec![1000 - 8 - 4 * 24, 1000 - 8])
        );
        assert_eq!(inst.counters(), (1000, 1000));
        // 1000 - 8 = 992 = 41 frames of 24 and 8 left: the 42nd overflows,
        // with stack_left as it was before it.
        inst.set_counters(1000, 1000);
        assert_eq!(inst.call("run", &[100]), Err(TrapCode::StackOverflow));
        assert_eq!(inst.counters(), (1000, 8));
    }
}

#[test]
fn large_functions_keep_the_same_counters() {
    // Above 1,000 Wasm blocks the counters stay in memory; the observable
    // counters are the same.
    for blocks in [0, 1_001] {
        let wat = module(&format!(
            r#"(memory 1)
               (func $callee {c7} {callee_ran})
               (func (export "run") (param $n i32) (result i32)
                 {open}
                 (loop $next
                   {c3}
                   {loop_ran}
                   (call $callee)
                   (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                   (br_if $next (local.get $n)))
                 {close}
                 (i32.const 7))"#,
            c7 = charge(7),
            c3 = charge(3),
            open = "(block ".repeat(blocks),
            close = ")".repeat(blocks),
            loop_ran = mark(0),
            callee_ran = mark(4),
        ));
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(105, 1000);
            assert_eq!(inst.call("run", &[10]), Ok(vec![7]), "{blocks} blocks");
            assert_eq!(inst.counters(), (5, 1000));
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(105, 1000);
            assert_eq!(inst.call("run", &[11]), Err(TrapCode::OutOfGas));
            assert_eq!(marks(&inst, 2), [11, 10], "{blocks} blocks");
        }
    }
}

#[test]
fn stack_left_is_current_at_a_builtin_after_calls() {
    // `VMRuntime.stack_left` is stored before a builtin call and reloaded
    // after it; no fast path stores it otherwise. After `$middle` (which
    // calls `$leaf`) returns, a builtin in `run` must see `run`'s value,
    // not a callee's. Reached directly and through the table alike. After
    // a memory trap only `gas_left` is defined.
    for call in [
        "(call $middle (i32.const 0))",
        "(call_indirect (type $t) (i32.const 0) (i32.const 0))",
    ] {
        let wat = module(&format!(
            r#"(type $t (func (param i32) (result i32)))
               (memory 1)
               (table funcref (elem $middle))
               (func $leaf (param i32) (result i32)
                 {f16}
                 (i32.load (local.get 0))
                 {r16})
               (func $middle (param i32) (result i32)
                 {f24}
                 (call $leaf (local.get 0))
                 {r24})
               (func (export "run") (param i32) (result i32)
                 {f8}
                 (drop {call})
                 (drop (memory.grow (i32.const 0)))
                 (i32.add
                   (i32.load (local.get 0))
                   (i32.wrap_i64 (global.get $stack)))
                 {r8})"#,
            f16 = frame(16),
            r16 = release(16),
            f24 = frame(24),
            r24 = release(24),
            f8 = frame(8),
            r8 = release(8),
        ));
        for opt in OPTS {
            let mut inst = Instance::new(&wat, opt, Vec::new());
            inst.set_counters(1000, 1000);
            assert_eq!(inst.call("run", &[0]), Ok(vec![992]));
            assert_eq!(inst.counters(), (1000, 1000));
            inst.set_counters(1000, 1000);
            assert_eq!(
                inst.call("run", &[70_000]),
                Err(TrapCode::MemoryOutOfBounds)
            );
            assert_eq!(inst.counters().0, 1000);
        }
    }
}
