//! Writes an instrumented function body: the original bytes with the
//! analysis' edits spliced in. Nothing here decides anything; the sequences
//! are the ones in `docs/gas.md`, section 5.

use wasm_encoder::{BlockType, Encode, Instruction, ValType};
use wasmparser::FunctionBody;

use super::analysis::{Edit, FunctionPlan, Reindexed, wasm_error};
use super::sections::encode_val_type;
use super::{ChargeSite, Counter};
use crate::InstrumentError;
use crate::abi::{GAS_LEFT_GLOBAL, OUT_OF_GAS_FUNC, STACK_LEFT_GLOBAL, STACK_OVERFLOW_FUNC};

/// Writes the body of one function (locals and instructions, without the
/// size prefix) into `out`, which is cleared first, and the site of every
/// fixed charge it writes into `sites`.
pub(crate) fn write_body(
    out: &mut Vec<u8>,
    sites: &mut Vec<ChargeSite>,
    module: &[u8],
    body: &FunctionBody<'_>,
    plan: &FunctionPlan,
    edits: &[Edit],
    wrapper_type: BlockType,
) -> Result<(), InstrumentError> {
    out.clear();
    let locals = body.get_locals_reader().map_err(wasm_error)?;
    let mut groups = locals.get_count();
    if plan.scratch {
        groups = groups.checked_add(2).ok_or_else(|| {
            super::unsupported(body.range().start as usize, "too many local groups")
        })?;
    }
    groups.encode(out);
    for group in locals {
        let (count, ty) = group.map_err(wasm_error)?;
        count.encode(out);
        encode_val_type(ty, body.range().start as usize)?.encode(out);
    }
    if plan.scratch {
        1u32.encode(out);
        ValType::I32.encode(out);
        1u32.encode(out);
        ValType::I64.encode(out);
    }

    let operators_start = body
        .get_operators_reader()
        .map_err(wasm_error)?
        .original_position() as usize;
    let body_end = body.range().end as usize;
    let bytes = module
        .get(operators_start..body_end)
        .ok_or_else(|| super::decode_error(operators_start, "function body out of range"))?;
    // Injected code adds roughly a third to typical bodies.
    out.reserve(bytes.len() + bytes.len() / 2 + 64);

    if plan.frame > 0 {
        fixed_charge(out, sites, Counter::Stack, plan.frame)?;
    }
    if plan.wrap {
        Instruction::Block(wrapper_type).encode(out);
    }

    let mut cursor = operators_start;
    for edit in edits {
        let pos = edit.pos();
        if pos < cursor || pos > body_end {
            return Err(super::decode_error(pos, "edit outside its function body"));
        }
        out.extend_from_slice(&module[cursor..pos]);
        cursor = pos;
        match *edit {
            Edit::Charge { cost, .. } => {
                if cost > 0 {
                    fixed_charge(out, sites, Counter::Gas, cost)?;
                }
            }
            Edit::DynamicCharge { fee, .. } => dynamic_charge(out, fee, plan.first_scratch),
            Edit::Release { .. } => {
                if plan.frame > 0 {
                    stack_release(out, plan.frame);
                }
            }
            Edit::Reindex { end, instr, .. } => {
                if end < pos || end > body_end {
                    return Err(super::decode_error(pos, "edit outside its function body"));
                }
                match instr {
                    Reindexed::Call(index) => op_index(out, CALL, index),
                    Reindexed::RefFunc(index) => op_index(out, REF_FUNC, index),
                    Reindexed::GlobalGet(index) => op_index(out, GLOBAL_GET, index),
                    Reindexed::GlobalSet(index) => op_index(out, GLOBAL_SET, index),
                }
                cursor = end;
            }
        }
    }
    out.extend_from_slice(&module[cursor..body_end]);

    if plan.wrap {
        if plan.frame > 0 {
            stack_release(out, plan.frame);
        }
        out.push(END);
    }
    Ok(())
}

