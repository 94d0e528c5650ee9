//! Entry trampolines (host → Wasm) and host stubs (Wasm → host), one of
//! each per function type, as `docs/vm.md` specifies.
//!
//! Both move values through `ValRaw` arrays: slot `i` holds value `i`
//! zero-extended to a `u64` in the host's byte order (as the runtime reads
//! and writes it), float bits as integers.

use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use wasmparser::FuncType;

use super::func_env::PTR;
use super::{CodegenFailure, clif_type};
use crate::vmctx::{ValRaw, builtin_offsets, runtime_offsets, vmctx_offsets};

const SLOT: i32 = size_of::<ValRaw>() as i32;

/// Flags for the `ValRaw` arrays: host memory, aligned, the host's byte
/// order. The runtime moves `ValRaw`s as plain `u64`s, so a slot's bytes
/// are little-endian only on little-endian hosts; slots are therefore
/// always accessed whole, as `I64` (see [`load_slot`]).
fn slot_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// `EntryTrampoline`: `(code, vmctx, values) -> ()` in the C convention.
pub(super) fn entry_trampoline_signature(call_conv: CallConv) -> ir::Signature {
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend([AbiParam::new(PTR); 3]);
    sig
}

fn types_of(tys: &[wasmparser::ValType]) -> Result<Vec<ir::Type>, CodegenFailure> {
    tys.iter()
        .map(|&t| clif_type(t).ok_or(CodegenFailure::UnsupportedType(t)))
        .collect()
}

/// Reads slot `i` of `array` as a value of type `ty`.
fn load_slot(b: &mut FunctionBuilder<'_>, ty: ir::Type, array: Value, i: usize) -> Value {
    // The value sits in the low bits of the `u64`, which are the slot's
    // first bytes only on a little-endian host (on s390x a narrow load at
    // the slot's start would read the zero high half): load all 64 bits
    // and narrow.
    let wide = b.ins().load(I64, slot_flags(), array, SLOT * i as i32);
    match ty {
        F64 => b.ins().bitcast(F64, MemFlagsData::new(), wide),
        I32 => b.ins().ireduce(I32, wide),
        F32 => {
            let bits = b.ins().ireduce(I32, wide);
            b.ins().bitcast(F32, MemFlagsData::new(), bits)
        }
        // `I64`, and references: pointer-sized, `I64` on every host.
        _ => wide,
    }
}

/// Writes `v` to slot `i` of `array`, zero-extended to 64 bits.
fn store_slot(b: &mut FunctionBuilder<'_>, v: Value, array: Value, i: usize) {
    let wide = match b.func.dfg.value_type(v) {
        F32 => {
            let bits = b.ins().bitcast(I32, MemFlagsData::new(), v);
            b.ins().uextend(I64, bits)
        }
        F64 => b.ins().bitcast(I64, MemFlagsData::new(), v),
        I32 => b.ins().uextend(I64, v),
        _ => v,
    };
    b.ins().store(slot_flags(), wide, array, SLOT * i as i32);
}

/// `VMRuntime` offsets of the counters an instrumented module's Wasm
/// functions take and return after their own parameters and results.
const COUNTER_OFFSETS: [i32; 2] = [runtime_offsets::GAS_LEFT, runtime_offsets::STACK_LEFT];

/// Flags for the counters and the trap code in `VMRuntime`.
fn runtime_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// The `VMRuntime` of `ctx`, a `VMContext` or a `VMHostContext` (both hold
/// it at the same offset).
fn runtime_of(b: &mut FunctionBuilder<'_>, ctx: Value) -> Value {
    b.ins().load(
        PTR,
        MemFlagsData::trusted().with_readonly(),
        ctx,
        vmctx_offsets::RUNTIME,
    )
}

