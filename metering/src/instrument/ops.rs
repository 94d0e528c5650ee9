//! Cost class and operand-stack shape of the operators whose stack effect
//! does not depend on module context (numeric, memory, table and reference
//! operators). Control, variable and call operators are handled by the
//! analysis itself, which needs types from the module.

use wasmparser::Operator;

use crate::schedule::{CostClass, UnitFee};

/// What a context-free operator costs and does to the operand stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub class: CostClass,
    /// Operands popped.
    pub pops: u8,
    /// Size in bytes of the single result pushed, or 0 for none.
    pub push: u8,
    /// The per-unit fee charged from the `i32` count on top of the stack.
    pub fee: Option<UnitFee>,
}

const fn shape(class: CostClass, pops: u8, push: u8) -> Shape {
    Shape {
        class,
        pops,
        push,
        fee: None,
    }
}

const fn priced(class: CostClass, pops: u8, push: u8, fee: UnitFee) -> Shape {
    Shape {
        class,
        pops,
        push,
        fee: Some(fee),
    }
}

/// The shape of a context-free operator of the profile, or `None` if the
/// operator is not context-free or not in the profile.
pub(crate) fn shape_of(op: &Operator<'_>) -> Option<Shape> {
    use CostClass::*;
    use Operator as O;
    let shape = match op {
        O::I32Const { .. } | O::F32Const { .. } => shape(Constant, 0, 4),
        O::I64Const { .. } | O::F64Const { .. } => shape(Constant, 0, 8),

        O::I32Eqz
        | O::I32Clz
        | O::I32Ctz
        | O::I32Popcnt
        | O::I32Extend8S
        | O::I32Extend16S
        | O::I64Eqz => shape(IntSimple, 1, 4),
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
        | O::I32Add
        | O::I32Sub
        | O::I32And
        | O::I32Or
        | O::I32Xor
        | O::I32Shl
        | O::I32ShrS
        | O::I32ShrU
        | O::I32Rotl
        | O::I32Rotr
        | O::I64Eq
        | O::I64Ne
        | O::I64LtS
        | O::I64LtU
        | O::I64GtS
        | O::I64GtU
        | O::I64LeS
        | O::I64LeU
        | O::I64GeS
        | O::I64GeU => shape(IntSimple, 2, 4),
        O::I64Clz
        | O::I64Ctz
        | O::I64Popcnt
        | O::I64Extend8S
        | O::I64Extend16S
        | O::I64Extend32S => shape(IntSimple, 1, 8),
        O::I64Add
        | O::I64Sub
        | O::I64And
        | O::I64Or
        | O::I64Xor
        | O::I64Shl
        | O::I64ShrS
        | O::I64ShrU
        | O::I64Rotl
        | O::I64Rotr => shape(IntSimple, 2, 8),
        O::I32Mul => shape(IntMul, 2, 4),
        O::I64Mul => shape(IntMul, 2, 8),
        O::I32DivS | O::I32DivU | O::I32RemS | O::I32RemU => shape(IntDiv, 2, 4),
        O::I64DivS | O::I64DivU | O::I64RemS | O::I64RemU => shape(IntDiv, 2, 8),

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
        | O::F64Ge
        | O::F32Add
        | O::F32Sub
        | O::F32Mul
        | O::F32Min
        | O::F32Max
        | O::F32Copysign => shape(FloatSimple, 2, 4),
        O::F32Abs | O::F32Neg | O::F32Ceil | O::F32Floor | O::F32Trunc | O::F32Nearest => {
            shape(FloatSimple, 1, 4)
        }
        O::F64Abs | O::F64Neg | O::F64Ceil | O::F64Floor | O::F64Trunc | O::F64Nearest => {
            shape(FloatSimple, 1, 8)
        }
        O::F64Add | O::F64Sub | O::F64Mul | O::F64Min | O::F64Max | O::F64Copysign => {
            shape(FloatSimple, 2, 8)
        }
        O::F32Div => shape(FloatDiv, 2, 4),
        O::F64Div => shape(FloatDiv, 2, 8),
        O::F32Sqrt => shape(FloatDiv, 1, 4),
        O::F64Sqrt => shape(FloatDiv, 1, 8),

        O::I32WrapI64
        | O::I32TruncF32S
        | O::I32TruncF32U
        | O::I32TruncF64S
        | O::I32TruncF64U
        | O::I32TruncSatF32S
        | O::I32TruncSatF32U
        | O::I32TruncSatF64S
        | O::I32TruncSatF64U
        | O::F32ConvertI32S
        | O::F32ConvertI32U
        | O::F32ConvertI64S
        | O::F32ConvertI64U
        | O::F32DemoteF64
        | O::I32ReinterpretF32
        | O::F32ReinterpretI32 => shape(Conversion, 1, 4),
        O::I64ExtendI32S
        | O::I64ExtendI32U
        | O::I64TruncF32S
        | O::I64TruncF32U
        | O::I64TruncF64S
        | O::I64TruncF64U
        | O::I64TruncSatF32S
        | O::I64TruncSatF32U
        | O::I64TruncSatF64S
        | O::I64TruncSatF64U
        | O::F64ConvertI32S
        | O::F64ConvertI32U
        | O::F64ConvertI64S
        | O::F64ConvertI64U
        | O::F64PromoteF32
        | O::I64ReinterpretF64
        | O::F64ReinterpretI64 => shape(Conversion, 1, 8),

        O::I32Load { .. }
        | O::F32Load { .. }
        | O::I32Load8S { .. }
        | O::I32Load8U { .. }
        | O::I32Load16S { .. }
        | O::I32Load16U { .. } => shape(Load, 1, 4),
        O::I64Load { .. }
        | O::F64Load { .. }
        | O::I64Load8S { .. }
        | O::I64Load8U { .. }
        | O::I64Load16S { .. }
        | O::I64Load16U { .. }
        | O::I64Load32S { .. }
        | O::I64Load32U { .. } => shape(Load, 1, 8),
        O::I32Store { .. }
        | O::I64Store { .. }
        | O::F32Store { .. }
        | O::F64Store { .. }
        | O::I32Store8 { .. }
        | O::I32Store16 { .. }
        | O::I64Store8 { .. }
        | O::I64Store16 { .. }
        | O::I64Store32 { .. } => shape(Store, 2, 0),

        O::MemorySize { .. } => shape(MemorySize, 0, 4),
        O::MemoryGrow { .. } => priced(MemoryGrow, 1, 4, UnitFee::MemoryPage),
        O::MemoryFill { .. } | O::MemoryCopy { .. } | O::MemoryInit { .. } => {
            priced(MemoryBulk, 3, 0, UnitFee::MemoryByte)
        }
        O::DataDrop { .. } | O::ElemDrop { .. } => shape(SegmentDrop, 0, 0),

        O::TableGet { .. } => shape(TableAccess, 1, 8),
        O::TableSet { .. } => shape(TableAccess, 2, 0),
        O::TableSize { .. } => shape(TableAccess, 0, 4),
        O::TableGrow { .. } => priced(TableGrow, 2, 4, UnitFee::TableElement),
        O::TableFill { .. } | O::TableCopy { .. } | O::TableInit { .. } => {
            priced(TableBulk, 3, 0, UnitFee::TableElement)
        }

        O::RefNull { .. } => shape(Reference, 0, 8),
        O::RefIsNull => shape(Reference, 1, 4),
        _ => return None,
    };
    Some(shape)
}

/// A short name for an operator in error messages.
pub(crate) fn operator_name(op: &Operator<'_>) -> String {
    let debug = format!("{op:?}");
    match debug.find([' ', '{', '(']) {
        Some(end) => debug[..end].to_string(),
        None => debug,
    }
}
