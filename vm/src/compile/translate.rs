//! Translation of one function body, operator by operator.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I8, I16, I32, I64};
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::Module;
use wasmparser::{MemArg, Operator};

use super::counted::{CountedLoop, Linear, counted_loop};
use super::func_env::nan::{self, Nan};
use super::func_env::{Builtin, PTR, Translator};
use super::proven::{Continue, Count, ProvenLoop, invariant_loop, proven_loop};
use super::{CompileError, ModuleCtx, Strategy, clif_type};
use crate::vmctx::TrapCode;

/// Most locals a body may declare; validation's limits are far lower, this
/// only keeps a corrupt count from exhausting memory.
const MAX_LOCALS: u64 = 1 << 20;

/// How a translation ended.
pub(super) enum Translation {
    /// `func` holds the whole function.
    Done,
    /// The register pressure went over the budget: `func` and the builder
    /// context hold a partial function, to be discarded.
    OverBudget,
}

/// Translates the body of function `func_index` into `func` with
/// `strategy`, given its [`scan_body`]. With `scan.counters_in_variables`,
/// an instrumented module's counters are kept in variables (see
/// `Translator::counters`); otherwise every access is a load or store of
/// `VMRuntime`. With a `pressure_budget`, stops as soon as the register
/// pressure (`docs/vm.md`, two translation strategies) exceeds it.
#[allow(clippy::too_many_arguments)]
pub(super) fn translate_function(
    m: &ModuleCtx<'_>,
    jit: &mut JITModule,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    func_index: u32,
    body: wasmparser::FunctionBody<'_>,
    scan: &BodyScan,
    strategy: Strategy,
    pressure_budget: Option<super::PressureBudget>,
) -> Result<Translation, CompileError> {
    let counters_in_variables = scan.counters_in_variables;
    let stack_write_through = scan.accesses;
    let err = |offset: u64, message: String| CompileError::Translate {
        func_index,
        offset,
        message,
    };
    let wasm_err = |e: wasmparser::BinaryReaderError| err(e.offset(), e.message().to_string());
    let ty = m
        .env
        .func_type(func_index)
        .ok_or_else(|| err(0, "function without a type".into()))?;
    let mut results = Vec::with_capacity(ty.results().len());
    for &r in ty.results() {
        results.push(clif_type(r).ok_or_else(|| err(0, "result type outside the profile".into()))?);
    }
    let builder = FunctionBuilder::new(func, fctx);
    let mut t = Translator::new(
        builder,
        m,
        jit,
        func_index,
        results,
        counters_in_variables,
        stack_write_through,
        strategy,
    )?;

    // Parameters, then zero-initialised locals.
    let params: Vec<Value> = {
        let entry =
            t.b.func
                .layout
                .entry_block()
                .ok_or_else(|| err(0, "no entry block".into()))?;
        // After `vmctx` (and the counters of an instrumented module).
        let first = if m.instrumented { 3 } else { 1 };
        t.b.block_params(entry)[first..].to_vec()
    };
    // Only read by the counted-loop analysis; small next to the variables.
    let mut local_types: Vec<ir::Type> = Vec::with_capacity(params.len());
    for (&p, &wt) in params.iter().zip(ty.params()) {
        let ct =
            clif_type(wt).ok_or_else(|| err(0, "parameter type outside the profile".into()))?;
        local_types.push(ct);
        t.declare_local(ct, p);
    }
    let mut locals = body.get_locals_reader().map_err(wasm_err)?;
    let mut declared: u64 = 0;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, vt) = locals.read().map_err(wasm_err)?;
        declared += u64::from(count);
        if declared > MAX_LOCALS {
            return Err(err(offset, "too many locals".into()));
        }
        let ct =
            clif_type(vt).ok_or_else(|| err(offset, "local type outside the profile".into()))?;
        let zero = t.zero(ct);
        local_types.extend(std::iter::repeat_n(ct, count as usize));
        for _ in 0..count {
            t.declare_local(ct, zero);
        }
    }

    let classes = scan
        .local_writes
        .classes(params.len(), local_types.len())
        .ok_or_else(|| err(0, "a local index past the declared locals".into()))?;
    t.set_local_classes(classes)?;
    // The slot strategy keeps no value live across blocks, these neither.
    if scan.accesses && strategy == Strategy::Registers {
        t.keep_memory_in_variables();
    }

    t.push_function_frame();
    let mut walk = Walk {
        ops: body.get_operators_reader().map_err(wasm_err)?,
        widened: &scan.widened,
        next_widened: 0,
        done: false,
        after_loop: false,
        head_check: m.instrumented,
        pressure: Pressure::default(),
        budget: pressure_budget,
        local_types: &local_types,
        versioning: strategy == Strategy::Registers,
    };
    while !walk.ops.eof() {
        if walk.step(&mut t, m)? == Step::OverBudget {
            return Ok(Translation::OverBudget);
        }
    }
    let done = walk.done;
    if !done {
        return Err(t.err("function body does not end"));
    }
    t.emit_trap_blocks();
    t.b.seal_all_blocks();
    let config = t.jit.isa().frontend_config();
    t.b.finalize(config);
    Ok(Translation::Done)
}

/// Whether translation can go on after an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Go,
    /// The register pressure went over the budget.
    OverBudget,
}

/// The walk over a body's operators: the reader and what translating one
/// operator needs to know about those before it.
struct Walk<'a> {
    ops: wasmparser::OperatorsReader<'a>,
    /// `BodyScan::widened`, and the first entry not yet passed.
    widened: &'a [(u64, u64)],
    next_widened: usize,
    /// The function's final `end` was translated.
    done: bool,
    /// The previous operator was a `loop` (its body's charge follows).
    after_loop: bool,
    /// At the function's entry or a loop head of an instrumented module:
    /// `gas_left` is tested before the next operator, or by it if it is a
    /// charge (`docs/vm.md`, "Deferred exhaustion checks").
    head_check: bool,
    pressure: Pressure,
    budget: Option<super::PressureBudget>,
    local_types: &'a [ir::Type],
    /// Whether proven loops get a copy without their bounds checks.
    versioning: bool,
}

