//! Counted loops (`docs/vm.md`, "Counted loops") behave exactly as the
//! same loops compiled only as written: same results, same trap, same
//! counters, at every gas limit — in particular at the limits where the
//! loop just completes and just runs out.

use proptest::prelude::*;

use super::harness::{Instance, OPTS};
use crate::vmctx::TrapCode;

/// A loop `acc = acc * 31 + i; i ±= 1; br_if (cond)` in one of the shapes
/// the analysis accepts, or a near miss that it must reject.
#[derive(Debug, Clone)]
struct Shape {
    /// Whether the counter goes down.
    down: bool,
    /// Whether the condition reads the counter after its step (else the
    /// comparison is computed first and the step made under it).
    after_step: bool,
    /// Added to the counter in the comparison.
    offset: i32,
    /// The comparison operator, e.g. `i32.lt_u`; `None` for `br_if` on the
    /// counter itself.
    compare: Option<&'static str>,
    /// Whether the comparison is written as `eqz` of its complement.
    negated: bool,
    /// Whether the bound is the left operand.
    swapped: bool,
    /// The bound: `$n + k` (`Ok(k)`) or a constant (`Err(c)`).
    bound: Result<i32, i32>,
    /// The charge at the head of the body.
    amount: u64,
}

const COMPARES: [&str; 10] = [
    "i32.ne", "i32.eq", "i32.lt_u", "i32.lt_s", "i32.gt_u", "i32.gt_s", "i32.le_u", "i32.le_s",
    "i32.ge_u", "i32.ge_s",
];

fn complement(op: &str) -> &'static str {
    match op {
        "i32.ne" => "i32.eq",
        "i32.eq" => "i32.ne",
        "i32.lt_u" => "i32.ge_u",
        "i32.ge_u" => "i32.lt_u",
        "i32.lt_s" => "i32.ge_s",
        "i32.ge_s" => "i32.lt_s",
        "i32.gt_u" => "i32.le_u",
        "i32.le_u" => "i32.gt_u",
        "i32.gt_s" => "i32.le_s",
        "i32.le_s" => "i32.gt_s",
        other => panic!("not a comparison: {other}"),
    }
}

impl Shape {
    fn condition(&self) -> String {
        let counter = match self.offset {
            0 => "local.get $i".to_string(),
            k => format!("local.get $i i32.const {k} i32.add"),
        };
        let bound = match self.bound {
            Ok(0) => "local.get $n".to_string(),
            Ok(k) => format!("local.get $n i32.const {k} i32.add"),
            Err(c) => format!("i32.const {c}"),
        };
        let Some(op) = self.compare else {
            return counter;
        };
        let (left, right) = if self.swapped {
            (bound, counter)
        } else {
            (counter, bound)
        };
        if self.negated {
            format!("{left} {right} {} i32.eqz", complement(op))
        } else {
            format!("{left} {right} {op}")
        }
    }

    fn wat(&self) -> String {
        let amount = self.amount;
        let step = if self.down { "i32.sub" } else { "i32.add" };
        let step = format!("local.get $i i32.const 1 {step} local.set $i");
        let cond = self.condition();
        let (before, after) = if self.after_step {
            (String::new(), cond)
        } else {
            (cond, String::new())
        };
        format!(
            r#"(module
                 (import "detvm" "out_of_gas" (func $oog))
                 (import "detvm" "stack_overflow" (func $so))
                 (import "detvm" "gas_left" (global $gas (mut i64)))
                 (import "detvm" "stack_left" (global $stack (mut i64)))
                 (func (export "run") (param $i i32) (param $n i32) (result i32 i32)
                   (local $acc i32)
                   (loop
                     global.get $gas i64.const {amount} i64.lt_u if call $oog end
                     global.get $gas i64.const {amount} i64.sub global.set $gas
                     local.get $acc i32.const 31 i32.mul local.get $i i32.add local.set $acc
                     {before} {step} {after}
                     br_if 0)
                   local.get $acc local.get $i))"#
        )
    }
}

/// `for (; i < n; i++)` with the charge `amount`.
fn counting_up(amount: u64) -> Shape {
    Shape {
        down: false,
        after_step: true,
        offset: 0,
        compare: Some("i32.lt_u"),
        negated: false,
        swapped: false,
        bound: Ok(0),
        amount,
    }
}

type Run = (Result<Vec<u64>, TrapCode>, (i64, i64));

/// Runs once. After `out_of_gas` the counter's value is no part of the
/// outcome (`docs/vm.md`, "Deferred exhaustion checks"): it reads as -1.
fn run(inst: &mut Instance, gas: i64, i: u32, n: u32) -> Run {
    inst.set_counters(gas, 1_000);
    let result = inst.call("run", &[u64::from(i), u64::from(n)]);
    let (gas_left, stack_left) = inst.counters();
    let gas_left = if result == Err(TrapCode::OutOfGas) {
        -1
    } else {
        gas_left
    };
    (result, (gas_left, stack_left))
}

/// Runs `shape` from `(i, n)` both ways at gas limits around the ones
/// where the loop just completes or just runs out.
fn check(shape: &Shape, i: u32, n: u32) {
    let wat = shape.wat();
    let amount = shape.amount as i64;
    for opt in OPTS {
        let mut reference = Instance::with_loops_as_written(&wat, opt);
        let mut prepaid = Instance::new(&wat, opt, Vec::new());
        // At most a few hundred iterations, whatever the trip count.
        let cap = 300 * amount + 5;
        let mut limits = vec![cap, 0, amount - 1, amount, 2 * amount, cap / 2 + 3];
        let (full, (left, _)) = run(&mut reference, cap, i, n);
        if full.is_ok() {
            let used = cap - left;
            limits.extend([used, used - 1, used + 1, used - amount, used - amount + 1]);
        }
        for gas in limits.into_iter().filter(|&g| g >= 0) {
            assert_eq!(
                run(&mut prepaid, gas, i, n),
                run(&mut reference, gas, i, n),
                "{shape:?} from i={i} n={n} with gas {gas} at {opt:?}"
            );
        }
    }
}

