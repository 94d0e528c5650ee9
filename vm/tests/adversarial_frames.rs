//! The native-frame corpus (`detvm_fixtures::adversarial::frame_corpus`):
//! every shape, at a few sizes up to the largest the contract limits
//! accept, called recursively to exhaustion, must end in a deterministic
//! `stack_overflow` or `out_of_gas` trap (`docs/vm.md`, native stack):
//! never `Error::NativeStackExhausted`, never a signal.
//!
//! Each call runs on a thread sized from `Module::native_stack_needed`
//! with plenty of slack, and again on a thread with exactly the documented
//! minimum, where the call may also be refused with
//! `Error::NativeStackTooSmall`. A signal kills the whole test binary; the
//! line written to stderr before each module names the one that did it.

use std::io::Write as _;

use detvm_fixtures::adversarial::{self, EXPORT, Shape};
use detvm_vm::{
    Engine, Error, Instance, Linker, Module, Outcome, Store, TrapKind, Value, native_stack,
};

/// A depth no stack bound allows.
const DEEP: i32 = 1_000_000;
/// Gas for calls that must end on the stack bound.
const GAS: u64 = 1 << 40;
/// Native stack beyond the documented need for the "large stack" runs.
const SLACK: u64 = 64 << 20;
/// Native stack beyond the documented need for the "minimum stack" runs:
/// the test's own frames (store, instance, call path) above the call.
const OWN_FRAMES: u64 = 128 << 10;

/// Writes straight to the process's stderr (not captured by the test
/// harness), so the line survives a crash of the process.
fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "adversarial_frames: {line}");
}

/// Runs `call` on a fresh instance of `module` on a thread of
/// `stack` bytes.
fn on_thread<R: Send + 'static>(
    module: &Module,
    stack: u64,
    call: impl FnOnce(&mut Store<()>, &Instance) -> R + Send + 'static,
) -> R {
    let module = module.clone();
    std::thread::Builder::new()
        .stack_size(usize::try_from(stack).expect("stack size fits"))
        .spawn(move || {
            let engine = module.engine().clone();
            let mut store = Store::new(&engine, ());
            let instance =
                Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");
            call(&mut store, &instance)
        })
        .expect("spawns the call thread")
        .join()
        .expect("the call thread does not panic")
}

fn call_f(
    store: &mut Store<()>,
    instance: &Instance,
    depth: i32,
    gas: u64,
) -> Result<Outcome, Error> {
    instance.call(store, EXPORT, &[Value::I32(depth)], gas)
}

/// The trap of a call that must end in a deterministic stack or gas trap.
fn deterministic_trap(what: &str, result: &Result<Outcome, Error>) -> (TrapKind, u64) {
    match result {
        Ok(Outcome::Trap { kind, gas_used, .. })
            if matches!(kind, TrapKind::StackOverflow | TrapKind::OutOfGas) =>
        {
            (*kind, *gas_used)
        }
        other => panic!("{what}: expected a stack_overflow or out_of_gas trap, got {other:?}"),
    }
}

