//! The per-function translator: [`Translator`], its constructor (which
//! emits the prologue) and the constants and memory flags its parts share.
//! Its methods are grouped by job, one `impl` block per child module, so
//! each concern reads in one place: `stack` (operand stack, locals, labels
//! and NaN classes), `traps` (trap exits), `gas` (the instrumentation
//! counters and charges), `instance` (vmctx, memory, globals, tables) and
//! `calls` (Wasm calls and builtins). `nan` decides the NaN classes of a
//! function's locals before it is translated.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    self, Block, FuncRef, InstBuilder, MemFlagsData, SigRef, StackSlot, StackSlotData,
    StackSlotKind, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;

use super::control::Frame;
use instance::Regions;
use nan::Nan;

mod calls;
mod gas;
mod instance;
// The NaN classes belong to the translator's operand stack and locals; a
// child module, so the compiler's module list stays as it is.
pub(super) mod nan;
mod stack;
mod traps;

use super::{CompileError, IndexSpace, ModuleCtx, Strategy, TranslateProblem};
use crate::vmctx::{TrapCode, runtime_offsets, vmctx_offsets};
pub(super) use calls::Builtin;
pub(super) use instance::iconst;

/// Pointer type of every supported host.
pub(super) const PTR: ir::Type = I64;

/// Number of trap codes compiled code can raise by itself.
const TRAP_CODES: usize = 13;
/// Most predecessors of one trap-exit or loop back-edge block (see
/// [`Translator::fan_in_block`]).
pub(super) const FAN_IN: u32 = 32;