/// A value near one where `i32` arithmetic or comparisons change
/// behaviour (zero, the signed and unsigned wrap points), or anywhere.
fn interesting_u32() -> impl Strategy<Value = u32> {
    let base = prop_oneof![
        Just(0u32),
        Just(u32::MAX),
        Just(i32::MAX as u32),
        Just(i32::MIN as u32),
        any::<u32>(),
    ];
    (base, -6i32..6).prop_map(|(base, delta)| base.wrapping_add(delta as u32))
}

fn shapes() -> impl Strategy<Value = Shape> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0), Just(1), Just(-1), Just(5), Just(i32::MIN)],
        prop::option::weighted(0.85, prop::sample::select(COMPARES.to_vec())),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Ok(0)),
            Just(Ok(3)),
            Just(Ok(-2)),
            Just(Err(0)),
            Just(Err(17)),
            Just(Err(-1)),
            Just(Err(i32::MIN))
        ],
        prop_oneof![
            Just(1u64),
            Just(7),
            Just(1_000),
            Just((1 << 31) - 1),
            Just(1 << 31)
        ],
    )
        .prop_map(
            |(down, after_step, offset, compare, negated, swapped, bound, amount)| Shape {
                down,
                after_step,
                offset,
                compare,
                negated,
                swapped,
                bound,
                amount,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn counted_loops_match_loops_as_written(
        shape in shapes(),
        i in interesting_u32(),
        delta in -40i32..40,
        far in interesting_u32(),
        near in any::<bool>(),
    ) {
        // Mostly a bound a few steps away, so that loops complete.
        let n = if near { i.wrapping_add(delta as u32) } else { far };
        check(&shape, i, n);
    }
}

#[test]
fn the_common_shapes_match_at_every_small_gas_limit() {
    let up = counting_up(3);
    let down_to_zero = Shape {
        down: true,
        compare: None,
        bound: Err(0),
        ..up.clone()
    };
    let not_equal = Shape {
        compare: Some("i32.ne"),
        ..up.clone()
    };
    let cases = [
        (&up, 0, 10),
        (&up, 10, 10),
        (&up, 12, 10),
        (&up, u32::MAX, 5),
        (&down_to_zero, 10, 0),
        (&down_to_zero, 0, 0),
        (&down_to_zero, 1, 0),
        (&not_equal, 0, 10),
        (&not_equal, u32::MAX - 4, 3),
    ];
    for (shape, i, n) in cases {
        let wat = shape.wat();
        for opt in OPTS {
            let mut reference = Instance::with_loops_as_written(&wat, opt);
            let mut prepaid = Instance::new(&wat, opt, Vec::new());
            for gas in 0..60 {
                assert_eq!(
                    run(&mut prepaid, gas, i, n),
                    run(&mut reference, gas, i, n),
                    "{shape:?} from i={i} n={n} with gas {gas}"
                );
            }
        }
    }
}

#[test]
fn a_counted_loop_charges_every_iteration() {
    let shape = counting_up(5);
    for opt in OPTS {
        let mut inst = Instance::new(&shape.wat(), opt, Vec::new());
        // 1,000 iterations of 5: exactly enough, then one short.
        let (result, counters) = run(&mut inst, 5_000, 0, 1_000);
        let acc = (0..1_000u32).fold(0u32, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
        assert_eq!(result, Ok(vec![u64::from(acc), 1_000]));
        assert_eq!(counters, (0, 1_000));
        let (result, counters) = run(&mut inst, 4_999, 0, 1_000);
        assert_eq!(result, Err(TrapCode::OutOfGas));
        assert_eq!(counters, (-1, 1_000));
    }
}

/// Every comparison, direction and operand order, from and to every pair
/// of values near the `i32` wrap points: where a wrong trip count would
/// hide from random sampling.
#[test]
fn every_shape_matches_near_the_wrap_points() {
    let near = |base: u32| (-2i32..=2).map(move |d| base.wrapping_add(d as u32));
    let values: Vec<u32> = [0, i32::MAX as u32, i32::MIN as u32]
        .into_iter()
        .flat_map(near)
        .collect();
    for compare in COMPARES.iter().copied().map(Some).chain([None]) {
        for (down, after_step, swapped) in (0..8).map(|b| (b & 1 != 0, b & 2 != 0, b & 4 != 0)) {
            for offset in [0, 1] {
                let shape = Shape {
                    down,
                    after_step,
                    offset,
                    compare,
                    negated: false,
                    swapped,
                    bound: Ok(0),
                    amount: 3,
                };
                let wat = shape.wat();
                for opt in OPTS {
                    let mut reference = Instance::with_loops_as_written(&wat, opt);
                    let mut prepaid = Instance::new(&wat, opt, Vec::new());
                    for &i in &values {
                        for &n in &values {
                            for gas in [0, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 20, 30, 100] {
                                assert_eq!(
                                    run(&mut prepaid, gas, i, n),
                                    run(&mut reference, gas, i, n),
                                    "{shape:?} from i={i} n={n} with gas {gas}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
