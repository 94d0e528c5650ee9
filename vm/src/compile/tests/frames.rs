//! The strategy choice and the native frame bound (`docs/vm.md`, native
//! frames and two translation strategies), checked on the compiled code of
//! whole modules built by the engine.

use crate::compile::{FRAME_FACTOR, NativeFrames, REGISTER_STRATEGY_CALLS, Strategy};
use crate::{Engine, EngineConfig, Module};

fn module(wat: &str) -> Module {
    let bytes = wat::parse_str(wat).expect("wat");
    Module::new(&Engine::default(), &bytes).expect("module")
}

fn frames(m: &Module) -> NativeFrames {
    m.inner.code.native_frames()
}

fn strategies(m: &Module) -> Vec<Strategy> {
    let code = &m.inner.code;
    (0..code.num_functions())
        .map(|i| code.strategy(i))
        .collect()
}

/// `n` loads left on the operand stack, then added up: `n` values live
/// across `n` bounds checks.
pub(crate) fn live_loads(n: usize, drop_each: bool) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!("i32.const {} i32.load\n", 4 * (i % 1000)));
        if drop_each {
            body.push_str("drop\n");
        }
    }
    if drop_each {
        body.push_str("i32.const 0\n");
    } else {
        body.push_str(&"i32.add\n".repeat(n - 1));
    }
    format!(r#"(module (memory 1) (func (export "f") (result i32) {body}))"#)
}

/// `n` mutable globals, all read before a recursive call.
pub(crate) fn many_globals(n: usize) -> String {
    let globals: String = (0..n)
        .map(|i| format!("(global (mut i32) (i32.const {i}))\n"))
        .collect();
    let mut reads = String::from("i32.const 0\n");
    for i in 0..n {
        reads.push_str(&format!("global.get {i} i32.add\n"));
    }
    format!(
        r#"(module {globals}
          (func $f (export "f") (param $d i32) (result i32)
            {reads}
            local.get $d i32.eqz
            if (result i32) i32.const 0
            else local.get $d i32.const 1 i32.sub call $f end
            i32.add))"#
    )
}

/// `n` floats negated around a call each: values live across calls.
pub(crate) fn float_calls(n: usize) -> String {
    let pairs = "f64.neg call $nop\n".repeat(n);
    format!(
        r#"(module (func $nop)
          (func $f (export "f") (param $d i32) (result i32)
            f64.const 1
            {pairs}
            drop
            local.get $d i32.eqz
            if (result i32) i32.const 0
            else local.get $d i32.const 1 i32.sub call $f i32.const 1 i32.add end))"#
    )
}

#[test]
fn live_values_across_checks_take_the_slot_strategy() {
    let flood = module(&live_loads(2_000, false));
    assert_eq!(strategies(&flood), [Strategy::Slots]);
    // The same loads, each dropped at once, keep nothing live.
    let dropped = module(&live_loads(2_000, true));
    assert_eq!(strategies(&dropped), [Strategy::Registers]);
}

#[test]
fn every_frame_is_within_the_factor_of_its_charge() {
    for wat in [
        live_loads(2_000, false),
        many_globals(990),
        float_calls(1_000),
        float_calls(30_000),
    ] {
        let m = module(&wat);
        let f = frames(&m);
        let ratio = f.ratio.expect("an instrumented module has a ratio");
        assert!(ratio <= FRAME_FACTOR, "{f:?} {:?}", strategies(&m));
        assert!(f.max_frame > 0);
    }
}

#[test]
fn realistic_code_keeps_the_register_strategy() {
    let bytes = detvm_fixtures::realistic::module(100 << 10, 7);
    let m = Module::new(&Engine::default(), &bytes).expect("module");
    let slots = strategies(&m)
        .iter()
        .filter(|&&s| s == Strategy::Slots)
        .count();
    eprintln!(
        "realistic: {slots} of {} in slots, {:?}",
        strategies(&m).len(),
        frames(&m)
    );
    assert_eq!(slots, 0);
}

#[test]
fn slot_strategy_only_changes_nothing_but_the_strategy() {
    let config = EngineConfig {
        slot_strategy_only: true,
        ..EngineConfig::default()
    };
    let engine = Engine::new(config).expect("engine");
    let bytes = wat::parse_str(float_calls(10)).expect("wat");
    let slots = Module::new(&engine, &bytes).expect("module");
    assert_eq!(strategies(&slots), [Strategy::Slots, Strategy::Slots]);
    let registers = module(&float_calls(10));
    for m in [&slots, &registers] {
        let engine = m.engine();
        let mut store = crate::Store::new(engine, ());
        let instance =
            crate::Instance::new(&mut store, m, &crate::Linker::new(engine)).expect("instance");
        let out = instance
            .call(&mut store, "f", &[crate::Value::I32(5)], 1_000_000)
            .expect("call");
        assert_eq!(out.results(), Some(&[crate::Value::I32(5)][..]));
    }
}

