//! Generators for modules at each `Limits::contract()` boundary. Shared by
//! the compiler's unit tests and `vm/tests/compile_limits.rs`; each module
//! exports `run: (i32) -> i32`, whose expected result is documented.

#![allow(dead_code)]

use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
    MemArg, MemArgTarget, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// Which construct to nest.
#[derive(Debug, Clone, Copy)]
pub enum Nest {
    /// `block`: `run(1)` is 2.
    Block,
    /// `loop`: `run(1)` is 3.
    Loop,
    /// `if`: `run(1)` is 2.
    If,
}

fn module(types: TypeSection, funcs: FunctionSection, code: CodeSection, memory: bool) -> Vec<u8> {
    let mut m = Module::new();
    m.section(&types);
    m.section(&funcs);
    if memory {
        let mut mem = MemorySection::new();
        mem.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&mem);
    }
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 0);
    m.section(&exports);
    m.section(&code);
    m.finish()
}

fn single(f: &Function, memory: bool) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut code = CodeSection::new();
    code.function(f);
    module(types, funcs, code, memory)
}

/// `depth` nested constructs around code that branches to the outermost.
pub fn nested(kind: Nest, depth: u32) -> Vec<u8> {
    let mut f = Function::new([]);
    for _ in 0..depth {
        match kind {
            Nest::Block => f.instruction(&Instruction::Block(BlockType::Empty)),
            Nest::Loop => f.instruction(&Instruction::Loop(BlockType::Empty)),
            Nest::If => f
                .instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::If(BlockType::Empty)),
        };
    }
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::I32Const(1))
        .instruction(&Instruction::I32Add)
        .instruction(&Instruction::LocalTee(0))
        .instruction(&Instruction::I32Const(3))
        .instruction(&Instruction::I32LtU)
        .instruction(&Instruction::BrIf(depth - 1));
    for _ in 0..depth {
        f.instruction(&Instruction::End);
    }
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::End);
    single(&f, false)
}

/// `n` i64 locals, each set then summed: `run(1)` is `n + n(n-1)/2` (low
/// 32 bits).
pub fn many_locals(n: u32) -> Vec<u8> {
    let mut f = Function::new([(n, ValType::I64)]);
    for i in 0..n {
        f.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I64ExtendI32U)
            .instruction(&Instruction::I64Const(i64::from(i)))
            .instruction(&Instruction::I64Add)
            .instruction(&Instruction::LocalSet(1 + i));
    }
    f.instruction(&Instruction::I64Const(0));
    for i in 0..n {
        f.instruction(&Instruction::LocalGet(1 + i))
            .instruction(&Instruction::I64Add);
    }
    f.instruction(&Instruction::I32WrapI64)
        .instruction(&Instruction::End);
    single(&f, false)
}

/// One function body of at most `max_bytes` bytes of straight-line
/// arithmetic and memory traffic. Returns the module and `run(0)`.
pub fn big_function(max_bytes: usize) -> (Vec<u8>, i32) {
    let mut f = Function::new([]);
    let arg = MemArg {
        offset: 0,
        align: 2,
        target: MemArgTarget::Memory(0),
        ordering: None,
    };
    let mut chunks = 0i32;
    // One chunk is 20 bytes; leave room for the end.
    while f.byte_len() + 20 + 4 <= max_bytes {
        f.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I32Const(0xffc))
            .instruction(&Instruction::I32And)
            .instruction(&Instruction::I32Load(arg))
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I32Add)
            .instruction(&Instruction::I32Const(1))
            .instruction(&Instruction::I32Add)
            .instruction(&Instruction::LocalTee(0))
            .instruction(&Instruction::I32Const(0xffc))
            .instruction(&Instruction::I32And)
            .instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::I32Store(arg));
        chunks += 1;
    }
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::End);
    // Memory stays zero, so every chunk adds one.
    (single(&f, true), chunks)
}

/// `n` functions, each calling the next: `run(k)` is `k` for `k < n`.
pub fn many_functions(n: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for i in 0..n {
        funcs.function(0);
        let mut f = Function::new([]);
        f.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I32Eqz)
            .instruction(&Instruction::If(BlockType::Result(ValType::I32)))
            .instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::Else)
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I32Const(1))
            .instruction(&Instruction::I32Sub)
            .instruction(&Instruction::Call((i + 1) % n))
            .instruction(&Instruction::I32Const(1))
            .instruction(&Instruction::I32Add)
            .instruction(&Instruction::End)
            .instruction(&Instruction::End);
        code.function(&f);
    }
    module(types, funcs, code, false)
}

/// A `br_table` with `targets` entries over four labels (entry `k` goes
/// to label `k % 4`, the default to label 3), optionally carrying a value:
/// `run(k)` is `100 * (1 + min(k, targets) % 4)`, plus 7 with a value.
pub fn wide_br_table(targets: u32, with_value: bool) -> Vec<u8> {
    let bt = if with_value {
        BlockType::Result(ValType::I32)
    } else {
        BlockType::Empty
    };
    let mut f = Function::new([]);
    for _ in 0..4 {
        f.instruction(&Instruction::Block(bt));
    }
    if with_value {
        f.instruction(&Instruction::I32Const(7));
    }
    let table: Vec<u32> = (0..targets).map(|k| k % 4).collect();
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::BrTable(table.into(), 3));
    for label in 0..4 {
        f.instruction(&Instruction::End);
        if !with_value {
            f.instruction(&Instruction::I32Const(0));
        }
        f.instruction(&Instruction::I32Const(100 * (label + 1)))
            .instruction(&Instruction::I32Add);
        if label < 3 {
            f.instruction(&Instruction::Return);
        }
    }
    f.instruction(&Instruction::End);
    single(&f, false)
}