impl Walk<'_> {
    /// Translates the next operator, or the next fused sequence (a gas
    /// charge, a counted loop's head, a whole proven loop).
    fn step(
        &mut self,
        t: &mut Translator<'_, '_>,
        m: &ModuleCtx<'_>,
    ) -> Result<Step, CompileError> {
        if let Some(budget) = self.budget
            && self.pressure.add(t).exceeds(budget)
        {
            return Ok(Step::OverBudget);
        }
        t.offset = self.ops.original_position();
        let op = self
            .ops
            .read()
            .map_err(|e| t.err(e.message().to_string()))?;
        if self.done {
            return Err(t.err("operators after the end of the function"));
        }
        if let Operator::GlobalGet { global_index } = op
            && t.reachable
            && m.instrumented
        {
            let mut ahead = self.ops.clone();
            if let Some((counter, amount, trap)) = match_charge(global_index, &mut ahead) {
                t.fused_charge(counter, amount, trap, self.after_loop, self.head_check);
                self.after_loop = false;
                self.head_check = false;
                self.ops = ahead;
                return Ok(Step::Go);
            }
        }
        if std::mem::take(&mut self.head_check) && t.reachable {
            t.check_gas();
        }
        if let Operator::Loop { blockty } = op
            && t.reachable
        {
            if t.has_counters()
                && m.prepay_loops
                && let Some(counted) = counted_loop(blockty, self.ops.clone(), self.local_types)
            {
                // The body after the charge is translated as any other.
                prepay_counted_loop(t, &counted, &mut self.ops)?;
                self.after_loop = false;
                return Ok(Step::Go);
            }
            if self.versioning
                && let Some(proven) = proven_loop(blockty, self.ops.clone(), self.local_types)
                    .or_else(|| invariant_loop(blockty, self.ops.clone(), self.local_types))
            {
                return self.versioned_loop(t, m, op, &proven);
            }
        }
        self.after_loop = matches!(op, Operator::Loop { .. });
        self.head_check = self.after_loop && m.instrumented;
        while self
            .widened
            .get(self.next_widened)
            .is_some_and(|&(at, _)| at < t.offset)
        {
            self.next_widened += 1;
        }
        t.widen_check = match self.widened.get(self.next_widened) {
            Some(&(at, end)) if at == t.offset => {
                self.next_widened += 1;
                Some(end)
            }
            _ => None,
        };
        self.done = t.translate_op(op)?;
        Ok(Step::Go)
    }

    /// Translates the proven loop that `op` opens twice (`docs/vm.md`,
    /// "Proven loops"): a copy without the bounds checks of `proven`'s
    /// accesses, run when the test before the loop proves them, and the
    /// loop as written otherwise; both continue after its `end`.
    fn versioned_loop(
        &mut self,
        t: &mut Translator<'_, '_>,
        m: &ModuleCtx<'_>,
        op: Operator<'_>,
        proven: &ProvenLoop,
    ) -> Result<Step, CompileError> {
        // Both copies start from the loop header's state.
        t.settle_for_label()?;
        let holds = emit_loop_proof(t, proven)?;
        let fast = t.b.create_block();
        let slow = t.b.create_block();
        t.b.ins().brif(holds, fast, &[], slow, &[]);
        let at_loop = t.offset;
        let body = self.ops.clone();
        let widened = self.next_widened;
        let depth = t.control.len();
        let mut join = None;
        for (entry, unchecked) in [(fast, true), (slow, false)] {
            t.b.switch_to_block(entry);
            t.b.seal_block(entry);
            t.reachable = true;
            self.ops = body.clone();
            self.next_widened = widened;
            t.proven = if unchecked {
                proven.accesses.iter().map(|a| a.at).collect()
            } else {
                Vec::new()
            };
            t.offset = at_loop;
            self.after_loop = true;
            self.head_check = m.instrumented;
            t.translate_op(op.clone())?;
            while t.control.len() > depth {
                if self.step(t, m)? == Step::OverBudget {
                    t.proven.clear();
                    return Ok(Step::OverBudget);
                }
            }
            if t.reachable {
                let join = *join.get_or_insert_with(|| t.b.create_block());
                t.b.ins().jump(join, &[]);
            }
        }
        t.proven.clear();
        match join {
            Some(join) => {
                t.b.switch_to_block(join);
                t.b.seal_block(join);
                t.reachable = true;
            }
            None => t.reachable = false,
        }
        Ok(Step::Go)
    }
}

/// The test before a proven loop (`docs/vm.md`, "Proven loops"): true when
/// its trip count is known and every access of `proven` stays inside the
/// memory on every iteration. Computed in 64 bits, where nothing wraps:
/// counts stay below 2^32 + 1, steps at most 2^16.
fn emit_loop_proof(t: &mut Translator<'_, '_>, proven: &ProvenLoop) -> Result<Value, CompileError> {
    let (_, len) = t.memory_base_len();
    let (iterations_less_one, known) = match &proven.count {
        Some(count) => {
            let (less_one, known) = emit_trip_count(t, count)?;
            (Some(less_one), Some(known))
        }
        None => (None, None),
    };
    // Accesses at the same address differ only in their ends.
    let mut furthest: std::collections::BTreeMap<(u32, i32, i32), u64> = Default::default();
    for a in &proven.accesses {
        let end = furthest.entry((a.local, a.add, a.step)).or_default();
        *end = (*end).max(a.end);
    }
    let mut holds = known;
    for ((local, add, step), end) in furthest {
        let a = t.local_get(local)?;
        let x = t.b.ins().iadd_imm_s(a, i64::from(add));
        let x0 = t.b.ins().uextend(I64, x);
        let ok = match iterations_less_one {
            Some(less_one) if step != 0 => {
                let moved = t.b.ins().imul_imm_s(less_one, i64::from(step));
                let last = t.b.ins().iadd(x0, moved);
                let (lo, hi) = if step > 0 { (x0, last) } else { (last, x0) };
                let end = t.b.ins().iadd_imm_s(hi, end as i64);
                let inside = t.b.ins().icmp(IntCC::SignedLessThanOrEqual, end, len);
                let above_zero = t.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, lo, 0);
                t.b.ins().band(inside, above_zero)
            }
            // An address the loop never changes (`x0` is below 2^32).
            _ if step == 0 => {
                let end = t.b.ins().iadd_imm_s(x0, end as i64);
                t.b.ins().icmp(IntCC::SignedLessThanOrEqual, end, len)
            }
            _ => return Err(t.err("a moving address in a loop without a count")),
        };
        holds = Some(match holds {
            Some(h) => t.b.ins().band(h, ok),
            None => ok,
        });
    }
    holds.ok_or_else(|| t.err("a proven loop without accesses"))
}