// Opcodes of the injected instructions. The sequences are written byte by
// byte because they are the bulk of the output.
const BLOCK_EMPTY: u8 = 0x40;
const IF: u8 = 0x04;
const END: u8 = 0x0b;
const CALL: u8 = 0x10;
const LOCAL_GET: u8 = 0x20;
const LOCAL_TEE: u8 = 0x22;
const GLOBAL_GET: u8 = 0x23;
const GLOBAL_SET: u8 = 0x24;
const I64_CONST: u8 = 0x42;
const REF_FUNC: u8 = 0xd2;
const I64_LT_U: u8 = 0x54;
const I64_GT_U: u8 = 0x56;
const I64_ADD: u8 = 0x7c;
const I64_SUB: u8 = 0x7d;
const I64_MUL: u8 = 0x7e;
const I64_EXTEND_I32_U: u8 = 0xad;

fn leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn leb_i64(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn op_index(out: &mut Vec<u8>, opcode: u8, index: u32) {
    out.push(opcode);
    leb_u32(out, index);
}

/// Constants are `u64` values written as the `i64` with the same bits.
fn i64_const(out: &mut Vec<u8>, value: u64) {
    out.push(I64_CONST);
    leb_i64(out, value as i64);
}

fn trap_if_below(out: &mut Vec<u8>, global: u32, amount: u64, trap: u32) {
    op_index(out, GLOBAL_GET, global);
    i64_const(out, amount);
    out.extend_from_slice(&[I64_LT_U, IF, BLOCK_EMPTY]);
    op_index(out, CALL, trap);
    out.push(END);
}

fn subtract(out: &mut Vec<u8>, global: u32, amount: u64) {
    op_index(out, GLOBAL_GET, global);
    i64_const(out, amount);
    out.push(I64_SUB);
    op_index(out, GLOBAL_SET, global);
}

/// The block charge (`docs/gas.md` §5.1) or the frame check (§5.3) of
/// `amount`, recorded as a site.
fn fixed_charge(
    out: &mut Vec<u8>,
    sites: &mut Vec<ChargeSite>,
    counter: Counter,
    amount: u64,
) -> Result<(), InstrumentError> {
    let (global, trap) = match counter {
        Counter::Gas => (GAS_LEFT_GLOBAL, OUT_OF_GAS_FUNC),
        Counter::Stack => (STACK_LEFT_GLOBAL, STACK_OVERFLOW_FUNC),
    };
    let start = out.len();
    trap_if_below(out, global, amount, trap);
    subtract(out, global, amount);
    let too_long = || super::unsupported(start, "function body too large");
    sites.push(ChargeSite {
        offset: u32::try_from(start).map_err(|_| too_long())?,
        len: u32::try_from(out.len() - start).map_err(|_| too_long())?,
        counter,
        amount,
    });
    Ok(())
}

fn stack_release(out: &mut Vec<u8>, frame: u64) {
    op_index(out, GLOBAL_GET, STACK_LEFT_GLOBAL);
    i64_const(out, frame);
    out.push(I64_ADD);
    op_index(out, GLOBAL_SET, STACK_LEFT_GLOBAL);
}

fn dynamic_charge(out: &mut Vec<u8>, fee: u32, first_scratch: u32) {
    let count = first_scratch;
    let cost = first_scratch + 1;
    op_index(out, LOCAL_TEE, count);
    out.push(I64_EXTEND_I32_U);
    i64_const(out, u64::from(fee));
    out.push(I64_MUL);
    op_index(out, LOCAL_TEE, cost);
    op_index(out, GLOBAL_GET, GAS_LEFT_GLOBAL);
    out.extend_from_slice(&[I64_GT_U, IF, BLOCK_EMPTY]);
    op_index(out, CALL, OUT_OF_GAS_FUNC);
    out.push(END);
    op_index(out, GLOBAL_GET, GAS_LEFT_GLOBAL);
    op_index(out, LOCAL_GET, cost);
    out.push(I64_SUB);
    op_index(out, GLOBAL_SET, GAS_LEFT_GLOBAL);
    op_index(out, LOCAL_GET, count);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written encoders agree with wasm-encoder on the edge cases
    /// of signed and unsigned LEB128.
    #[test]
    fn leb_encoders_match_wasm_encoder() {
        let signed = [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            127,
            128,
            i64::from(u32::MAX),
            i64::MAX,
            i64::MIN,
        ];
        for value in signed
            .into_iter()
            .chain([u64::MAX as i64, (1u64 << 63) as i64])
        {
            let mut ours = Vec::new();
            i64_const(&mut ours, value as u64);
            let mut theirs = Vec::new();
            Instruction::I64Const(value).encode(&mut theirs);
            assert_eq!(ours, theirs, "i64.const {value}");
        }
        for value in [0, 1, 127, 128, 16_383, 16_384, u32::MAX] {
            let mut ours = Vec::new();
            op_index(&mut ours, GLOBAL_GET, value);
            let mut theirs = Vec::new();
            Instruction::GlobalGet(value).encode(&mut theirs);
            assert_eq!(ours, theirs, "global.get {value}");
        }
    }

    #[test]
    fn injected_sequences_match_the_documented_instructions() {
        // After three bytes of something else: the site's offset counts
        // from the start of the body.
        let mut ours = vec![0; 3];
        let mut sites = Vec::new();
        fixed_charge(&mut ours, &mut sites, Counter::Gas, 300).expect("fits");
        let mut theirs = vec![0; 3];
        for instruction in [
            Instruction::GlobalGet(GAS_LEFT_GLOBAL),
            Instruction::I64Const(300),
            Instruction::I64LtU,
            Instruction::If(BlockType::Empty),
            Instruction::Call(OUT_OF_GAS_FUNC),
            Instruction::End,
            Instruction::GlobalGet(GAS_LEFT_GLOBAL),
            Instruction::I64Const(300),
            Instruction::I64Sub,
            Instruction::GlobalSet(GAS_LEFT_GLOBAL),
        ] {
            instruction.encode(&mut theirs);
        }
        assert_eq!(ours, theirs);
        let gas = ChargeSite {
            offset: 3,
            len: theirs.len() as u32 - 3,
            counter: Counter::Gas,
            amount: 300,
        };
        assert_eq!(sites, [gas]);

        let before = ours.len();
        fixed_charge(&mut ours, &mut sites, Counter::Stack, 1 << 40).expect("fits");
        for instruction in [
            Instruction::GlobalGet(STACK_LEFT_GLOBAL),
            Instruction::I64Const(1 << 40),
            Instruction::I64LtU,
            Instruction::If(BlockType::Empty),
            Instruction::Call(STACK_OVERFLOW_FUNC),
            Instruction::End,
            Instruction::GlobalGet(STACK_LEFT_GLOBAL),
            Instruction::I64Const(1 << 40),
            Instruction::I64Sub,
            Instruction::GlobalSet(STACK_LEFT_GLOBAL),
        ] {
            instruction.encode(&mut theirs);
        }
        assert_eq!(ours, theirs);
        let stack = ChargeSite {
            offset: before as u32,
            len: (theirs.len() - before) as u32,
            counter: Counter::Stack,
            amount: 1 << 40,
        };
        assert_eq!(sites, [gas, stack]);

        let mut ours = Vec::new();
        dynamic_charge(&mut ours, 7, 3);
        let mut theirs = Vec::new();
        for instruction in [
            Instruction::LocalTee(3),
            Instruction::I64ExtendI32U,
            Instruction::I64Const(7),
            Instruction::I64Mul,
            Instruction::LocalTee(4),
            Instruction::GlobalGet(GAS_LEFT_GLOBAL),
            Instruction::I64GtU,
            Instruction::If(BlockType::Empty),
            Instruction::Call(OUT_OF_GAS_FUNC),
            Instruction::End,
            Instruction::GlobalGet(GAS_LEFT_GLOBAL),
            Instruction::LocalGet(4),
            Instruction::I64Sub,
            Instruction::GlobalSet(GAS_LEFT_GLOBAL),
            Instruction::LocalGet(3),
        ] {
            instruction.encode(&mut theirs);
        }
        assert_eq!(ours, theirs);
    }
}
