//! Counted loops: recognising a loop whose iteration count is known at its
//! entry and whose body can only compute, so that its gas can be charged
//! once for all iterations (`docs/vm.md`, "Counted loops").
//!
//! The body is evaluated symbolically: every operand-stack value and local
//! is an expression over the values the locals had at the start of the
//! iteration. Only the shapes that can make a count are kept apart; all
//! else is [`Sym::Other`].

use std::collections::BTreeMap;

use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use cranelift_codegen::ir::{self, types::I32};
use wasmparser::{BlockType, Operator, OperatorsReader};

use super::charges::Charges;
use super::translate::plain_stack_effect;

/// The largest charge a counted loop may have: with at most 2^32
/// iterations, the total stays below 2^63.
const MAX_AMOUNT: u64 = (1 << 31) - 1;

/// An `i32` that is a constant, a local's value at the start of the
/// iteration plus a constant, or the sum of two locals' (wrapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Linear {
    /// A constant.
    Const(i32),
    /// Local `.0` at the start of the iteration, plus `.1`.
    Local(u32, i32),
    /// Local `.0` plus local `.1`, both at the start of the iteration: a
    /// step held in a local (`docs/vm.md`, "Proven loops").
    Sum(u32, u32),
}

/// A symbolic value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sym {
    Linear(Linear),
    /// The `i32` result of comparing two linear values.
    Cmp(IntCC, Linear, Linear),
    /// Anything else.
    Other,
}

/// A loop recognised as counted: its trip count and charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CountedLoop {
    /// The gas charge at the head of the body, paid once per iteration.
    pub amount: u64,
    /// The induction local `L`.
    pub local: u32,
    /// `k`: the compared value is `L + k`.
    pub offset: i32,
    /// Whether `L` grows by one per iteration (else it shrinks by one).
    pub up: bool,
    /// `n`, the value compared against; it does not change in the loop.
    pub bound: Linear,
    /// `p`, as in `p(L + k, n)`: the loop goes on while it holds.
    pub cond: IntCC,
}

/// The condition code of an `i32` comparison operator.
pub(super) fn i32_compare(op: &Operator<'_>) -> Option<IntCC> {
    use Operator as O;
    Some(match op {
        O::I32Eq => IntCC::Equal,
        O::I32Ne => IntCC::NotEqual,
        O::I32LtS => IntCC::SignedLessThan,
        O::I32LtU => IntCC::UnsignedLessThan,
        O::I32GtS => IntCC::SignedGreaterThan,
        O::I32GtU => IntCC::UnsignedGreaterThan,
        O::I32LeS => IntCC::SignedLessThanOrEqual,
        O::I32LeU => IntCC::UnsignedLessThanOrEqual,
        O::I32GeS => IntCC::SignedGreaterThanOrEqual,
        O::I32GeU => IntCC::UnsignedGreaterThanOrEqual,
        _ => return None,
    })
}

/// The symbolic evaluation of a straight-line loop body, shared by counted
/// and proven loops: the operand stack and the locals written so far, as
/// expressions over the locals' values at the start of the iteration.
pub(super) struct Evaluation<'t> {
    /// The operand stack.
    pub stack: Vec<Sym>,
    /// Locals written so far, by index: few in a small body.
    written: BTreeMap<u32, Sym>,
    local_types: &'t [ir::Type],
}

impl<'t> Evaluation<'t> {
    pub fn new(local_types: &'t [ir::Type]) -> Self {
        Self {
            stack: Vec::new(),
            written: BTreeMap::new(),
            local_types,
        }
    }

    /// Local `l` at the start of the iteration.
    fn initial(&self, l: u32) -> Sym {
        match self.local_types.get(l as usize) {
            Some(&I32) => Sym::Linear(Linear::Local(l, 0)),
            _ => Sym::Other,
        }
    }

    /// What local `l` holds at the end of the body so far.
    pub fn at_back_edge(&self, l: u32) -> Sym {
        self.written
            .get(&l)
            .copied()
            .unwrap_or_else(|| self.initial(l))
    }

    /// Evaluates `op`; `None` if it is not one a straight-line body may
    /// hold (see `docs/vm.md`, "Counted loops", item 2) or the stack runs
    /// out.
    pub fn step(&mut self, op: &Operator<'_>) -> Option<()> {
        let stack = &mut self.stack;
        match *op {
            Operator::LocalGet { local_index } => {
                let v = self.at_back_edge(local_index);
                self.stack.push(v);
            }
            Operator::LocalSet { local_index } => {
                let v = stack.pop()?;
                self.written.insert(local_index, v);
            }
            Operator::LocalTee { local_index } => {
                let v = *stack.last()?;
                self.written.insert(local_index, v);
            }
            Operator::I32Const { value } => stack.push(Sym::Linear(Linear::Const(value))),
            Operator::I32Add | Operator::I32Sub => {
                let (b, a) = (stack.pop()?, stack.pop()?);
                stack.push(linear_add(a, b, matches!(op, Operator::I32Add)));
            }
            Operator::I32Eqz => {
                let v = match stack.pop()? {
                    Sym::Cmp(cc, a, b) => Sym::Cmp(cc.complement(), a, b),
                    Sym::Linear(a) => Sym::Cmp(IntCC::Equal, a, Linear::Const(0)),
                    Sym::Other => Sym::Other,
                };
                stack.push(v);
            }
            _ => {
                if let Some(cc) = i32_compare(op) {
                    let (b, a) = (stack.pop()?, stack.pop()?);
                    stack.push(match (a, b) {
                        (Sym::Linear(a), Sym::Linear(b)) => Sym::Cmp(cc, a, b),
                        _ => Sym::Other,
                    });
                } else {
                    let (pops, pushes) = plain_stack_effect(op)?;
                    stack.truncate(stack.len().checked_sub(pops)?);
                    stack.extend(std::iter::repeat_n(Sym::Other, pushes));
                }
            }
        }
        Some(())
    }
}

