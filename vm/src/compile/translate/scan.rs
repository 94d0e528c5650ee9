//! The scan of a body before it is translated ([`BodyScan`]), and operator
//! patterns that the walk, the loop analyses and the NaN classes share:
//! the stack effects of plain operators and the metering's fixed charge
//! sequence.

use wasmparser::Operator;

use crate::compile::func_env::nan;

/// `offset + size` of a load, if `op` is one.
fn load_end(op: &Operator<'_>) -> Option<u64> {
    use Operator as O;
    let (memarg, size) = match op {
        O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg } => (memarg, 1),
        O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg } => (memarg, 2),
        O::I32Load { memarg }
        | O::F32Load { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg } => (memarg, 4),
        O::I64Load { memarg } | O::F64Load { memarg } => (memarg, 8),
        _ => return None,
    };
    Some(memarg.offset.saturating_add(size))
}

/// Whether `op` has no effect but on the operand stack and locals, cannot
/// trap and does not transfer control. Anything else ends the groups of
/// [`BodyScan::widened`]; the list is short on purpose.
fn is_plain(op: &Operator<'_>) -> bool {
    plain_stack_effect(op).is_some()
}

/// For an operator of [`is_plain`]'s list, how many operands it pops and
/// how many results it pushes; `None` for any other operator.
pub(in crate::compile) fn plain_stack_effect(op: &Operator<'_>) -> Option<(usize, usize)> {
    use Operator as O;
    Some(match op {
        O::Nop => (0, 0),
        O::Drop => (1, 0),
        O::Select => (3, 1),
        O::LocalGet { .. } | O::I32Const { .. } | O::I64Const { .. } => (0, 1),
        O::I32Eqz
        | O::I64Eqz
        | O::I32WrapI64
        | O::I64ExtendI32S
        | O::I64ExtendI32U
        | O::I32Extend8S
        | O::I32Extend16S
        | O::I64Extend8S
        | O::I64Extend16S
        | O::I64Extend32S
        | O::I32Clz
        | O::I32Ctz
        | O::I32Popcnt
        | O::I64Clz
        | O::I64Ctz
        | O::I64Popcnt => (1, 1),
        O::I32Eq
        | O::I32Ne
        | O::I32LtS
        | O::I32LtU
        | O::I32GtS
        | O::I32GtU
        | O::I32LeS
        | O::I32LeU
        | O::I32GeS
        | O::I32GeU
        | O::I64Eq
        | O::I64Ne
        | O::I64LtS
        | O::I64LtU
        | O::I64GtS
        | O::I64GtU
        | O::I64LeS
        | O::I64LeU
        | O::I64GeS
        | O::I64GeU
        | O::I32Add
        | O::I32Sub
        | O::I32Mul
        | O::I32And
        | O::I32Or
        | O::I32Xor
        | O::I32Shl
        | O::I32ShrS
        | O::I32ShrU
        | O::I32Rotl
        | O::I32Rotr
        | O::I64Add
        | O::I64Sub
        | O::I64Mul
        | O::I64And
        | O::I64Or
        | O::I64Xor
        | O::I64Shl
        | O::I64ShrS
        | O::I64ShrU
        | O::I64Rotl
        | O::I64Rotr => (2, 1),
        O::F32Const { .. } | O::F64Const { .. } => (0, 1),
        O::F32Abs | O::F64Abs => (1, 1),
        op => {
            let (pops, _) = float_op(op)?;
            (pops, 1)
        }
    })
}

/// What a float operator that cannot trap does to NaN bits (`docs/vm.md`,
/// "Floats"); constants and `abs` aside, which keep their operand's or
/// their own bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::compile) enum FloatOp {
    /// Arithmetic: a NaN result stands for the canonical NaN.
    Arithmetic,
    /// `neg`, `copysign`, reinterpretation as a float: every bit is kept.
    KeepsBits,
    /// Conversion from an integer: never a NaN.
    FromInteger,
    /// A comparison, reinterpretation as an integer or saturating
    /// truncation: the result is an integer.
    ToInteger,
}

