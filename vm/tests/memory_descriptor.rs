//! Compiled code keeps linear memory's base and length in registers
//! between calls (`docs/vm.md`, "Memory and tables"): every call or
//! builtin may grow, and so move, the memory, and the descriptor must be
//! current on every path that reaches an access, across branches, labels
//! and loop back edges. Each case grows the memory somewhere on the way and
//! then touches the new pages, under both strategies, both optimisation
//! levels, metered and not.

mod common;

use common::{call_i32, every_config, instantiate};
use detvm_vm::Engine;

const MODULE: &str = r#"(module
  (memory 1)
  (func $grow (param i32) (result i32) (memory.grow (local.get 0)))
  ;; The last byte address of the memory as it is now.
  (func $last (result i32)
    (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)))

  ;; Grows in one arm of an `if`; the store after the merge needs the
  ;; second page.
  (func (export "grow_in_arm") (param i32) (result i32)
    (i32.store (i32.const 8) (i32.const 1))
    (if (local.get 0) (then (drop (memory.grow (i32.const 1)))))
    (i32.store (i32.const 70000) (i32.const 7))
    (i32.add (i32.load (i32.const 70000)) (i32.load (i32.const 8))))

  ;; Grows through a call on each iteration, then writes the new last word.
  (func (export "grow_in_loop") (param i32) (result i32) (local i32)
    (i32.store (i32.const 0) (i32.const 0))
    (loop $again
      (drop (call $grow (i32.const 1)))
      (i32.store (call $last) (local.get 1))
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get 1) (local.get 0))))
    (i32.add (i32.load (call $last)) (i32.load (i32.const 0))))

  ;; Reads before a loop, grows inside it only on its last iteration, reads
  ;; the new page after it: the loop header's descriptor must come from
  ;; both the entry and the back edge.
  (func (export "grow_on_last_iteration") (param i32) (result i32) (local i32 i32)
    (local.set 2 (i32.load (i32.const 16)))
    (loop $again
      (local.set 2 (i32.add (local.get 2) (i32.load (i32.const 16))))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (if (i32.eq (local.get 1) (local.get 0))
        (then (drop (call $grow (i32.const 2)))))
      (br_if $again (i32.lt_u (local.get 1) (local.get 0))))
    (i32.store (i32.const 140000) (i32.const 5))
    (i32.add (local.get 2) (i32.load (i32.const 140000))))

  ;; Grows in a block left early by `br_if`; both the branch and the
  ;; fall-through reach the store after the block.
  (func (export "grow_then_br_if") (param i32) (result i32)
    (block $out
      (drop (memory.grow (i32.const 1)))
      (br_if $out (local.get 0))
      (drop (memory.grow (i32.const 1))))
    (i32.store (call $last) (i32.const 9))
    (i32.add (i32.load (call $last)) (memory.size)))

  ;; Grows, then leaves the block by `br_if` before the fall-through path
  ;; reads memory: the branch must carry the grown descriptor too.
  (func (export "grow_br_if_then_read") (param i32) (result i32)
    (block $out
      (drop (memory.grow (i32.const 1)))
      (br_if $out (local.get 0))
      (drop (i32.load (i32.const 0))))
    (i32.store (i32.const 70000) (i32.const 3))
    (i32.load (i32.const 70000)))

  ;; Each iteration reads the page the previous one grew (zeros), at the
  ;; top of the body, translated before the growth: only the back edge
  ;; brings the grown descriptor there.
  (func (export "read_what_the_last_iteration_grew") (param i32) (result i32) (local i32 i32)
    (loop $again
      (if (local.get 1)
        (then (local.set 2 (i32.add (local.get 2)
          (i32.load (i32.add (i32.mul (local.get 1) (i32.const 65536)) (i32.const 100)))))))
      (drop (memory.grow (i32.const 1)))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 2)))"#;

/// Calls `name(arg)` on a fresh instance under every configuration; all
/// must agree. The result, or the trap's name.
fn call(name: &str, arg: i32) -> Result<i32, &'static str> {
    let bytes = wat::parse_str(MODULE).expect("wat");
    let mut seen = None;
    for config in every_config() {
        let label = format!(
            "{name}({arg}) {:?} slots={} metering={}",
            config.opt_level, config.slot_strategy_only, config.metering
        );
        let engine = Engine::new(config).expect("engine");
        let (mut store, instance) = instantiate(&engine, &bytes);
        let (result, _) = call_i32(&instance, &mut store, name, &[arg], 1 << 40);
        if let Some(previous) = seen {
            assert_eq!(previous, result, "{label}: configurations disagree");
        }
        seen = Some(result);
    }
    seen.expect("ran")
}

#[test]
fn growth_in_one_arm_reaches_the_access_after_the_merge() {
    assert_eq!(call("grow_in_arm", 1), Ok(8));
    assert_eq!(call("grow_in_arm", 0), Err("memory_out_of_bounds"));
}

#[test]
fn growth_on_every_iteration_is_seen_by_the_next() {
    // The last word written holds the last iteration's index (4); five
    // iterations counted at address 0.
    assert_eq!(call("grow_in_loop", 5), Ok(4 + 5));
    assert_eq!(call("grow_in_loop", 1), Ok(1));
}

#[test]
fn growth_on_a_back_edge_reaches_the_loop_exit() {
    assert_eq!(call("grow_on_last_iteration", 3), Ok(5));
}

#[test]
fn growth_before_a_branch_reaches_both_of_its_targets() {
    // Taken: one page grown (2 pages); not taken: two (3 pages).
    assert_eq!(call("grow_then_br_if", 1), Ok(9 + 2));
    assert_eq!(call("grow_then_br_if", 0), Ok(9 + 3));
}

#[test]
fn growth_reaches_a_branch_taken_before_any_access() {
    assert_eq!(call("grow_br_if_then_read", 1), Ok(3));
    assert_eq!(call("grow_br_if_then_read", 0), Ok(3));
}

#[test]
fn growth_reaches_the_loop_header_through_the_back_edge() {
    assert_eq!(call("read_what_the_last_iteration_grew", 5), Ok(0));
}
