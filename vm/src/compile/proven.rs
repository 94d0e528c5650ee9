//! Proven loops: recognising a straight-line loop whose trip count and
//! memory addresses follow from its induction variables, so that a copy of
//! it can run without the bounds checks that a test before the loop proves
//! redundant (`docs/vm.md`, "Proven loops").
//!
//! The body is evaluated with the counted-loop analysis's symbolic values:
//! every operand-stack value and local is an expression over the locals'
//! values at the start of the iteration.

use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use cranelift_codegen::ir::{self, types::I32};
use wasmparser::{BlockType, Operator, OperatorsReader};

use super::charges::Charges;
use super::counted::{Evaluation, Linear, Sym, linear_add};
use super::translate::plain_stack_effect;

/// The largest step of an induction local, so that `N × step` stays far
/// below 2^63 for `N ≤ 2^32 + 1`.
pub(super) const MAX_STEP: i32 = 1 << 16;

/// The most accesses one loop proves; further ones keep their checks.
const MAX_PROVEN: usize = 32;

/// How the loop's exit test compares its counter with the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Continue {
    /// While `w ≠ n`.
    NotEqual,
    /// While `w <u n` (the counter grows).
    Below,
    /// While `w ≤u n` (the counter grows).
    AtMost,
    /// While `w >u n` (the counter shrinks).
    Above,
    /// While `w ≥u n` (the counter shrinks).
    AtLeast,
}

/// A constant, or the value at the loop's entry of an `i32` local that the
/// body does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Term {
    Const(i32),
    Local(u32),
}

/// An access whose address is an induction local plus a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Access {
    /// Byte offset of the load or store in the code section.
    pub at: u64,
    /// The address local `A`: the address is `A + add` (wrapping) with
    /// `A`'s value at the start of the iteration.
    pub local: u32,
    pub add: i32,
    /// What the body adds to `A` per iteration (`Const(0)`: unchanged; a
    /// local only if it is the count's step).
    pub step: Term,
    /// The access's memarg offset plus its size.
    pub end: u64,
}

/// How many times a straight-line loop runs, as its exit test decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count {
    /// The counter `L`; the compared value is `L + offset` (a local
    /// offset only if it is the step).
    pub counter: u32,
    pub offset: Term,
    /// What the body adds to `L` per iteration (a non-zero constant, or a
    /// local whose value is read as unsigned and must be non-zero).
    pub step: Term,
    /// `n`, which the body does not change.
    pub bound: Linear,
    pub cond: Continue,
}

/// A loop recognised as provable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProvenLoop {
    /// The trip count's form, for a straight-line loop; `None` for a loop
    /// whose accesses to prove all have addresses it does not change
    /// (every [`Access::step`] is `0`), whatever its control flow.
    pub count: Option<Count>,
    /// The accesses to prove, in body order.
    pub accesses: Vec<Access>,
    /// For a straight-line loop whose every access is proven: the charge
    /// at the head of its body, paid for all iterations before the copy
    /// without checks (`docs/vm.md`, "Proven loops").
    pub prepay: Option<u64>,
}

impl ProvenLoop {
    /// A loop to version with the first [`MAX_PROVEN`] of `accesses`; none
    /// if there is nothing to prove.
    fn new(count: Option<Count>, accesses: impl Iterator<Item = Access>) -> Option<Self> {
        let accesses: Vec<Access> = accesses.take(MAX_PROVEN).collect();
        (!accesses.is_empty()).then_some(Self {
            count,
            accesses,
            prepay: None,
        })
    }
}

