//! Instance structures as compiled code reaches them: `vmctx` and the
//! runtime pointer, fields that never change, the linear-memory descriptor
//! and bounds checks, globals (including the reserved counter globals) and
//! tables, with the memory flags and alias regions of those accesses.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    self, AliasRegion, AliasRegionData, Endianness, InstBuilder, MemFlagsData, Value,
};
use cranelift_frontend::Variable;

use super::{
    Builtin, CHECKED_CAPACITY, COUNTER_OFFSETS, PTR, Translator, invariant_flags, state_flags,
};
use crate::compile::{CompileError, IndexSpace, TranslateProblem};
use crate::vmctx::{
    GUARD_BYTES, TrapCode, funcref_offsets, memory_offsets, table_offsets, vmctx_offsets,
};

/// Flags for linear-memory accesses: bounds were checked or proven before
/// the access, any alignment is allowed, bytes are little-endian on every
/// host. The translator adds its linear-memory alias region, and a trap
/// code to a faulting access, whose bounds its own fault checks
/// ([`Translator::heap_addr`]).
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
pub(super) struct Regions {
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

/// Where an instrumentation counter lives in the function being compiled.
enum Counter {
    /// In a variable (see `Translator::counters`), at this slot there.
    Variable(Variable, usize),
    /// In `VMRuntime`, at this offset: every access is a load or store.
    Memory(i32),
}

impl Translator<'_, '_> {
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
    pub(super) fn vmctx(&mut self) -> Value {
        self.bases().0
    }

