//! Exact gas and stack accounting, observed by running instrumented modules
//! in wasmi. Expected amounts are computed from `Schedule::v1()`'s fields and
//! the rules in `docs/gas.md`, never hard-coded.

mod exec_common;

use detvm_metering::{Schedule, StackConfig};
use exec_common::{
    Reserved, Run, engine, instantiate, prepare, prepare_with, values_key, with_big_stack,
};
use wasmi::Val;

const AMPLE_GAS: u64 = 1 << 40;
const AMPLE_STACK: u64 = 1 << 30;

fn v1() -> Schedule {
    Schedule::v1()
}

fn run(wat: &str, gas: u64, stack: u64) -> Run {
    let bytes = wat::parse_str(wat).expect("test module parses");
    let instrumented = prepare(&bytes);
    instantiate(&engine(false), &instrumented.bytes, gas, stack, None).expect("instantiates")
}

/// Calls `name` and returns the gas it used and its results.
fn gas_of(run: &mut Run, name: &str, args: &[Val]) -> (u64, Vec<Val>) {
    run.set_gas_left(AMPLE_GAS);
    let results = run.call(name, args).expect("call succeeds");
    (AMPLE_GAS - run.gas_left(), results)
}

fn i32_result(results: &[Val]) -> i32 {
    match results {
        [Val::I32(value)] => *value,
        other => panic!("expected one i32, got {other:?}"),
    }
}

#[test]
fn straight_line_pays_one_block() {
    let s = v1();
    let mut run = run(
        r#"(module (func (export "f") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add i32.const 3 i32.mul))"#,
        AMPLE_GAS,
        AMPLE_STACK,
    );
    let (gas, results) = gas_of(&mut run, "f", &[Val::I32(4), Val::I32(5)]);
    assert_eq!(i32_result(&results), 27);
    let expected = 2 * s.local + s.int_simple + s.constant + s.int_mul + s.structure;
    assert_eq!(gas, u64::from(expected));
}

const LOOP: &str = r#"(module
  (func (export "sum") (param $n i32) (result i32) (local $acc i32)
    block $exit
      loop $continue
        local.get $n
        i32.eqz
        br_if $exit
        local.get $acc
        local.get $n
        i32.add
        local.set $acc
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $continue
      end
    end
    local.get $acc))"#;

#[test]
fn loop_pays_per_iteration() {
    let s = v1();
    let entry = u64::from(2 * s.structure + s.per_local);
    let head = u64::from(s.local + s.int_simple + s.branch);
    let body = u64::from(5 * s.local + 2 * s.int_simple + s.constant + s.branch);
    let after_loop = u64::from(s.structure);
    let exit = u64::from(s.local + s.structure);
    let mut run = run(LOOP, AMPLE_GAS, AMPLE_STACK);
    for n in [0u64, 1, 2, 10, 100] {
        let (gas, results) = gas_of(&mut run, "sum", &[Val::I32(n as i32)]);
        assert_eq!(i32_result(&results) as u64, n * (n + 1) / 2);
        assert_eq!(
            gas,
            entry + (n + 1) * head + n * body + after_loop + exit,
            "n = {n}"
        );
    }
}

const FACT: &str = r#"(module
  (func $fact (export "fact") (param i64) (result i64)
    local.get 0
    i64.eqz
    if (result i64)
      i64.const 1
    else
      local.get 0
      local.get 0
      i64.const 1
      i64.sub
      call $fact
      i64.mul
    end))"#;

#[test]
fn recursion_pays_every_call() {
    let s = v1();
    let entry = u64::from(s.local + s.int_simple + s.branch);
    let then_arm = u64::from(s.constant + s.structure);
    let else_arm =
        u64::from(2 * s.local + s.constant + s.int_simple + s.call + s.int_mul + s.structure);
    let after_if = u64::from(s.structure);
    let mut run = run(FACT, AMPLE_GAS, AMPLE_STACK);
    for n in [0u64, 1, 5, 20] {
        let (gas, results) = gas_of(&mut run, "fact", &[Val::I64(n as i64)]);
        let expected_value = (1..=n).fold(1u64, |acc, k| acc.wrapping_mul(k));
        assert_eq!(
            values_key(&results),
            values_key(&[Val::I64(expected_value as i64)])
        );
        assert_eq!(
            gas,
            (n + 1) * (entry + after_if) + then_arm + n * else_arm,
            "n = {n}"
        );
    }
}