/// Decides whether the loop whose body `ops` starts (just after a `loop`
/// of block type `blockty`) is counted, given the types of the function's
/// locals. Reads `ops` only; the caller translates from its own copy.
pub(super) fn counted_loop(
    blockty: BlockType,
    mut ops: OperatorsReader<'_>,
    charges: Charges<'_>,
    local_types: &[ir::Type],
) -> Option<CountedLoop> {
    if blockty != BlockType::Empty {
        return None;
    }
    let amount = charges.take_gas(&mut ops)?;
    if amount == 0 || amount > MAX_AMOUNT {
        return None;
    }

    let mut body = Evaluation::new(local_types);
    let cond = loop {
        let op = ops.read().ok()?;
        if let Operator::BrIf { relative_depth: 0 } = op {
            break body.stack.pop()?;
        }
        body.step(&op)?;
    };
    if !matches!(ops.read().ok()?, Operator::End) {
        return None;
    }

    let at_back_edge = |l: u32| body.at_back_edge(l);
    // `L + k` where the body leaves `L` one up or one down.
    let induction = |v: Linear| match v {
        Linear::Local(l, k) => match at_back_edge(l) {
            Sym::Linear(Linear::Local(m, 1)) if m == l => Some((l, k, true)),
            Sym::Linear(Linear::Local(m, -1)) if m == l => Some((l, k, false)),
            _ => None,
        },
        Linear::Const(_) | Linear::Sum(..) => None,
    };
    // A value the body does not change.
    let invariant = |v: Linear| match v {
        Linear::Const(_) => true,
        Linear::Local(l, _) => at_back_edge(l) == Sym::Linear(Linear::Local(l, 0)),
        Linear::Sum(..) => false,
    };
    let (cc, a, b) = match cond {
        Sym::Cmp(cc, a, b) => (cc, a, b),
        Sym::Linear(a) => (IntCC::NotEqual, a, Linear::Const(0)),
        Sym::Other => return None,
    };
    let oriented = [(cc, a, b), (cc.swap_args(), b, a)];
    oriented.into_iter().find_map(|(cond, w, n)| {
        let (local, offset, up) = induction(w)?;
        if !invariant(n) {
            return None;
        }
        let towards = if up {
            matches!(
                cond,
                IntCC::NotEqual | IntCC::UnsignedLessThan | IntCC::SignedLessThan
            )
        } else {
            matches!(
                cond,
                IntCC::NotEqual | IntCC::UnsignedGreaterThan | IntCC::SignedGreaterThan
            )
        };
        towards.then_some(CountedLoop {
            amount,
            local,
            offset,
            up,
            bound: n,
            cond,
        })
    })
}

