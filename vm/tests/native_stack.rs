//! The native stack rule (`docs/vm.md`, native frames and native stack):
//! with the stack a module says it needs, recursion of any shape ends in
//! the deterministic `stack_overflow`, and no compiled frame ever reaches
//! below `native_stack_limit`, let alone below the thread's stack.

use std::cell::Cell;

use detvm_vm::*;

/// A module whose recursive function calls the host probe at every level
/// (so the probe sees the deepest frame's stack pointer) around a body
/// that is hostile to native frames: `filler` is Wasm text placed before
/// the recursive call.
fn probed_recursion(filler: &str, tail: &str) -> String {
    format!(
        r#"(module
          (import "env" "probe" (func $probe))
          (func $nop)
          (memory 1)
          (func $f (export "f") (param $d i32) (result i32) (local $r i32)
            {filler}
            call $probe
            local.get $d i32.eqz
            if (result i32) i32.const 0
            else local.get $d i32.const 1 i32.sub call $f i32.const 1 i32.add end
            {tail}))"#
    )
}

/// The shapes: floats live across many calls (a large slot-strategy
/// function), a deep operand stack of loads, many mutable globals read
/// before the call, and a plain recursion.
fn shapes() -> Vec<(&'static str, String, String)> {
    let floats = format!("f64.const 1 {}", "f64.neg call $nop\n".repeat(25_000));
    let loads = format!(
        "{}{}",
        (0..600)
            .map(|i| format!("i32.const {} i32.load\n", 4 * i))
            .collect::<String>(),
        "i32.add\n".repeat(599)
    );
    let globals_decl: String = (0..990)
        .map(|i| format!("(global $g{i} (mut i32) (i32.const {i}))"))
        .collect();
    let globals_read = format!(
        "i32.const 0 {}",
        (0..990)
            .map(|i| format!("global.get $g{i} i32.add\n"))
            .collect::<String>()
    );
    vec![
        ("plain", probed_recursion("", ""), String::new()),
        (
            "floats",
            probed_recursion(&floats, "local.set $r drop local.get $r"),
            String::new(),
        ),
        ("loads", probed_recursion(&loads, "i32.add"), String::new()),
        (
            "globals",
            probed_recursion(&globals_read, "i32.add"),
            globals_decl,
        ),
    ]
}

thread_local! {
    /// The lowest address of a local seen in the probe on this thread.
    static LOWEST: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn probe_linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker.func("env", "probe", &[], &[], |_, _| {
        let marker = 0u8;
        let here = std::hint::black_box(&raw const marker) as usize;
        LOWEST.set(LOWEST.get().min(here));
        Ok(Vec::new())
    });
    linker
}

#[test]
fn deepest_frames_stay_above_the_limit_and_end_in_stack_overflow() {
    let engine = Engine::default();
    for (name, wat, globals) in shapes() {
        let wat = wat.replacen("(memory 1)", &format!("(memory 1) {globals}"), 1);
        let bytes = wat::parse_str(&wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        let module = Module::new(&engine, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Exactly the documented need plus the host reserve, and a little
        // for this test's own frames: no slack for the engine to hide in.
        let needed = module.native_stack_needed();
        let stack = native_stack::HOST_RESERVE + needed + (64 << 10);
        let engine = engine.clone();
        let (outcome, lowest, limit, bottom) = std::thread::Builder::new()
            .stack_size(stack as usize)
            .spawn(move || {
                let mut store = Store::new(&engine, ());
                let linker = probe_linker(&engine);
                let instance = Instance::new(&mut store, &module, &linker).expect("instance");
                let marker = 0u8;
                let here = std::hint::black_box(&raw const marker) as usize;
                // What the runtime will use as `native_stack_limit`.
                let limit = here - native_stack::available() as usize;
                let bottom = limit - native_stack::HOST_RESERVE as usize;
                LOWEST.set(usize::MAX);
                let outcome = instance.call(&mut store, "f", &[Value::I32(1_000_000)], u64::MAX);
                (outcome, LOWEST.get(), limit, bottom)
            })
            .expect("spawn")
            .join()
            .expect("no crash");
        assert_eq!(
            outcome.as_ref().ok().and_then(Outcome::trap_kind),
            Some(TrapKind::StackOverflow),
            "{name}: {outcome:?}"
        );
        // The probe runs below the deepest Wasm frame, through a host stub
        // and the runtime's host-call frames: a few KiB.
        assert!(
            lowest + (64 << 10) > limit,
            "{name}: a frame reached {} bytes below the limit",
            limit - lowest
        );
        assert!(lowest > bottom, "{name}: below the thread's stack");
    }
}

#[test]
fn a_store_needs_what_its_hungriest_module_needs() {
    let engine = Engine::default();
    let shapes = shapes();
    let compile = |i: usize| {
        let wat = shapes[i]
            .1
            .replacen("(memory 1)", &format!("(memory 1) {}", shapes[i].2), 1);
        Module::new(&engine, &wat::parse_str(&wat).unwrap()).unwrap()
    };
    let (plain, loads) = (compile(0), compile(2));
    // Measured frames: the load flood holds 600 values in its frame.
    assert!(loads.native_stack_needed() > plain.native_stack_needed());
    assert!(plain.native_stack_needed() >= 262_144 + native_stack::ENTRY_RESERVE);
    let mut store = Store::new(&engine, ());
    let linker = probe_linker(&engine);
    Instance::new(&mut store, &plain, &linker).unwrap();
    assert_eq!(store.native_stack_needed(), plain.native_stack_needed());
    Instance::new(&mut store, &loads, &linker).unwrap();
    Instance::new(&mut store, &plain, &linker).unwrap();
    assert_eq!(store.native_stack_needed(), loads.native_stack_needed());
}