/// `offset + size` of a load or store, if `op` is one, and whether it is a
/// store.
fn access_end(op: &Operator<'_>) -> Option<(u64, bool)> {
    use Operator as O;
    let (memarg, size, store) = match op {
        O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg } => (memarg, 1, false),
        O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg } => (memarg, 2, false),
        O::I32Load { memarg }
        | O::F32Load { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg } => (memarg, 4, false),
        O::I64Load { memarg } | O::F64Load { memarg } => (memarg, 8, false),
        O::I32Store8 { memarg } | O::I64Store8 { memarg } => (memarg, 1, true),
        O::I32Store16 { memarg } | O::I64Store16 { memarg } => (memarg, 2, true),
        O::I32Store { memarg } | O::F32Store { memarg } | O::I64Store32 { memarg } => {
            (memarg, 4, true)
        }
        O::I64Store { memarg } | O::F64Store { memarg } => (memarg, 8, true),
        _ => return None,
    };
    Some((memarg.offset.checked_add(size)?, store))
}

/// The largest charge of a prepaid loop: with at most 2^32 + 1
/// iterations, the total stays below 2^63.
const MAX_PREPAID_CHARGE: u64 = (1 << 31) - 1;

/// Decides whether the loop whose body `ops` starts (just after a `loop`
/// of block type `blockty`) is provable, given the types of the function's
/// locals. Reads `ops` only; the caller translates from its own copy.
pub(super) fn proven_loop(
    blockty: BlockType,
    mut ops: OperatorsReader<'_>,
    charges: Charges<'_>,
    local_types: &[ir::Type],
) -> Option<ProvenLoop> {
    if blockty != BlockType::Empty {
        return None;
    }
    let charge = charges.take_gas(&mut ops);
    let mut body = Evaluation::new(local_types);
    // Candidate accesses: (offset, address, end).
    let mut candidates: Vec<(u64, Linear, u64)> = Vec::new();
    let mut all_accesses = 0usize;
    let cond = loop {
        let at = ops.original_position();
        let op = ops.read().ok()?;
        if let Some((end, store)) = access_end(&op) {
            all_accesses += 1;
            if store {
                body.stack.pop()?;
            }
            if let Sym::Linear(address) = body.stack.pop()? {
                candidates.push((at, address, end));
            }
            if !store {
                body.stack.push(Sym::Other);
            }
            continue;
        }
        if let Operator::BrIf { relative_depth: 0 } = op {
            break body.stack.pop()?;
        }
        body.step(&op)?;
    };
    // The not-taken path: at most a charge and a branch out, then `end`.
    charges.take_gas(&mut ops);
    let mut next = ops.read().ok()?;
    if let Operator::Br { relative_depth } = next {
        if relative_depth == 0 {
            return None;
        }
        next = ops.read().ok()?;
    }
    if !matches!(next, Operator::End) {
        return None;
    }

    // What the body adds to local `l` per iteration: a small constant or
    // another local it leaves unchanged.
    let step_of = |l: u32| match body.at_back_edge(l) {
        Sym::Linear(Linear::Local(m, s)) if m == l && s.unsigned_abs() <= MAX_STEP as u32 => {
            Some(Term::Const(s))
        }
        Sym::Linear(Linear::Sum(a, b)) if a != b && (a == l || b == l) => {
            let by = if a == l { b } else { a };
            (body.at_back_edge(by) == Sym::Linear(Linear::Local(by, 0))).then_some(Term::Local(by))
        }
        _ => None,
    };
    let unchanged = |l: u32| step_of(l) == Some(Term::Const(0));
    let (cc, a, b) = match cond {
        Sym::Cmp(cc, a, b) => (cc, a, b),
        Sym::Linear(a) => (IntCC::NotEqual, a, Linear::Const(0)),
        Sym::Other => return None,
    };
    let (counter, offset, step, bound, cond) = [(cc, a, b), (cc.swap_args(), b, a)]
        .into_iter()
        .find_map(|(cc, w, n)| {
            // `L + k`, or `L + S` for the step `S` of `L`.
            let (counter, offset, step) = match w {
                Linear::Local(l, k) => (l, Term::Const(k), step_of(l)?),
                Linear::Sum(a, b) => [(a, b), (b, a)].into_iter().find_map(|(l, by)| {
                    let step = step_of(l).filter(|&s| s == Term::Local(by))?;
                    Some((l, step, step))
                })?,
                Linear::Const(_) => return None,
            };
            match n {
                Linear::Const(_) => {}
                Linear::Local(m, _) if unchanged(m) => {}
                _ => return None,
            }
            let cond = match (cc, step) {
                (_, Term::Const(0)) => return None,
                (IntCC::NotEqual, Term::Const(_)) => Continue::NotEqual,
                (IntCC::UnsignedLessThan, Term::Local(_)) => Continue::Below,
                (IntCC::UnsignedLessThanOrEqual, Term::Local(_)) => Continue::AtMost,
                (IntCC::UnsignedLessThan, Term::Const(s)) if s > 0 => Continue::Below,
                (IntCC::UnsignedLessThanOrEqual, Term::Const(s)) if s > 0 => Continue::AtMost,
                (IntCC::UnsignedGreaterThan, Term::Const(s)) if s < 0 => Continue::Above,
                (IntCC::UnsignedGreaterThanOrEqual, Term::Const(s)) if s < 0 => Continue::AtLeast,
                _ => return None,
            };
            Some((counter, offset, step, n, cond))
        })?;
    let count_step = step;
    let accesses = candidates.into_iter().filter_map(|(at, address, end)| {
        let Linear::Local(local, add) = address else {
            return None;
        };
        let step = step_of(local)?;
        // A local step only if it is the count's, whose product with the
        // trip count the count's test bounds.
        if matches!(step, Term::Local(_)) && step != count_step {
            return None;
        }
        Some(Access {
            at,
            local,
            add,
            step,
            end,
        })
    });
    let count = Count {
        counter,
        offset,
        step,
        bound,
        cond,
    };
    let mut proven = ProvenLoop::new(Some(count), accesses)?;
    // Prepaid only if nothing in the unchecked copy can trap.
    if proven.accesses.len() == all_accesses {
        proven.prepay = charge.filter(|&c| c > 0 && c <= MAX_PREPAID_CHARGE);
    }
    Some(proven)
}

