//! The adversarial corpus (`detvm_fixtures::adversarial`) against the
//! contract limits and the compiler's linearity (`docs/determinism.md` §4,
//! `docs/vm.md`, compile-time behaviour):
//!
//! * every module of both families, up to its `max_n`, passes validation
//!   with `Limits::contract()`, and one step more is `limit_exceeded`;
//! * every compile shape, compiled at `n` and `2n` (`2n` its largest
//!   size), takes at most [`MAX_DOUBLING`] times as long at `2n`
//!   (the fastest of [`RUNS`] runs each): linear with generous slack, where
//!   quadratic would be 4. No wall time is asserted;
//! * every compile shape at that largest size compiles, or is rejected
//!   at validation with `limit_exceeded` (the chain test in
//!   `host/tests/adversarial.rs` deploys each at its real largest size).

use std::time::{Duration, Instant};

use detvm_fixtures::adversarial::{self, FUNCTION_BODY_SIZE, Shape, largest_body};
use detvm_metering::{Config, Limits, ValidationError, validate};
use detvm_vm::{Engine, EngineConfig, Error, MeteringError, Module};

/// Largest accepted time(2n) / time(n).
const MAX_DOUBLING: f64 = 3.0;
/// Compilations per size; the fastest counts. Fewer in an unoptimised
/// test build, where each takes several times longer. The sizes are not
/// shrunk there: a smaller pair can straddle the size at which a function
/// switches to the slot strategy, a step in time rather than a growth
/// rate.
const RUNS: usize = if cfg!(debug_assertions) { 2 } else { 3 };
/// Each shape doubles from half its largest size to the largest, and from
/// a sixteenth to an eighth: a function below the size at which it
/// switches to the slot strategy can still be superlinear there (a float
/// value held across thousands of calls once doubled at 4.4 at 16 KB).
const SCALES: [u32; 2] = [1, 8];

fn all_shapes() -> Vec<Shape> {
    let mut shapes = adversarial::compile_corpus();
    shapes.extend(adversarial::frame_corpus());
    shapes
}

fn label(shape: &Shape) -> String {
    format!("{:?}/{}", shape.family, shape.name)
}

#[test]
fn every_module_is_inside_the_contract_limits() {
    let config = Config::with_limits(Limits::contract());
    for shape in all_shapes() {
        let max = shape.max_n();
        for n in [1, max / 2, max] {
            let bytes = shape.module(n);
            if let Err(e) = validate(&bytes, &config) {
                panic!("{} at n = {n} is rejected: {e}", label(&shape));
            }
        }
        // One more crosses a limit, unless only the body size bounds the
        // shape and `max` is already the whole body (then `n` counts
        // bytes and the body can stop short of it).
        let more = shape.module(max + 1);
        let body_bound = largest_body(&more) > FUNCTION_BODY_SIZE;
        let count_bound = max == shape.cap && shape.cap != FUNCTION_BODY_SIZE as u32;
        if body_bound || count_bound {
            match validate(&more, &config) {
                Err(ValidationError::LimitExceeded { .. }) => {}
                other => panic!(
                    "{} at n = {} should exceed a limit, got {other:?}",
                    label(&shape),
                    max + 1
                ),
            }
        }
    }
}

/// The fastest of [`RUNS`] compilations of `a` and of `b`, alternating so
/// a change of machine load hits both.
fn fastest_pair(engine: &Engine, a: &[u8], b: &[u8]) -> Result<(Duration, Duration), Error> {
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..RUNS {
        for (bytes, best) in [(a, &mut best_a), (b, &mut best_b)] {
            let start = Instant::now();
            let module = Module::new(engine, bytes);
            let elapsed = start.elapsed();
            drop(module?);
            *best = (*best).min(elapsed);
        }
    }
    Ok((best_a, best_b))
}

fn rejected_by_a_limit(e: &Error) -> bool {
    matches!(
        e.as_rejected(),
        Some(MeteringError::Validation(
            ValidationError::LimitExceeded { .. }
        ))
    )
}

#[test]
fn compile_time_of_every_compile_shape_doubles_at_most_linearly() {
    // The compiler as nodes run it: without Cranelift's IR verifier, which
    // debug builds otherwise enable. The verifier's work grows faster than
    // the code it checks on some shapes (`nested_blocks_locals` from 312 to
    // 624 blocks: ten times the verifier's instructions, half the compile
    // time of a debug build), which would be measured instead of ours.
    let mut config = EngineConfig::default();
    config.verify_ir = false;
    let engine = Engine::new(config).expect("engine");
    let mut failures = Vec::new();
    // One test, one shape at a time: timings of shapes compiled in
    // parallel would disturb each other.
    for (shape, scale) in adversarial::compile_corpus()
        .into_iter()
        .flat_map(|shape| SCALES.map(|scale| (shape, scale)))
    {
        let max = shape.max_n();
        let n = (max / 2 / scale).max(1);
        let (small, large) = (shape.module(n), shape.module(2 * n));
        match fastest_pair(&engine, &small, &large) {
            Ok((t_small, t_large)) => {
                let ratio = t_large.as_secs_f64() / t_small.as_secs_f64();
                println!(
                    "{:<26} n = {n:>6} ({:>7} bytes): {t_small:>10.2?}   2n ({:>7} bytes): {t_large:>10.2?}   doubling {ratio:.2}",
                    shape.name,
                    small.len(),
                    large.len()
                );
                if ratio > MAX_DOUBLING {
                    failures.push(format!(
                        "{}: doubling n from {n} to {} multiplies compile time by {ratio:.2} \
                         ({t_small:?} -> {t_large:?}), more than {MAX_DOUBLING}",
                        shape.name,
                        2 * n
                    ));
                }
            }
            Err(e) if rejected_by_a_limit(&e) => {}
            Err(e) => failures.push(format!("{} at n = {n} or {}: {e}", shape.name, 2 * n)),
        }
        if scale == 1 && max != 2 * n {
            match Module::new(&engine, &shape.module(max)) {
                Ok(_) => {}
                Err(e) if rejected_by_a_limit(&e) => {}
                Err(e) => failures.push(format!("{} at max n = {max}: {e}", shape.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