/// For a straight-line loop's [`Count`]: the number of iterations less one
/// (meaningful only when known), and whether it is known (`docs/vm.md`,
/// "Proven loops").
fn emit_trip_count(
    t: &mut Translator<'_, '_>,
    count: &Count,
) -> Result<(Value, Value), CompileError> {
    let counter = t.local_get(count.counter)?;
    let w = t.b.ins().iadd_imm_s(counter, i64::from(count.offset));
    let w0 = t.b.ins().uextend(I64, w);
    let n = match count.bound {
        Linear::Const(c) => t.b.ins().iconst(I64, i64::from(c as u32)),
        Linear::Local(l, k) => {
            let v = t.local_get(l)?;
            let v = t.b.ins().iadd_imm_s(v, i64::from(k));
            t.b.ins().uextend(I64, v)
        }
    };
    let step = i64::from(count.step.unsigned_abs());
    let up = count.step > 0;
    // The distance the counter covers, and whether the count is known.
    let (from, to) = if up { (w0, n) } else { (n, w0) };
    let distance = t.b.ins().isub(to, from);
    Ok(match count.cond {
        Continue::NotEqual => {
            let ordered = t.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, from, to);
            let rem = t.b.ins().urem_imm_u(distance, step);
            let divides = t.b.ins().icmp_imm_u(IntCC::Equal, rem, 0);
            let known = t.b.ins().band(ordered, divides);
            (t.b.ins().udiv_imm_u(distance, step), known)
        }
        Continue::Below | Continue::Above => {
            let runs = t.b.ins().icmp(IntCC::UnsignedLessThan, from, to);
            // `distance` is meaningless when the loop runs once; the
            // select discards it.
            let rounded = t.b.ins().iadd_imm_u(distance, step - 1);
            let q = t.b.ins().udiv_imm_u(rounded, step);
            let zero = t.b.ins().iconst(I64, 0);
            let less_one = t.b.ins().select(runs, q, zero);
            let moved = t.b.ins().imul_imm_u(less_one, step);
            let known = if up {
                let last = t.b.ins().iadd(w0, moved);
                t.b.ins()
                    .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, last, i64::from(u32::MAX))
            } else {
                t.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, moved, w0)
            };
            (less_one, known)
        }
    })
}

/// The pressure of a register-strategy translation so far
/// (`docs/vm.md`, two translation strategies; the budget is
/// [`super::PressureBudget`]). Counted between operators, so a block an
/// operator creates is counted with the stack as that operator left it.
#[derive(Default)]
struct Pressure {
    blocks: usize,
    /// Over blocks created: operand-stack height plus distinct locals
    /// referenced so far.
    into_blocks: u64,
    /// Over operators: the operand-stack height before each.
    across_operators: u64,
    /// Native calls emitted.
    calls: u64,
}

impl Pressure {
    /// Counts the operator about to be translated and the blocks created
    /// since the last call.
    fn add(&mut self, t: &Translator<'_, '_>) -> &Self {
        let blocks = t.b.func.dfg.num_blocks();
        let new = blocks.saturating_sub(self.blocks) as u64;
        self.blocks = blocks;
        let stack = t.stack_len() as u64;
        let live = stack + t.touched;
        self.into_blocks = self.into_blocks.saturating_add(new.saturating_mul(live));
        self.across_operators = self.across_operators.saturating_add(stack);
        self.calls = t.calls;
        self
    }

    fn exceeds(&self, budget: super::PressureBudget) -> bool {
        self.into_blocks > budget.blocks
            || self.across_operators > budget.stack
            || self.calls > budget.calls
    }
}