/// A loop of `k` steps, each with a `br_if` back to the header carrying a
/// running value; which back-edge an iteration takes depends on the
/// counter, so every level of the back-edge tree (`docs/vm.md`,
/// compile-time behaviour) is used.
fn back_edge_loop(k: u32) -> String {
    let mut steps = String::new();
    for s in 0..k {
        steps.push_str(&format!(
            "i32.const 31 i32.mul i32.const {s} i32.add\n\
             local.get $t i32.const {s} i32.eq br_if 0\n"
        ));
    }
    format!(
        r#"(module (func (export "f") (param $n i32) (result i32) (local $i i32) (local $t i32)
          i32.const 0
          loop (param i32) (result i32)
            local.get $i i32.const 1 i32.add local.set $i
            local.get $i local.get $n i32.lt_u
            if (result i32) local.get $i i32.const 37 i32.mul i32.const {k} i32.rem_u
            else i32.const -1 end
            local.set $t
            {steps}
          end))"#
    )
}

/// What [`back_edge_loop`] computes, in Rust.
fn back_edge_loop_result(k: u32, n: u32) -> i32 {
    let mut acc: u32 = 0;
    let mut i: u32 = 0;
    loop {
        i += 1;
        let t = if i < n { Some((i * 37) % k) } else { None };
        for s in 0..k {
            acc = acc.wrapping_mul(31).wrapping_add(s);
            if t == Some(s) {
                break;
            }
        }
        if t.is_none() {
            return acc as i32;
        }
    }
}

#[test]
fn thousands_of_back_edges_to_one_loop_keep_their_meaning() {
    // Over 32 × 32 back-edges: the tree joining them has three levels.
    const K: u32 = 1_100;
    const N: u32 = 500;
    let bytes = wat::parse_str(back_edge_loop(K)).expect("wat");
    let slot_engine = Engine::new(EngineConfig {
        slot_strategy_only: true,
        ..EngineConfig::default()
    })
    .expect("engine");
    let slots = Module::new(&slot_engine, &bytes).expect("module");
    assert_eq!(strategies(&slots), [Strategy::Slots]);
    // A few back-edges, one gathering block: the register strategy keeps
    // branching to the header itself.
    let small = wat::parse_str(back_edge_loop(20)).expect("wat");
    let registers = Module::new(&Engine::default(), &small).expect("module");
    assert_eq!(strategies(&registers), [Strategy::Registers]);
    let small_slots = Module::new(&slot_engine, &small).expect("module");
    for (m, k) in [(&slots, K), (&registers, 20), (&small_slots, 20)] {
        let expected = back_edge_loop_result(k, N);
        let engine = m.engine();
        let mut store = crate::Store::new(engine, ());
        let instance =
            crate::Instance::new(&mut store, m, &crate::Linker::new(engine)).expect("instance");
        let out = instance
            .call(&mut store, "f", &[crate::Value::I32(N as i32)], 1 << 40)
            .expect("call");
        assert_eq!(out.results(), Some(&[crate::Value::I32(expected)][..]));
    }
}

/// `n` distinct f64 values held on the operand stack, then added up.
fn float_stack(n: usize) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "local.get 0 f64.convert_i32_u f64.const {i} f64.add\n"
        ));
    }
    body.push_str(&"f64.add\n".repeat(n - 1));
    format!("(module (func (export \"f\") (param i32) (result f64)\n{body}))")
}

#[test]
fn values_held_on_the_stack_move_a_function_to_the_slot_strategy() {
    // 64 values cost the register allocator little; 2,000 cost it N².
    assert_eq!(strategies(&module(&float_stack(64))), [Strategy::Registers]);
    assert_eq!(strategies(&module(&float_stack(2_000))), [Strategy::Slots]);
}

#[test]
fn thousands_of_calls_move_a_function_to_the_slot_strategy() {
    // `$f` also calls itself once.
    let few = module(&float_calls(REGISTER_STRATEGY_CALLS as usize - 1));
    assert_eq!(strategies(&few), [Strategy::Registers, Strategy::Registers]);
    let many = module(&float_calls(REGISTER_STRATEGY_CALLS as usize));
    assert_eq!(strategies(&many), [Strategy::Registers, Strategy::Slots]);
}
