//! Reused bounds checks (`docs/vm.md`, "Checks"): an access skips its check
//! when the same address was checked for an end at least as far at a point
//! every path to it passed. These functions each give a check a way to
//! reach an access it must not cover (an `if` arm, an early exit from a
//! block or a loop, the other arm of an `if`), so a leaked check would let
//! an out-of-bounds access run instead of trapping; and ways it may reach
//! one (straight code, a construct's end, a loop's end), where results,
//! traps and gas must not change. Every function is called under every
//! configuration; outcomes must agree and equal what Wasm says. Inside a
//! loop, a local the loop never writes is read as its value from before
//! the loop, so a check there covers it; one written anywhere in the loop
//! (a nested loop too) must be checked again on every iteration.

mod common;

use common::{call_i32, checks_per_function, every_config, instantiate};
use detvm_vm::Engine;

/// The module's functions; [`module`] adds one generated function.
const FUNCS: &str = r#"

  ;; A check inside an `if` arm does not hold after the `if`.
  (func (export "if_arm") (param $a i32) (param $c i32) (result i32)
    (if (local.get $c) (then (drop (i32.load offset=8 (local.get $a)))))
    (i32.load (local.get $a)))

  ;; A check in one arm does not hold in the other.
  (func (export "other_arm") (param $a i32) (param $c i32) (result i32)
    (if (result i32) (local.get $c)
      (then (i32.load offset=8 (local.get $a)))
      (else (i32.load (local.get $a)))))

  ;; A block left early, before its check.
  (func (export "block_exit") (param $a i32) (param $c i32) (result i32)
    (block (br_if 0 (local.get $c)) (drop (i32.load offset=8 (local.get $a))))
    (i32.load (local.get $a)))

  ;; A loop left through an outer block, before its check.
  (func (export "loop_exit") (param $a i32) (param $c i32) (result i32)
    (block $out
      (loop $l
        (br_if $out (local.get $c))
        (drop (i32.load offset=8 (local.get $a)))
        (br_if $l (i32.const 0))))
    (i32.load (local.get $a)))

  ;; A `br_table` out of a block, before its check.
  (func (export "table_exit") (param $a i32) (param $c i32) (result i32)
    (block $b1 (block $b0
      (br_table $b0 $b1 (local.get $c)))
      (drop (i32.load offset=8 (local.get $a))))
    (i32.load (local.get $a)))

  ;; A check before a construct covers accesses after it, and inside it;
  ;; a store in the block writes before the later trap.
  (func (export "before_block") (param $a i32) (param $c i32) (result i32)
    (i32.store offset=8 (local.get $a) (i32.const 11))
    (block (br_if 0 (local.get $c)) (i32.store (local.get $a) (i32.const 22)))
    (if (local.get $c) (then (i32.store offset=4 (local.get $a) (i32.const 33))))
    (i32.add (i32.load (local.get $a)) (i32.load offset=4 (local.get $a))))

  ;; A check at the end of a loop's body covers accesses after the loop.
  (func (export "after_loop") (param $a i32) (param $c i32) (result i32)
    (loop $l
      (i32.store offset=8 (local.get $a) (local.get $c))
      (br_if $l (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
    (i32.load offset=4 (local.get $a)))

  ;; After growing, a check from before still holds (memory only grows),
  ;; and a new address is checked against the new size.
  (func (export "grown") (param $a i32) (param $c i32) (result i32)
    (drop (i32.load offset=8 (local.get $a)))
    (if (local.get $c) (then (drop (memory.grow (i32.const 1)))))
    (i32.add (i32.load (local.get $a)) (i32.load (local.get $c))))

  ;; `a` is never written in the loop: the store before it covers the
  ;; load inside, in a nested block and loop (`docs/vm.md`, "Checks").
  (func (export "held") (param $a i32) (param $c i32) (result i32)
    (local $sum i32)
    (i32.store offset=4 (local.get $a) (i32.const 5))
    (loop $l
      (block (loop $in
        (local.set $sum
          (i32.add (local.get $sum) (i32.load offset=4 (local.get $a))))))
      (br_if $l (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
    (local.get $sum))

  ;; `a` is written in a nested loop after the access: each iteration
  ;; loads from another address, checked again.
  (func (export "written_late") (param $a i32) (param $c i32) (result i32)
    (local $sum i32)
    (drop (i32.load offset=8 (local.get $a)))
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $a))))
      (block (loop $in (local.set $a (i32.add (local.get $a) (i32.const 4)))))
      (br_if $l (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
    (local.get $sum))

  (func (export "peek") (param $a i32) (param $c i32) (result i32)
    (i32.load (local.get $a)))"#;

/// How many distinct locals a loop writes before it may hold none.
const MANY: u32 = 64;

/// The test module: [`FUNCS`], and `many_writes`, whose loop writes
/// [`MANY`] other locals before `a`, again advancing it by 4 per
/// iteration after loading from it.
fn module() -> String {
    let sets: String = (0..MANY)
        .map(|i| format!("(local.set {} (local.get $c))", i + 2))
        .collect();
    format!(
        r#"(module (memory 1) {FUNCS}
  (func (export "many_writes") (param $a i32) (param $c i32) (result i32)
    (local {locals})
    (drop (i32.load offset=8 (local.get $a)))
    (loop $l
      (drop (i32.load (local.get $a)))
      {sets}
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
    (i32.const 0)))"#,
        locals = "i32 ".repeat(MANY as usize),
    )
}

/// What a call shows: its result or trap, gas used (metered), and what
/// `peek` then reads at `peek_at` from the same instance.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    outcome: Result<i32, &'static str>,
    gas_used: Option<u64>,
    peeked: Result<i32, &'static str>,
}

/// Calls `name(a, c)` under every configuration; all must agree (gas per
/// metering setting). Returns the outcome and what `peek(peek_at)` reads
/// after it.
fn agree(
    name: &str,
    a: i32,
    c: i32,
    peek_at: i32,
) -> (Result<i32, &'static str>, Result<i32, &'static str>) {
    let bytes = wat::parse_str(module()).expect("wat");
    let mut reference: [Option<Seen>; 2] = [None, None];
    for config in every_config() {
        let label = format!(
            "{name}({a}, {c}): {:?} slots={} metering={}",
            config.opt_level, config.slot_strategy_only, config.metering
        );
        let metering = config.metering;
        let engine = Engine::new(config).expect("engine");
        let (mut store, instance) = instantiate(&engine, &bytes);
        let (outcome, gas_used) = call_i32(&instance, &mut store, name, &[a, c], 1 << 40);
        let (peeked, _) = call_i32(&instance, &mut store, "peek", &[peek_at, 0], 1 << 40);
        let seen = Seen {
            outcome,
            gas_used: metering.then_some(gas_used),
            peeked,
        };
        match &reference[usize::from(metering)] {
            None => reference[usize::from(metering)] = Some(seen),
            Some(expected) => assert_eq!(&seen, expected, "{label}"),
        }
    }
    let [unmetered, metered] = reference.map(|seen| seen.expect("ran"));
    assert_eq!(
        (metered.outcome, metered.peeked),
        (unmetered.outcome, unmetered.peeked),
        "{name}({a}, {c}): metering changed the outcome"
    );
    (unmetered.outcome, unmetered.peeked)
}

const OOB: Result<i32, &str> = Err("memory_out_of_bounds");
/// The last address a 4-byte load may use in one page.
const LAST: i32 = 65532;

#[test]
fn a_check_does_not_reach_past_a_join_it_does_not_dominate() {
    // Each function checks `a + 12` on one path only; `a = LAST - 8` passes
    // that check, and `a = LAST + 1` fails the 4-byte access after it,
    // which must trap on the path that skipped the check (`c = 0` for
    // `if_arm`, `c = 1` for the others).
    for name in ["if_arm", "block_exit", "loop_exit"] {
        for c in [0, 1] {
            assert_eq!(agree(name, LAST + 1, c, 0).0, OOB, "{name} {c}");
        }
        assert_eq!(agree(name, LAST - 8, 0, 0).0, Ok(0), "{name}");
    }
    assert_eq!(agree("if_arm", LAST - 8, 1, 0).0, Ok(0));
    // Both exits of the `br_table` (its default too) skip the check.
    for c in [0, 1, 7] {
        assert_eq!(agree("table_exit", LAST + 1, c, 0).0, OOB, "table_exit {c}");
    }
    assert_eq!(agree("table_exit", LAST - 8, 0, 0).0, Ok(0));
    // The `else` arm's access is checked on its own.
    assert_eq!(agree("other_arm", LAST + 1, 0, 0).0, OOB);
    assert_eq!(agree("other_arm", LAST, 0, 0).0, Ok(0));
    assert_eq!(agree("other_arm", LAST - 8, 1, 0).0, Ok(0));
    assert_eq!(agree("other_arm", LAST - 7, 1, 0).0, OOB);
}

#[test]
fn a_check_that_dominates_still_traps_and_writes_as_wasm_says() {
    // The check before the block covers every later access of `a`.
    assert_eq!(agree("before_block", 100, 0, 100), (Ok(22), Ok(22)));
    assert_eq!(agree("before_block", 100, 1, 104), (Ok(33), Ok(33)));
    // The first store traps: nothing written.
    assert_eq!(agree("before_block", LAST - 7, 0, LAST - 8), (OOB, Ok(0)));
    assert_eq!(agree("before_block", LAST - 8, 0, LAST), (Ok(22), Ok(11)));
    // After the loop: the last store's value, read back.
    assert_eq!(agree("after_loop", 100, 3, 108), (Ok(0), Ok(1)));
    assert_eq!(agree("after_loop", LAST - 8, 1, LAST), (Ok(0), Ok(1)));
    assert_eq!(agree("after_loop", LAST - 7, 1, 0), (OOB, Ok(0)));
    // A check made before `memory.grow` stays true after it; the other
    // address is checked against the size after the grow.
    assert_eq!(agree("grown", LAST - 8, 65536, 0).0, Ok(0));
    assert_eq!(agree("grown", LAST - 8, 0, 0).0, Ok(0));
    assert_eq!(agree("grown", 0, 65536 + 65532, 0).0, Ok(0));
    assert_eq!(agree("grown", 0, 65536 + 65533, 0).0, OOB);
}

#[test]
fn a_local_the_loop_never_writes_is_covered_by_a_check_before_it() {
    // 5 stored at a + 4, read back three times.
    assert_eq!(agree("held", 100, 3, 104), (Ok(15), Ok(5)));
    assert_eq!(agree("held", LAST - 4, 3, LAST), (Ok(15), Ok(5)));
    assert_eq!(agree("held", LAST - 3, 3, LAST), (OOB, Ok(0)));
    let bytes = wat::parse_str(module()).expect("wat");
    for config in every_config() {
        let label = format!("{config:?}");
        let registers = !config.slot_strategy_only;
        let engine = Engine::new(config).expect("engine");
        let checks = checks_per_function(&engine, &bytes);
        // `held` is the ninth function: the store's check only.
        assert_eq!(checks[8], if registers { 1 } else { 2 }, "{label}");
        // `written_late`: the load in the loop is checked each time.
        assert_eq!(checks[9], 2, "{label}");
    }
}

#[test]
fn a_local_written_anywhere_in_the_loop_is_checked_on_every_iteration() {
    for name in ["written_late", "many_writes"] {
        // Loads at LAST - 8, LAST - 4 and LAST: in bounds.
        assert_eq!(agree(name, LAST - 8, 3, 0).0, Ok(0), "{name}");
        // The fourth at LAST + 4 is not.
        assert_eq!(agree(name, LAST - 8, 4, 0).0, OOB, "{name}");
    }
}
