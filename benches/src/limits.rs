//! Adversarial modules, each at one `Limits::contract()` boundary, built to
//! show that compile time stays linear in module size even where a naive
//! compiler would go quadratic (deep nesting, many locals, huge bodies,
//! many functions, huge `br_table`s). Every module exports
//! `run: (i32) -> i32`.

use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
    MemArg, MemArgTarget, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// One adversarial module.
#[derive(Debug, Clone)]
pub struct LimitModule {
    /// Short stable name, used as the benchmark id.
    pub name: &'static str,
    /// Which limit it sits at, as `Limits` names it, and the value.
    pub limit: &'static str,
    /// The module.
    pub bytes: Vec<u8>,
}

/// Every limit module, in a fixed order.
pub fn all() -> Vec<LimitModule> {
    vec![
        LimitModule {
            name: "nested_blocks_5000",
            limit: "blocks_per_function = 5000 (block)",
            bytes: nested(Nest::Block, 5_000),
        },
        LimitModule {
            name: "nested_loops_5000",
            limit: "blocks_per_function = 5000 (loop)",
            bytes: nested(Nest::Loop, 5_000),
        },
        LimitModule {
            name: "nested_ifs_5000",
            limit: "blocks_per_function = 5000 (if)",
            bytes: nested(Nest::If, 5_000),
        },
        LimitModule {
            name: "locals_4096",
            limit: "locals_per_function = 4096",
            bytes: many_locals(4_096),
        },
        LimitModule {
            name: "function_256k",
            limit: "function_body_size = 256 KiB",
            bytes: big_function(256 << 10),
        },
        LimitModule {
            name: "functions_10000",
            limit: "functions = 10000",
            bytes: many_functions(10_000),
        },
        LimitModule {
            name: "br_table_65536",
            limit: "br_table_targets = 65536",
            bytes: wide_br_table(65_536),
        },
    ]
}

/// The modules of [`all`] at half their size (half the nesting, locals,
/// body bytes, functions, targets), in the same order: comparing the two
/// compile times shows whether cost grows linearly.
pub fn halves() -> Vec<LimitModule> {
    let mut halves = all();
    let half = [
        nested(Nest::Block, 2_500),
        nested(Nest::Loop, 2_500),
        nested(Nest::If, 2_500),
        many_locals(2_048),
        big_function(128 << 10),
        many_functions(5_000),
        wide_br_table(32_768),
    ];
    for (module, bytes) in halves.iter_mut().zip(half) {
        module.bytes = bytes;
    }
    halves
}

/// Which construct [`nested`] nests.
#[derive(Debug, Clone, Copy)]
pub enum Nest {
    /// `block`.
    Block,
    /// `loop`.
    Loop,
    /// `if`.
    If,
}

fn single(f: &Function, memory: bool) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut code = CodeSection::new();
    code.function(f);
    finish(types, funcs, code, memory)
}

fn finish(types: TypeSection, funcs: FunctionSection, code: CodeSection, memory: bool) -> Vec<u8> {
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

/// `n` i64 locals, each set and then all summed.
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
/// arithmetic and memory traffic.
pub fn big_function(max_bytes: usize) -> Vec<u8> {
    let mut f = Function::new([]);
    let arg = MemArg {
        offset: 0,
        align: 2,
        target: MemArgTarget::Memory(0),
        ordering: None,
    };
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
    }
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::End);
    single(&f, true)
}

/// `n` small functions, each calling the next.
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
    finish(types, funcs, code, false)
}

/// A `br_table` with `targets` entries over four labels.
pub fn wide_br_table(targets: u32) -> Vec<u8> {
    let mut f = Function::new([]);
    for _ in 0..4 {
        f.instruction(&Instruction::Block(BlockType::Empty));
    }
    let table: Vec<u32> = (0..targets).map(|k| k % 4).collect();
    f.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::BrTable(table.into(), 3));
    for label in 0..4 {
        f.instruction(&Instruction::End)
            .instruction(&Instruction::I32Const(100 * (label + 1)));
        if label < 3 {
            f.instruction(&Instruction::Return);
        }
    }
    f.instruction(&Instruction::End);
    single(&f, false)
}