/// Opens a counted loop (`docs/vm.md`, "Counted loops") whose body `ops`
/// starts: every iteration's charge made at once before the loop, which
/// then runs without it; or, when the gas left does not cover them all,
/// the `out_of_gas` exit at once, with the gas the charged loop would have
/// left at its failing charge. Leaves `ops` after the body's charge.
fn prepay_counted_loop(
    t: &mut Translator<'_, '_>,
    counted: &CountedLoop,
    ops: &mut wasmparser::OperatorsReader<'_>,
) -> Result<(), CompileError> {
    // The loop header is a label.
    t.settle_for_label()?;
    let var = |t: &mut Translator<'_, '_>, l: u32| t.local_get(l);
    let counter = var(t, counted.local)?;
    let first = t.b.ins().iadd_imm_s(counter, i64::from(counted.offset));
    let bound = match counted.bound {
        Linear::Const(c) => t.b.ins().iconst(I32, i64::from(c)),
        Linear::Local(l, k) => {
            let v = var(t, l)?;
            t.b.ins().iadd_imm_s(v, i64::from(k))
        }
    };
    let runs_again = t.b.ins().icmp(counted.cond, first, bound);
    let distance = if counted.up {
        t.b.ins().isub(bound, first)
    } else {
        t.b.ins().isub(first, bound)
    };
    let distance = t.b.ins().uextend(I64, distance);
    let more = t.b.ins().iadd_imm_u(distance, 1);
    let once = t.b.ins().iconst(I64, 1);
    let iterations = t.b.ins().select(runs_again, more, once);
    let amount = counted.amount as i64;
    let total = t.b.ins().imul_imm_u(iterations, amount);
    // Signed: a counter that deferred charges left negative fails too.
    // `total < 2^63`, so the comparison is exact.
    let gas = t.gas_counter();
    let covered = t.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, gas, total);
    let prepaid = t.b.create_block();
    let short = t.b.create_block();
    t.b.set_cold_block(short);
    t.b.ins().brif(covered, prepaid, &[], short, &[]);

    // Too little gas: the charged loop would fail at a later charge, with
    // nothing observable done meanwhile.
    t.b.switch_to_block(short);
    t.b.seal_block(short);
    t.trap_now(TrapCode::OutOfGas);

    t.b.switch_to_block(prepaid);
    t.b.seal_block(prepaid);
    let left = t.b.ins().isub(gas, total);
    t.global_set(detvm_metering::abi::GAS_LEFT_GLOBAL, left)?;
    t.op_loop(wasmparser::BlockType::Empty)?;
    let Ok(Operator::GlobalGet { global_index }) = ops.read() else {
        return Err(t.err("counted loop without its charge"));
    };
    match_charge(global_index, ops).ok_or_else(|| t.err("counted loop without its charge"))?;
    Ok(())
}

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
pub(super) fn plain_stack_effect(op: &Operator<'_>) -> Option<(usize, usize)> {
    use Operator as O;
    Some(match op {
        O::Nop => (0, 0),
        O::Drop => (1, 0),
        O::Select => (3, 1),
        O::LocalGet { .. } | O::I32Const { .. } | O::I64Const { .. } => (0, 1),
        O::I32Eqz | O::I64Eqz | O::I32WrapI64 | O::I64ExtendI32S | O::I64ExtendI32U => (1, 1),
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
        _ => return None,
    })
}

/// What one pass over a body finds before it is translated.
#[derive(Default)]
pub(super) struct BodyScan {
    /// The number of Wasm blocks (`block`, `loop`, `if`), reachable or not.
    pub blocks: u32,
    /// Not found by the scan: whether the counters may be kept in
    /// variables, which the caller decides from `blocks` and the size.
    pub counters_in_variables: bool,
    /// Whether the body loads from or stores to linear memory.
    accesses: bool,
    /// What the body writes to its locals, for their NaN classes.
    local_writes: nan::LocalWrites,
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
    widened: Vec<(u64, u64)>,
}

