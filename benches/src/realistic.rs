//! Generated contract-like modules of a chosen size: many functions mixing
//! arithmetic, memory traffic, branches, loops, direct and indirect calls
//! and globals, as compiled contract code does.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ElementSection, Elements, ExportKind,
    ExportSection, Function, FunctionSection, GlobalSection, GlobalType, Instruction, MemArg,
    MemArgTarget, MemorySection, MemoryType, Module, RefType, TableSection, TableType, TypeSection,
    ValType,
};

use crate::Lcg;

/// The seed every benchmark uses, so each run measures the same bytes.
pub const SEED: u64 = 0x5eed_0001;

// Locals of every generated function: two i32 parameters, then two i32 and
// one i64 declared locals.
const A: u32 = 0;
const B: u32 = 1;
const C: u32 = 2;
const D: u32 = 3;
const WIDE: u32 = 4;

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        target: MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// Appends one fragment of typical contract code to `f`. Only functions
/// with a lower index are called, so the generated code never recurses and
/// every loop is bounded: the module is runnable, not just compilable.
fn fragment(f: &mut Function, rng: &mut Lcg, function_index: u32) {
    use Instruction as I;
    let code: Vec<Instruction<'static>> = match rng.below(10) {
        0 => vec![
            I::LocalGet(A),
            I::LocalGet(B),
            I::I32Add,
            I::I32Const(rng.below(1000) as i32),
            I::I32Mul,
            I::LocalGet(C),
            I::I32Xor,
            I::LocalSet(C),
        ],
        1 => {
            let offset = u64::from(rng.below(4096) * 4);
            vec![
                I::LocalGet(A),
                I::I32Const(0xfff),
                I::I32And,
                I::I32Load(mem(offset, 2)),
                I::LocalGet(B),
                I::I32Add,
                I::LocalSet(C),
                I::LocalGet(B),
                I::I32Const(0xfff),
                I::I32And,
                I::LocalGet(C),
                I::I32Store(mem(offset, 2)),
            ]
        }
        2 => vec![
            I::Block(BlockType::Empty),
            I::LocalGet(C),
            I::I32Const(rng.below(16) as i32),
            I::I32GtU,
            I::BrIf(0),
            I::LocalGet(A),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(A),
            I::End,
        ],
        3 => vec![
            I::I32Const(rng.below(8) as i32 + 1),
            I::LocalSet(D),
            I::Loop(BlockType::Empty),
            I::LocalGet(C),
            I::LocalGet(D),
            I::I32Add,
            I::LocalSet(C),
            I::LocalGet(D),
            I::I32Const(1),
            I::I32Sub,
            I::LocalTee(D),
            I::BrIf(0),
            I::End,
        ],
        4 => vec![
            I::LocalGet(A),
            I::LocalGet(B),
            I::I32LtS,
            I::If(BlockType::Result(ValType::I32)),
            I::LocalGet(A),
            I::Else,
            I::LocalGet(B),
            I::End,
            I::LocalSet(C),
        ],
        5 if function_index > 0 => vec![
            I::LocalGet(C),
            I::I32Const(3),
            I::I32And,
            I::If(BlockType::Empty),
            I::LocalGet(A),
            I::LocalGet(C),
            I::Call(rng.below(function_index)),
            I::LocalSet(C),
            I::End,
        ],
        6 if function_index > 0 => vec![
            I::LocalGet(C),
            I::I32Const(7),
            I::I32And,
            I::I32Eqz,
            I::If(BlockType::Empty),
            I::LocalGet(B),
            I::LocalGet(A),
            I::I32Const(rng.below(function_index) as i32),
            I::CallIndirect {
                type_index: 0,
                table_index: 0,
            },
            I::LocalSet(C),
            I::End,
        ],
        7 => {
            let offset = u64::from(rng.below(2048) * 8);
            vec![
                I::LocalGet(B),
                I::I32Const(0xff8),
                I::I32And,
                I::LocalGet(B),
                I::I32Const(0xff8),
                I::I32And,
                I::I64Load(mem(offset, 3)),
                I::LocalGet(WIDE),
                I::I64Add,
                I::I64Store(mem(offset, 3)),
                I::LocalGet(A),
                I::I32Load8U(mem(u64::from(rng.below(4096)), 0)),
                I::LocalGet(C),
                I::I32Add,
                I::LocalSet(C),
            ]
        }
        8 => {
            let global = rng.below(GLOBALS);
            vec![
                I::GlobalGet(global),
                I::LocalGet(C),
                I::I32Add,
                I::I32Const(rng.below(31) as i32 + 1),
                I::I32Rotl,
                I::GlobalSet(global),
            ]
        }
        _ => vec![
            I::LocalGet(WIDE),
            I::LocalGet(A),
            I::I64ExtendI32U,
            I::I64Const(i64::from(rng.next_u32())),
            I::I64Mul,
            I::I64Add,
            I::I64Const(13),
            I::I64Rotl,
            I::LocalSet(WIDE),
        ],
    };
    for instruction in &code {
        f.instruction(instruction);
    }
}

const GLOBALS: u32 = 8;

/// A module of at least `target_bytes` bytes (and at most one function
/// more), generated from `seed`.
///
/// Every function has type `(i32, i32) -> i32` and 10 to 120 fragments of
/// code (about 0.2 to 2.5 KiB). The module has one memory of one page, a
/// table holding every function (for `call_indirect`), eight mutable
/// globals, a 256-byte data segment, and exports its last function as
/// `main`. Same `seed` and size, same bytes.
pub fn module(target_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Lcg::new(seed);
    let mut code = CodeSection::new();
    let mut functions = 0u32;
    // Sections other than code stay under a few KiB; the code section
    // dominates, so it is what grows to the target.
    while code.byte_len() < target_bytes.saturating_sub(512) {
        let mut f = Function::new([(2, ValType::I32), (1, ValType::I64)]);
        for _ in 0..10 + rng.below(111) {
            fragment(&mut f, &mut rng, functions);
        }
        f.instruction(&Instruction::LocalGet(C));
        f.instruction(&Instruction::End);
        code.function(&f);
        functions += 1;
    }

    let mut types = TypeSection::new();
    types
        .ty()
        .function([ValType::I32, ValType::I32], [ValType::I32]);
    let mut function_section = FunctionSection::new();
    for _ in 0..functions {
        function_section.function(0);
    }
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: u64::from(functions),
        maximum: Some(u64::from(functions)),
        shared: false,
    });
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(16),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    for g in 0..GLOBALS {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(g as i32 * 17),
        );
    }
    let mut exports = ExportSection::new();
    exports.export("main", ExportKind::Func, functions - 1);
    exports.export("memory", ExportKind::Memory, 0);
    let mut elements = ElementSection::new();
    let all: Vec<u32> = (0..functions).collect();
    elements.active(
        Some(0),
        &ConstExpr::i32_const(0),
        Elements::Functions(all.into()),
    );
    let mut data = DataSection::new();
    let bytes: Vec<u8> = (0..256).map(|_| rng.next_u32() as u8).collect();
    data.active(0, &ConstExpr::i32_const(1024), bytes);

    let mut module = Module::new();
    module.section(&types);
    module.section(&function_section);
    module.section(&tables);
    module.section(&memories);
    module.section(&globals);
    module.section(&exports);
    module.section(&elements);
    module.section(&code);
    module.section(&data);
    module.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_close_to_size() {
        for target in [10_000, 100_000] {
            let a = module(target, SEED);
            assert_eq!(a, module(target, SEED));
            assert!(
                a.len() >= target - 512 && a.len() < target + 4096,
                "{}",
                a.len()
            );
        }
    }
}
