//! Proven loops (`docs/vm.md`, "Proven loops"): a loop whose accesses a
//! test before it proves in bounds runs a copy without their checks. The
//! copy must be indistinguishable from the loop as written: same results,
//! same trap at the same point with the same memory and gas, at every
//! boundary of the proof (trip counts that do not divide, counters and
//! addresses that wrap, the last byte of memory, negative steps, gas
//! running out inside the loop). The slot strategy, which never versions a
//! loop, is the reference; every other configuration must agree with it.

mod common;

use common::{call_i32, every_config, instantiate};
use detvm_vm::{Engine, Module};

const MODULE: &str = r#"(module
  (memory (export "memory") 1)

  ;; a = p; i = 0; do { [a] = i; a += 4; i += 1 } while i != n
  (func (export "up_ne") (param $p i32) (param $n i32) (param $s i32) (result i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (local.get $n))))
    (local.get $i))

  ;; The shape of an unrolled product loop: two pointers, two accesses
  ;; each, a counter stepping by two, `<u`.
  (func (export "pair_lt") (param $p i32) (param $n i32) (param $q i32) (result i32) (local $i i32)
    (block $out
      (loop $l
        (i32.store (local.get $p)
          (i32.add (i32.load (local.get $p)) (i32.load (local.get $q))))
        (i32.store offset=4 (local.get $p)
          (i32.add (i32.load offset=4 (local.get $p)) (i32.load offset=4 (local.get $q))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $n)))
        (br $out)))
    (local.get $i))

  ;; Walks down: a = p; do { [a - 4] = a; a -= 4 } while a >u n
  (func (export "down_gt") (param $p i32) (param $n i32) (param $s i32) (result i32)
    (loop $l
      (i32.store8 offset=3 (i32.sub (local.get $p) (i32.const 4)) (local.get $p))
      (local.set $p (i32.sub (local.get $p) (i32.const 4)))
      (br_if $l (i32.gt_u (local.get $p) (local.get $n))))
    (local.get $p))

  ;; A counter that starts at `s` and steps by 8 towards `n` with `<u`,
  ;; also the address (plus 256): when `n` is near 2^32 the counter wraps
  ;; and starts again from small values, and the loop runs on until an
  ;; address leaves the memory.
  (func (export "wrapping_counter") (param $p i32) (param $n i32) (param $s i32) (result i32)
    (loop $l
      (i64.store (i32.add (local.get $s) (i32.const 256))
        (i64.add (i64.load (local.get $p)) (i64.const 1)))
      (br_if $l (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 8))) (local.get $n))))
    (local.get $s))

  ;; The address is the counter minus 4: wraps below zero at the start.
  (func (export "below_zero") (param $p i32) (param $n i32) (param $s i32) (result i32)
    (loop $l
      (i32.store (i32.add (local.get $p) (i32.const -4)) (local.get $p))
      (br_if $l (i32.ne (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $n))))
    (local.get $p))

  ;; Branches inside the loop; the accesses' address `p` never changes, so
  ;; one test before the loop proves them. `i` odd: accumulate at p + 8;
  ;; even: store at p.
  (func (export "invariant_in_branches") (param $p i32) (param $n i32) (param $grow i32) (result i32) (local $i i32)
    (loop $l
      (if (i32.and (local.get $i) (i32.const 1))
        (then (i32.store offset=8 (local.get $p)
          (i32.add (i32.load offset=8 (local.get $p)) (local.get $i))))
        (else (i32.store (local.get $p) (local.get $i))))
      ;; Growing inside the loop keeps the proof true.
      (if (local.get $grow) (then (drop (memory.grow (i32.const 1)))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i32.add (i32.load (local.get $p)) (i32.load offset=8 (local.get $p))))

  ;; The address local is written in a nested block: never proven.
  (func (export "written_in_a_block") (param $p i32) (param $n i32) (param $s i32) (result i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (local.get $i))
      (block (br_if 0 (i32.eqz (local.get $s)))
        (local.set $p (i32.add (local.get $p) (local.get $s))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $p))

  ;; The address local is set to `p + 8`, or in a nested block (odd `i`
  ;; when `s` is odd) to `p + 16`: proven at both, and at its value from
  ;; before the loop.
  (func (export "slot_set_in_a_block") (param $p i32) (param $n i32) (param $s i32) (result i32) (local $i i32) (local $a i32)
    (loop $l
      (local.set $a (i32.add (local.get $p) (i32.const 8)))
      (block (br_if 0 (i32.eqz (i32.and (local.get $i) (local.get $s))))
        (local.set $a (i32.add (local.get $p) (i32.const 16))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (local.get $i)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $i))

  ;; The first store uses `q` as passed, later ones `p + 4`.
  (func (export "slot_used_before_set") (param $p i32) (param $n i32) (param $q i32) (result i32) (local $i i32)
    (loop $l
      (i32.store (local.get $q) (local.get $i))
      (local.set $q (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $i))

  ;; The sieve's inner loop, its step in a local: a = p; m = 0;
  ;; do { [a] = 1 (a byte); a += s; m += s } while m <=u n. Returns m.
  (func (export "step_local_le") (param $p i32) (param $n i32) (param $s i32) (result i32) (local $m i32)
    (loop $l
      (i32.store8 (local.get $p) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (br_if $l (i32.le_u (local.tee $m (i32.add (local.get $m) (local.get $s))) (local.get $n))))
    (local.get $m))

  ;; The same with the test before the step and `<u`: do { [a + 3] = a
  ;; (a word); c = m <u n; a += s; m += s } while c.
  (func (export "step_local_lt_before") (param $p i32) (param $n i32) (param $s i32) (result i32) (local $m i32)
    (loop $l
      (i32.store offset=3 (local.get $p) (local.get $p))
      local.get $m
      local.get $n
      i32.lt_u
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (local.set $m (i32.add (local.get $m) (local.get $s)))
      br_if $l)
    (local.get $m))

  ;; Sum of memory words [0, 65536): a loop with a block, never versioned.
  ;; Float arithmetic between the address and its access: a = p;
  ;; do { [a] = [a] / s + 0.5 (f64); a += 8; i += 1 } while i != n. With
  ;; s = 0 every stored value is a NaN the store canonicalises.
  (func (export "f64_scale") (param $p i32) (param $n i32) (param $s i32) (result i32)
    (local $i i32) (local $x f64)
    (local.set $x (f64.convert_i32_s (local.get $s)))
    (loop $l
      (f64.store (local.get $p)
        (f64.add (f64.div (f64.load (local.get $p)) (local.get $x)) (f64.const 0.5)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (local.get $n))))
    (local.get $i))

  (func (export "sum") (result i32) (local $a i32) (local $acc i32)
    (loop $l
      (block (local.set $a (local.get $a)))
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (i32.load (local.get $a))))
      (br_if $l (i32.ne (local.tee $a (i32.add (local.get $a) (i32.const 4))) (i32.const 65536))))
    (local.get $acc)))"#;

/// What one call shows: its result or trap, the gas left (metered), and a
/// checksum of the memory after it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    outcome: Result<i32, &'static str>,
    gas_used: Option<u64>,
    memory: i32,
}

fn run(engine: &Engine, bytes: &[u8], name: &str, args: [i32; 3], gas: u64) -> Seen {
    let (mut store, instance) = instantiate(engine, bytes);
    let (outcome, gas_used) = call_i32(&instance, &mut store, name, &args, gas);
    let memory = call_i32(&instance, &mut store, "sum", &[], u64::MAX / 2)
        .0
        .expect("sum");
    Seen {
        outcome,
        gas_used: engine.config().metering.then_some(gas_used),
        memory,
    }
}

/// Calls `name(args)` under every configuration with `gas`; all must agree
/// with the reference (per metering setting). Returns the reference's
/// outcome.
fn agree(name: &str, args: [i32; 3], gas: u64) -> Result<i32, &'static str> {
    let bytes = wat::parse_str(MODULE).expect("wat");
    let mut reference: [Option<Seen>; 2] = [None, None];
    for config in every_config() {
        let label = format!(
            "{name}{args:?} gas {gas}: {:?} slots={} metering={}",
            config.opt_level, config.slot_strategy_only, config.metering
        );
        let metering = config.metering;
        let engine = Engine::new(config).expect("engine");
        let seen = run(&engine, &bytes, name, args, gas);
        match &reference[usize::from(metering)] {
            None => reference[usize::from(metering)] = Some(seen),
            Some(expected) => assert_eq!(&seen, expected, "{label}"),
        }
    }
    let [unmetered, metered] = reference;
    let (unmetered, metered) = (unmetered.expect("ran"), metered.expect("ran"));
    // Gas never changes what a call that completes computes.
    if metered.outcome.is_ok() {
        assert_eq!(metered.outcome, unmetered.outcome, "{name}{args:?}");
    }
    unmetered.outcome
}

const GAS: u64 = 1 << 40;
const OOB: Result<i32, &str> = Err("memory_out_of_bounds");

#[test]
fn counting_up_to_the_last_word_and_past_it() {
    // 16384 words fill the page exactly; one more traps after 16384
    // stores, which the memory checksum sees.
    assert_eq!(agree("up_ne", [0, 16384, 0], GAS), Ok(16384));
    assert_eq!(agree("up_ne", [0, 16385, 0], GAS), OOB);
    assert_eq!(agree("up_ne", [4, 16383, 0], GAS), Ok(16383));
    assert_eq!(agree("up_ne", [4, 16384, 0], GAS), OOB);
    assert_eq!(agree("up_ne", [65532, 1, 0], GAS), Ok(1));
    assert_eq!(agree("up_ne", [65533, 1, 0], GAS), OOB);
    // `n = 0` is never reached before the memory ends: the counter would
    // wrap; the loop traps.
    assert_eq!(agree("up_ne", [0, 0, 0], GAS), OOB);
    // A start address near 2^32: the first store traps.
    assert_eq!(agree("up_ne", [-8, 3, 0], GAS), OOB);
}

#[test]
fn two_pointers_and_a_counter_that_steps_by_two() {
    for (p, n, q) in [
        (0, 100, 40_000),
        (0, 101, 40_000),
        (0, 0, 40_000),
        (0, 2, 65528),
        (0, 4, 65528),
        (65_000, 140, 0),
        (65_000, 134, 0),
        (0, -1, 0),
        (100, 8, -8),
    ] {
        let _ = agree("pair_lt", [p, n, q], GAS);
    }
    // Exactly to the end of the page, and one pair past it.
    assert_eq!(agree("pair_lt", [65536 - 800, 200, 0], GAS), Ok(200));
    assert_eq!(agree("pair_lt", [65536 - 800, 202, 0], GAS), OOB);
}

#[test]
fn walking_down_to_zero_and_below() {
    assert_eq!(agree("down_gt", [400, 0, 0], GAS), Ok(0));
    // From 402: the address of the last step is below zero.
    assert_eq!(agree("down_gt", [402, 0, 0], GAS), OOB);
    assert_eq!(agree("down_gt", [65536, 65000, 0], GAS), Ok(65000));
    assert_eq!(agree("down_gt", [65540, 65000, 0], GAS), OOB);
    // Below zero: the address wraps to the top of the address space.
    assert_eq!(agree("down_gt", [2, 0, 0], GAS), OOB);
    // Runs once when the bound is already passed.
    assert_eq!(agree("down_gt", [8, 100, 0], GAS), Ok(4));
}

#[test]
fn counters_that_wrap_run_as_written() {
    // From 0xffff_ff00 by 8 below 0xffff_fff8: ends before 2^32.
    assert_eq!(agree("wrapping_counter", [8, -8, -256], GAS), Ok(-8));
    // Below 0xffff_fffc: the counter passes 2^32 and goes on from 0 until
    // its address leaves the memory.
    assert_eq!(agree("wrapping_counter", [8, -4, -256], GAS), OOB);
    // Runs once when the counter starts past the bound.
    assert_eq!(agree("wrapping_counter", [8, 100, 200], GAS), Ok(208));
}

#[test]
fn addresses_below_zero_trap_first() {
    assert_eq!(agree("below_zero", [0, 40, 0], GAS), OOB);
    assert_eq!(agree("below_zero", [4, 40, 0], GAS), Ok(40));
    assert_eq!(agree("below_zero", [4, 41, 0], GAS), OOB);
}

#[test]
fn gas_running_out_inside_a_proven_loop() {
    // Every gas limit around where the loop of 1000 stores completes.
    let full = 1 << 20;
    assert_eq!(agree("up_ne", [0, 1000, 0], full), Ok(1000));
    for gas in (0..40_000u64).step_by(997).chain([16_000, 16_001, 16_002]) {
        let _ = agree("up_ne", [0, 1000, 0], gas);
        let _ = agree("pair_lt", [0, 1000, 8_000], gas);
    }
}

#[test]
fn invariant_addresses_in_a_loop_with_branches() {
    // 10 iterations: odd i summed at p + 8 (1 + 3 + 5 + 7 + 9), the last
    // even i (8) at p.
    assert_eq!(
        agree("invariant_in_branches", [100, 10, 0], GAS),
        Ok(25 + 8)
    );
    assert_eq!(
        agree("invariant_in_branches", [100, 10, 1], GAS),
        Ok(25 + 8)
    );
    // p + 12 is the end of the memory exactly; one byte further, the
    // second iteration traps after the first stored.
    assert_eq!(
        agree("invariant_in_branches", [65524, 10, 0], GAS),
        Ok(25 + 8)
    );
    assert_eq!(agree("invariant_in_branches", [65525, 10, 0], GAS), OOB);
    // The same with the memory growing in the loop: from the second
    // iteration the access is inside.
    assert_eq!(
        agree("invariant_in_branches", [65525, 10, 1], GAS),
        Ok(25 + 8)
    );
    assert_eq!(agree("invariant_in_branches", [-4, 10, 0], GAS), OOB);
    for gas in (0..3_000u64).step_by(97) {
        let _ = agree("invariant_in_branches", [100, 50, 0], gas);
    }
}

#[test]
fn an_address_written_in_a_nested_block_is_checked() {
    assert_eq!(agree("written_in_a_block", [0, 100, 4], GAS), Ok(400));
    assert_eq!(agree("written_in_a_block", [65000, 200, 4], GAS), OOB);
    assert_eq!(agree("written_in_a_block", [65532, 200, 0], GAS), Ok(65532));
}

#[test]
fn an_address_local_set_to_sums_of_an_unwritten_local_is_proven_at_each() {
    // Both addresses inside: the copy without checks runs.
    assert_eq!(agree("slot_set_in_a_block", [0, 100, 1], GAS), Ok(100));
    assert_eq!(agree("slot_set_in_a_block", [65512, 10, 1], GAS), Ok(10));
    // `p + 16` is outside but never used: the proof fails, the checked
    // loop runs to the end.
    assert_eq!(agree("slot_set_in_a_block", [65520, 10, 0], GAS), Ok(10));
    // ... and used on the second iteration: it traps there.
    assert_eq!(agree("slot_set_in_a_block", [65520, 10, 1], GAS), OOB);
    for gas in [1, 20, 57, 100, 333] {
        let _ = agree("slot_set_in_a_block", [100, 30, 1], gas);
    }
    // The value from before the loop is an address too: outside, the first
    // store traps; inside, it is used once and `p + 4` after.
    assert_eq!(agree("slot_used_before_set", [0, 10, 65536], GAS), OOB);
    assert_eq!(agree("slot_used_before_set", [0, 10, 65532], GAS), Ok(10));
    assert_eq!(agree("slot_used_before_set", [65532, 10, 0], GAS), OOB);
    assert_eq!(agree("slot_used_before_set", [65528, 10, 0], GAS), Ok(10));
    assert_eq!(agree("slot_used_before_set", [65532, 1, 0], GAS), Ok(1));
}

#[test]
fn a_step_held_in_a_local_runs_as_written_at_every_boundary() {
    let le = "step_local_le";
    // Bytes one by one up to the last of the page, then one past it.
    assert_eq!(agree(le, [0, 65535, 1], GAS), Ok(65536));
    assert_eq!(agree(le, [0, 65536, 1], GAS), OOB);
    // Steps of 7 from 65000 while m <= 535: the last store at 65532.
    assert_eq!(agree(le, [65000, 535, 7], GAS), Ok(539));
    // Steps of 6 from 65530: m = 6 <= 6 stores at 65536, out of bounds.
    assert_eq!(agree(le, [65530, 6, 6], GAS), OOB);
    assert_eq!(agree(le, [65530, 5, 6], GAS), Ok(6));
    // Runs once when the first test fails.
    assert_eq!(agree(le, [100, 5, 9], GAS), Ok(9));
    // With n = u32::MAX the counter never fails its test (it wraps at
    // 2^32); the address leaves the memory.
    assert_eq!(agree(le, [0, -1, 4096], GAS), OOB);
    assert_eq!(agree(le, [0, -1, i32::MIN], GAS), OOB);
    // A step of 2^32 - 1: the count is not known, the checked loop stores
    // at 5, 4, ..., 0 and then below zero.
    assert_eq!(agree(le, [5, -1, -1], GAS), OOB);
    assert_eq!(agree(le, [100, 200, -1], GAS), Ok(-1));

    let lt = "step_local_lt_before";
    // Words at p + 3 + k*s while m <u n, tested before the step.
    assert_eq!(agree(lt, [0, 100, 10], GAS), Ok(110));
    assert_eq!(agree(lt, [65521, 8, 4], GAS), Ok(12));
    assert_eq!(agree(lt, [65522, 8, 4], GAS), OOB);
    assert_eq!(agree(lt, [65529, 0, 4], GAS), Ok(4));
    assert_eq!(agree(lt, [65530, 0, 4], GAS), OOB);
    assert_eq!(agree(lt, [0, 8, 0x4000_0000], GAS), OOB);
    // A zero step whose first test fails: once.
    assert_eq!(agree(lt, [100, 0, 0], GAS), Ok(0));

    // Gas running out anywhere in the loop.
    for gas in (0..20_000u64).step_by(331) {
        let _ = agree(le, [0, 1000, 3], gas);
        let _ = agree(lt, [0, 1000, 3], gas);
    }
}

/// `MODULE`'s functions as the translator writes them, under every
/// configuration: its label, whether it uses the register strategy (the
/// only one that versions loops), and each function's CLIF.
fn translations() -> Vec<(String, bool, Vec<String>)> {
    let bytes = wat::parse_str(MODULE).expect("wat");
    every_config()
        .into_iter()
        .map(|config| {
            let label = format!("{config:?}");
            let registers = !config.slot_strategy_only;
            let engine = Engine::new(config).expect("engine");
            let clif = Module::translated_clif(&engine, &bytes).expect("compiles");
            (label, registers, clif)
        })
        .collect()
}

#[test]
fn a_step_held_in_a_local_is_versioned() {
    // The two loops divide only in the trip count of the test before the
    // checked-free copy, which the slot strategy never makes.
    for (label, registers, clif) in translations() {
        let divides: Vec<bool> = clif
            .iter()
            .map(|f| {
                f.lines()
                    .any(|l| l.contains(" = udiv.i64 ") || l.contains(" = udiv "))
            })
            .collect();
        // The two loops are the tenth and eleventh functions.
        assert_eq!(divides[9..11], [registers, registers], "{label}");
    }
}

#[test]
fn a_float_loop_is_versioned_and_agrees() {
    // Float operators cannot trap, so they do not hide the address from
    // the proof: with the register strategy the loop has a copy without
    // checks (two `fdiv`s in the function).
    for (label, registers, clif) in translations() {
        let divisions = clif[11].lines().filter(|l| l.contains(" = fdiv")).count();
        assert_eq!(divisions, if registers { 2 } else { 1 }, "{label}");
    }
    // 8192 doubles fill the page.
    assert_eq!(agree("f64_scale", [0, 8192, 3], GAS), Ok(8192));
    assert_eq!(agree("f64_scale", [0, 8193, 3], GAS), OOB);
    assert_eq!(agree("f64_scale", [8, 8191, 0], GAS), Ok(8191));
    assert_eq!(agree("f64_scale", [8, 8192, 0], GAS), OOB);
    assert_eq!(agree("f64_scale", [65528, 1, 0], GAS), Ok(1));
    assert_eq!(agree("f64_scale", [65529, 1, 0], GAS), OOB);
    // Gas running out anywhere in the loop, NaNs stored or not.
    for gas in (0..6_000u64).step_by(97) {
        let _ = agree("f64_scale", [0, 500, 0], gas);
        let _ = agree("f64_scale", [16, 500, 7], gas);
    }
}

#[test]
fn a_prepaid_loop_charges_what_each_iteration_would() {
    // The straight-line loops above whose every access is proven are
    // charged once before their copy without checks (`docs/vm.md`,
    // "Proven loops"). At every gas limit around what a call uses, the
    // gas, the trap and the memory (the stores made before a failing
    // charge) must be those of the loop charged per iteration.
    let bytes = wat::parse_str(MODULE).expect("wat");
    let engine = Engine::new(detvm_vm::EngineConfig::default()).expect("engine");
    for (name, args) in [
        ("step_local_le", [0, 1000, 3]),
        ("step_local_lt_before", [0, 1000, 3]),
        ("up_ne", [0, 1000, 0]),
        ("pair_lt", [0, 1000, 8_000]),
    ] {
        let used = run(&engine, &bytes, name, args, GAS)
            .gas_used
            .expect("metered");
        for gas in used.saturating_sub(40)..=used + 2 {
            // Every configuration agrees; the metered outcome decides.
            let _ = agree(name, args, gas);
            let outcome = run(&engine, &bytes, name, args, gas).outcome;
            assert_eq!(outcome.is_ok(), gas >= used, "{name} with gas {gas}");
        }
    }
}
