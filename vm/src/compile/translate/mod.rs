//! Translation of one function body: the walk over its operators, which
//! fuses gas charges, prepays counted loops, versions proven loops and
//! stops once the register pressure exceeds its budget, handing every
//! other operator to the translator. The scan that runs before a body is
//! translated lives in `scan`, the lowering of single operators in `ops`.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{self, InstBuilder, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::Module;
use wasmparser::Operator;

mod ops;
mod scan;

use super::charges::{Charges, counter_slot};
use super::counted::{CountedLoop, Linear, counted_loop};
use super::func_env::Translator;
use super::proven::{Continue, Count, ProvenLoop, Term, invariant_loop, proven_loop};
use super::{CompileError, ModuleCtx, Strategy, TranslateProblem, clif_type};
pub(super) use scan::{BodyScan, FloatOp, float_op, plain_stack_effect, scan_body};

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
/// `strategy`, given its [`scan_body`] and its charge sites. With `scan.counters_in_variables`,
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
    charges: Charges<'_>,
    scan: &BodyScan,
    strategy: Strategy,
    pressure_budget: Option<super::PressureBudget>,
) -> Result<Translation, CompileError> {
    let counters_in_variables = scan.counters_in_variables;
    let err = |offset: u64, problem: TranslateProblem| CompileError::Translate {
        func_index,
        offset,
        problem,
    };
    let wasm_err = |e: wasmparser::BinaryReaderError| {
        let message = e.message().to_string();
        err(e.offset(), TranslateProblem::Decode { message })
    };
    let invariant = |what| err(0, TranslateProblem::Invariant { what });
    let value_type = |offset, what| err(offset, TranslateProblem::ValueType { what });
    let ty = m
        .env
        .func_type(func_index)
        .ok_or_else(|| invariant("function without a type"))?;
    let mut results = Vec::with_capacity(ty.results().len());
    for &r in ty.results() {
        results.push(clif_type(r).ok_or_else(|| value_type(0, "result type"))?);
    }
    let builder = FunctionBuilder::new(func, fctx);
    let mut t = Translator::new(
        builder,
        m,
        jit,
        func_index,
        results,
        counters_in_variables,
        strategy,
    )?;

    // Parameters, then zero-initialised locals.
    let params: Vec<Value> = {
        let entry =
            t.b.func
                .layout
                .entry_block()
                .ok_or_else(|| invariant("no entry block"))?;
        // After `vmctx` (and the counters of an instrumented module).
        let first = if m.instrumented { 3 } else { 1 };
        t.b.block_params(entry)[first..].to_vec()
    };
    // Only read by the counted-loop analysis; small next to the variables.
    let mut local_types: Vec<ir::Type> = Vec::with_capacity(params.len());
    for (&p, &wt) in params.iter().zip(ty.params()) {
        let ct = clif_type(wt).ok_or_else(|| value_type(0, "parameter type"))?;
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
            return Err(err(
                offset,
                TranslateProblem::Malformed {
                    what: "too many locals",
                },
            ));
        }
        let ct = clif_type(vt).ok_or_else(|| value_type(offset, "local type"))?;
        let zero = t.zero(ct);
        local_types.extend(std::iter::repeat_n(ct, count as usize));
        for _ in 0..count {
            t.declare_local(ct, zero);
        }
    }

    let classes = scan
        .local_writes
        .classes(params.len(), local_types.len())
        .ok_or_else(|| invariant("a local index past the declared locals"))?;
    t.set_local_classes(classes)?;
    t.held_locals = scan.held_locals.clone();
    // The slot strategy keeps no value live across blocks, these neither.
    if scan.accesses && strategy == Strategy::Registers {
        t.keep_memory_in_variables();
    }

    t.push_function_frame();
    let mut walk = Walk {
        ops: body.get_operators_reader().map_err(wasm_err)?,
        charges,
        widened: &scan.widened,
        next_widened: 0,
        done: false,
        after_loop: false,
        head_check: m.instrumented,
        pressure: Pressure::default(),
        budget: pressure_budget,
        local_types: &local_types,
        versioning: strategy == Strategy::Registers,
        skip_head_charge: false,
    };
    while !walk.ops.eof() {
        if walk.step(&mut t, m)? == Step::OverBudget {
            return Ok(Translation::OverBudget);
        }
    }
    let done = walk.done;
    if !done {
        return Err(t.malformed("function body does not end"));
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
    charges: Charges<'a>,
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
    /// In a prepaid loop's copy without checks, before its body: the
    /// charge at the head of the body is not translated (it was paid for
    /// every iteration before the loop).
    skip_head_charge: bool,
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
        if self.done {
            return Err(t.malformed("operators after the end of the function"));
        }
        let site = self
            .charges
            .take(&mut self.ops)
            .map_err(|_| t.invariant("a charge site off the instruction boundaries"))?;
        if let Some(site) = site {
            let (counter, trap) = counter_slot(site.counter);
            let skip = std::mem::take(&mut self.skip_head_charge);
            if !t.reachable {
                // Passed over whole, as the operators would be.
            } else if counter == 0 && skip {
                // The gas the test before the loop found covers it.
                t.gas_known_covered();
            } else {
                t.fused_charge(counter, site.amount, trap, self.after_loop, self.head_check);
            }
            self.after_loop = false;
            self.head_check = false;
            return Ok(Step::Go);
        }
        let op = self.ops.read().map_err(|e| {
            t.err(TranslateProblem::Decode {
                message: e.message().to_string(),
            })
        })?;
        self.skip_head_charge = false;
        if std::mem::take(&mut self.head_check) && t.reachable {
            t.check_gas();
        }
        if let Operator::Loop { blockty } = op
            && t.reachable
        {
            if t.has_counters()
                && m.prepay_loops
                && let Some(counted) =
                    counted_loop(blockty, self.ops.clone(), self.charges, self.local_types)
            {
                // The body after the charge is translated as any other.
                prepay_counted_loop(t, &counted, &mut self.ops, self.charges)?;
                self.after_loop = false;
                return Ok(Step::Go);
            }
            if self.versioning
                && let Some(proven) =
                    proven_loop(blockty, self.ops.clone(), self.charges, self.local_types)
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
        let prepay = proven.prepay.filter(|_| t.has_counters() && m.prepay_loops);
        let (holds, prepaid) = emit_loop_proof(t, proven, prepay)?;
        let fast = t.b.create_block();
        let slow = t.b.create_block();
        t.b.ins().brif(holds, fast, &[], slow, &[]);
        let at_loop = t.offset;
        let body = self.ops.clone();
        let widened = self.next_widened;
        let depth = t.control.len();
        let checked_before = t.checked.clone();
        // Each copy reads the locals it holds as the settle above left them.
        let entry_pending = t.entry_pending.clone();
        let mut join = None;
        for (entry, unchecked) in [(fast, true), (slow, false)] {
            t.b.switch_to_block(entry);
            t.b.seal_block(entry);
            t.checked = checked_before.clone();
            t.entry_pending = entry_pending.clone();
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
            if unchecked && let Some(total) = prepaid {
                let gas = t.gas_counter();
                let left = t.b.ins().isub(gas, total);
                t.global_set(detvm_metering::abi::GAS_LEFT_GLOBAL, left)?;
                self.skip_head_charge = true;
            }
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
        // The copies' own checks do not hold after the join.
        t.checked = checked_before;
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
/// memory on every iteration, and, with a charge to `prepay`, when
/// `gas_left` covers it for every iteration; then also that total.
/// Computed in 64 bits, where nothing wraps within a known count: counts
/// stay below 2^32 + 1, constant steps at most 2^16, and a step held in a
/// local times the count less one below 2^32.
fn emit_loop_proof(
    t: &mut Translator<'_, '_>,
    proven: &ProvenLoop,
    prepay: Option<u64>,
) -> Result<(Value, Option<Value>), CompileError> {
    let (_, len) = t.memory_base_len();
    let trip = match &proven.count {
        Some(count) => Some(emit_trip_count(t, count)?),
        None => None,
    };
    // Accesses at the same address differ only in their ends.
    let mut furthest: std::collections::BTreeMap<(u32, i32, Term), u64> = Default::default();
    for a in &proven.accesses {
        let end = furthest.entry((a.local, a.add, a.step)).or_default();
        *end = (*end).max(a.end);
    }
    let mut holds = trip.as_ref().map(|trip| trip.known);
    for ((local, add, step), end) in furthest {
        let a = t.local_get(local)?;
        let x = t.b.ins().iadd_imm_s(a, i64::from(add));
        let x0 = t.b.ins().uextend(I64, x);
        // The addresses run from `x0` to the last iteration's.
        let moved = match (&trip, step) {
            // An address the loop never changes (`x0` is below 2^32).
            (_, Term::Const(0)) => None,
            (Some(trip), Term::Const(step)) => Some((
                t.b.ins().imul_imm_s(trip.less_one, i64::from(step)),
                step > 0,
            )),
            // The count's own step (the analysis allows no other local).
            (Some(trip), Term::Local(_)) => match trip.step {
                Divisor::Value(step) => Some((t.b.ins().imul(trip.less_one, step), true)),
                Divisor::Const(_) => {
                    return Err(t.invariant("an address stepped by a local in a constant count"));
                }
            },
            (None, _) => return Err(t.invariant("a moving address in a loop without a count")),
        };
        let ok = match moved {
            None => {
                let end = t.b.ins().iadd_imm_s(x0, end as i64);
                t.b.ins().icmp(IntCC::SignedLessThanOrEqual, end, len)
            }
            Some((moved, up)) => {
                let last = t.b.ins().iadd(x0, moved);
                let (lo, hi) = if up { (x0, last) } else { (last, x0) };
                let end = t.b.ins().iadd_imm_s(hi, end as i64);
                let inside = t.b.ins().icmp(IntCC::SignedLessThanOrEqual, end, len);
                let above_zero = t.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, lo, 0);
                t.b.ins().band(inside, above_zero)
            }
        };
        holds = Some(match holds {
            Some(h) => t.b.ins().band(h, ok),
            None => ok,
        });
    }
    let mut holds = holds.ok_or_else(|| t.invariant("a proven loop without accesses"))?;
    let prepaid = match (prepay, &trip) {
        (Some(charge), Some(trip)) => {
            let iterations = t.b.ins().iadd_imm_u(trip.less_one, 1);
            let total = t.b.ins().imul_imm_u(iterations, charge as i64);
            // Signed: a counter that deferred charges left negative fails.
            let gas = t.gas_counter();
            let covered = t.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, gas, total);
            holds = t.b.ins().band(holds, covered);
            Some(total)
        }
        _ => None,
    };
    Ok((holds, prepaid))
}

/// The `i32` value of `v` with the locals' current values.
fn emit_linear(t: &mut Translator<'_, '_>, v: Linear) -> Result<Value, CompileError> {
    Ok(match v {
        Linear::Const(c) => t.b.ins().iconst(I32, i64::from(c)),
        Linear::Local(l, k) => {
            let v = t.local_get(l)?;
            t.b.ins().iadd_imm_s(v, i64::from(k))
        }
        Linear::Sum(l, m) => {
            let (a, b) = (t.local_get(l)?, t.local_get(m)?);
            t.b.ins().iadd(a, b)
        }
    })
}

/// What the test before a straight-line proven loop knows of its count.
struct Trip {
    /// The number of iterations less one (meaningful only when known).
    less_one: Value,
    /// Whether the count is known.
    known: Value,
    /// The step's magnitude.
    step: Divisor,
}

/// For a straight-line loop's [`Count`]: its [`Trip`] (`docs/vm.md`,
/// "Proven loops").
fn emit_trip_count(t: &mut Translator<'_, '_>, count: &Count) -> Result<Trip, CompileError> {
    let counter = t.local_get(count.counter)?;
    let w = match count.offset {
        Term::Const(k) => t.b.ins().iadd_imm_s(counter, i64::from(k)),
        Term::Local(l) => {
            let k = t.local_get(l)?;
            t.b.ins().iadd(counter, k)
        }
    };
    let w0 = t.b.ins().uextend(I64, w);
    let n = emit_linear(t, count.bound)?;
    let n = t.b.ins().uextend(I64, n);
    // A constant step stays an immediate; a local one is read as unsigned
    // and divided by as `max(s, 1)`, its zero making the count unknown.
    let (step, up, nonzero) = match count.step {
        Term::Const(s) => (Divisor::Const(i64::from(s.unsigned_abs())), s > 0, None),
        Term::Local(l) => {
            let s = t.local_get(l)?;
            let s = t.b.ins().uextend(I64, s);
            let nonzero = t.b.ins().icmp_imm_u(IntCC::NotEqual, s, 0);
            let one = t.b.ins().iconst(I64, 1);
            let divisor = t.b.ins().select(nonzero, s, one);
            (Divisor::Value(divisor), true, Some(nonzero))
        }
    };
    // The distance the counter covers, and whether the count is known.
    let (from, to) = if up { (w0, n) } else { (n, w0) };
    let distance = t.b.ins().isub(to, from);
    let (less_one, known) = match count.cond {
        Continue::NotEqual => {
            let Divisor::Const(step) = step else {
                return Err(t.invariant("a `!=` exit test with a step held in a local"));
            };
            let ordered = t.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, from, to);
            let rem = t.b.ins().urem_imm_u(distance, step);
            let divides = t.b.ins().icmp_imm_u(IntCC::Equal, rem, 0);
            let known = t.b.ins().band(ordered, divides);
            (t.b.ins().udiv_imm_u(distance, step), known)
        }
        Continue::Below | Continue::Above | Continue::AtMost | Continue::AtLeast => {
            let strict = matches!(count.cond, Continue::Below | Continue::Above);
            let runs = if strict {
                t.b.ins().icmp(IntCC::UnsignedLessThan, from, to)
            } else {
                t.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, from, to)
            };
            // `distance` is meaningless when the loop runs once; the
            // select discards it. Strict: `⌈d / s⌉`; else `⌊d / s⌋ + 1`.
            let q = if strict {
                let rounded = step.add_less_one(t, distance);
                step.divide(t, rounded)
            } else {
                let q = step.divide(t, distance);
                t.b.ins().iadd_imm_u(q, 1)
            };
            let zero = t.b.ins().iconst(I64, 0);
            let less_one = t.b.ins().select(runs, q, zero);
            let moved = step.multiply(t, less_one);
            let known = if up {
                let last = t.b.ins().iadd(w0, moved);
                t.b.ins()
                    .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, last, i64::from(u32::MAX))
            } else {
                t.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, moved, w0)
            };
            (less_one, known)
        }
    };
    let known = match nonzero {
        Some(nonzero) => t.b.ins().band(known, nonzero),
        None => known,
    };
    Ok(Trip {
        less_one,
        known,
        step,
    })
}

