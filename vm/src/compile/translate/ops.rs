//! The lowering of single operators: arithmetic, comparisons and
//! conversions with Wasm's explicit traps, loads and stores, globals,
//! tables and builtins, and the dispatch over every operator of the
//! profile.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I8, I16, I32, I64};
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Value};
use wasmparser::{MemArg, Operator};

use crate::compile::func_env::nan::Nan;
use crate::compile::func_env::{self, Builtin, PTR, Translator};
use crate::compile::{CompileError, TranslateProblem};
use crate::vmctx::TrapCode;

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

    /// Integer division and remainder with Wasm's explicit traps.
    fn divrem(&mut self, ty: ir::Type, signed: bool, rem: bool) -> Result<(), CompileError> {
        let (lhs, rhs) = self.pop2()?;
        let known = func_env::iconst(&self.b.func.dfg, rhs)
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
        let (p, off, flags) = self.heap_addr(addr, memarg.offset, size, false);
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
        let (p, off, flags) = self.heap_addr(addr, memarg.offset, size, true);
        let ty = self.b.func.dfg.value_type(v);
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
                    .ok_or_else(|| self.invariant("memory.grow returned nothing"))?;
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
                let v = self.b.ins().load(PTR, func_env::state_flags(), addr, 0);
                self.push(v);
            }
            O::TableSet { table } => {
                let (index, v) = self.pop2()?;
                let addr = self.table_elem_addr(table, index);
                self.check_gas();
                self.b.ins().store(func_env::state_flags(), v, addr, 0);
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
                    .ok_or_else(|| self.invariant("table.grow returned nothing"))?;
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
                return Err(self.err(TranslateProblem::Operator {
                    operator: format!("{other:?}"),
                }));
            }
        }
        Ok(false)
    }
}