/// For a float operator that cannot trap (constants and `abs` aside), how
/// many operands it pops (it pushes one value) and what it does to NaN
/// bits; `None` for any other operator.
pub(in crate::compile) fn float_op(op: &Operator<'_>) -> Option<(usize, FloatOp)> {
    use FloatOp::{Arithmetic, FromInteger, KeepsBits, ToInteger};
    use Operator as O;
    Some(match op {
        O::F32Add
        | O::F32Sub
        | O::F32Mul
        | O::F32Div
        | O::F32Min
        | O::F32Max
        | O::F64Add
        | O::F64Sub
        | O::F64Mul
        | O::F64Div
        | O::F64Min
        | O::F64Max => (2, Arithmetic),
        O::F32Sqrt
        | O::F32Ceil
        | O::F32Floor
        | O::F32Trunc
        | O::F32Nearest
        | O::F64Sqrt
        | O::F64Ceil
        | O::F64Floor
        | O::F64Trunc
        | O::F64Nearest
        | O::F32DemoteF64
        | O::F64PromoteF32 => (1, Arithmetic),
        O::F32Neg | O::F64Neg | O::F32ReinterpretI32 | O::F64ReinterpretI64 => (1, KeepsBits),
        O::F32Copysign | O::F64Copysign => (2, KeepsBits),
        O::F32ConvertI32S
        | O::F32ConvertI32U
        | O::F32ConvertI64S
        | O::F32ConvertI64U
        | O::F64ConvertI32S
        | O::F64ConvertI32U
        | O::F64ConvertI64S
        | O::F64ConvertI64U => (1, FromInteger),
        O::F32Eq
        | O::F32Ne
        | O::F32Lt
        | O::F32Gt
        | O::F32Le
        | O::F32Ge
        | O::F64Eq
        | O::F64Ne
        | O::F64Lt
        | O::F64Gt
        | O::F64Le
        | O::F64Ge => (2, ToInteger),
        O::I32ReinterpretF32
        | O::I64ReinterpretF64
        | O::I32TruncSatF32S
        | O::I32TruncSatF32U
        | O::I32TruncSatF64S
        | O::I32TruncSatF64U
        | O::I64TruncSatF32S
        | O::I64TruncSatF32U
        | O::I64TruncSatF64S
        | O::I64TruncSatF64U => (1, ToInteger),
        _ => return None,
    })
}

/// What one pass over a body finds before it is translated.
#[derive(Default)]
pub(in crate::compile) struct BodyScan {
    /// The number of Wasm blocks (`block`, `loop`, `if`), reachable or not.
    pub blocks: u32,
    /// Not found by the scan: whether the counters may be kept in
    /// variables, which the caller decides from `blocks` and the size.
    pub counters_in_variables: bool,
    /// Whether the body loads from or stores to linear memory.
    pub(super) accesses: bool,
    /// What the body writes to its locals, for their NaN classes.
    pub(super) local_writes: nan::LocalWrites,
    /// Bounds checks to widen, as `(byte offset of the load that makes the
    /// check, end to check)`, in order: the furthest end of the loads of
    /// the same local (`local.get L` right before the load) that follow it
    /// with only loads and [`is_plain`] operators in between, and no
    /// `local.set`/`local.tee` of `L`. Checking that end at the first load
    /// lets the later ones reuse the proof (see `Translator::checked`). It
    /// can only make the first load trap where a later one would have,
    /// with the same trap code, and nothing observable happens in between:
    /// no store, call, global or table write, other trap code, branch or
    /// metered block boundary (whose charge starts with a `global.get`),
    /// so results, memory, globals and gas at the trap are the same.
    pub(super) widened: Vec<(u64, u64)>,
    /// For each `loop` (by its byte offset, in order) whose body reads
    /// locals it never writes: those locals. They hold their value from before the loop throughout it
    /// (`docs/vm.md`, "Checks").
    pub(in crate::compile) held_locals: Vec<(u64, Vec<u32>)>,
}

/// How many distinct locals a loop's body reads are considered for being
/// held, and how many distinct locals it may write and still hold any.
/// Bounds the scan's work per operator and the translator's per loop.
const MAX_LOOP_LOCALS: usize = 64;

/// A loop whose `end` the scan has not reached yet.
struct OpenLoop {
    at: u64,
    /// The first locals its body reads (at most [`MAX_LOOP_LOCALS`]).
    reads: Vec<u32>,
    /// Locals its body writes; `None` past [`MAX_LOOP_LOCALS`].
    writes: Option<Vec<u32>>,
}

