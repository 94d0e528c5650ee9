//! Calls out of compiled code: Wasm calls (direct, imported and through a
//! table), which pass and take back the counters and return only when
//! nothing trapped, and the runtime's builtins, after each of which a
//! trap the builtin set ends the call.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, SigRef, Value};
use cranelift_module::Module;

use super::nan::Nan;
use super::traps::RUN_PER_BLOCK;
use super::{COUNTER_OFFSETS, PTR, Translator, invariant_flags, state_flags};
use crate::compile::{CompileError, IndexSpace};
use crate::vmctx::{TrapCode, builtin_offsets, funcref_offsets};

/// The builtins compiled code calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(in crate::compile) enum Builtin {
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
    pub(super) fn offset(self) -> i32 {
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
fn c_abi_param(ty: ir::Type) -> AbiParam {
    match ty {
        I32 if cfg!(target_arch = "riscv64") => AbiParam::new(ty).sext(),
        I32 => AbiParam::new(ty).uext(),
        _ => AbiParam::new(ty),
    }
}

impl Translator<'_, '_> {
    // ---- calls -------------------------------------------------------------

    fn sig_ref(&mut self, type_index: u32) -> Result<SigRef, CompileError> {
        if let Some(&s) = self.sig_refs.get(&type_index) {
            return Ok(s);
        }
        let sig = self
            .m
            .signatures
            .get(type_index as usize)
            .ok_or_else(|| self.unknown(IndexSpace::Type, type_index))?
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
            .ok_or_else(|| self.unknown(IndexSpace::Type, type_index))?
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
    pub(super) fn outgoing_counters(&mut self) -> Vec<Value> {
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

    /// After a Wasm→Wasm call (which returns only if nothing trapped):
    /// takes the counters the callee returned after its results (in an
    /// instrumented module) and pushes the results. Every
    /// [`RUN_PER_BLOCK`]th native call of the function also ends its
    /// block.
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
        self.forget_memory();
        if self.calls.is_multiple_of(RUN_PER_BLOCK) {
            self.end_block();
        }
        self.gas_returned_by_callee();
        if let Some(values) = returned {
            match self.counters {
                Some(vars) => {
                    self.b.def_var(vars[0], values[0]);
                    self.b.def_var(vars[1], values[1]);
                    // The callee may have stored other values.
                    self.gas_synced = None;
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
            .ok_or_else(|| self.unknown(IndexSpace::Function, index))?;
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
                    // aarch64's `bl` reaches 128 MiB, less than the code
                    // of a module inside the contract limits can take
                    // there; through an absolute address instead, any
                    // module that loads on one architecture loads on all.
                    if cfg!(target_arch = "aarch64") {
                        self.b.func.dfg.ext_funcs[f].colocated = false;
                    }
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