/// Everything the file checks for `shape` at size `n`. `small` sizes must
/// also run shallow recursions to completion.
fn check(shape: &Shape, n: u32, small: bool) {
    let what = format!("{} at n = {n}", shape.name);
    progress(&what);
    let engine = Engine::default();
    let module = Module::new(&engine, &shape.module(n))
        .unwrap_or_else(|e| panic!("{what}: does not compile: {e}"));
    let needed = module.native_stack_needed();
    let large = native_stack::HOST_RESERVE + needed + SLACK;

    let (deep, again, halved, shallow) = on_thread(&module, large, move |store, instance| {
        let deep = call_f(store, instance, DEEP, GAS);
        let again = call_f(store, instance, DEEP, GAS);
        // The same recursion with half the gas it used runs out of gas on
        // the way down, before the stack bound.
        let halved = match &deep {
            Ok(Outcome::Trap { gas_used, .. }) if *gas_used > 1 => {
                Some((gas_used / 2, call_f(store, instance, DEEP, gas_used / 2)))
            }
            _ => None,
        };
        let shallow: Vec<(i32, Result<Outcome, Error>)> = [0, 1, 3]
            .into_iter()
            .map(|d| (d, call_f(store, instance, d, GAS)))
            .collect();
        (deep, again, halved, shallow)
    });

    let (kind, gas_used) = deterministic_trap(&format!("{what}, depth {DEEP}"), &deep);
    assert_eq!(
        deep.as_ref().ok(),
        again.as_ref().ok(),
        "{what}: the same call ends differently"
    );
    if kind == TrapKind::StackOverflow {
        let (limit, out) = halved.unwrap_or_else(|| panic!("{what}: no gas used"));
        match out {
            Ok(Outcome::Trap {
                kind: TrapKind::OutOfGas,
                gas_used,
                ..
            }) => assert_eq!(gas_used, limit, "{what}"),
            other => panic!(
                "{what}: with {limit} gas (half of {gas_used}) expected out_of_gas, got {other:?}"
            ),
        }
    }
    for (depth, out) in shallow {
        match out {
            Ok(Outcome::Success { results, .. }) => {
                assert_eq!(results, [Value::I32(depth)], "{what}, depth {depth}")
            }
            // A frame larger than the whole stack bound never fits.
            Ok(Outcome::Trap {
                kind: TrapKind::StackOverflow,
                ..
            }) if !small => {}
            other => panic!("{what}, depth {depth}: expected {depth}, got {other:?}"),
        }
    }

    // With exactly the documented minimum, the call runs to the same
    // deterministic trap or is refused before anything runs.
    let minimum = native_stack::HOST_RESERVE + needed + OWN_FRAMES;
    let out = on_thread(&module, minimum, |store, instance| {
        call_f(store, instance, DEEP, GAS)
    });
    match &out {
        Err(Error::NativeStackTooSmall { .. }) => {}
        other => {
            let at_minimum = deterministic_trap(&format!("{what}, minimum stack"), other);
            assert_eq!(at_minimum, (kind, gas_used), "{what}: minimum stack");
        }
    }
}

fn shape(name: &str) -> Shape {
    adversarial::frame_corpus()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no frame shape {name}"))
}

/// Checks `name` at each of `small` (shallow recursions must succeed),
/// then at each of `large` given as fractions of its largest size
/// (`1` is the largest).
fn check_sizes(name: &str, small: &[u32], fractions: &[u32]) {
    let shape = shape(name);
    for &n in small {
        check(&shape, n, true);
    }
    let max = shape.max_n();
    for &fraction in fractions {
        check(&shape, max / fraction, false);
    }
}

#[test]
fn every_frame_shape_is_tested() {
    let tested = [
        "float_calls",
        "int_calls",
        "many_locals",
        "deep_stack",
        "wide_signatures",
        "br_table_frames",
        "mixed_body",
        "globals",
        "small_to_large",
    ];
    let names: Vec<_> = adversarial::frame_corpus().iter().map(|s| s.name).collect();
    assert_eq!(names, tested);
}

/// Fractions of the largest size for the shapes of about 87,000 calls in
/// one body: a test build compiles the largest in about 40 s, so only an
/// optimised build tests it.
const CALL_FLOOD: &[u32] = if cfg!(debug_assertions) {
    &[8]
} else {
    &[8, 2, 1]
};

#[test]
fn float_calls() {
    check_sizes("float_calls", &[1, 1_000], CALL_FLOOD);
}

#[test]
fn int_calls() {
    check_sizes("int_calls", &[1_000], CALL_FLOOD);
}

#[test]
fn many_locals() {
    check_sizes("many_locals", &[1, 64], &[4, 1]);
}

#[test]
fn deep_stack() {
    check_sizes("deep_stack", &[16, 700], &[4, 1]);
}

#[test]
fn wide_signatures() {
    check_sizes("wide_signatures", &[1, 8], &[4, 1]);
}

#[test]
fn br_table_frames() {
    check_sizes("br_table_frames", &[8, 1_024], &[1]);
}

#[test]
fn mixed_body() {
    check_sizes("mixed_body", &[4_096], &[4, 1]);
}

#[test]
fn globals() {
    check_sizes("globals", &[1, 64], &[1]);
    check(&shape("globals"), 990, false);
}

#[test]
fn small_to_large() {
    check_sizes("small_to_large", &[1, 1_000], CALL_FLOOD);
}