    /// The runtime pointer (`vmctx.runtime`), usable in the current block.
    pub(super) fn rt(&mut self) -> Value {
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

    pub(super) fn funcs_ptr(&mut self) -> Value {
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

    pub(super) fn expected_type_id(&mut self, type_index: u32) -> Value {
        let array = self.vmctx_field(vmctx_offsets::TYPE_IDS);
        self.instance_field(I32, array, i64::from(type_index) * 4)
    }

    pub(super) fn builtin_fn(&mut self, builtin: Builtin) -> Value {
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

    pub(super) fn reload_memory_vars(&mut self) {
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
    fn heap_flags(&mut self) -> MemFlagsData {
        heap_flags().with_alias_region(Some(self.regions().heap))
    }

    fn regions(&mut self) -> Regions {
        *self
            .regions
            .get_or_insert_with(|| Regions::declare(self.b.func))
    }

    /// Bounds-checks an access of `size` bytes at `addr + offset`, or
    /// makes it a faulting access (`docs/vm.md`, "Faulting loads"), and
    /// returns the native address, the remaining immediate offset and the
    /// access's flags. A store (`write`) is a check point for `gas_left`,
    /// tested before its bounds.
    pub fn heap_addr(
        &mut self,
        addr32: Value,
        offset: u64,
        size: u32,
        write: bool,
    ) -> (Value, i32, MemFlagsData) {
        let (base, len) = self.memory_base_len();
        let addr = self.b.ins().uextend(I64, addr32);
        // offset < 2^32 and size <= 8, so neither sum can wrap in 64 bits.
        let end = offset.saturating_add(u64::from(size));
        let faulting = if write {
            self.m.faulting_stores
        } else {
            self.m.faulting_loads
        } && end <= GUARD_BYTES;
        // A load that starts a run checks the run's furthest end, also when
        // its own end is known: the run's later loads need that end. A
        // faulting load proves only its own end, and each of the run's
        // loads faults for itself.
        let widened = self.widen_check.take();
        let end = match widened {
            Some(w) if !faulting => w.max(end),
            _ => end,
        };
        // Facts may predate the sealing of a loop header that turned their
        // value, or this one, into an alias of the same value, so one
        // address may have two; one pass finds whether any covers this
        // access and where the address's first fact is.
        let dfg = &self.b.func.dfg;
        let key = unalias(dfg, addr32);
        let mut covered = false;
        let mut fact_of_key = None;
        for (i, &(v, e)) in self.checked.iter().enumerate() {
            if unalias(dfg, v) == key {
                covered |= e >= end;
                fact_of_key.get_or_insert(i);
            }
        }
        let proven = covered
            || self.proven.contains(&self.offset)
            || upper_bound(dfg, key, BOUND_DEPTH)
                .is_some_and(|bound| bound + end <= self.m.env.minimum_memory_bytes());
        // A store is a check point (`docs/vm.md`, "Deferred exhaustion
        // checks"), tested before its bounds check: an `out_of_gas` trap
        // site of its own costs a test and a branch, where folding the
        // test into the bounds check's condition cost a flag, a shift and
        // an `or` per store.
        if write {
            self.check_gas();
        }
        let mut flags = self.heap_flags();
        if !proven {
            if faulting {
                flags = flags.with_trap_code(Some(self.faulting_access_site()));
            } else {
                let last = self.b.ins().iadd_imm_s(addr, end as i64);
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, last, len);
                self.trap_if(oob, TrapCode::MemoryOutOfBounds);
            }
            // One fact per address, at the furthest end proven: a run of
            // faulting loads through one pointer then holds one entry, not
            // one per load evicting the other addresses' facts.
            let end = match fact_of_key {
                Some(i) => self.checked.remove(i).1.max(end),
                None => {
                    if self.checked.len() == CHECKED_CAPACITY {
                        self.checked.remove(0);
                    }
                    end
                }
            };
            self.checked.push((addr32, end));
        }
        let native = self.b.ins().iadd(base, addr);
        match i32::try_from(offset) {
            Ok(off) => (native, off, flags),
            Err(_) => (self.b.ins().iadd_imm_s(native, offset as i64), 0, flags),
        }
    }

    /// Resolves the aliases of the values in `checked`, after sealing a
    /// loop header made some of them aliases: each fact then starts its
    /// next resolution from there, so a fact carried out of `n` nested
    /// loops is resolved one step per loop instead of `n` steps per access.
    pub(in crate::compile) fn unalias_checked(&mut self) {
        let dfg = &self.b.func.dfg;
        for fact in &mut self.checked {
            fact.0 = unalias(dfg, fact.0);
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
            .ok_or_else(|| self.unknown(IndexSpace::Global, index))?;
        let ty = crate::compile::clif_type(gt.content_type).ok_or_else(|| {
            self.err(TranslateProblem::ValueType {
                what: "global type",
            })
        })?;
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
            return Err(self.unknown(IndexSpace::Global, index));
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
}

/// How many defining instructions [`upper_bound`] looks through.
const BOUND_DEPTH: u32 = 4;

/// An upper bound of the `i32` value `v` (as an unsigned number) that its
/// defining instructions show, looking at most `depth` instructions deep
/// (docs/vm.md, **Checks**). `None` when nothing is known: a parameter, a
/// local's value where paths join, a call's result, any other operator.
fn upper_bound(dfg: &ir::DataFlowGraph, v: Value, depth: u32) -> Option<u64> {
    use ir::Opcode as Op;
    if dfg.value_type(v) != I32 {
        return None;
    }
    let inst = dfg.value_def(unalias(dfg, v)).inst()?;
    if let Some(c) = iconst_imm(&dfg.insts[inst]) {
        return Some(c as u64 & U32_MAX);
    }
    let opcode = dfg.insts[inst].opcode();
    match opcode {
        Op::Uload8 => return Some(0xff),
        Op::Uload16 => return Some(0xffff),
        _ => {}
    }
    let depth = depth.checked_sub(1)?;
    let args = dfg.inst_args(inst);
    let bound = |i: usize| upper_bound(dfg, args[i], depth);
    let shift = |i: usize| constant(dfg, args[i]).map(|k| k & 31);
    // Bounds are computed without wrapping: where the value wraps, its
    // bound exceeds 2^32 - 1 and so still bounds it (and bounds no access).
    // Capped at 2^32 - 1, no operation on two of them overflows a u64.
    let bound = match opcode {
        Op::Band => match (bound(0), bound(1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        Op::Ushr => Some(bound(0).unwrap_or(U32_MAX) >> shift(1)?),
        Op::Urem => constant(dfg, args[1])?.checked_sub(1),
        Op::Iadd => Some(bound(0)? + bound(1)?),
        Op::Imul => Some(bound(0)? * bound(1)?),
        Op::Ishl => Some(bound(0)? << shift(1)?),
        Op::Select => Some(bound(1)?.max(bound(2)?)),
        _ => None,
    };
    bound.map(|b| b.min(U32_MAX))
}

const U32_MAX: u64 = u32::MAX as u64;

/// The unsigned 32-bit constant behind the `i32` value `v`, if an
/// `iconst` defines it.
fn constant(dfg: &ir::DataFlowGraph, v: Value) -> Option<u64> {
    iconst(dfg, v).map(|c| c as u64 & U32_MAX)
}

/// The immediate of the `iconst` that defines `v` (aliases resolved), if
/// one does.
pub(in crate::compile) fn iconst(dfg: &ir::DataFlowGraph, v: Value) -> Option<i64> {
    let inst = dfg.value_def(unalias(dfg, v)).inst()?;
    iconst_imm(&dfg.insts[inst])
}

fn iconst_imm(data: &ir::InstructionData) -> Option<i64> {
    match *data {
        ir::InstructionData::UnaryImm {
            opcode: ir::Opcode::Iconst,
            imm,
        } => Some(imm.bits()),
        _ => None,
    }
}

/// The most alias links [`unalias`] follows.
const ALIAS_STEPS: usize = 16;

/// `v`, or the value it is an alias of, following at most [`ALIAS_STEPS`]
/// links: sealing the headers of `n` nested loops can chain `n` aliases,
/// and the bounds checks compare values at every access. Any value along a
/// chain equals every other, so stopping early only misses a match (the
/// access keeps its check); it never makes one.
fn unalias(dfg: &ir::DataFlowGraph, mut v: Value) -> Value {
    for _ in 0..ALIAS_STEPS {
        match dfg.value_alias_dest_for_serialization(v) {
            Some(original) => v = original,
            None => break,
        }
    }
    v
}
