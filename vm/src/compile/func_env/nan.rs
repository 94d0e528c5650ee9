//! Where NaNs are canonicalised (`docs/vm.md`, "Floats"): the NaN class
//! of compile-time values, and the classes of a function's locals, decided
//! before it is translated.
//!
//! Arithmetic NaNs must look canonical wherever their bits can be seen,
//! and every other NaN must keep its bits. Canonicalising after every
//! arithmetic operator achieves both but costs a compare and a select per
//! operator; canonicalising only where bits escape needs to know, for each
//! value, whether its bits are still to be canonicalised.

use cranelift_codegen::ir;
use wasmparser::Operator;

use super::super::translate::{FloatOp, float_op, plain_stack_effect};

/// The canonical f32 NaN: positive, quiet, zero payload.
pub(in crate::compile) const CANONICAL_F32: u32 = 0x7fc0_0000;
/// The canonical f64 NaN.
pub(in crate::compile) const CANONICAL_F64: u64 = 0x7ff8_0000_0000_0000;

/// What is known at compile time about a float value's NaN bits. Ordered:
/// a value made of several (a `select`, a local written several times) has
/// the greatest class of its parts, once pending parts that meet kept ones
/// have been canonicalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::compile) enum Nan {
    /// Canonicalising would change nothing: not a NaN, or the canonical
    /// one. Also every integer and reference value.
    Canonical,
    /// An arithmetic result whose NaN, if it is one, stands for the
    /// canonical NaN but has the bits the CPU gave it.
    Pending,
    /// Bits that must be kept exactly (a loaded NaN, say).
    Kept,
}

impl Nan {
    /// The class of an `f32.const`.
    pub(in crate::compile) fn of_f32(bits: u32) -> Self {
        if f32::from_bits(bits).is_nan() && bits != CANONICAL_F32 {
            Self::Kept
        } else {
            Self::Canonical
        }
    }

    /// The class of an `f64.const`.
    pub(in crate::compile) fn of_f64(bits: u64) -> Self {
        if f64::from_bits(bits).is_nan() && bits != CANONICAL_F64 {
            Self::Kept
        } else {
            Self::Canonical
        }
    }
}

/// Whether a value of `ty` can be a NaN at all.
pub(in crate::compile) fn is_float(ty: ir::Type) -> bool {
    ty == ir::types::F32 || ty == ir::types::F64
}

/// A value on the look-back stack of [`LocalWrites`]: at least `floor`,
/// and at least the class of each local in `deps` (the value was read
/// from them, through `select` or `abs` at most).
#[derive(Debug, Clone, Copy)]
struct Abs {
    floor: Nan,
    deps: [Option<u32>; 2],
}

impl Abs {
    const KEPT: Self = Self::of(Nan::Kept);

    const fn of(floor: Nan) -> Self {
        Self {
            floor,
            deps: [None, None],
        }
    }

    /// Either of `self` and `other`. More than two locals are not tracked:
    /// the value is then taken as kept, which is always safe.
    fn join(self, other: Self) -> Self {
        let mut out = Self::of(self.floor.max(other.floor));
        let mut n = 0;
        for dep in self.deps.into_iter().chain(other.deps).flatten() {
            if out.deps[..n].contains(&Some(dep)) {
                continue;
            }
            if n == 2 {
                return Self::KEPT;
            }
            out.deps[n] = Some(dep);
            n += 1;
        }
        out
    }
}

/// What an operator does to the look-back stack of [`LocalWrites`].
enum Effect {
    /// Pops `pops` operands and pushes one value of this class.
    Push(usize, Nan),
    /// Pops `pops` and pushes `pushes` integers.
    Plain(usize, usize),
    /// Anything not followed: nothing below is known any more.
    Unknown,
}

fn effect(op: &Operator<'_>) -> Effect {
    use Effect::{Plain, Push, Unknown};
    use Operator as O;
    if let Some((pops, kind)) = float_op(op) {
        return match kind {
            FloatOp::Arithmetic => Push(pops, Nan::Pending),
            FloatOp::KeepsBits => Push(pops, Nan::Kept),
            FloatOp::FromInteger => Push(pops, Nan::Canonical),
            FloatOp::ToInteger => Plain(pops, 1),
        };
    }
    match op {
        O::F32Load { .. } | O::F64Load { .. } => Push(1, Nan::Kept),
        O::I32Load { .. }
        | O::I64Load { .. }
        | O::I32Load8S { .. }
        | O::I32Load8U { .. }
        | O::I32Load16S { .. }
        | O::I32Load16U { .. }
        | O::I64Load8S { .. }
        | O::I64Load8U { .. }
        | O::I64Load16S { .. }
        | O::I64Load16U { .. }
        | O::I64Load32S { .. }
        | O::I64Load32U { .. } => Plain(1, 1),
        op => match plain_stack_effect(op) {
            Some((pops, pushes)) => Plain(pops, pushes),
            None => Unknown,
        },
    }
}