/// Builds the entry trampoline for functions of type `ty`, whose Wasm
/// signature is `wasm_sig`, into `func` (whose signature is already set).
/// With `counters` (an instrumented module) the callee takes the counters
/// from `VMRuntime` and they are stored back from its extra results (a
/// callee that trapped does not return here: the trapping code stored
/// them).
pub(super) fn build_entry_trampoline(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    ty: &FuncType,
    wasm_sig: &ir::Signature,
    counters: bool,
    frontend: TargetFrontendConfig,
) -> Result<(), CodegenFailure> {
    let params = types_of(ty.params())?;
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let (code, vmctx, values) = match *b.block_params(entry) {
        [code, vmctx, values] => (code, vmctx, values),
        _ => return Err(CodegenFailure::Signature("entry trampoline signature")),
    };
    let mut args = Vec::with_capacity(params.len() + 3);
    args.push(vmctx);
    let rt = counters.then(|| runtime_of(&mut b, vmctx));
    if let Some(rt) = rt {
        for off in COUNTER_OFFSETS {
            let v = b.ins().load(I64, runtime_flags(), rt, off);
            args.push(v);
        }
    }
    for (i, &pt) in params.iter().enumerate() {
        args.push(load_slot(&mut b, pt, values, i));
    }
    let sig = b.import_signature(wasm_sig.clone());
    let call = b.ins().call_indirect(sig, code, &args);
    let mut results = b.inst_results(call).to_vec();
    if let Some(rt) = rt {
        let split = results
            .len()
            .checked_sub(2)
            .ok_or(CodegenFailure::Signature("entry trampoline counters"))?;
        let returned = results.split_off(split);
        for (v, off) in returned.into_iter().zip(COUNTER_OFFSETS) {
            b.ins().store(runtime_flags(), v, rt, off);
        }
    }
    for (i, &r) in results.iter().enumerate() {
        store_slot(&mut b, r, values, i);
    }
    b.ins().return_(&[]);
    b.finalize(frontend);
    Ok(())
}

/// Builds the host stub for type `ty` into `func` (whose signature is
/// already the Wasm signature of `ty`). With `counters` (an instrumented
/// module) the stub stores the counters it receives to `VMRuntime`, where
/// the host sees and charges them, and returns them reloaded.
pub(super) fn build_host_stub(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    ty: &FuncType,
    call_conv: CallConv,
    counters: bool,
    frontend: TargetFrontendConfig,
) -> Result<(), CodegenFailure> {
    let results = types_of(ty.results())?;
    let slots = ty.params().len().max(results.len()).max(1);
    let size = u32::try_from(slots * SLOT as usize).map_err(|_| CodegenFailure::TooManyValues)?;
    let mut b = FunctionBuilder::new(func, fctx);
    let array = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let Some((&host_ctx, args)) = params.split_first() else {
        return Err(CodegenFailure::Signature("host stub signature"));
    };
    let (incoming, args) = if counters {
        if args.len() < 2 {
            return Err(CodegenFailure::Signature("host stub signature"));
        }
        args.split_at(2)
    } else {
        (&[][..], args)
    };
    let runtime = runtime_of(&mut b, host_ctx);
    let rt = counters.then_some(runtime);
    if let Some(rt) = rt {
        for (&v, off) in incoming.iter().zip(COUNTER_OFFSETS) {
            b.ins().store(runtime_flags(), v, rt, off);
        }
    }
    let values = b.ins().stack_addr(PTR, array, 0);
    for (i, &a) in args.iter().enumerate() {
        store_slot(&mut b, a, values, i);
    }
    // `VMHostContext` shares `VMContext`'s leading fields, so the builtins
    // table is found at the same offset.
    let builtins = b.ins().load(
        PTR,
        MemFlagsData::trusted().with_readonly(),
        host_ctx,
        vmctx_offsets::BUILTINS,
    );
    let call_host = b.ins().load(
        PTR,
        MemFlagsData::trusted().with_readonly(),
        builtins,
        builtin_offsets::CALL_HOST,
    );
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend([AbiParam::new(PTR); 2]);
    let sig = b.import_signature(sig);
    b.ins().call_indirect(sig, call_host, &[host_ctx, values]);
    // A host function that trapped set `trap_code`: the call ends here
    // (`docs/vm.md`, "Traps: explicit checks"), so Wasm callers never
    // test for a trap after a call.
    let trap = b
        .ins()
        .load(I32, runtime_flags(), runtime, runtime_offsets::TRAP_CODE);
    b.ins().trapnz(trap, super::PROPAGATE_TRAP);
    let mut rets = Vec::with_capacity(results.len() + 2);
    for (i, &ty) in results.iter().enumerate() {
        rets.push(load_slot(&mut b, ty, values, i));
    }
    if let Some(rt) = rt {
        for off in COUNTER_OFFSETS {
            let v = b.ins().load(I64, runtime_flags(), rt, off);
            rets.push(v);
        }
    }
    b.ins().return_(&rets);
    b.finalize(frontend);
    Ok(())
}