#[test]
fn memory_grow_pays_per_page_requested() {
    let s = v1();
    let mut run = run(
        r#"(module (memory 1 8)
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
        AMPLE_GAS,
        AMPLE_STACK,
    );
    let base = u64::from(s.local + s.memory_grow + s.structure);
    let mut size = 1;
    for pages in [0u32, 1, 3] {
        let (gas, results) = gas_of(&mut run, "grow", &[Val::I32(pages as i32)]);
        assert_eq!(i32_result(&results), size);
        size += pages as i32;
        assert_eq!(
            gas,
            base + u64::from(pages) * u64::from(s.memory_grow_per_page)
        );
    }
    // A failing grow is still charged for what it asked for.
    let (gas, results) = gas_of(&mut run, "grow", &[Val::I32(100)]);
    assert_eq!(i32_result(&results), -1);
    assert_eq!(gas, base + 100 * u64::from(s.memory_grow_per_page));
}

#[test]
fn bulk_memory_pays_per_byte() {
    let s = v1();
    let mut run = run(
        r#"(module (memory (export "mem") 1)
            (func (export "fill") (param i32 i32 i32)
              local.get 0 local.get 1 local.get 2 memory.fill)
            (func (export "copy") (param i32 i32 i32)
              local.get 0 local.get 1 local.get 2 memory.copy))"#,
        AMPLE_GAS,
        AMPLE_STACK,
    );
    let base = u64::from(3 * s.local + s.memory_bulk + s.structure);
    for bytes in [0u32, 1, 100, 4096] {
        let (gas, _) = gas_of(
            &mut run,
            "fill",
            &[Val::I32(16), Val::I32(7), Val::I32(bytes as i32)],
        );
        assert_eq!(gas, base + u64::from(bytes) * u64::from(s.memory_per_byte));
        let (gas, _) = gas_of(
            &mut run,
            "copy",
            &[Val::I32(0), Val::I32(16), Val::I32(bytes as i32)],
        );
        assert_eq!(gas, base + u64::from(bytes) * u64::from(s.memory_per_byte));
    }
    let memory = run
        .instance
        .get_memory(&run.store, "mem")
        .expect("memory export");
    let data = memory.data(&run.store);
    assert_eq!(&data[..4096], &[7u8; 4096][..]);
}

#[test]
fn table_operations_pay_per_element() {
    let s = v1();
    let mut run = run(
        r#"(module (table 1 100 funcref)
            (func (export "grow") (param i32) (result i32)
              ref.null func local.get 0 table.grow 0))"#,
        AMPLE_GAS,
        AMPLE_STACK,
    );
    let base = u64::from(s.reference + s.local + s.table_grow + s.structure);
    for elements in [0u32, 5] {
        let (gas, _) = gas_of(&mut run, "grow", &[Val::I32(elements as i32)]);
        assert_eq!(
            gas,
            base + u64::from(elements) * u64::from(s.table_per_element)
        );
    }
}

#[test]
fn entry_block_pays_for_declared_locals() {
    let s = v1();
    let mut run = run(
        r#"(module (func (export "f") (param i32 i64) (result i32)
            (local i32 i64 f32 f64 externref) (local i32 i32)
            local.get 0))"#,
        AMPLE_GAS,
        AMPLE_STACK,
    );
    let (gas, _) = gas_of(&mut run, "f", &[Val::I32(1), Val::I64(2)]);
    assert_eq!(gas, u64::from(7 * s.per_local + s.local + s.structure));
}

const SIDE_EFFECTS: &str = r#"(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (func (export "run") (param i32)
    i32.const 1
    call $log
    local.get 0
    if
      i32.const 0
      i32.const 42
      i32.store
      i32.const 2
      call $log
    end)
  (func (export "fill") (param i32)
    i32.const 0
    i32.const 9
    local.get 0
    memory.fill))"#;