/// Flags for loads of instance structures that never change while the
/// instance lives (vmctx fields, global cell and table pointers, type ids).
pub(super) fn invariant_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Flags for runtime state that changes (counters, trap code, memory and
/// table descriptors, globals): aligned, never faulting. Global cells add
/// little-endian byte order (`VMGlobal`), as the runtime reads and writes
/// them with `{to,from}_le_bytes`: with the host's order a big-endian host
/// (s390x) would see every global byte-swapped.
pub(super) fn state_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Everything known while translating one function.
pub(super) struct Translator<'a, 'f> {
    pub b: FunctionBuilder<'f>,
    pub m: &'a ModuleCtx<'a>,
    pub jit: &'a mut JITModule,
    pub func_index: u32,
    /// Byte offset of the operator being translated, for errors.
    pub offset: u64,
    /// The `vmctx` parameter; use [`Self::vmctx`] outside the prologue.
    vmctx_param: Value,
    /// `vmctx.runtime`, loaded in the prologue; use [`Self::rt`] outside
    /// it.
    rt_param: Value,
    /// Slot strategy only: a stack slot holding `vmctx` and the runtime
    /// pointer, reloaded once per block (see [`Self::bases`]).
    bases_slot: Option<ir::StackSlot>,
    /// The bases loaded in a block from [`Self::bases_slot`].
    bases_here: Option<(Block, Value, Value)>,
    locals: Vec<Local>,
    /// Per local: its NaN class (`nan::LocalWrites`), fixed for the
    /// whole body: what every local holds at each label and loop header.
    local_nan: Vec<Nan>,
    /// Per local: holds a pending value although its class is kept, since
    /// the last control operator (see [`Self::settle_for_label`]).
    local_pending: Vec<bool>,
    /// The locals marked in `local_pending`, in the order they were marked.
    pending_locals: Vec<u32>,
    /// Per local: referenced yet (for the register pressure).
    locals_touched: Vec<bool>,
    /// Per local: inside a loop that never writes it, its value from
    /// before the loop, which every read there gives (`docs/vm.md`,
    /// "Checks"), and that value's NaN class. Register strategy only.
    held: Vec<Option<(Value, Nan)>>,
    /// The loop opening at this offset, and the pending values that the
    /// locals it holds had before [`Self::settle_for_label`] canonicalised
    /// them at its entry: inside the loop they are read as they were
    /// (`docs/vm.md`, "Floats").
    pub entry_pending: Option<(u64, Vec<(u32, Value)>)>,
    /// `BodyScan::held_locals`: per loop offset, the locals it holds.
    pub held_locals: Vec<(u64, Vec<u32>)>,
    /// How many locals have been referenced.
    pub touched: u64,
    /// Native calls emitted so far: Wasm calls and builtins (for the
    /// register pressure).
    pub calls: u64,
    /// The operand stack. With the slot strategy each entry only gives the
    /// type of the value stored in the stack slot of its position.
    stack: Vec<Value>,
    /// The NaN class of each operand (canonical for non-floats).
    nan: Vec<Nan>,
    /// With the slot strategy: the stack slot of each operand-stack
    /// position reached so far.
    operand_slots: Vec<StackSlot>,
    /// Whether this function is translated with [`Strategy::Slots`].
    pub slots: bool,
    pub control: Vec<Frame>,
    /// False after `br`, `return`, `unreachable` and friends until the
    /// matching `else`/`end`.
    pub reachable: bool,
    /// Blocks opened inside unreachable code, skipped without frames.
    pub unreachable_depth: u32,
    pub results: Vec<ir::Type>,
    /// `gas_left` and `stack_left` of an instrumented module, kept in
    /// variables: received as parameters and returned as extra results,
    /// passed to and taken back from Wasm callees the same way; loaded
    /// after every builtin call, stored to `VMRuntime` before every builtin
    /// call and at the `out_of_gas` and `stack_overflow` exits; `gas_left`
    /// also before the first check of a straight run of code (see
    /// `gas_synced`).
    counters: Option<[Variable; 2]>,
    /// `VMRuntime` holds this `gas_left` from here to the end of this block
    /// (it was stored or loaded here), so further checks branch to the
    /// shared trap block without storing it again.
    gas_synced: Option<(Block, Value)>,
    /// Results of the latest charges that open a loop body, which the next
    /// charge must not fold into its own (see [`Self::fused_charge`]).
    loop_head_charges: Vec<Value>,
    /// `gas_left` may be negative here: a deferred charge (`docs/vm.md`,
    /// "Deferred exhaustion checks") may have run since the last test on
    /// this path, or the function was just entered.
    gas_unchecked: bool,
    /// The amounts of the charges deferred so far in this function: below
    /// [`DEFERRED_BUDGET`](gas::DEFERRED_BUDGET), so the counter cannot
    /// wrap between tests.
    deferred_total: u64,
    /// The latest deferred charge's result, the counter value it was
    /// computed from and the amount between them, so that the next
    /// charge can subtract from that value directly (see
    /// [`Self::fused_charge`]).
    deferred_chain: Option<(Value, Value, u64)>,
    /// The open trap-exit block per trap code, with its predecessor count.
    trap_blocks: [Option<(Block, u32)>; TRAP_CODES],
    /// Exit blocks that reached [`FAN_IN`] predecessors and were
    /// replaced: the trap code and the block.
    closed_exits: Vec<(usize, Block)>,
    /// Trap sites emitted so far (see [`traps::RUN_PER_BLOCK`]).
    trap_sites: u64,
    func_refs: HashMap<u32, FuncRef>,
    sig_refs: HashMap<u32, SigRef>,
    builtin_sigs: HashMap<Builtin, SigRef>,
    /// Memory base and length valid in the current block: reloaded after
    /// any call, and when control enters a block that other paths reach.
    pub mem_cache: Option<(Value, Value)>,
    /// Register strategy, in a body that accesses memory: the descriptor's
    /// base and length as variables instead of `mem_cache`, so one load
    /// serves every later access on every path, out of loops too, until a
    /// call or builtin (which may grow the memory) makes them stale.
    mem_vars: Option<(Variable, Variable)>,
    /// A call or builtin ran since `mem_vars` were last loaded: the next
    /// access, or the next control operator, reloads them.
    mem_stale: bool,
    /// Alias regions of linear memory and its descriptor, declared at the
    /// first memory access.
    regions: Option<Regions>,
    /// Bounds known to hold here: `(addr, end)` means `addr + end <=
    /// length` held at a point every path to here passed, and memory never
    /// shrinks, so it still holds. Where paths join, only what held where
    /// they split is kept (`docs/vm.md`, "Checks"); bounded in size.
    pub checked: Vec<(Value, u64)>,
    /// For the load being translated: the end to check instead of its own
    /// if it needs a check (see `translate::BodyScan::widened`).
    pub widen_check: Option<u64>,
    /// Byte offsets of the accesses whose bounds a proven loop's test
    /// established, in the copy of the loop translated without their
    /// checks (`docs/vm.md`, "Proven loops"); empty elsewhere.
    pub proven: Vec<u64>,
}

/// Where a Wasm local lives.
#[derive(Debug, Clone, Copy)]
enum Local {
    /// In a Cranelift variable of this type (register strategy).
    Var(Variable, ir::Type),
    /// In its own stack slot (slot strategy).
    Slot(StackSlot, ir::Type),
}

/// `VMRuntime` offsets of the counters, in the order of
/// `Translator::counters`.
const COUNTER_OFFSETS: [i32; 2] = [runtime_offsets::GAS_LEFT, runtime_offsets::STACK_LEFT];

/// How many loop-head charge results are remembered at once: only those of
/// the innermost loops being translated matter.
const LOOP_HEAD_CAPACITY: usize = 16;

/// How many proven bounds are remembered at once.
const CHECKED_CAPACITY: usize = 16;

impl<'a, 'f> Translator<'a, 'f> {
    /// Creates the translator and emits the prologue: runtime pointer and
    /// the native stack safety net.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mut b: FunctionBuilder<'f>,
        m: &'a ModuleCtx<'a>,
        jit: &'a mut JITModule,
        func_index: u32,
        results: Vec<ir::Type>,
        counters_in_variables: bool,
        strategy: Strategy,
    ) -> Result<Self, CompileError> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let vmctx = b.block_params(entry)[0];
        // An instrumented module's functions receive the counters after
        // `vmctx` (see `super::wasm_signature`).
        let incoming = match *b.block_params(entry) {
            [_, gas, stack, ..] if m.instrumented => Some([gas, stack]),
            _ => None,
        };
        let rt = b
            .ins()
            .load(PTR, invariant_flags(), vmctx, vmctx_offsets::RUNTIME);
        let counters = match incoming {
            Some(values) if counters_in_variables => {
                let vars = [b.declare_var(I64), b.declare_var(I64)];
                for (var, v) in vars.into_iter().zip(values) {
                    b.def_var(var, v);
                }
                Some(vars)
            }
            Some(values) => {
                // Counters in memory: every access is a load or store.
                for (v, off) in values.into_iter().zip(COUNTER_OFFSETS) {
                    b.ins().store(state_flags(), v, rt, off);
                }
                None
            }
            None => None,
        };
        let bases_slot = (strategy == Strategy::Slots).then(|| {
            let slot =
                b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 3));
            b.ins().stack_store(PTR, vmctx, slot, 0);
            b.ins().stack_store(PTR, rt, slot, 8);
            slot
        });
        let limit = b
            .ins()
            .load(PTR, state_flags(), rt, runtime_offsets::NATIVE_STACK_LIMIT);
        let sp = b.ins().get_stack_pointer(PTR);
        let below = b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        // A trap site storing nothing: `native_stack_exhausted` is an
        // engine error, which reports no gas.
        b.ins()
            .trapnz(below, traps::trap_site_code(TrapCode::NativeStackExhausted));
        let trap_blocks = [None; TRAP_CODES];
        Ok(Self {
            b,
            m,
            jit,
            func_index,
            offset: 0,
            vmctx_param: vmctx,
            rt_param: rt,
            bases_slot,
            bases_here: None,
            locals: Vec::new(),
            local_nan: Vec::new(),
            local_pending: Vec::new(),
            pending_locals: Vec::new(),
            locals_touched: Vec::new(),
            held: Vec::new(),
            entry_pending: None,
            held_locals: Vec::new(),
            touched: 0,
            calls: 0,
            stack: Vec::new(),
            nan: Vec::new(),
            operand_slots: Vec::new(),
            slots: strategy == Strategy::Slots,
            control: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            results,
            counters,
            gas_synced: None,
            loop_head_charges: Vec::with_capacity(LOOP_HEAD_CAPACITY),
            // A caller's deferred charges may have left the counter
            // negative: the entry tests it.
            gas_unchecked: m.instrumented,
            deferred_total: 0,
            deferred_chain: None,
            trap_blocks,
            closed_exits: Vec::new(),
            trap_sites: 0,
            func_refs: HashMap::new(),
            sig_refs: HashMap::new(),
            builtin_sigs: HashMap::new(),
            mem_cache: None,
            mem_vars: None,
            mem_stale: false,
            regions: None,
            checked: Vec::with_capacity(CHECKED_CAPACITY),
            widen_check: None,
            proven: Vec::new(),
        })
    }

    /// A translation error at the current operator.
    pub fn err(&self, problem: TranslateProblem) -> CompileError {
        CompileError::Translate {
            func_index: self.func_index,
            offset: self.offset,
            problem,
        }
    }

    /// [`TranslateProblem::UnknownIndex`] at the current operator.
    pub fn unknown(&self, space: IndexSpace, index: u32) -> CompileError {
        self.err(TranslateProblem::UnknownIndex { space, index })
    }

    /// [`TranslateProblem::Malformed`] at the current operator.
    pub fn malformed(&self, what: &'static str) -> CompileError {
        self.err(TranslateProblem::Malformed { what })
    }

    /// [`TranslateProblem::Invariant`] at the current operator.
    pub fn invariant(&self, what: &'static str) -> CompileError {
        self.err(TranslateProblem::Invariant { what })
    }

    /// An `i32` constant from a `u32` immediate.
    pub fn iconst_u32(&mut self, x: u32) -> Value {
        self.b.ins().iconst(I32, i64::from(x))
    }

    /// The all-zero-bits value of `ty`.
    pub fn zero(&mut self, ty: ir::Type) -> Value {
        match ty {
            ir::types::F32 => self.b.ins().f32const(0.0f32),
            ir::types::F64 => self.b.ins().f64const(0.0f64),
            ty => self.b.ins().iconst(ty, 0),
        }
    }
}