/// The most bytes of body a loop with control flow may have to be
/// translated twice.
const MAX_INVARIANT_BODY: u64 = 4096;

/// Decides whether the innermost loop whose body `ops` starts has accesses
/// at addresses it never changes: `A + a` for a local `A` that no
/// `local.set`/`local.tee` in the body writes. Any other operator may
/// appear, nested blocks and calls included (memory only grows, so a
/// bound proven at entry stays proven), but no nested `loop`: each
/// operator is translated at most twice.
pub(super) fn invariant_loop(
    blockty: BlockType,
    mut ops: OperatorsReader<'_>,
    local_types: &[ir::Type],
) -> Option<ProvenLoop> {
    if blockty != BlockType::Empty {
        return None;
    }
    let start = ops.original_position();
    // Every write the body makes, with the value written as far as known:
    // a local only ever set to `B + c` with `B` unwritten holds one of
    // those addresses, or its value from before the loop.
    let mut writes: Vec<(u32, Sym)> = Vec::new();
    // The top of the operand stack as far as it is known: values pushed
    // since the last operator whose effect is not modelled. Pops below it
    // give `Other`.
    let mut stack: Vec<Sym> = Vec::new();
    let pop = |stack: &mut Vec<Sym>| stack.pop().unwrap_or(Sym::Other);
    let mut candidates: Vec<(u64, u32, i32, u64)> = Vec::new();
    let mut depth = 0u32;
    loop {
        let at = ops.original_position();
        if at - start > MAX_INVARIANT_BODY {
            return None;
        }
        let op = ops.read().ok()?;
        if let Some((end, store)) = access_end(&op) {
            if store {
                pop(&mut stack);
            }
            if let Sym::Linear(Linear::Local(local, add)) = pop(&mut stack) {
                candidates.push((at, local, add, end));
            }
            if !store {
                stack.push(Sym::Other);
            }
            continue;
        }
        match op {
            Operator::Loop { .. } => return None,
            Operator::Block { .. } | Operator::If { .. } => {
                depth += 1;
                stack.clear();
            }
            Operator::End if depth == 0 => break,
            Operator::End => {
                depth -= 1;
                stack.clear();
            }
            Operator::LocalGet { local_index } => {
                stack.push(match local_types.get(local_index as usize) {
                    Some(&I32) => Sym::Linear(Linear::Local(local_index, 0)),
                    _ => Sym::Other,
                })
            }
            Operator::LocalSet { local_index } => {
                writes.push((local_index, pop(&mut stack)));
            }
            Operator::LocalTee { local_index } => {
                // The value stays; only the body's writes matter, below.
                let v = pop(&mut stack);
                writes.push((local_index, v));
                stack.push(v);
            }
            Operator::I32Const { value } => stack.push(Sym::Linear(Linear::Const(value))),
            Operator::I32Add | Operator::I32Sub => {
                let (b, a) = (pop(&mut stack), pop(&mut stack));
                stack.push(linear_add(a, b, matches!(op, Operator::I32Add)));
            }
            _ => match plain_stack_effect(&op) {
                Some((pops, pushes)) => {
                    for _ in 0..pops {
                        pop(&mut stack);
                    }
                    stack.extend(std::iter::repeat_n(Sym::Other, pushes));
                }
                None => stack.clear(),
            },
        }
    }
    // The addresses a local may hold inside the body, besides its value
    // from before the loop: none for an unwritten local; `B + c` for each
    // write of a local only ever set to such sums of unwritten locals.
    let written = |local: u32| writes.iter().any(|&(l, _)| l == local);
    let targets = |local: u32| -> Option<Vec<(u32, i32)>> {
        writes
            .iter()
            .filter(|&&(l, _)| l == local)
            .map(|&(_, value)| match value {
                Sym::Linear(Linear::Local(base, c)) if !written(base) => Some((base, c)),
                _ => None,
            })
            .collect()
    };
    let mut accesses = Vec::new();
    for (at, local, add, end) in candidates {
        let Some(targets) = targets(local) else {
            continue;
        };
        // An access is proven for all its addresses or not at all.
        if accesses.len() + 1 + targets.len() > MAX_PROVEN {
            continue;
        }
        // Every address the access may use is proven: one entry each, all
        // at the same offset.
        let at_entry = std::iter::once((local, add));
        let written_sums = targets
            .into_iter()
            .map(|(base, c)| (base, c.wrapping_add(add)));
        for (local, add) in at_entry.chain(written_sums) {
            accesses.push(Access {
                at,
                local,
                add,
                step: Term::Const(0),
                end,
            });
        }
    }
    ProvenLoop::new(None, accesses.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::compile::counted::tests::first_loop;

    fn analyse(wat: &str) -> Option<ProvenLoop> {
        first_loop(wat, proven_loop)
    }

    fn analyse_invariant(wat: &str) -> Option<ProvenLoop> {
        first_loop(wat, |blockty, ops, _, local_types| {
            invariant_loop(blockty, ops, local_types)
        })
    }

    /// A straight-line loop's count: counter, offset, step, bound, test.
    fn count_of(found: &ProvenLoop) -> (u32, Term, Term, Linear, Continue) {
        let c = found.count.expect("a count");
        (c.counter, c.offset, c.step, c.bound, c.cond)
    }

    /// Each proven access: its local, constant, step and end.
    fn shapes_of(found: &ProvenLoop) -> Vec<(u32, i32, Term, u64)> {
        found
            .accesses
            .iter()
            .map(|a| (a.local, a.add, a.step, a.end))
            .collect()
    }

    fn module(body: &str) -> String {
        format!(
            r#"(module (memory 1)
                 (func (param i32 i32) (local i32 i32 i32 i32 i32 i32)
                   (block (loop {body}))))"#
        )
    }

    #[test]
    fn a_pointer_walk_with_a_separate_counter_is_provable() {
        // c[p] += c[p + 4]; p += 8; i += 2; while i != n.
        let found = analyse(&module(
            "local.get 2 local.get 2 i32.load offset=4 i32.store \
             local.get 2 i32.const 8 i32.add local.set 2 \
             local.get 3 i32.const 2 i32.add local.tee 3 local.get 0 i32.ne br_if 0 br 1",
        ))
        .expect("provable");
        assert_eq!(
            count_of(&found),
            (
                3,
                Term::Const(2),
                Term::Const(2),
                Linear::Local(0, 0),
                Continue::NotEqual
            )
        );
        let shapes = shapes_of(&found);
        assert_eq!(
            shapes,
            [(2, 0, Term::Const(8), 8), (2, 0, Term::Const(8), 4)]
        );
    }

    #[test]
    fn a_step_held_in_a_local_is_provable_with_an_unsigned_test() {
        // The sieve's inner loop: c[p] = 1; p += s; m += s; while m <= n.
        let sieve = "local.get 2 i32.const 1 i32.store8 \
             local.get 2 local.get 1 i32.add local.set 2 \
             local.get 3 local.get 1 i32.add local.tee 3 local.get 0 i32.le_u br_if 0";
        let found = analyse(&module(sieve)).expect("provable");
        assert_eq!(
            count_of(&found),
            (
                3,
                Term::Local(1),
                Term::Local(1),
                Linear::Local(0, 0),
                Continue::AtMost
            )
        );
        let shapes = shapes_of(&found);
        assert_eq!(shapes, [(2, 0, Term::Local(1), 1)]);
        // The test before the step, with the operands swapped: `n >=u m`.
        let before = analyse(&module(
            "local.get 2 i32.load drop \
             local.get 2 local.get 1 i32.add local.set 2 \
             local.get 0 local.get 3 i32.ge_u \
             local.get 3 local.get 1 i32.add local.set 3 br_if 0",
        ))
        .expect("provable");
        let count = before.count.expect("a count");
        assert_eq!(
            (count.offset, count.cond),
            (Term::Const(0), Continue::AtMost)
        );
        // Not provable: the step also changes, a different local steps the
        // address, `!=` with a local step, the counter is its own step.
        for case in [
            "local.get 2 i32.load drop local.get 2 local.get 1 i32.add local.set 2 \
             local.get 1 i32.const 1 i32.add local.set 1 \
             local.get 3 local.get 1 i32.add local.tee 3 local.get 0 i32.le_u br_if 0",
            "local.get 2 i32.load drop local.get 2 local.get 4 i32.add local.set 2 \
             local.get 3 local.get 1 i32.add local.tee 3 local.get 0 i32.le_u br_if 0",
            "local.get 2 i32.load drop local.get 2 local.get 1 i32.add local.set 2 \
             local.get 3 local.get 1 i32.add local.tee 3 local.get 0 i32.ne br_if 0",
            "local.get 3 i32.load drop \
             local.get 3 local.get 3 i32.add local.tee 3 local.get 0 i32.le_u br_if 0",
        ] {
            assert_eq!(analyse(&module(case)), None, "{case}");
        }
    }

    #[test]
    fn an_address_after_its_step_carries_the_step() {
        let found = analyse(&module(
            "local.get 2 i32.const 4 i32.add local.tee 2 i32.load drop \
             local.get 2 local.get 0 i32.lt_u br_if 0",
        ))
        .expect("provable");
        let count = found.count.expect("a count");
        assert_eq!(count.cond, Continue::Below);
        assert_eq!((count.counter, count.offset), (2, Term::Const(4)));
        assert_eq!((found.accesses[0].local, found.accesses[0].add), (2, 4));
    }

    #[test]
    fn addresses_a_loop_with_branches_never_changes() {
        let found = analyse_invariant(&module(
            "local.get 4 if local.get 2 local.get 3 i32.store offset=8 \
             else local.get 2 i32.const 4 i32.add i32.load drop end \
             local.get 3 local.get 5 i32.store \
             local.get 3 i32.const 1 i32.add local.tee 3 local.get 0 i32.ne br_if 0",
        ))
        .expect("provable");
        assert_eq!(found.count, None);
        let shapes: Vec<(u32, i32, u64)> = found
            .accesses
            .iter()
            .map(|a| (a.local, a.add, a.end))
            .collect();
        // Local 3 is written: its store keeps its check.
        assert_eq!(shapes, [(2, 0, 12), (2, 4, 4)]);
        // A nested loop, or only written addresses: nothing to prove.
        assert_eq!(
            analyse_invariant(&module("local.get 2 i32.load drop loop end br_if 0")),
            None
        );
        assert_eq!(
            analyse_invariant(&module(
                "block local.get 2 i32.const 4 i32.add local.set 2 end local.get 2 i32.load br_if 0"
            )),
            None
        );
    }

    #[test]
    fn a_local_set_only_to_sums_of_unwritten_locals_is_proven_at_each() {
        // Local 4 holds 2 + 8 or (in a nested block) 2 + 16, or its value
        // from before the loop; the store through it covers all three.
        let found = analyse_invariant(&module(
            "local.get 2 i32.const 8 i32.add local.set 4 \
             block local.get 3 br_if 0 local.get 2 i32.const 16 i32.add local.set 4 end \
             local.get 4 local.get 3 i32.store offset=4 \
             local.get 3 i32.const 1 i32.add local.tee 3 local.get 0 i32.ne br_if 0",
        ))
        .expect("provable");
        let shapes: Vec<(u32, i32, u64)> = found
            .accesses
            .iter()
            .map(|a| (a.local, a.add, a.end))
            .collect();
        assert_eq!(shapes, [(4, 0, 8), (2, 8, 8), (2, 16, 8)]);
        assert!(found.accesses.iter().all(|a| a.at == found.accesses[0].at));
        // A write of anything else, or of a sum of a written local, and
        // the local's accesses keep their checks.
        for other in [
            "local.get 0 i32.const 3 i32.mul local.set 4",
            "local.get 3 i32.const 4 i32.add local.set 4",
            "local.get 4 i32.const 4 i32.add local.set 4",
        ] {
            assert_eq!(
                analyse_invariant(&module(&format!(
                    "local.get 2 i32.const 8 i32.add local.set 4 {other} \
                     local.get 4 local.get 3 i32.store \
                     local.get 3 i32.const 1 i32.add local.tee 3 local.get 0 i32.ne br_if 0"
                ))),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn loops_that_are_not_provable() {
        let cases = [
            // A call.
            "call 0 local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // A nested block.
            "block end local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // The bound changes.
            "local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 \
             local.get 0 i32.const 1 i32.add local.tee 0 i32.ne br_if 0",
            // Growing towards `>u`: wraps.
            "local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.gt_u br_if 0",
            // A step held in a local, with `!=`.
            "local.get 2 i32.load drop local.get 2 local.get 1 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // A step too large.
            "local.get 2 i32.load drop local.get 2 i32.const 131072 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // No access to prove: the address is not linear.
            "local.get 2 i32.const 3 i32.mul i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // More code after the exit test.
            "local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.ne br_if 0 nop",
            // A branch back to the loop after the test.
            "local.get 2 i32.load drop local.get 2 i32.const 4 i32.add local.tee 2 local.get 0 i32.ne br_if 0 br 0",
        ];
        for case in cases {
            assert_eq!(analyse(&module(case)), None, "{case}");
        }
    }
}