fn first_byte(run: &Run) -> u8 {
    let memory = run
        .instance
        .get_memory(&run.store, "mem")
        .expect("memory export");
    memory.data(&run.store)[0]
}

#[test]
fn out_of_gas_traps_before_any_effect_of_the_unpaid_block() {
    let s = v1();
    let entry = u64::from(s.constant + s.call + s.local + s.branch);
    let then_arm = u64::from(3 * s.constant + s.store + s.call + s.structure);
    let after_if = u64::from(s.structure);
    let total = entry + then_arm + after_if;

    // Exactly enough: everything happens and nothing is left.
    let mut run = run(SIDE_EFFECTS, total, AMPLE_STACK);
    run.call("run", &[Val::I32(1)]).expect("paid in full");
    assert_eq!(run.gas_left(), 0);
    assert_eq!(run.logged(), &[1, 2]);
    assert_eq!(first_byte(&run), 42);

    // One short for the then-arm: the entry block ran, nothing of the arm did.
    let mut run = self::run(SIDE_EFFECTS, entry + then_arm - 1, AMPLE_STACK);
    assert!(run.call("run", &[Val::I32(1)]).is_err());
    assert_eq!(run.reserved_calls(), &[Reserved::OutOfGas]);
    assert_eq!(run.logged(), &[1]);
    assert_eq!(first_byte(&run), 0);

    // One short for the entry block: not even the first call happens.
    let mut run = self::run(SIDE_EFFECTS, entry - 1, AMPLE_STACK);
    assert!(run.call("run", &[Val::I32(1)]).is_err());
    assert_eq!(run.reserved_calls(), &[Reserved::OutOfGas]);
    assert!(run.logged().is_empty());
}

#[test]
fn out_of_gas_on_dynamic_cost_leaves_memory_untouched() {
    let s = v1();
    let static_cost = u64::from(2 * s.constant + s.local + s.memory_bulk + s.structure);
    let bytes = 1000u64;
    let needed = static_cost + bytes * u64::from(s.memory_per_byte);
    let mut run = run(SIDE_EFFECTS, needed - 1, AMPLE_STACK);
    assert!(run.call("fill", &[Val::I32(bytes as i32)]).is_err());
    assert_eq!(run.reserved_calls(), &[Reserved::OutOfGas]);
    assert_eq!(first_byte(&run), 0);

    let mut run = self::run(SIDE_EFFECTS, needed, AMPLE_STACK);
    run.call("fill", &[Val::I32(bytes as i32)])
        .expect("paid in full");
    assert_eq!(run.gas_left(), 0);
    assert_eq!(first_byte(&run), 9);
}

const RECURSE: &str = r#"(module
  (global $depth (mut i32) (i32.const 0))
  (func $rec (export "rec")
    global.get $depth
    i32.const 1
    i32.add
    global.set $depth
    call $rec)
  (func (export "depth") (result i32) global.get $depth))"#;

#[test]
fn deep_recursion_overflows_at_the_predicted_depth() {
    with_big_stack(deep_recursion_body);
}

fn deep_recursion_body() {
    for overhead in [StackConfig::DEFAULT_FRAME_OVERHEAD, 16, 200] {
        let config = StackConfig::new(StackConfig::DEFAULT_LIMIT, overhead);
        // No params, no locals, at most two i32 on the operand stack.
        let frame = u64::from(overhead) + 2 * 4;
        for limit in [10_000u64, 65_536, frame * 10, frame * 10 - 1] {
            let bytes = wat::parse_str(RECURSE).expect("parses");
            let instrumented = prepare_with(&bytes, &config);
            assert_eq!(instrumented.stats.max_frame, frame);
            let mut run = instantiate(&engine(false), &instrumented.bytes, AMPLE_GAS, limit, None)
                .expect("instantiates");
            let error = run.call("rec", &[]).expect_err("recursion ends");
            assert_eq!(
                run.reserved_calls(),
                &[Reserved::StackOverflow],
                "limit {limit}: {error}"
            );
            run.set_stack_left(limit);
            let depth = run.call("depth", &[]).expect("getter runs");
            assert_eq!(
                i32_result(&depth) as u64,
                limit / frame,
                "limit {limit}, frame {frame}"
            );
        }
    }
}