impl OpenLoop {
    fn read(&mut self, local: u32) {
        if self.reads.len() < MAX_LOOP_LOCALS && !self.reads.contains(&local) {
            self.reads.push(local);
        }
    }

    fn write(&mut self, local: u32) {
        if let Some(writes) = &mut self.writes
            && !writes.contains(&local)
        {
            if writes.len() == MAX_LOOP_LOCALS {
                self.writes = None;
            } else {
                writes.push(local);
            }
        }
    }

    /// Closes the loop: what it reads and writes is also read and written
    /// by the loop around it, if any. Returns the loop's held locals.
    fn close(self, outer: Option<&mut OpenLoop>) -> Option<(u64, Vec<u32>)> {
        if let Some(outer) = outer {
            for &local in &self.reads {
                outer.read(local);
            }
            match &self.writes {
                Some(writes) => writes.iter().for_each(|&local| outer.write(local)),
                None => outer.writes = None,
            }
        }
        let writes = self.writes?;
        let held: Vec<u32> = self
            .reads
            .into_iter()
            .filter(|local| !writes.contains(local))
            .collect();
        (!held.is_empty()).then_some((self.at, held))
    }
}

/// Scans `body` for [`BodyScan`]; `None` if it does not decode
/// (translation reports why).
pub(in crate::compile) fn scan_body(body: &wasmparser::FunctionBody<'_>) -> Option<BodyScan> {
    // An open group: base local, offset of its first load, that load's
    // end, the furthest end so far.
    type Group = (u32, u64, u64, u64);
    fn close(widened: &mut Vec<(u64, u64)>, (_, at, first_end, end): Group) {
        if end > first_end {
            widened.push((at, end));
        }
    }
    let mut ops = body.get_operators_reader().ok()?;
    let mut scan = BodyScan::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut base: Option<u32> = None;
    // For each open construct, whether it is a loop (the innermost last).
    let mut constructs: Vec<bool> = Vec::new();
    let mut loops: Vec<OpenLoop> = Vec::new();
    while !ops.eof() {
        let at = ops.original_position();
        let op = ops.read().ok()?;
        scan.local_writes.visit(&op);
        match op {
            Operator::Block { .. } | Operator::If { .. } => constructs.push(false),
            Operator::Loop { .. } => {
                constructs.push(true);
                loops.push(OpenLoop {
                    at,
                    reads: Vec::new(),
                    writes: Some(Vec::new()),
                });
            }
            Operator::End if constructs.pop() == Some(true) => {
                let closed = loops.pop()?;
                scan.held_locals.extend(closed.close(loops.last_mut()));
            }
            Operator::LocalGet { local_index } => {
                if let Some(open) = loops.last_mut() {
                    open.read(local_index);
                }
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                if let Some(open) = loops.last_mut() {
                    open.write(local_index);
                }
            }
            _ => {}
        }
        let address_local = base.take();
        if let Some(end) = load_end(&op) {
            scan.accesses = true;
            if let Some(local) = address_local {
                match groups.iter_mut().find(|g| g.0 == local) {
                    Some(group) => group.3 = group.3.max(end),
                    None => groups.push((local, at, end, end)),
                }
            }
            continue;
        }
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                scan.blocks = scan.blocks.saturating_add(1);
                for group in groups.drain(..) {
                    close(&mut scan.widened, group);
                }
            }
            Operator::LocalGet { local_index } => base = Some(local_index),
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                if let Some(i) = groups.iter().position(|g| g.0 == local_index) {
                    close(&mut scan.widened, groups.swap_remove(i));
                }
            }
            ref op if is_plain(op) => {}
            ref op => {
                scan.accesses |= is_store(op);
                for group in groups.drain(..) {
                    close(&mut scan.widened, group);
                }
            }
        }
    }
    for group in groups.drain(..) {
        close(&mut scan.widened, group);
    }
    scan.widened.sort_unstable();
    // Loops close innermost first.
    scan.held_locals.sort_unstable_by_key(|&(at, _)| at);
    Some(scan)
}

/// Whether `op` stores to linear memory.
fn is_store(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Store { .. }
            | Operator::I64Store { .. }
            | Operator::F32Store { .. }
            | Operator::F64Store { .. }
            | Operator::I32Store8 { .. }
            | Operator::I32Store16 { .. }
            | Operator::I64Store8 { .. }
            | Operator::I64Store16 { .. }
            | Operator::I64Store32 { .. }
    )
}
