//! How compiled code reaches instance state: the per-function translator
//! state, instance structures, memory,
//! globals, tables, calls, builtins and trap exits.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegion, AliasRegionData, Block, Endianness, FuncRef, InstBuilder,
    MemFlagsData, SigRef, StackSlot, StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::Module;

use super::control::Frame;
use nan::Nan;

// The NaN classes belong to the translator's operand stack and locals; a
// child module, so the compiler's module list stays as it is.
pub(super) mod nan;
use super::{CompileError, ModuleCtx, Strategy};
use crate::vmctx::{
    TrapCode, builtin_offsets, funcref_offsets, memory_offsets, runtime_offsets, table_offsets,
    vmctx_offsets,
};

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

/// Flags for linear-memory accesses: bounds were checked explicitly, any
/// alignment is allowed, bytes are little-endian on every host. The
/// translator adds its linear-memory alias region
/// ([`Translator::heap_flags`]).
fn heap_flags() -> MemFlagsData {
    MemFlagsData::new()
        .with_notrap()
        .with_endianness(Endianness::Little)
}

/// The alias regions the translator tags memory operations with, so that
/// Cranelift's alias analysis knows that a store to linear memory never
/// changes the memory descriptor: where the descriptor is loaded again (in
/// each block with the slot strategy), a dominating load with no call or
/// builtin in between serves instead. Accesses without a region (globals,
/// counters, stack slots) still clobber both.
#[derive(Clone, Copy)]
struct Regions {
    /// Linear memory's bytes.
    heap: AliasRegion,
    /// `VMMemory { base, length }`, written only by the runtime.
    memory: AliasRegion,
}

impl Regions {
    fn declare(func: &mut ir::Function) -> Self {
        let mut region = |user_id, description: &'static str| {
            func.dfg.alias_regions.insert(AliasRegionData {
                user_id,
                description: description.into(),
            })
        };
        Self {
            heap: region(1, "linear memory"),
            memory: region(2, "memory descriptor"),
        }
    }
}

/// The builtins compiled code calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Builtin {
    MemoryGrow,
    MemoryFill,
    MemoryCopy,
    MemoryInit,
    DataDrop,
    TableGrow,
    TableFill,
    TableCopy,
    TableInit,
    ElemDrop,
}

impl Builtin {
    fn offset(self) -> i32 {
        match self {
            Self::MemoryGrow => builtin_offsets::MEMORY_GROW,
            Self::MemoryFill => builtin_offsets::MEMORY_FILL,
            Self::MemoryCopy => builtin_offsets::MEMORY_COPY,
            Self::MemoryInit => builtin_offsets::MEMORY_INIT,
            Self::DataDrop => builtin_offsets::DATA_DROP,
            Self::TableGrow => builtin_offsets::TABLE_GROW,
            Self::TableFill => builtin_offsets::TABLE_FILL,
            Self::TableCopy => builtin_offsets::TABLE_COPY,
            Self::TableInit => builtin_offsets::TABLE_INIT,
            Self::ElemDrop => builtin_offsets::ELEM_DROP,
        }
    }

    /// Parameter types after the leading vmctx, and the result type.
    fn signature(self) -> (&'static [ir::Type], Option<ir::Type>) {
        match self {
            Self::MemoryGrow => (&[I32], Some(I32)),
            Self::MemoryFill | Self::MemoryCopy => (&[I32, I32, I32], None),
            Self::MemoryInit => (&[I32, I32, I32, I32], None),
            Self::DataDrop | Self::ElemDrop => (&[I32], None),
            Self::TableGrow => (&[I32, PTR, I32], Some(I32)),
            Self::TableFill => (&[I32, I32, PTR, I32], None),
            Self::TableCopy | Self::TableInit => (&[I32, I32, I32, I32, I32], None),
        }
    }
}