#[test]
fn stack_check_comes_before_the_entry_charge() {
    let mut run = run(RECURSE, 0, 0);
    assert!(run.call("depth", &[]).is_err());
    assert_eq!(run.reserved_calls(), &[Reserved::StackOverflow]);
}

const EXITS: &str = r#"(module
  (global $out (mut i32) (i32.const 0))
  (func $classify (export "classify") (param i32)
    block $a
      block $b
        block $c
          local.get 0
          br_table $c $b $a 3
        end
        i32.const 30
        global.set $out
        return
      end
      i32.const 20
      global.set $out
      local.get 0
      i32.const 1
      i32.eq
      br_if 1
      i32.const 21
      global.set $out
    end
    i32.const 10
    global.set $out)
  (func $pair (export "pair") (param i32) (result i32 i64)
    local.get 0
    i64.const 7
    block (param i32 i64) (result i32 i64)
      local.get 0
      br_if 1
      drop
      drop
      i32.const 3
      i64.const 9
    end)
  (func (export "nested") (param i32) (result i32)
    local.get 0
    call $classify
    local.get 0
    call $pair
    drop
    global.get $out
    i32.add)
  (func (export "out") (result i32) global.get $out))"#;

#[test]
fn stack_left_is_restored_through_every_exit() {
    let limit = StackConfig::DEFAULT_LIMIT;
    let mut run = run(EXITS, AMPLE_GAS, limit);
    // 0: br_table to $c, then return; 1: br_table to $b, then br_if to the
    // function label; 2: br_table to $a, then the final end; 3 and above:
    // br_table to the function label, skipping every store (so the value
    // of the preceding `classify(0)` remains).
    let cases = [(0, 30), (1, 20), (2, 10), (3, 30), (9, 30)];
    for (arg, out) in cases {
        run.call("classify", &[Val::I32(0)]).expect("runs");
        assert_eq!(run.stack_left(), limit, "classify(0)");
        run.call("classify", &[Val::I32(arg)]).expect("runs");
        assert_eq!(run.stack_left(), limit, "classify({arg})");
        let value = run.call("out", &[]).expect("runs");
        assert_eq!(i32_result(&value), out, "classify({arg})");
    }
    for arg in [0, 1] {
        let results = run.call("pair", &[Val::I32(arg)]).expect("runs");
        assert_eq!(run.stack_left(), limit, "pair({arg})");
        let expected = if arg == 0 {
            vec![Val::I32(3), Val::I64(9)]
        } else {
            vec![Val::I32(1), Val::I64(7)]
        };
        assert_eq!(values_key(&results), values_key(&expected));
    }
    for arg in [0, 1, 3, 7] {
        run.call("nested", &[Val::I32(arg)]).expect("runs");
        assert_eq!(run.stack_left(), limit, "nested({arg})");
    }
}

#[test]
fn stack_left_drops_by_the_frame_during_a_call() {
    // A host call inside the function observes nothing, so check through
    // a callee that overflows exactly when the caller's frame is held.
    let wat = r#"(module
      (func $leaf (export "leaf") (param i64) (result i64) local.get 0)
      (func (export "outer") (result i64) i64.const 5 call $leaf))"#;
    let overhead = u64::from(StackConfig::DEFAULT_FRAME_OVERHEAD);
    let leaf = overhead + 8 + 8;
    let outer = overhead + 8;
    let mut run = run(wat, AMPLE_GAS, leaf + outer);
    run.call("outer", &[]).expect("both frames fit");
    assert_eq!(run.stack_left(), leaf + outer);
    run.set_stack_left(leaf + outer - 1);
    assert!(run.call("outer", &[]).is_err());
    assert_eq!(run.reserved_calls(), &[Reserved::StackOverflow]);
}