/// A loop step's magnitude as the trip count uses it: an immediate when
/// constant, an `i64` value (never zero) otherwise.
#[derive(Clone, Copy)]
enum Divisor {
    Const(i64),
    Value(Value),
}

impl Divisor {
    fn divide(self, t: &mut Translator<'_, '_>, x: Value) -> Value {
        match self {
            Self::Const(s) => t.b.ins().udiv_imm_u(x, s),
            Self::Value(s) => t.b.ins().udiv(x, s),
        }
    }

    fn multiply(self, t: &mut Translator<'_, '_>, x: Value) -> Value {
        match self {
            Self::Const(s) => t.b.ins().imul_imm_u(x, s),
            Self::Value(s) => t.b.ins().imul(x, s),
        }
    }

    /// `x + s - 1`.
    fn add_less_one(self, t: &mut Translator<'_, '_>, x: Value) -> Value {
        match self {
            Self::Const(s) => t.b.ins().iadd_imm_u(x, s - 1),
            Self::Value(s) => {
                let sum = t.b.ins().iadd(x, s);
                t.b.ins().iadd_imm_s(sum, -1)
            }
        }
    }
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
/// `out_of_gas` at once. Leaves `ops` after the body's charge.
fn prepay_counted_loop(
    t: &mut Translator<'_, '_>,
    counted: &CountedLoop,
    ops: &mut wasmparser::OperatorsReader<'_>,
    charges: Charges<'_>,
) -> Result<(), CompileError> {
    // The loop header is a label.
    t.settle_for_label()?;
    let counter = t.local_get(counted.local)?;
    let first = t.b.ins().iadd_imm_s(counter, i64::from(counted.offset));
    let bound = emit_linear(t, counted.bound)?;
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
    // Too little gas: the charged loop would fail at a later charge, with
    // nothing observable done meanwhile.
    t.trap_unless(covered, crate::vmctx::TrapCode::OutOfGas);
    let left = t.b.ins().isub(gas, total);
    t.global_set(detvm_metering::abi::GAS_LEFT_GLOBAL, left)?;
    t.op_loop(wasmparser::BlockType::Empty)?;
    charges
        .take_gas(ops)
        .ok_or_else(|| t.invariant("counted loop without its charge"))?;
    Ok(())
}