/// A parameter or result of a builtin, a Rust `extern "C"` function whose
/// integer operands are `u32`. Cranelift leaves the upper half of the
/// register holding an `I32` undefined (`i32.wrap_i64` is free), while
/// some C ABIs have the caller widen 32-bit integers and let the callee
/// rely on it: s390x zero-extends unsigned ones, riscv64 sign-extends all
/// of them. Without the extension a builtin there would see an operand
/// with stray high bits and, say, report a `memory.fill` in bounds as out
/// of bounds. On x86_64 and aarch64 the attribute costs one extension.
/// `amount` as the bound of a signed comparison with `gas_left`, which
/// never exceeds 2^62: an amount beyond `i64::MAX` cannot be paid either.
fn signed_bound(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

fn c_abi_param(ty: ir::Type) -> AbiParam {
    match ty {
        I32 if cfg!(target_arch = "riscv64") => AbiParam::new(ty).sext(),
        I32 => AbiParam::new(ty).uext(),
        _ => AbiParam::new(ty),
    }
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
    /// call and trap exit, and before the first check of a straight run of
    /// code (see `synced`).
    counters: Option<[Variable; 2]>,
    /// Store `stack_left` whenever it changes (at the frame check and the
    /// release, so about twice per call) instead of at calls, returns and
    /// checks: chosen for functions with memory accesses, whose checks
    /// would otherwise store it once per loop iteration.
    stack_write_through: bool,
    /// Per counter: `VMRuntime` holds this value from here to the end of
    /// this block (it was stored or loaded here), so further checks branch
    /// to the shared trap block without storing it again.
    synced: [Option<(Block, Value)>; 2],
    /// Results of the latest charges that open a loop body, which the next
    /// charge must not fold into its own (see [`Self::fused_charge`]).
    loop_head_charges: Vec<Value>,
    /// `gas_left` may be negative here: a deferred charge (`docs/vm.md`,
    /// "Deferred exhaustion checks") may have run since the last test on
    /// this path, or the function was just entered.
    gas_unchecked: bool,
    /// The amounts of the charges deferred so far in this function: below
    /// [`DEFERRED_BUDGET`], so the counter cannot wrap between tests.
    deferred_total: u64,
    /// The open trap-exit block per trap code, with its predecessor count.
    trap_blocks: [Option<(Block, u32)>; TRAP_CODES],
    /// The open block that propagates a callee's trap, with its
    /// predecessor count.
    propagate_block: Option<(Block, u32)>,
    /// Exit blocks that reached [`FAN_IN`] predecessors and were
    /// replaced: the trap code (`None`: propagate) and the block.
    closed_exits: Vec<(Option<usize>, Block)>,
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
    /// Bounds already proven on the current path: `(addr, end)` means
    /// `addr + end <= length` held, and memory never shrinks, so it still
    /// holds. Cleared where control flow joins; bounded in size.
    pub checked: Vec<(Value, u64)>,
    /// For the load being translated: the end to check instead of its own
    /// if it needs a check (see `translate::BodyScan::widened`).
    pub widen_check: Option<u64>,
    /// Byte offsets of the accesses whose bounds a proven loop's test
    /// established, in the copy of the loop translated without their
    /// checks (`docs/vm.md`, "Proven loops"); empty elsewhere.
    pub proven: Vec<u64>,
}

/// Where an instrumentation counter lives in the function being compiled.
enum Counter {
    /// In a variable (see `Translator::counters`), at this slot there.
    Variable(Variable, usize),
    /// In `VMRuntime`, at this offset: every access is a load or store.
    Memory(i32),
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

/// The largest gas charge that may be deferred; larger ones check.
const DEFERRED_AMOUNT_MAX: u64 = 1 << 32;

/// The most gas one function's deferred charges may sum to, and the floor
/// of a returned counter. A call starts with at most 2^62 (`docs/gas.md`
/// §5.6), every function tests the counter at its entry, and a caller's
/// untested charges after a call add at most this to the floor, so the
/// counter stays in `[-2^57, 2^62]` and signed comparisons of it are
/// exact.
const DEFERRED_BUDGET: u64 = 1 << 56;

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
        stack_write_through: bool,
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
                // A written-through `stack_left` is current in `VMRuntime`
                // from the start.
                if stack_write_through {
                    b.ins()
                        .store(state_flags(), values[1], rt, COUNTER_OFFSETS[1]);
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
        let trap = b.create_block();
        b.set_cold_block(trap);
        // With the counters in variables, the exit stores them as received.
        let stack_trap = match (counters, incoming) {
            (Some(_), Some(values)) => {
                let store = b.create_block();
                b.set_cold_block(store);
                Some((store, values))
            }
            _ => None,
        };
        let body = b.create_block();
        b.ins().brif(
            below,
            stack_trap.map_or(trap, |(store, _)| store),
            &[],
            body,
            &[],
        );
        if let Some((store, values)) = stack_trap {
            b.switch_to_block(store);
            b.seal_block(store);
            for (v, off) in values.into_iter().zip(COUNTER_OFFSETS) {
                b.ins().store(state_flags(), v, rt, off);
            }
            b.ins().jump(trap, &[]);
        }
        b.switch_to_block(body);
        b.seal_block(body);
        let mut trap_blocks = [None; TRAP_CODES];
        trap_blocks[TrapCode::NativeStackExhausted as usize] = Some((trap, 1));
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
            stack_write_through,
            synced: [None; 2],
            loop_head_charges: Vec::with_capacity(LOOP_HEAD_CAPACITY),
            // A caller's deferred charges may have left the counter
            // negative: the entry tests it.
            gas_unchecked: m.instrumented,
            deferred_total: 0,
            trap_blocks,
            propagate_block: None,
            closed_exits: Vec::new(),
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
    pub fn err(&self, message: impl Into<String>) -> CompileError {
        CompileError::Translate {
            func_index: self.func_index,
            offset: self.offset,
            message: message.into(),
        }
    }

    // ---- locals --------------------------------------------------------

    /// Declares the next local, of type `ty`, holding `init`.
    pub fn declare_local(&mut self, ty: ir::Type, init: Value) {
        let local = if self.slots {
            let slot = self.new_slot();
            self.b.ins().stack_store(PTR, init, slot, 0);
            Local::Slot(slot, ty)
        } else {
            let var = self.b.declare_var(ty);
            self.b.def_var(var, init);
            Local::Var(var, ty)
        };
        self.locals.push(local);
        self.locals_touched.push(false);
    }

    fn local(&mut self, index: u32) -> Result<Local, CompileError> {
        let i = index as usize;
        let local = *self
            .locals
            .get(i)
            .ok_or_else(|| self.err(format!("unknown local {index}")))?;
        if !self.locals_touched[i] {
            self.locals_touched[i] = true;
            self.touched += 1;
        }
        Ok(local)
    }

    /// Sets the NaN classes of the locals (`nan::LocalWrites`), one per
    /// declared local.
    pub fn set_local_classes(&mut self, classes: Vec<Nan>) -> Result<(), CompileError> {
        if classes.len() != self.locals.len() {
            return Err(self.err("NaN classes do not match the locals"));
        }
        self.local_pending = vec![false; classes.len()];
        self.pending_locals.clear();
        self.local_nan = classes;
        Ok(())
    }

    /// The NaN class local `index` has at every label: its class for the
    /// whole body.
    fn label_class(&self, index: u32) -> Nan {
        match self.locals.get(index as usize) {
            Some(Local::Var(_, ty) | Local::Slot(_, ty)) if !nan::is_float(*ty) => Nan::Canonical,
            _ => self
                .local_nan
                .get(index as usize)
                .copied()
                .unwrap_or(Nan::Kept),
        }
    }

    /// The NaN class of what local `index` holds here.
    pub fn local_class(&self, index: u32) -> Nan {
        if self.local_pending.get(index as usize) == Some(&true) {
            Nan::Pending
        } else {
            self.label_class(index)
        }
    }

    /// `local.get`: pushes the current value of local `index`.
    pub fn op_local_get(&mut self, index: u32) -> Result<(), CompileError> {
        let v = self.local_get(index)?;
        let class = self.local_class(index);
        self.push_nan(v, class);
        Ok(())
    }

    /// `local.set` (`tee`: `local.tee`): writes the top operand to local
    /// `index`. A pending value written to a local that keeps bits is
    /// not canonicalised here: the local holds it as pending until the next
    /// control operator, which canonicalises it only if it is still there
    /// ([`Self::settle_for_label`]).
    pub fn op_local_set(&mut self, index: u32, tee: bool) -> Result<(), CompileError> {
        let depth = self.stack_height_below(1)?;
        let class = self.label_class(index);
        let have = self.nan[depth];
        let pending_in_kept = have == Nan::Pending && class == Nan::Kept;
        if have > class && !pending_in_kept {
            // `nan::LocalWrites` follows every operator that the
            // translator does, so this is a bug, not a property of the
            // module.
            return Err(self.err(format!(
                "value of NaN class {have:?} written to local {index} of class {class:?}"
            )));
        }
        if let Some(flag) = self.local_pending.get_mut(index as usize) {
            if pending_in_kept && !*flag {
                self.pending_locals.push(index);
            }
            *flag = pending_in_kept;
        }
        let v = if tee {
            self.operand(depth)
        } else {
            self.pop()?
        };
        self.local_set(index, v)
    }

    /// Brings the state that crosses control-flow edges to what every label
    /// expects, before a control operator (or a loop header the walk opens
    /// itself): each kept local that holds a pending value is canonicalised
    /// (`docs/vm.md`, "Floats"), and stale memory variables are reloaded
    /// ("Memory and tables"). In unreachable code nothing is emitted and
    /// the marks are dropped: the code that made them reaches no label.
    pub fn settle_for_label(&mut self) -> Result<(), CompileError> {
        while let Some(index) = self.pending_locals.pop() {
            let marked = std::mem::replace(&mut self.local_pending[index as usize], false);
            if marked && self.reachable {
                let v = self.local_get(index)?;
                let c = self.canonicalize(v);
                self.local_set(index, c)?;
            }
        }
        if self.mem_stale {
            if self.reachable {
                self.reload_memory_vars();
            } else {
                self.mem_stale = false;
            }
        }
        self.gas_join();
        Ok(())
    }

    /// The current value of local `index`.
    pub fn local_get(&mut self, index: u32) -> Result<Value, CompileError> {
        Ok(match self.local(index)? {
            Local::Var(var, _) => self.b.use_var(var),
            Local::Slot(slot, ty) => self.b.ins().stack_load(PTR, ty, slot, 0),
        })
    }

    /// Sets local `index` to `value`.
    pub fn local_set(&mut self, index: u32, value: Value) -> Result<(), CompileError> {
        match self.local(index)? {
            Local::Var(var, _) => self.b.def_var(var, value),
            Local::Slot(slot, _) => {
                self.b.ins().stack_store(PTR, value, slot, 0);
            }
        }
        Ok(())
    }

    /// A fresh 8-byte stack slot (slot strategy).
    fn new_slot(&mut self) -> StackSlot {
        self.b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3))
    }

    // ---- operand stack -------------------------------------------------

    /// Number of values on the operand stack.
    pub fn stack_len(&self) -> usize {
        self.stack.len()
    }

    /// Drops operands down to `height`.
    pub fn truncate_stack(&mut self, height: usize) {
        self.stack.truncate(height);
        self.nan.truncate(height);
    }

    /// Pushes one integer or reference operand (with the slot strategy:
    /// stores it to its position's slot). Floats go through
    /// [`Self::push_nan`]: their class cannot be guessed.
    pub fn push(&mut self, v: Value) {
        debug_assert!(
            !nan::is_float(self.b.func.dfg.value_type(v)),
            "float pushed without its NaN class"
        );
        self.push_nan(v, Nan::Canonical);
    }

    /// Pushes one operand of NaN class `class`.
    pub fn push_nan(&mut self, v: Value, class: Nan) {
        if self.slots {
            let slot = self.operand_slot(self.stack.len());
            self.b.ins().stack_store(PTR, v, slot, 0);
        }
        self.stack.push(v);
        self.nan.push(self.class_for(v, class));
    }

    /// `class` for a float `v`; integers and references are canonical.
    fn class_for(&self, v: Value, class: Nan) -> Nan {
        if nan::is_float(self.b.func.dfg.value_type(v)) {
            class
        } else {
            Nan::Canonical
        }
    }

    /// The NaN class of the operand `n` below the top (0: the top).
    pub fn nan_below_top(&self, n: usize) -> Nan {
        self.nan
            .len()
            .checked_sub(n + 1)
            .map_or(Nan::Canonical, |depth| self.nan[depth])
    }

    /// The NaN classes of the top `n` operands, in push order.
    pub fn top_classes(&self, n: usize) -> Vec<Nan> {
        self.nan[self.nan.len().saturating_sub(n)..].to_vec()
    }

    /// `v` with a NaN replaced by the canonical NaN of its type.
    pub fn canonicalize(&mut self, v: Value) -> Value {
        let canonical = if self.b.func.dfg.value_type(v) == F32 {
            self.b.ins().f32const(Ieee32::with_bits(nan::CANONICAL_F32))
        } else {
            self.b.ins().f64const(Ieee64::with_bits(nan::CANONICAL_F64))
        };
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
        self.b.ins().select(is_nan, canonical, v)
    }

    /// Canonicalises the operand at `depth` (from the bottom) in place if
    /// it is pending: where its bits are about to be observed or mixed
    /// with bits that must be kept (`docs/vm.md`, "Floats").
    pub fn settle(&mut self, depth: usize) {
        if self.nan[depth] != Nan::Pending {
            return;
        }
        let v = self.operand(depth);
        let c = self.canonicalize(v);
        if self.slots {
            let slot = self.operand_slots[depth];
            self.b.ins().stack_store(PTR, c, slot, 0);
        }
        self.stack[depth] = c;
        self.nan[depth] = Nan::Canonical;
    }

    /// [`Self::settle`] for each of the top `n` operands.
    pub fn settle_top(&mut self, n: usize) -> Result<(), CompileError> {
        let from = self.stack_height_below(n)?;
        for depth in from..from + n {
            self.settle(depth);
        }
        Ok(())
    }

    /// Whether label values travel through the operand slots (the slot
    /// strategy) rather than as block arguments.
    pub fn labels_in_slots(&self) -> bool {
        self.slots
    }

    /// The slot of operand position `depth`, created if no operand has
    /// been there yet.
    fn operand_slot(&mut self, depth: usize) -> StackSlot {
        while self.operand_slots.len() <= depth {
            let slot = self.new_slot();
            self.operand_slots.push(slot);
        }
        self.operand_slots[depth]
    }

    /// Slot strategy: copies the top `n` operands to positions
    /// `height..height + n`, where a label's values live. Each source
    /// position is at or above its destination, so copying upwards never
    /// overwrites a source still to be read.
    pub fn move_to_label(&mut self, height: usize, n: usize) -> Result<(), CompileError> {
        let from = self.stack_height_below(n)?;
        if from == height {
            return Ok(());
        }
        for i in 0..n {
            let v = self.operand(from + i);
            let slot = self.operand_slot(height + i);
            self.b.ins().stack_store(PTR, v, slot, 0);
        }
        Ok(())
    }

    /// Slot strategy: the values of a label whose positions start at
    /// `height`, loaded here.
    pub fn load_label(&mut self, height: usize, types: &[ir::Type]) -> Vec<Value> {
        types
            .iter()
            .enumerate()
            .map(|(i, &ty)| {
                let slot = self.operand_slot(height + i);
                self.b.ins().stack_load(PTR, ty, slot, 0)
            })
            .collect()
    }

    /// Slot strategy: makes `values`, just loaded from the positions
    /// above the current top, the top operands without storing them
    /// again.
    pub fn push_loaded(&mut self, values: &[Value], classes: &[Nan]) {
        for (&v, &class) in values.iter().zip(classes) {
            self.stack.push(v);
            self.nan.push(self.class_for(v, class));
        }
    }

    /// The operand stack height below the top `n` operands.
    pub fn stack_height_below(&self, n: usize) -> Result<usize, CompileError> {
        self.stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| self.err("operand stack underflow"))
    }

    /// Pushes operands in order, of NaN classes `classes`.
    pub fn push_all(&mut self, values: &[Value], classes: &[Nan]) {
        for (&v, &class) in values.iter().zip(classes) {
            self.push_nan(v, class);
        }
    }

    /// The operand at `depth` (from the bottom), as a value usable here.
    fn operand(&mut self, depth: usize) -> Value {
        let v = self.stack[depth];
        if !self.slots {
            return v;
        }
        let ty = self.b.func.dfg.value_type(v);
        let slot = self.operand_slots[depth];
        self.b.ins().stack_load(PTR, ty, slot, 0)
    }

    /// Pops one operand.
    pub fn pop(&mut self) -> Result<Value, CompileError> {
        let depth = self
            .stack
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.err("operand stack underflow"))?;
        let v = self.operand(depth);
        self.stack.pop();
        self.nan.pop();
        Ok(v)
    }

    /// Pops two operands, returning them in push order.
    pub fn pop2(&mut self) -> Result<(Value, Value), CompileError> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    /// Pops three operands, returning them in push order.
    pub fn pop3(&mut self) -> Result<(Value, Value, Value), CompileError> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    /// The top `n` operands in push order, without popping.
    pub fn peek_n(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let len = self.stack.len();
        if n > len {
            return Err(self.err("operand stack underflow"));
        }
        Ok((len - n..len).map(|depth| self.operand(depth)).collect())
    }

    /// Pops the top `n` operands, returned in push order.
    pub fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let values = self.peek_n(n)?;
        self.truncate_stack(self.stack.len() - n);
        Ok(values)
    }

    /// The operands from `height` up, without popping (as values usable
    /// here).
    pub fn operands_from(&mut self, height: usize) -> Result<Vec<Value>, CompileError> {
        let n = self
            .stack
            .len()
            .checked_sub(height)
            .ok_or_else(|| self.err("operand stack underflow"))?;
        self.peek_n(n)
    }

    /// An `i32` constant from a `u32` immediate.
    pub fn iconst_u32(&mut self, x: u32) -> Value {
        self.b.ins().iconst(I32, i64::from(x))
    }

    // ---- blocks and traps ----------------------------------------------

    /// Creates a block, switches to it and seals it: for code whose only
    /// predecessor is the current block, so cached values stay valid.
    pub fn continue_in_new_block(&mut self) -> Block {
        let next = self.b.create_block();
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        next
    }

    /// The shared cold block that takes a trap exit with `code`, for one
    /// more predecessor.
    pub fn trap_block(&mut self, code: TrapCode) -> Block {
        let slot = code as usize;
        let (block, closed) = Self::fan_in_block(&mut self.b, &mut self.trap_blocks[slot], true);
        if let Some(closed) = closed {
            self.closed_exits.push((Some(slot), closed));
        }
        block
    }

    /// The block of `open` for one more predecessor: a new one when there
    /// is none or it has [`FAN_IN`] already (then the full one is
    /// returned second, to be emitted later). Dominator trees are built
    /// by walking from each predecessor of a block up to the dominator of
    /// those seen so far; one exit shared by the thousands of checks of a
    /// long straight-line body makes that walk, and compile time,
    /// quadratic in the body. With a bounded fan-in each walk stays within
    /// one group of checks.
    pub(super) fn fan_in_block(
        b: &mut FunctionBuilder<'_>,
        open: &mut Option<(Block, u32)>,
        cold: bool,
    ) -> (Block, Option<Block>) {
        match open {
            Some((block, uses)) if *uses < FAN_IN => {
                *uses += 1;
                (*block, None)
            }
            _ => {
                let block = b.create_block();
                if cold {
                    b.set_cold_block(block);
                }
                let full = open.replace((block, 1)).map(|(full, _)| full);
                (block, full)
            }
        }
    }

    /// The target of a conditional branch to the trap exit `code`: the
    /// shared trap block, after making sure `VMRuntime` holds the counters
    /// (each is stored here unless it already was, or was loaded, earlier
    /// in this straight run of code, or is written through). A cold block
    /// per check that stores them instead would double the blocks of
    /// memory-heavy code, and with them its compile time. The shared blocks
    /// take no arguments: with thousands of checks, arguments on them would
    /// make register allocation superlinear.
    fn trap_target(&mut self, code: TrapCode) -> Block {
        if let Some(vars) = self.counters {
            let here = self.b.current_block();
            for (slot, (var, off)) in vars.into_iter().zip(COUNTER_OFFSETS).enumerate() {
                if slot == 1 && self.stack_write_through {
                    continue;
                }
                let value = self.b.use_var(var);
                let now = here.map(|b| (b, value));
                if now.is_none() || self.synced[slot] != now {
                    let rt = self.rt();
                    self.b.ins().store(state_flags(), value, rt, off);
                    self.synced[slot] = now;
                }
            }
        }
        self.trap_block(code)
    }

    /// Continues in `next`, the only successor of the current block other
    /// than a trap exit: what `VMRuntime` held still holds.
    fn continue_after_check(&mut self, next: Block) {
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        for synced in &mut self.synced {
            if let Some((_, value)) = *synced {
                *synced = Some((next, value));
            }
        }
    }

    /// Traps with `code` when `cond` is non-zero; continues in a new block.
    pub fn trap_if(&mut self, cond: Value, code: TrapCode) {
        let trap = self.trap_target(code);
        let next = self.b.create_block();
        self.b.ins().brif(cond, trap, &[], next, &[]);
        self.continue_after_check(next);
    }

    /// Traps with `code` when `cond` is zero; continues in a new block.
    pub fn trap_unless(&mut self, cond: Value, code: TrapCode) {
        let trap = self.trap_target(code);
        let next = self.b.create_block();
        self.b.ins().brif(cond, next, &[], trap, &[]);
        self.continue_after_check(next);
    }

    /// Takes a trap exit unconditionally (storing the counters first); the
    /// current block ends.
    pub fn trap_now(&mut self, code: TrapCode) {
        self.store_counters();
        let trap = self.trap_block(code);
        self.b.ins().jump(trap, &[]);
    }

    /// After a builtin call: propagate a pending trap by returning,
    /// forget the cached memory descriptor (the callee may have grown
    /// memory) and reload the counters.
    pub fn check_trap_after_call(&mut self) {
        self.branch_on_trap();
        self.load_counters();
    }

    /// Propagates a pending trap by returning, and forgets the cached memory
    /// descriptor (the callee may have grown memory).
    fn branch_on_trap(&mut self) {
        let rt = self.rt();
        let code = self
            .b
            .ins()
            .load(I32, state_flags(), rt, runtime_offsets::TRAP_CODE);
        let (propagate, closed) = Self::fan_in_block(&mut self.b, &mut self.propagate_block, true);
        if let Some(closed) = closed {
            self.closed_exits.push((None, closed));
        }
        let next = self.b.create_block();
        self.b.ins().brif(code, propagate, &[], next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
        self.mem_cache = None;
        self.mem_stale = self.mem_vars.is_some();
    }

    /// Makes `VMRuntime` hold the counter variables: before every builtin
    /// call and trap exit (a written-through `stack_left` already does).
    pub fn store_counters(&mut self) {
        let Some(vars) = self.counters else { return };
        for (slot, (var, off)) in vars.into_iter().zip(COUNTER_OFFSETS).enumerate() {
            if slot == 1 && self.stack_write_through {
                continue;
            }
            let v = self.b.use_var(var);
            let rt = self.rt();
            self.b.ins().store(state_flags(), v, rt, off);
        }
    }

    /// Gives counter `slot` (0: gas, 1: stack) a new value, storing it at
    /// once if it is written through (see `stack_write_through`).
    fn set_counter(&mut self, slot: usize, value: Value) {
        let Some(vars) = self.counters else { return };
        self.b.def_var(vars[slot], value);
        if slot == 1 && self.stack_write_through {
            let rt = self.rt();
            self.b
                .ins()
                .store(state_flags(), value, rt, COUNTER_OFFSETS[1]);
        }
    }

    /// `old - c` (`c` is `amount`) as one two-result instruction the
    /// optimiser does not fold (see [`Self::fused_charge`]); ends the
    /// current block with a branch to `site` on a borrow, else to `next`.
    fn opaque_sub(&mut self, old: Value, c: Value, amount: u64, site: Block, next: Block) -> Value {
        // Cranelift's riscv64 backend does not lower `usub_overflow`
        // ("should be implemented in ISLE"). There the subtraction is an
        // `uadd_overflow` of `-amount` instead, just as opaque: for a
        // non-zero amount it carries exactly when `old >= amount`, when
        // there is no borrow. A zero amount never borrows.
        if cfg!(target_arch = "riscv64") {
            if amount == 0 {
                self.b.ins().jump(next, &[]);
                return old;
            }
            let neg = self.b.ins().iconst(I64, (amount as i64).wrapping_neg());
            let (new, carry) = self.b.ins().uadd_overflow(old, neg);
            self.b.ins().brif(carry, next, &[], site, &[]);
            return new;
        }
        let (new, borrow) = self.b.ins().usub_overflow(old, c);
        self.b.ins().brif(borrow, site, &[], next, &[]);
        new
    }

    /// The fused lowering of a counter charge (`docs/gas.md` §5.1, and the
    /// frame check of §5.3): `global.get g; i64.const c; i64.lt_u; if; call
    /// t; end; global.get g; i64.const c; i64.sub; global.set g` for the
    /// counter `g` (0: gas, 1: stack) whose trap `t` is `trap`. `head`: the
    /// charge opens the function or a loop body, where `gas_left` is tested
    /// (`docs/vm.md`, "Deferred exhaustion checks"); the frame check does
    /// it in the same branch.
    ///
    /// With the counters in variables a gas charge is deferred, a bare
    /// subtraction, unless it must check. A checking charge compares,
    /// branches and then subtracts in place; the exit sees the counter as
    /// it was before the charge, as in the general lowering. But the
    /// result of a charge that opens a loop body (`loop_head`) is the value
    /// carried around the back edge, and if the next charge consumed it as
    /// such, Cranelift's optimiser would fold the two into one subtraction
    /// from the loop header's value (`(old - c1) - c2` into
    /// `old - (c1 + c2)`), keeping both values live across the back edge at
    /// the cost of a register copy in every iteration. That next charge
    /// therefore checks, and is made opaque to the optimiser: one
    /// two-result `usub_overflow`, whose borrow takes the exit (exact, as
    /// the value it consumes was tested). Elsewhere the folding saves work
    /// and is left alone.
    pub fn fused_charge(
        &mut self,
        counter: usize,
        amount: u64,
        trap: TrapCode,
        loop_head: bool,
        head: bool,
    ) {
        let Some(vars) = self.counters else {
            // Counters in `VMRuntime`: it already holds the value before the
            // charge when the check branches to the exit. Every gas charge
            // checks.
            let off = COUNTER_OFFSETS[counter];
            let rt = self.rt();
            let old = self.b.ins().load(I64, state_flags(), rt, off);
            let short = self.charge_short(counter, old, amount, head);
            self.trap_if(short, trap);
            let new = self.b.ins().iadd_imm_s(old, (amount as i64).wrapping_neg());
            let rt = self.rt();
            self.b.ins().store(state_flags(), new, rt, off);
            if counter == 0 {
                self.gas_unchecked = false;
            }
            return;
        };
        let var = vars[counter];
        let old = self.b.use_var(var);
        let after_loop_head = self.loop_head_charges.contains(&old);
        if counter == 0
            && !head
            && !after_loop_head
            && amount <= DEFERRED_AMOUNT_MAX
            && self.deferred_total + amount <= DEFERRED_BUDGET
        {
            self.deferred_total += amount;
            // A plain subtraction, which the optimiser may merge with the
            // next: an opaque `usub_overflow` compiled a little faster but
            // ran slower (its unused borrow became a `setb` per charge).
            let new = self.b.ins().iadd_imm_s(old, -(amount as i64));
            self.set_counter(0, new);
            self.gas_unchecked = true;
            return;
        }
        let c = self.b.ins().iconst(I64, amount as i64);
        let site = self.b.create_block();
        self.b.set_cold_block(site);
        let next = self.b.create_block();
        if after_loop_head {
            let new = self.opaque_sub(old, c, amount, site, next);
            self.b.switch_to_block(site);
            self.b.seal_block(site);
            // The value before the charge, without keeping `old` alive on
            // the fast path.
            let before = self.b.ins().iadd(new, c);
            self.b.def_var(var, before);
            self.trap_now(trap);
            self.b.switch_to_block(next);
            self.b.seal_block(next);
            self.set_counter(counter, new);
        } else {
            let short = self.charge_short(counter, old, amount, head);
            self.b.ins().brif(short, site, &[], next, &[]);
            self.b.switch_to_block(site);
            self.b.seal_block(site);
            self.trap_now(trap);
            self.b.switch_to_block(next);
            self.b.seal_block(next);
            let new = self.b.ins().isub(old, c);
            self.set_counter(counter, new);
            if loop_head {
                if self.loop_head_charges.len() == LOOP_HEAD_CAPACITY {
                    self.loop_head_charges.remove(0);
                }
                self.loop_head_charges.push(new);
            }
        }
        if counter == 0 {
            self.gas_unchecked = false;
        }
    }

    /// Whether counter `counter`, at `old`, is short of `amount`: signed for
    /// gas, which a caller's deferred charges may have left negative. The
    /// frame check at a function's entry (`head`) tests `gas_left` too: a
    /// negative one (sign bits all ones) clears the stack counter
    /// compared, and any frame (> 0) is more than 0.
    fn charge_short(&mut self, counter: usize, old: Value, amount: u64, head: bool) -> Value {
        if counter == 0 {
            return self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThan, old, signed_bound(amount));
        }
        let compared = if head && std::mem::take(&mut self.gas_unchecked) {
            let gas = self.gas_counter();
            let sign = self.b.ins().sshr_imm_u(gas, 63);
            self.b.ins().band_not(old, sign)
        } else {
            old
        };
        self.b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, compared, amount as i64)
    }

    /// `gas_left < 0`, if a deferred charge may have run since it was last
    /// tested on this path (else `None`); the caller branches to a trap
    /// exit on it, so from here on it counts as tested.
    fn gas_negative(&mut self) -> Option<Value> {
        if !self.gas_unchecked {
            return None;
        }
        self.gas_unchecked = false;
        let gas = self.gas_counter();
        Some(self.b.ins().icmp_imm_s(IntCC::SignedLessThan, gas, 0))
    }

    /// `gas_left` as it is, tested or not.
    pub fn gas_counter(&mut self) -> Value {
        match self.counters {
            Some(vars) => self.b.use_var(vars[0]),
            None => {
                let rt = self.rt();
                self.b
                    .ins()
                    .load(I64, state_flags(), rt, COUNTER_OFFSETS[0])
            }
        }
    }

    /// A check point (`docs/vm.md`, "Deferred exhaustion checks"): takes
    /// the `out_of_gas` exit if `gas_left` is negative, unless it was
    /// tested since the last deferred charge on this path.
    pub fn check_gas(&mut self) {
        if let Some(negative) = self.gas_negative() {
            self.trap_if(negative, TrapCode::OutOfGas);
        }
    }

    /// Control flow may join here: a deferred charge may have run on some
    /// path in.
    pub fn gas_join(&mut self) {
        if self.counters.is_some() {
            self.gas_unchecked = true;
        }
    }

    /// After a Wasm call returned: the callee may hand back a negative
    /// counter (see [`Self::return_with_counters`]).
    fn gas_returned_by_callee(&mut self) {
        if self.m.instrumented {
            self.gas_unchecked = true;
        }
    }

    /// Whether the counters are kept in variables (an instrumented module).
    pub fn has_counters(&self) -> bool {
        self.counters.is_some()
    }

    /// Reloads the counter variables from `VMRuntime`: after every builtin
    /// call (which may have changed them; Wasm callees return them).
    fn load_counters(&mut self) {
        let Some(vars) = self.counters else { return };
        let here = self.b.current_block();
        for (slot, (var, off)) in vars.into_iter().zip(COUNTER_OFFSETS).enumerate() {
            let rt = self.rt();
            let v = self.b.ins().load(I64, state_flags(), rt, off);
            self.b.def_var(var, v);
            self.synced[slot] = here.map(|b| (b, v));
        }
    }

    /// Emits the trap-exit blocks that were used: store the code (unless
    /// only propagating) and return zeros. The counters were stored on the
    /// way (by the trap site, or by the trapping callee); at the native
    /// stack check in the prologue they are still as loaded.
    pub fn emit_trap_blocks(&mut self) {
        let open = self
            .trap_blocks
            .into_iter()
            .enumerate()
            .filter_map(|(slot, open)| open.map(|(block, _)| (Some(slot), block)));
        let propagate = self.propagate_block.map(|(block, _)| (None, block));
        let exits: Vec<_> = open
            .chain(propagate)
            .chain(std::mem::take(&mut self.closed_exits))
            .collect();
        for (slot, block) in exits {
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            if let Some(slot) = slot {
                let code = self.b.ins().iconst(I32, slot as i64);
                let rt = self.rt();
                self.b
                    .ins()
                    .store(state_flags(), code, rt, runtime_offsets::TRAP_CODE);
            }
            self.return_zeros();
        }
    }

    /// Returns from a trap exit: zero results (and zero counters, which no
    /// caller uses after a trap).
    fn return_zeros(&mut self) {
        let mut zeros = Vec::with_capacity(self.results.len() + 2);
        for i in 0..self.results.len() {
            let ty = self.results[i];
            zeros.push(self.zero(ty));
        }
        if self.m.instrumented {
            let zero = self.b.ins().iconst(I64, 0);
            zeros.extend([zero, zero]);
        }
        self.b.ins().return_(&zeros);
    }

    /// Returns `results` and, in an instrumented module, the counters after
    /// them.
    pub fn return_with_counters(&mut self, results: &[Value]) {
        // Not a check point: an untested counter goes back as it is, but
        // no lower than `-DEFERRED_BUDGET` (a negative one stays
        // negative), so the callers' own deferred charges cannot make it
        // wrap however deep the stack. A branch to a cold block that
        // raises it, rather than a test (which would store the counter on
        // the fast path) or an `smax` (which put a compare and a
        // conditional move on the counter's path through every call:
        // matmul metered 657 µs against 613 µs).
        if self.gas_unchecked
            && let Some(vars) = self.counters
        {
            let gas = self.b.use_var(vars[0]);
            let floor = -(DEFERRED_BUDGET as i64);
            let low = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, gas, floor);
            let raise = self.b.create_block();
            self.b.set_cold_block(raise);
            let back = self.b.create_block();
            self.b.ins().brif(low, raise, &[], back, &[]);
            self.b.switch_to_block(raise);
            self.b.seal_block(raise);
            let floor = self.b.ins().iconst(I64, floor);
            self.b.def_var(vars[0], floor);
            self.b.ins().jump(back, &[]);
            self.b.switch_to_block(back);
            self.b.seal_block(back);
        }
        let mut all = Vec::with_capacity(results.len() + 2);
        all.extend_from_slice(results);
        all.extend(self.outgoing_counters());
        self.b.ins().return_(&all);
    }

    /// The all-zero-bits value of `ty`.
    pub fn zero(&mut self, ty: ir::Type) -> Value {
        match ty {
            ir::types::F32 => self.b.ins().f32const(0.0f32),
            ir::types::F64 => self.b.ins().f64const(0.0f64),
            ty => self.b.ins().iconst(ty, 0),
        }
    }

    // ---- instance structures -------------------------------------------

    /// `vmctx` and the runtime pointer, usable in the current block. With
    /// the slot strategy they are reloaded from their stack slot once per
    /// block: a value live through every block of a huge function makes
    /// the register allocator clear tables as large as the function once
    /// per virtual register, which is quadratic in the body.
    fn bases(&mut self) -> (Value, Value) {
        let Some(slot) = self.bases_slot else {
            return (self.vmctx_param, self.rt_param);
        };
        let here = self.b.current_block().expect("translating inside a block");
        if let Some((block, vmctx, rt)) = self.bases_here
            && block == here
        {
            return (vmctx, rt);
        }
        let vmctx = self.b.ins().stack_load(PTR, PTR, slot, 0);
        let rt = self.b.ins().stack_load(PTR, PTR, slot, 8);
        self.bases_here = Some((here, vmctx, rt));
        (vmctx, rt)
    }

    /// `vmctx`, usable in the current block.
    fn vmctx(&mut self) -> Value {
        self.bases().0
    }

    /// The runtime pointer (`vmctx.runtime`), usable in the current block.
    fn rt(&mut self) -> Value {
        self.bases().1
    }

    /// Loads a field of an instance structure that never changes while
    /// the instance lives (a `vmctx` field, a global cell or table pointer,
    /// a type id, a builtin) where it is used. Hoisted into the entry block
    /// instead, each would stay live through the whole function, and
    /// register allocation over those long ranges cost a tenth of a metered
    /// compile for about 1% fewer instructions at run time (BENCHMARKS.md).
    fn instance_field(&mut self, ty: ir::Type, base: Value, offset: i64) -> Value {
        self.load_at(ty, invariant_flags(), base, offset)
    }

    fn vmctx_field(&mut self, offset: i32) -> Value {
        let vmctx = self.vmctx();
        self.instance_field(PTR, vmctx, i64::from(offset))
    }

    fn memory_ptr(&mut self) -> Value {
        self.vmctx_field(vmctx_offsets::MEMORY)
    }

    fn funcs_ptr(&mut self) -> Value {
        self.vmctx_field(vmctx_offsets::FUNCS)
    }

    fn global_cell(&mut self, index: u32) -> Value {
        let array = self.vmctx_field(vmctx_offsets::GLOBALS);
        self.instance_field(PTR, array, i64::from(index) * 8)
    }

    /// Pointer to table `index`'s `VMTable`.
    pub fn table_ptr(&mut self, index: u32) -> Value {
        let array = self.vmctx_field(vmctx_offsets::TABLES);
        self.instance_field(PTR, array, i64::from(index) * 8)
    }

    fn expected_type_id(&mut self, type_index: u32) -> Value {
        let array = self.vmctx_field(vmctx_offsets::TYPE_IDS);
        self.instance_field(I32, array, i64::from(type_index) * 4)
    }

    fn builtin_fn(&mut self, builtin: Builtin) -> Value {
        let table = self.vmctx_field(vmctx_offsets::BUILTINS);
        self.instance_field(PTR, table, i64::from(builtin.offset()))
    }

    /// Loads `ty` from `base + offset` in the current block.
    pub fn load_at(
        &mut self,
        ty: ir::Type,
        flags: MemFlagsData,
        base: Value,
        offset: i64,
    ) -> Value {
        match i32::try_from(offset) {
            Ok(off) => self.b.ins().load(ty, flags, base, off),
            Err(_) => {
                let addr = self.b.ins().iadd_imm_s(base, offset);
                self.b.ins().load(ty, flags, addr, 0)
            }
        }
    }

    // ---- memory ----------------------------------------------------------

    /// Keeps the memory descriptor in variables (see `mem_vars`), loaded
    /// here first.
    pub fn keep_memory_in_variables(&mut self) {
        let base = self.b.declare_var(PTR);
        let len = self.b.declare_var(I64);
        self.mem_vars = Some((base, len));
        self.reload_memory_vars();
    }

    fn reload_memory_vars(&mut self) {
        let Some((base_var, len_var)) = self.mem_vars else {
            return;
        };
        let (base, len) = self.load_memory_descriptor();
        self.b.def_var(base_var, base);
        self.b.def_var(len_var, len);
        self.mem_stale = false;
    }

    /// Current memory base and length, loaded at most once per stretch of
    /// code between calls (per block with the slot strategy).
    pub fn memory_base_len(&mut self) -> (Value, Value) {
        if let Some((base_var, len_var)) = self.mem_vars {
            if self.mem_stale {
                self.reload_memory_vars();
            }
            return (self.b.use_var(base_var), self.b.use_var(len_var));
        }
        if let Some(cached) = self.mem_cache {
            return cached;
        }
        let cached = self.load_memory_descriptor();
        self.mem_cache = Some(cached);
        cached
    }

    fn load_memory_descriptor(&mut self) -> (Value, Value) {
        let mem = self.memory_ptr();
        let flags = state_flags().with_alias_region(Some(self.regions().memory));
        let base = self.b.ins().load(PTR, flags, mem, memory_offsets::BASE);
        let len = self.b.ins().load(I64, flags, mem, memory_offsets::LENGTH);
        (base, len)
    }

    /// Flags for an access to linear memory.
    pub fn heap_flags(&mut self) -> MemFlagsData {
        heap_flags().with_alias_region(Some(self.regions().heap))
    }

    fn regions(&mut self) -> Regions {
        *self
            .regions
            .get_or_insert_with(|| Regions::declare(self.b.func))
    }

    /// Bounds-checks an access of `size` bytes at `addr + offset` and
    /// returns the native address and the remaining immediate offset. A
    /// store (`write`) is a check point for `gas_left`, tested in the same
    /// branch as its bounds when it has one.
    pub fn heap_addr(
        &mut self,
        addr32: Value,
        offset: u64,
        size: u32,
        write: bool,
    ) -> (Value, i32) {
        let (base, len) = self.memory_base_len();
        let addr = self.b.ins().uextend(I64, addr32);
        // offset < 2^32 and size <= 8, so neither sum can wrap in 64 bits.
        let end = offset.saturating_add(u64::from(size));
        let proven = self.checked.iter().any(|&(v, e)| v == addr32 && e >= end)
            || self.proven.contains(&self.offset);
        if !proven {
            let end = self.widen_check.take().map_or(end, |w| w.max(end));
            let last = self.b.ins().iadd_imm_s(addr, end as i64);
            let mut oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, last, len);
            if write && let Some(negative) = self.gas_negative() {
                oob = self.b.ins().bor(oob, negative);
            }
            self.trap_if(oob, TrapCode::MemoryOutOfBounds);
            if self.checked.len() == CHECKED_CAPACITY {
                self.checked.remove(0);
            }
            self.checked.push((addr32, end));
        } else if write {
            self.check_gas();
        }
        let native = self.b.ins().iadd(base, addr);
        match i32::try_from(offset) {
            Ok(off) => (native, off),
            Err(_) => (self.b.ins().iadd_imm_s(native, offset as i64), 0),
        }
    }

    // ---- globals ---------------------------------------------------------

    /// The instrumentation counter behind a reserved global, if `index` is
    /// one.
    fn reserved_global(&self, index: u32) -> Option<Counter> {
        use detvm_metering::abi;
        if !self.m.instrumented {
            return None;
        }
        let slot = match index {
            abi::GAS_LEFT_GLOBAL => 0,
            abi::STACK_LEFT_GLOBAL => 1,
            _ => return None,
        };
        Some(match self.counters {
            Some(vars) => Counter::Variable(vars[slot], slot),
            None => Counter::Memory(COUNTER_OFFSETS[slot]),
        })
    }

    /// `global.get`.
    pub fn global_get(&mut self, index: u32) -> Result<Value, CompileError> {
        // Outside a fixed charge `gas_left` is read to compare it with a
        // dynamic amount, which is exact only once it was tested.
        if index == detvm_metering::abi::GAS_LEFT_GLOBAL && self.m.instrumented {
            self.check_gas();
        }
        match self.reserved_global(index) {
            Some(Counter::Variable(var, _)) => return Ok(self.b.use_var(var)),
            Some(Counter::Memory(off)) => {
                let rt = self.rt();
                return Ok(self.b.ins().load(I64, state_flags(), rt, off));
            }
            None => {}
        }
        let gt = *self
            .m
            .env
            .globals
            .get(index as usize)
            .ok_or_else(|| self.err(format!("unknown global {index}")))?;
        let ty = super::clif_type(gt.content_type)
            .ok_or_else(|| self.err("global type outside the profile"))?;
        let cell = self.global_cell(index);
        let flags = if gt.mutable {
            state_flags()
        } else {
            invariant_flags()
        };
        let flags = flags.with_endianness(Endianness::Little);
        Ok(self.b.ins().load(ty, flags, cell, 0))
    }

    /// `global.set`.
    pub fn global_set(&mut self, index: u32, value: Value) -> Result<(), CompileError> {
        match self.reserved_global(index) {
            Some(Counter::Variable(_, slot)) => {
                self.set_counter(slot, value);
                return Ok(());
            }
            Some(Counter::Memory(off)) => {
                let rt = self.rt();
                self.b.ins().store(state_flags(), value, rt, off);
                return Ok(());
            }
            None => {}
        }
        if self.m.env.globals.get(index as usize).is_none() {
            return Err(self.err(format!("unknown global {index}")));
        }
        self.check_gas();
        let cell = self.global_cell(index);
        let flags = state_flags().with_endianness(Endianness::Little);
        self.b.ins().store(flags, value, cell, 0);
        Ok(())
    }

    // ---- tables ------------------------------------------------------------

    /// Bounds-checks `index` against table `table` and returns the address
    /// of the element.
    pub fn table_elem_addr(&mut self, table: u32, index: Value) -> Value {
        let tp = self.table_ptr(table);
        let len = self
            .b
            .ins()
            .load(I64, state_flags(), tp, table_offsets::LENGTH);
        let index = self.b.ins().uextend(I64, index);
        let oob = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.trap_if(oob, TrapCode::TableOutOfBounds);
        let elems = self
            .b
            .ins()
            .load(PTR, state_flags(), tp, table_offsets::ELEMENTS);
        let scaled = self.b.ins().ishl_imm_u(index, 3);
        self.b.ins().iadd(elems, scaled)
    }

    /// `table.size`.
    pub fn table_size(&mut self, table: u32) -> Value {
        let tp = self.table_ptr(table);
        let len = self
            .b
            .ins()
            .load(I64, state_flags(), tp, table_offsets::LENGTH);
        self.b.ins().ireduce(I32, len)
    }

    /// `ref.func`: the address of the function's `VMFuncRef`.
    pub fn ref_func(&mut self, index: u32) -> Value {
        let funcs = self.funcs_ptr();
        let off = i64::from(index) * i64::from(funcref_offsets::SIZE);
        self.b.ins().iadd_imm_s(funcs, off)
    }

    // ---- calls -------------------------------------------------------------

    fn sig_ref(&mut self, type_index: u32) -> Result<SigRef, CompileError> {
        if let Some(&s) = self.sig_refs.get(&type_index) {
            return Ok(s);
        }
        let sig = self
            .m
            .signatures
            .get(type_index as usize)
            .ok_or_else(|| self.err(format!("unknown type {type_index}")))?
            .clone();
        let s = self.b.import_signature(sig);
        self.sig_refs.insert(type_index, s);
        Ok(s)
    }

    /// Pops the arguments of type `type_index`, prefixed with `callee_vmctx`.
    fn call_args(
        &mut self,
        type_index: u32,
        callee_vmctx: Value,
    ) -> Result<Vec<Value>, CompileError> {
        let n = self
            .m
            .env
            .types
            .get(type_index as usize)
            .ok_or_else(|| self.err(format!("unknown type {type_index}")))?
            .params()
            .len();
        // The callee cannot know which of its parameters are pending.
        self.settle_top(n)?;
        let args = self.pop_n(n)?;
        let mut all = Vec::with_capacity(n + 3);
        all.push(callee_vmctx);
        all.extend(self.outgoing_counters());
        all.extend(args);
        Ok(all)
    }

    /// The counters a Wasm→Wasm call passes after the callee's `vmctx` (in
    /// an instrumented module): the variables, or `VMRuntime`'s values
    /// when the counters live there.
    fn outgoing_counters(&mut self) -> Vec<Value> {
        if !self.m.instrumented {
            return Vec::new();
        }
        match self.counters {
            Some(vars) => vars.iter().map(|&var| self.b.use_var(var)).collect(),
            None => COUNTER_OFFSETS
                .iter()
                .map(|&off| {
                    let rt = self.rt();
                    self.b.ins().load(I64, state_flags(), rt, off)
                })
                .collect(),
        }
    }

    /// After a Wasm→Wasm call: checks for a trap, then takes the counters
    /// the callee returned after its results (in an instrumented module)
    /// and pushes the results. On the propagate path the returned counters
    /// are ignored: the trapping code stored them.
    fn finish_call(&mut self, inst: ir::Inst) {
        self.calls += 1;
        let mut results = self.b.inst_results(inst).to_vec();
        let returned = if self.m.instrumented {
            let split = results.len().saturating_sub(2);
            match *results.split_off(split) {
                [gas, stack] => Some([gas, stack]),
                _ => None,
            }
        } else {
            None
        };
        self.branch_on_trap();
        self.gas_returned_by_callee();
        if let Some(values) = returned {
            match self.counters {
                Some(vars) => {
                    self.b.def_var(vars[0], values[0]);
                    self.synced[0] = None;
                    self.synced[1] = None;
                    // A written-through `stack_left` must be current again:
                    // the callee's callees may have stored other values.
                    self.set_counter(1, values[1]);
                }
                None => {
                    let rt = self.rt();
                    for (v, off) in values.into_iter().zip(COUNTER_OFFSETS) {
                        self.b.ins().store(state_flags(), v, rt, off);
                    }
                }
            }
        }
        let kept = vec![Nan::Kept; results.len()];
        self.push_all(&results, &kept);
    }

    /// `call f`. Returns false when the call never returns (a reserved
    /// instrumentation import), so the following code is unreachable.
    pub fn call(&mut self, index: u32) -> Result<bool, CompileError> {
        use detvm_metering::abi;
        if self.m.instrumented {
            match index {
                abi::OUT_OF_GAS_FUNC => {
                    self.trap_now(TrapCode::OutOfGas);
                    return Ok(false);
                }
                abi::STACK_OVERFLOW_FUNC => {
                    self.trap_now(TrapCode::StackOverflow);
                    return Ok(false);
                }
                _ => {}
            }
        }
        let type_index = *self
            .m
            .env
            .funcs
            .get(index as usize)
            .ok_or_else(|| self.err(format!("unknown function {index}")))?;
        let imported = self.m.env.imported_funcs;
        if index < imported {
            let funcs = self.funcs_ptr();
            let entry = i64::from(index) * i64::from(funcref_offsets::SIZE);
            let code = self.load_at(
                PTR,
                invariant_flags(),
                funcs,
                entry + i64::from(funcref_offsets::CODE),
            );
            let callee_vmctx = self.load_at(
                PTR,
                invariant_flags(),
                funcs,
                entry + i64::from(funcref_offsets::VMCTX),
            );
            let args = self.call_args(type_index, callee_vmctx)?;
            let sig = self.sig_ref(type_index)?;
            let inst = self.b.ins().call_indirect(sig, code, &args);
            self.finish_call(inst);
        } else {
            let fref = match self.func_refs.get(&index) {
                Some(&f) => f,
                None => {
                    let id = self.m.func_ids[(index - imported) as usize];
                    let f = self.jit.declare_func_in_func(id, self.b.func);
                    self.func_refs.insert(index, f);
                    f
                }
            };
            let vmctx = self.vmctx();
            let args = self.call_args(type_index, vmctx)?;
            let inst = self.b.ins().call(fref, &args);
            self.finish_call(inst);
        }
        Ok(true)
    }

    /// `call_indirect (type t) table`.
    pub fn call_indirect(&mut self, type_index: u32, table: u32) -> Result<(), CompileError> {
        let index = self.pop()?;
        let addr = self.table_elem_addr(table, index);
        let funcref = self.b.ins().load(PTR, state_flags(), addr, 0);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, funcref, 0);
        self.trap_if(is_null, TrapCode::UninitializedElement);
        // Not `readonly`: these loads must stay after the null check rather
        // than float to wherever their address is available.
        let actual = self
            .b
            .ins()
            .load(I32, state_flags(), funcref, funcref_offsets::TYPE_ID);
        let expected = self.expected_type_id(type_index);
        let mismatch = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.trap_if(mismatch, TrapCode::IndirectCallTypeMismatch);
        let code = self
            .b
            .ins()
            .load(PTR, state_flags(), funcref, funcref_offsets::CODE);
        let callee_vmctx = self
            .b
            .ins()
            .load(PTR, state_flags(), funcref, funcref_offsets::VMCTX);
        let args = self.call_args(type_index, callee_vmctx)?;
        let sig = self.sig_ref(type_index)?;
        let inst = self.b.ins().call_indirect(sig, code, &args);
        self.finish_call(inst);
        Ok(())
    }

    /// Calls a builtin with `args` after the vmctx; checks for a trap.
    pub fn call_builtin(&mut self, builtin: Builtin, args: &[Value]) -> Option<Value> {
        let sig = match self.builtin_sigs.get(&builtin) {
            Some(&s) => s,
            None => {
                let (params, ret) = builtin.signature();
                let mut sig = ir::Signature::new(self.m.call_conv);
                sig.params.push(AbiParam::new(PTR));
                sig.params.extend(params.iter().map(|&t| c_abi_param(t)));
                sig.returns.extend(ret.map(c_abi_param));
                let s = self.b.import_signature(sig);
                self.builtin_sigs.insert(builtin, s);
                s
            }
        };
        let f = self.builtin_fn(builtin);
        let mut all = Vec::with_capacity(args.len() + 1);
        let vmctx = self.vmctx();
        all.push(vmctx);
        all.extend_from_slice(args);
        // Builtins change memory, tables or segments: a check point.
        self.check_gas();
        self.store_counters();
        let inst = self.b.ins().call_indirect(sig, f, &all);
        self.calls += 1;
        let result = self.b.inst_results(inst).first().copied();
        self.check_trap_after_call();
        result
    }
}