/// The writes to a body's locals, gathered during the body scan
/// (`translate::scan_body`), from which [`LocalWrites::classes`] decides each
/// local's class: kept for parameters, and for every other local the
/// greatest class of its zero (canonical) and of every value a
/// `local.set`/`local.tee` writes to it, unreachable code included. A
/// written value's class comes from a look back over the operators before
/// it, through the ones [`effect`] follows; what it cannot see through is
/// kept. The translator finds each written value to be of this class or
/// less (it follows the same operators, and canonicalises more), and
/// checks it.
#[derive(Debug, Default)]
pub(in crate::compile) struct LocalWrites {
    /// Per local (grown as locals are written), the greatest class written
    /// to it that does not come from another local.
    floors: Vec<Nan>,
    /// (from, to): `to` is at least as great as `from`.
    flows: Vec<(u32, u32)>,
    /// The look-back stack.
    stack: Vec<Abs>,
}

impl LocalWrites {
    fn pop(&mut self) -> Abs {
        self.stack.pop().unwrap_or(Abs::KEPT)
    }

    fn write(&mut self, local: u32, v: Abs) {
        let i = local as usize;
        // Validation bounds the index by the body's declared locals.
        if self.floors.len() <= i {
            self.floors.resize(i + 1, Nan::Canonical);
        }
        self.floors[i] = self.floors[i].max(v.floor);
        for dep in v.deps.into_iter().flatten() {
            if dep != local {
                self.flows.push((dep, local));
            }
        }
    }

    /// Follows one operator of the body, in order.
    pub(in crate::compile) fn visit(&mut self, op: &Operator<'_>) {
        match *op {
            Operator::LocalGet { local_index } => self.stack.push(Abs {
                floor: Nan::Canonical,
                deps: [Some(local_index), None],
            }),
            Operator::LocalSet { local_index } => {
                let v = self.pop();
                self.write(local_index, v);
            }
            Operator::LocalTee { local_index } => {
                let v = self.stack.last().copied().unwrap_or(Abs::KEPT);
                self.write(local_index, v);
            }
            Operator::F32Const { value } => self.stack.push(Abs::of(Nan::of_f32(value.bits()))),
            Operator::F64Const { value } => self.stack.push(Abs::of(Nan::of_f64(value.bits()))),
            Operator::F32Abs | Operator::F64Abs => {
                let v = self.pop();
                self.stack.push(v);
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                self.pop();
                let b = self.pop();
                let a = self.pop();
                self.stack.push(a.join(b));
            }
            ref op => match effect(op) {
                Effect::Push(pops, nan) => {
                    for _ in 0..pops {
                        self.pop();
                    }
                    self.stack.push(Abs::of(nan));
                }
                Effect::Plain(pops, pushes) => {
                    for _ in 0..pops {
                        self.pop();
                    }
                    self.stack
                        .extend(std::iter::repeat_n(Abs::of(Nan::Canonical), pushes));
                }
                Effect::Unknown => self.stack.clear(),
            },
        }
    }

    /// The class of each of the `locals` locals, the first `params` of
    /// which are parameters; `None` if a write names a local past `locals`
    /// (translation reports why).
    ///
    /// Linear: each local's class rises at most twice.
    pub(in crate::compile) fn classes(&self, params: usize, locals: usize) -> Option<Vec<Nan>> {
        if self.floors.len() > locals {
            return None;
        }
        let mut class: Vec<Nan> = (0..locals)
            .map(|i| {
                let floor = self.floors.get(i).copied().unwrap_or(Nan::Canonical);
                if i < params { Nan::Kept } else { floor }
            })
            .collect();
        let mut flows = self.flows.clone();
        flows.sort_unstable();
        flows.dedup();
        if flows.last().is_some_and(|&(f, _)| f as usize >= locals) {
            return None;
        }
        let mut work: Vec<u32> = (0..class.len() as u32).collect();
        while let Some(from) = work.pop() {
            let c = class[from as usize];
            let start = flows.partition_point(|&(f, _)| f < from);
            for &(_, to) in flows[start..].iter().take_while(|&&(f, _)| f == from) {
                let t = &mut class[to as usize];
                if *t < c {
                    *t = c;
                    work.push(to);
                }
            }
        }
        Some(class)
    }
}