/// Scans `body` for [`BodyScan`]; `None` if it does not decode
/// (translation reports why).
pub(super) fn scan_body(body: &wasmparser::FunctionBody<'_>) -> Option<BodyScan> {
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
    while !ops.eof() {
        let at = ops.original_position();
        let op = ops.read().ok()?;
        scan.local_writes.visit(&op);
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

/// After a `global.get` of a counter, matches the rest of a fixed charge
/// sequence (see [`Translator::fused_charge`]) in `ops`: the counter index
/// (0: gas, 1: stack), the amount and the trap. Leaves `ops` after the
/// sequence; on `None` the caller discards `ops` and translates the
/// operators one by one.
pub(super) fn match_charge(
    global: u32,
    ops: &mut wasmparser::OperatorsReader<'_>,
) -> Option<(usize, u64, TrapCode)> {
    use detvm_metering::abi;
    let (counter, trap_func, trap) = match global {
        abi::GAS_LEFT_GLOBAL => (0, abi::OUT_OF_GAS_FUNC, TrapCode::OutOfGas),
        abi::STACK_LEFT_GLOBAL => (1, abi::STACK_OVERFLOW_FUNC, TrapCode::StackOverflow),
        _ => return None,
    };
    let mut next = || ops.read().ok();
    let Operator::I64Const { value: amount } = next()? else {
        return None;
    };
    if !matches!(next()?, Operator::I64LtU) {
        return None;
    }
    if !matches!(
        next()?,
        Operator::If {
            blockty: wasmparser::BlockType::Empty
        }
    ) {
        return None;
    }
    if !matches!(next()?, Operator::Call { function_index } if function_index == trap_func) {
        return None;
    }
    if !matches!(next()?, Operator::End) {
        return None;
    }
    if !matches!(next()?, Operator::GlobalGet { global_index } if global_index == global) {
        return None;
    }
    if !matches!(next()?, Operator::I64Const { value } if value == amount) {
        return None;
    }
    if !matches!(next()?, Operator::I64Sub) {
        return None;
    }
    if !matches!(next()?, Operator::GlobalSet { global_index } if global_index == global) {
        return None;
    }
    Some((counter, amount as u64, trap))
}

/// Valid input range of a trapping float-to-int truncation: the operand
/// must be above `lo` (or equal, when `lo_inclusive`) and below `hi`.
struct TruncRange {
    lo: f64,
    lo_inclusive: bool,
    hi: f64,
}

impl Translator<'_, '_> {
    fn unop(&mut self, f: impl FnOnce(&mut Self, Value) -> Value) -> Result<(), CompileError> {
        let a = self.pop()?;
        let r = f(self, a);
        self.push(r);
        Ok(())
    }

    /// A unary operator with a float result of NaN class `class`.
    fn funop(
        &mut self,
        class: Nan,
        f: impl FnOnce(&mut Self, Value) -> Value,
    ) -> Result<(), CompileError> {
        let a = self.pop()?;
        let r = f(self, a);
        self.push_nan(r, class);
        Ok(())
    }

    /// A binary operator with a float result of NaN class `class`.
    fn fbinop(
        &mut self,
        class: Nan,
        f: impl FnOnce(&mut Self, Value, Value) -> Value,
    ) -> Result<(), CompileError> {
        let (a, b) = self.pop2()?;
        let r = f(self, a, b);
        self.push_nan(r, class);
        Ok(())
    }

    fn binop(
        &mut self,
        f: impl FnOnce(&mut Self, Value, Value) -> Value,
    ) -> Result<(), CompileError> {
        let (a, b) = self.pop2()?;
        let r = f(self, a, b);
        self.push(r);
        Ok(())
    }

    fn icmp(&mut self, cc: IntCC) -> Result<(), CompileError> {
        self.binop(|t, a, b| {
            let c = t.b.ins().icmp(cc, a, b);
            t.bool_to_i32(c)
        })
    }

    fn fcmp(&mut self, cc: FloatCC) -> Result<(), CompileError> {
        self.binop(|t, a, b| {
            let c = t.b.ins().fcmp(cc, a, b);
            t.bool_to_i32(c)
        })
    }

    fn eqz(&mut self) -> Result<(), CompileError> {
        self.unop(|t, a| {
            let c = t.b.ins().icmp_imm_s(IntCC::Equal, a, 0);
            t.bool_to_i32(c)
        })
    }

    /// The constant behind `v`, if it is an `iconst`.
    fn const_of(&self, v: Value) -> Option<i64> {
        let inst = self.b.func.dfg.value_def(v).inst()?;
        match self.b.func.dfg.insts[inst] {
            ir::InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }

    /// Integer division and remainder with Wasm's explicit traps.
    fn divrem(&mut self, ty: ir::Type, signed: bool, rem: bool) -> Result<(), CompileError> {
        let (lhs, rhs) = self.pop2()?;
        let known = self
            .const_of(rhs)
            .map(|c| if ty == I32 { i64::from(c as i32) } else { c });
        if known.is_none_or(|c| c == 0) {
            let zero = self.b.ins().icmp_imm_s(IntCC::Equal, rhs, 0);
            self.trap_if(zero, TrapCode::IntegerDivideByZero);
        }
        let r = match (signed, rem) {
            (false, false) => self.b.ins().udiv(lhs, rhs),
            (false, true) => self.b.ins().urem(lhs, rhs),
            (true, false) => {
                if known.is_none_or(|c| c == -1) {
                    let min = if ty == I32 {
                        i64::from(i32::MIN)
                    } else {
                        i64::MIN
                    };
                    let lhs_min = self.b.ins().icmp_imm_s(IntCC::Equal, lhs, min);
                    let rhs_neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, rhs, -1);
                    let overflow = self.b.ins().band(lhs_min, rhs_neg1);
                    self.trap_if(overflow, TrapCode::IntegerOverflow);
                }
                self.b.ins().sdiv(lhs, rhs)
            }
            (true, true) => {
                // x rem -1 is 0 for every x; dividing by 1 instead gives the
                // same result without the hardware overflow case.
                let rhs = if known.is_none_or(|c| c == -1) {
                    let neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, rhs, -1);
                    let one = self.b.ins().iconst(ty, 1);
                    self.b.ins().select(neg1, one, rhs)
                } else {
                    rhs
                };
                self.b.ins().srem(lhs, rhs)
            }
        };
        self.push(r);
        Ok(())
    }

    /// A trapping float-to-int truncation.
    fn trunc(&mut self, to: ir::Type, signed: bool) -> Result<(), CompileError> {
        let x = self.pop()?;
        let from = self.b.func.dfg.value_type(x);
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.trap_if(is_nan, TrapCode::InvalidConversionToInteger);
        let range = match (to, signed, from) {
            (I32, true, F32) => TruncRange {
                lo: -2147483648.0,
                lo_inclusive: true,
                hi: 2147483648.0,
            },
            (I32, true, _) => TruncRange {
                lo: -2147483649.0,
                lo_inclusive: false,
                hi: 2147483648.0,
            },
            (I32, false, _) => TruncRange {
                lo: -1.0,
                lo_inclusive: false,
                hi: 4294967296.0,
            },
            (_, true, _) => TruncRange {
                lo: -9223372036854775808.0,
                lo_inclusive: true,
                hi: 9223372036854775808.0,
            },
            (_, false, _) => TruncRange {
                lo: -1.0,
                lo_inclusive: false,
                hi: 18446744073709551616.0,
            },
        };
        // Every bound above is exactly representable in both widths.
        let (lo, hi) = if from == F32 {
            (
                self.b.ins().f32const(range.lo as f32),
                self.b.ins().f32const(range.hi as f32),
            )
        } else {
            (
                self.b.ins().f64const(range.lo),
                self.b.ins().f64const(range.hi),
            )
        };
        let lo_cc = if range.lo_inclusive {
            FloatCC::GreaterThanOrEqual
        } else {
            FloatCC::GreaterThan
        };
        let above = self.b.ins().fcmp(lo_cc, x, lo);
        let below = self.b.ins().fcmp(FloatCC::LessThan, x, hi);
        let in_range = self.b.ins().band(above, below);
        self.trap_unless(in_range, TrapCode::IntegerOverflow);
        let r = if signed {
            self.b.ins().fcvt_to_sint_sat(to, x)
        } else {
            self.b.ins().fcvt_to_uint_sat(to, x)
        };
        self.push(r);
        Ok(())
    }

    fn trunc_sat(&mut self, to: ir::Type, signed: bool) -> Result<(), CompileError> {
        self.unop(|t, x| {
            if signed {
                t.b.ins().fcvt_to_sint_sat(to, x)
            } else {
                t.b.ins().fcvt_to_uint_sat(to, x)
            }
        })
    }

    /// A load of `size` bytes as `mem_ty`, extended to `ty` if narrower.
    fn load(
        &mut self,
        memarg: &MemArg,
        ty: ir::Type,
        size: u32,
        signed: bool,
    ) -> Result<(), CompileError> {
        let addr = self.pop()?;
        let (p, off) = self.heap_addr(addr, memarg.offset, size, false);
        let flags = self.heap_flags();
        let v = match (ty.bytes(), size, signed) {
            (_, 1, false) => self.b.ins().uload8(ty, flags, p, off),
            (_, 1, true) => self.b.ins().sload8(ty, flags, p, off),
            (_, 2, false) => self.b.ins().uload16(ty, flags, p, off),
            (_, 2, true) => self.b.ins().sload16(ty, flags, p, off),
            (8, 4, false) if ty == I64 => self.b.ins().uload32(flags, p, off),
            (8, 4, true) if ty == I64 => self.b.ins().sload32(flags, p, off),
            _ => self.b.ins().load(ty, flags, p, off),
        };
        // A loaded NaN keeps its bits.
        self.push_nan(v, Nan::Kept);
        Ok(())
    }

    /// A store of the low `size` bytes of the operand.
    fn store(&mut self, memarg: &MemArg, size: u32) -> Result<(), CompileError> {
        self.settle_top(1)?;
        let (addr, v) = self.pop2()?;
        let (p, off) = self.heap_addr(addr, memarg.offset, size, true);
        let ty = self.b.func.dfg.value_type(v);
        let flags = self.heap_flags();
        match (size, ty.bytes()) {
            (1, _) => self.b.ins().istore8(flags, v, p, off),
            (2, _) => self.b.ins().istore16(flags, v, p, off),
            (4, 8) => self.b.ins().istore32(flags, v, p, off),
            _ => self.b.ins().store(flags, v, p, off),
        };
        Ok(())
    }

    fn builtin_stmt(&mut self, builtin: Builtin, args: &[Value]) {
        self.call_builtin(builtin, args);
    }

    /// Translates one operator. Returns true at the function's final `end`.
    pub(super) fn translate_op(&mut self, op: Operator<'_>) -> Result<bool, CompileError> {
        if matches!(
            op,
            Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Else
                | Operator::End
                | Operator::Br { .. }
                | Operator::BrIf { .. }
                | Operator::BrTable { .. }
        ) || !self.reachable
        {
            self.settle_for_label()?;
        }
        // Only control structure matters in unreachable code.
        if !self.reachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.unreachable_depth += 1;
                }
                Operator::Else => self.op_else()?,
                Operator::End => return self.op_end(),
                _ => {}
            }
            return Ok(false);
        }
        use Operator as O;
        match op {
            // ---- control ---------------------------------------------------
            O::Unreachable => self.op_trap(TrapCode::Unreachable),
            O::Nop => {}
            O::Block { blockty } => self.op_block(blockty)?,
            O::Loop { blockty } => self.op_loop(blockty)?,
            O::If { blockty } => self.op_if(blockty)?,
            O::Else => self.op_else()?,
            O::End => return self.op_end(),
            O::Br { relative_depth } => self.op_br(relative_depth)?,
            O::BrIf { relative_depth } => self.op_br_if(relative_depth)?,
            O::BrTable { targets } => self.op_br_table(&targets)?,
            O::Return => self.op_return()?,
            O::Call { function_index } => {
                if !self.call(function_index)? {
                    self.reachable = false;
                }
            }
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index)?,
            O::Drop => {
                self.pop()?;
            }
            O::Select | O::TypedSelect { .. } => {
                let (a, b) = (self.nan_below_top(2), self.nan_below_top(1));
                let depth = self.stack_height_below(3)?;
                // Pending bits next to kept ones: which arm is taken is
                // not known here, so the pending arm is settled.
                if a.max(b) == Nan::Kept {
                    self.settle(depth);
                    self.settle(depth + 1);
                }
                let class = self.nan_below_top(2).max(self.nan_below_top(1));
                let (a, b, c) = self.pop3()?;
                let r = self.b.ins().select(c, a, b);
                self.push_nan(r, class);
            }

            // ---- variables -------------------------------------------------
            O::LocalGet { local_index } => self.op_local_get(local_index)?,
            O::LocalSet { local_index } => self.op_local_set(local_index, false)?,
            O::LocalTee { local_index } => self.op_local_set(local_index, true)?,
            O::GlobalGet { global_index } => {
                let v = self.global_get(global_index)?;
                self.push_nan(v, Nan::Kept);
            }
            O::GlobalSet { global_index } => {
                self.settle_top(1)?;
                let v = self.pop()?;
                self.global_set(global_index, v)?;
            }

            // ---- memory ----------------------------------------------------
            O::I32Load { memarg } => self.load(&memarg, I32, 4, false)?,
            O::I64Load { memarg } => self.load(&memarg, I64, 8, false)?,
            O::F32Load { memarg } => self.load(&memarg, F32, 4, false)?,
            O::F64Load { memarg } => self.load(&memarg, F64, 8, false)?,
            O::I32Load8S { memarg } => self.load(&memarg, I32, 1, true)?,
            O::I32Load8U { memarg } => self.load(&memarg, I32, 1, false)?,
            O::I32Load16S { memarg } => self.load(&memarg, I32, 2, true)?,
            O::I32Load16U { memarg } => self.load(&memarg, I32, 2, false)?,
            O::I64Load8S { memarg } => self.load(&memarg, I64, 1, true)?,
            O::I64Load8U { memarg } => self.load(&memarg, I64, 1, false)?,
            O::I64Load16S { memarg } => self.load(&memarg, I64, 2, true)?,
            O::I64Load16U { memarg } => self.load(&memarg, I64, 2, false)?,
            O::I64Load32S { memarg } => self.load(&memarg, I64, 4, true)?,
            O::I64Load32U { memarg } => self.load(&memarg, I64, 4, false)?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(&memarg, 4)?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(&memarg, 8)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(&memarg, 1)?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(&memarg, 2)?,
            O::I64Store32 { memarg } => self.store(&memarg, 4)?,
            O::MemorySize { .. } => {
                let (_, len) = self.memory_base_len();
                let pages = self.b.ins().ushr_imm_u(len, 16);
                let pages = self.b.ins().ireduce(I32, pages);
                self.push(pages);
            }
            O::MemoryGrow { .. } => {
                let delta = self.pop()?;
                let r = self
                    .call_builtin(Builtin::MemoryGrow, &[delta])
                    .ok_or_else(|| self.err("memory.grow returned nothing"))?;
                self.push(r);
            }
            O::MemoryFill { .. } => {
                let (dst, val, len) = self.pop3()?;
                self.builtin_stmt(Builtin::MemoryFill, &[dst, val, len]);
            }
            O::MemoryCopy { .. } => {
                let (dst, src, len) = self.pop3()?;
                self.builtin_stmt(Builtin::MemoryCopy, &[dst, src, len]);
            }
            O::MemoryInit { data_index, .. } => {
                let (dst, src, len) = self.pop3()?;
                let seg = self.iconst_u32(data_index);
                self.builtin_stmt(Builtin::MemoryInit, &[seg, dst, src, len]);
            }
            O::DataDrop { data_index } => {
                let seg = self.iconst_u32(data_index);
                self.builtin_stmt(Builtin::DataDrop, &[seg]);
            }

            // ---- constants -------------------------------------------------
            O::I32Const { value } => {
                let v = self.iconst_u32(value as u32);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push_nan(v, Nan::of_f32(value.bits()));
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push_nan(v, Nan::of_f64(value.bits()));
            }

            // ---- i32 / i64 comparisons -------------------------------------
            O::I32Eqz | O::I64Eqz => self.eqz()?,
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal)?,
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual)?,
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan)?,
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan)?,
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan)?,
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan)?,
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual)?,
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual)?,
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual)?,
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual)?,

            // ---- float comparisons -----------------------------------------
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal)?,
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual)?,
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan)?,
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan)?,
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual)?,
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual)?,

            // ---- integer arithmetic ----------------------------------------
            O::I32Clz | O::I64Clz => self.unop(|t, a| t.b.ins().clz(a))?,
            O::I32Ctz | O::I64Ctz => self.unop(|t, a| t.b.ins().ctz(a))?,
            O::I32Popcnt | O::I64Popcnt => self.unop(|t, a| t.b.ins().popcnt(a))?,
            O::I32Add | O::I64Add => self.binop(|t, a, b| t.b.ins().iadd(a, b))?,
            O::I32Sub | O::I64Sub => self.binop(|t, a, b| t.b.ins().isub(a, b))?,
            O::I32Mul | O::I64Mul => self.binop(|t, a, b| t.b.ins().imul(a, b))?,
            O::I32DivS => self.divrem(I32, true, false)?,
            O::I32DivU => self.divrem(I32, false, false)?,
            O::I32RemS => self.divrem(I32, true, true)?,
            O::I32RemU => self.divrem(I32, false, true)?,
            O::I64DivS => self.divrem(I64, true, false)?,
            O::I64DivU => self.divrem(I64, false, false)?,
            O::I64RemS => self.divrem(I64, true, true)?,
            O::I64RemU => self.divrem(I64, false, true)?,
            O::I32And | O::I64And => self.binop(|t, a, b| t.b.ins().band(a, b))?,
            O::I32Or | O::I64Or => self.binop(|t, a, b| t.b.ins().bor(a, b))?,
            O::I32Xor | O::I64Xor => self.binop(|t, a, b| t.b.ins().bxor(a, b))?,
            // Cranelift masks shift and rotate amounts by the width, as Wasm.
            O::I32Shl | O::I64Shl => self.binop(|t, a, b| t.b.ins().ishl(a, b))?,
            O::I32ShrS | O::I64ShrS => self.binop(|t, a, b| t.b.ins().sshr(a, b))?,
            O::I32ShrU | O::I64ShrU => self.binop(|t, a, b| t.b.ins().ushr(a, b))?,
            O::I32Rotl | O::I64Rotl => self.binop(|t, a, b| t.b.ins().rotl(a, b))?,
            O::I32Rotr | O::I64Rotr => self.binop(|t, a, b| t.b.ins().rotr(a, b))?,

            // ---- float arithmetic ------------------------------------------
            // The canonical NaN is positive: clearing the sign bit of a
            // pending NaN before or after canonicalising it is the same.
            O::F32Abs | O::F64Abs => {
                let class = self.nan_below_top(0);
                self.funop(class, |t, a| t.b.ins().fabs(a))?
            }
            // Negating moves the sign bit the rule says is clear, and
            // copysign reads the sign and keeps the payload: both see
            // their operands' bits.
            O::F32Neg | O::F64Neg => {
                self.settle_top(1)?;
                self.funop(Nan::Kept, |t, a| t.b.ins().fneg(a))?
            }
            O::F32Copysign | O::F64Copysign => {
                self.settle_top(2)?;
                self.fbinop(Nan::Kept, |t, a, b| t.b.ins().fcopysign(a, b))?
            }
            O::F32Ceil | O::F64Ceil => self.funop(Nan::Pending, |t, a| t.b.ins().ceil(a))?,
            O::F32Floor | O::F64Floor => self.funop(Nan::Pending, |t, a| t.b.ins().floor(a))?,
            O::F32Trunc | O::F64Trunc => self.funop(Nan::Pending, |t, a| t.b.ins().trunc(a))?,
            O::F32Nearest | O::F64Nearest => {
                self.funop(Nan::Pending, |t, a| t.b.ins().nearest(a))?
            }
            O::F32Sqrt | O::F64Sqrt => self.funop(Nan::Pending, |t, a| t.b.ins().sqrt(a))?,
            O::F32Add | O::F64Add => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fadd(a, b))?,
            O::F32Sub | O::F64Sub => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fsub(a, b))?,
            O::F32Mul | O::F64Mul => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fmul(a, b))?,
            O::F32Div | O::F64Div => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fdiv(a, b))?,
            O::F32Min | O::F64Min => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fmin(a, b))?,
            O::F32Max | O::F64Max => self.fbinop(Nan::Pending, |t, a, b| t.b.ins().fmax(a, b))?,

            // ---- conversions -----------------------------------------------
            O::I32WrapI64 => self.unop(|t, a| t.b.ins().ireduce(I32, a))?,
            O::I64ExtendI32S => self.unop(|t, a| t.b.ins().sextend(I64, a))?,
            O::I64ExtendI32U => self.unop(|t, a| t.b.ins().uextend(I64, a))?,
            O::I32TruncF32S | O::I32TruncF64S => self.trunc(I32, true)?,
            O::I32TruncF32U | O::I32TruncF64U => self.trunc(I32, false)?,
            O::I64TruncF32S | O::I64TruncF64S => self.trunc(I64, true)?,
            O::I64TruncF32U | O::I64TruncF64U => self.trunc(I64, false)?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.trunc_sat(I32, true)?,
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.trunc_sat(I32, false)?,
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.trunc_sat(I64, true)?,
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.trunc_sat(I64, false)?,
            // Integers convert to NaN-free floats.
            O::F32ConvertI32S | O::F32ConvertI64S => {
                self.funop(Nan::Canonical, |t, a| t.b.ins().fcvt_from_sint(F32, a))?
            }
            O::F32ConvertI32U | O::F32ConvertI64U => {
                self.funop(Nan::Canonical, |t, a| t.b.ins().fcvt_from_uint(F32, a))?
            }
            O::F64ConvertI32S | O::F64ConvertI64S => {
                self.funop(Nan::Canonical, |t, a| t.b.ins().fcvt_from_sint(F64, a))?
            }
            O::F64ConvertI32U | O::F64ConvertI64U => {
                self.funop(Nan::Canonical, |t, a| t.b.ins().fcvt_from_uint(F64, a))?
            }
            O::F32DemoteF64 => self.funop(Nan::Pending, |t, a| t.b.ins().fdemote(F32, a))?,
            O::F64PromoteF32 => self.funop(Nan::Pending, |t, a| t.b.ins().fpromote(F64, a))?,
            O::I32ReinterpretF32 => {
                self.settle_top(1)?;
                self.unop(|t, a| t.b.ins().bitcast(I32, MemFlagsData::new(), a))?
            }
            O::I64ReinterpretF64 => {
                self.settle_top(1)?;
                self.unop(|t, a| t.b.ins().bitcast(I64, MemFlagsData::new(), a))?
            }
            O::F32ReinterpretI32 => self.funop(Nan::Kept, |t, a| {
                t.b.ins().bitcast(F32, MemFlagsData::new(), a)
            })?,
            O::F64ReinterpretI64 => self.funop(Nan::Kept, |t, a| {
                t.b.ins().bitcast(F64, MemFlagsData::new(), a)
            })?,
            O::I32Extend8S => self.unop(|t, a| {
                let n = t.b.ins().ireduce(I8, a);
                t.b.ins().sextend(I32, n)
            })?,
            O::I32Extend16S => self.unop(|t, a| {
                let n = t.b.ins().ireduce(I16, a);
                t.b.ins().sextend(I32, n)
            })?,
            O::I64Extend8S => self.unop(|t, a| {
                let n = t.b.ins().ireduce(I8, a);
                t.b.ins().sextend(I64, n)
            })?,
            O::I64Extend16S => self.unop(|t, a| {
                let n = t.b.ins().ireduce(I16, a);
                t.b.ins().sextend(I64, n)
            })?,
            O::I64Extend32S => self.unop(|t, a| {
                let n = t.b.ins().ireduce(I32, a);
                t.b.ins().sextend(I64, n)
            })?,

            // ---- references and tables -------------------------------------
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(PTR, 0);
                self.push(v);
            }
            O::RefIsNull => self.eqz()?,
            O::RefFunc { function_index } => {
                let v = self.ref_func(function_index);
                self.push(v);
            }
            O::TableGet { table } => {
                let index = self.pop()?;
                let addr = self.table_elem_addr(table, index);
                let v = self
                    .b
                    .ins()
                    .load(PTR, super::func_env::state_flags(), addr, 0);
                self.push(v);
            }
            O::TableSet { table } => {
                let (index, v) = self.pop2()?;
                let addr = self.table_elem_addr(table, index);
                self.check_gas();
                self.b
                    .ins()
                    .store(super::func_env::state_flags(), v, addr, 0);
            }
            O::TableSize { table } => {
                let v = self.table_size(table);
                self.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2()?;
                let t = self.iconst_u32(table);
                let r = self
                    .call_builtin(Builtin::TableGrow, &[t, init, delta])
                    .ok_or_else(|| self.err("table.grow returned nothing"))?;
                self.push(r);
            }
            O::TableFill { table } => {
                let (dst, val, len) = self.pop3()?;
                let t = self.iconst_u32(table);
                self.builtin_stmt(Builtin::TableFill, &[t, dst, val, len]);
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.pop3()?;
                let d = self.iconst_u32(dst_table);
                let s = self.iconst_u32(src_table);
                self.builtin_stmt(Builtin::TableCopy, &[d, s, dst, src, len]);
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3()?;
                let t = self.iconst_u32(table);
                let seg = self.iconst_u32(elem_index);
                self.builtin_stmt(Builtin::TableInit, &[t, seg, dst, src, len]);
            }
            O::ElemDrop { elem_index } => {
                let seg = self.iconst_u32(elem_index);
                self.builtin_stmt(Builtin::ElemDrop, &[seg]);
            }

            other => {
                return Err(self.err(format!("operator outside the profile: {other:?}")));
            }
        }
        Ok(false)
    }
}