/// `a + b` (or `a − b` unless `add`) of two symbolic values, kept linear
/// where one side is a constant or both are locals without a constant.
pub(super) fn linear_add(a: Sym, b: Sym, add: bool) -> Sym {
    use Linear::{Const, Local, Sum};
    let (Sym::Linear(a), Sym::Linear(b)) = (a, b) else {
        return Sym::Other;
    };
    let apply = |x: i32, y: i32| {
        if add {
            x.wrapping_add(y)
        } else {
            x.wrapping_sub(y)
        }
    };
    Sym::Linear(match (a, b) {
        (Const(x), Const(y)) => Const(apply(x, y)),
        (Local(l, k), Const(c)) => Local(l, apply(k, c)),
        (Const(c), Local(l, k)) if add => Local(l, c.wrapping_add(k)),
        (Local(l, 0), Local(m, 0)) if add => Sum(l, m),
        _ => return Sym::Other,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `analysis` of the first `loop` of the only function of `wat`, whose
    /// locals are all `i32` (also for the proven-loop tests).
    pub(in crate::compile) fn first_loop<T>(
        wat: &str,
        analysis: fn(BlockType, OperatorsReader<'_>, Charges<'_>, &[ir::Type]) -> Option<T>,
    ) -> Option<T> {
        let bytes = wat::parse_str(wat).expect("wat");
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
                let sites = crate::compile::charges::by_shape::of_body(&body);
                let charges = Charges::new(&sites, body.range().start);
                let mut ops = body.get_operators_reader().expect("operators");
                while !ops.eof() {
                    if let Ok(Operator::Loop { blockty }) = ops.read() {
                        return analysis(blockty, ops, charges, &[I32; 8]);
                    }
                }
            }
        }
        panic!("no loop")
    }

    fn analyse(wat: &str) -> Option<CountedLoop> {
        first_loop(wat, counted_loop)
    }

    const CHARGE: &str = "global.get 0 i64.const 7 i64.lt_u if call 0 end \
                          global.get 0 i64.const 7 i64.sub global.set 0";

    fn module(body: &str) -> String {
        format!(
            r#"(module
                 (import "detvm" "out_of_gas" (func))
                 (import "detvm" "stack_overflow" (func))
                 (import "detvm" "gas_left" (global (mut i64)))
                 (import "detvm" "stack_left" (global (mut i64)))
                 (func (param i32 i32) (local i32 i32 i32 i32 i32 i32)
                   (loop {body})))"#
        )
    }

    #[test]
    fn float_arithmetic_and_bit_counts_do_not_stop_a_loop_being_counted() {
        // None of these can trap, so the count is found as without them.
        let found = analyse(&module(&format!(
            "{CHARGE} local.get 4 f64.convert_i32_s f64.const 1.5 f64.mul f64.sqrt \
             f64.const -0 f64.copysign f64.floor i64.reinterpret_f64 f64.reinterpret_i64 \
             f32.demote_f64 f32.const 2 f32.lt local.set 5 \
             local.get 3 i32.extend8_s i32.popcnt i32.clz i32.ctz i64.extend_i32_u \
             i64.extend32_s i64.popcnt drop \
             local.get 2 i32.const 1 i32.add local.set 2 \
             local.get 2 local.get 0 i32.lt_u br_if 0"
        )));
        assert_eq!(
            found.map(|c| (c.local, c.bound)),
            Some((2, Linear::Local(0, 0)))
        );
    }

    #[test]
    fn an_up_counter_is_counted() {
        let found = analyse(&module(&format!(
            "{CHARGE} local.get 2 i32.const 1 i32.add local.set 2 \
             local.get 2 local.get 0 i32.lt_u br_if 0"
        )));
        assert_eq!(
            found,
            Some(CountedLoop {
                amount: 7,
                local: 2,
                offset: 1,
                up: true,
                bound: Linear::Local(0, 0),
                cond: IntCC::UnsignedLessThan,
            })
        );
    }

    #[test]
    fn a_down_counter_tested_for_zero_is_counted() {
        let found = analyse(&module(&format!(
            "{CHARGE} local.get 3 i32.const -1 i32.add local.tee 3 br_if 0"
        )));
        assert_eq!(
            found,
            Some(CountedLoop {
                amount: 7,
                local: 3,
                offset: -1,
                up: false,
                bound: Linear::Const(0),
                cond: IntCC::NotEqual,
            })
        );
    }

    #[test]
    fn swapped_and_negated_comparisons_are_normalised() {
        // `eqz(n <=u i)` is `i <u n`, with `i` compared before its step.
        let found = analyse(&module(&format!(
            "{CHARGE} local.get 0 i32.const 3 i32.add local.get 2 i32.le_u i32.eqz \
             local.get 2 i32.const 1 i32.add local.set 2 br_if 0"
        )));
        assert_eq!(
            found,
            Some(CountedLoop {
                amount: 7,
                local: 2,
                offset: 0,
                up: true,
                bound: Linear::Local(0, 3),
                cond: IntCC::UnsignedLessThan,
            })
        );
    }

    #[test]
    fn loops_that_are_not_counted() {
        let cases = [
            // The bound changes in the body.
            "local.get 2 i32.const 1 i32.add local.tee 2 \
             local.get 0 i32.const 1 i32.sub local.tee 0 i32.lt_u br_if 0",
            // A step of two.
            "local.get 2 i32.const 2 i32.add local.tee 2 local.get 0 i32.lt_u br_if 0",
            // Counting up towards a smaller bound: wraps around.
            "local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.gt_u br_if 0",
            // `<=` can run forever.
            "local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.le_u br_if 0",
            // A load may trap.
            "local.get 2 i32.const 1 i32.add local.tee 2 i32.load drop \
             local.get 2 local.get 0 i32.lt_u br_if 0",
            // A call.
            "call 0 local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // Code after the `br_if`.
            "local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.ne br_if 0 nop",
            // A nested block.
            "block end local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.ne br_if 0",
            // The condition is not a comparison of the counter.
            "local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.and br_if 0",
        ];
        for case in cases {
            assert_eq!(
                analyse(&module(&format!("{CHARGE} {case}"))),
                None,
                "{case}"
            );
        }
        // Without the charge at the head.
        let bare = "local.get 2 i32.const 1 i32.add local.tee 2 local.get 0 i32.ne br_if 0";
        assert_eq!(analyse(&module(bare)), None);
    }
}
