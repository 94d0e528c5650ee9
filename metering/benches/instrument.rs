//! Throughput of the front end (validate + instrument) on a large generated
//! module, in input bytes per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use detvm_metering::{Config, Limits, Schedule, StackConfig, instrument, validate};
use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
    MemArg, MemArgTarget, MemorySection, MemoryType, Module, TypeSection, ValType,
};

/// A small deterministic generator, so every run measures the same module.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    fn below(&mut self, bound: u32) -> u32 {
        self.next() % bound
    }
}

const A: u32 = 0;
const B: u32 = 1;
const C: u32 = 2;
const D: u32 = 3;
const WIDE: u32 = 4;

fn mem(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 2,
        target: MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// One straight-line or structured fragment of typical contract code.
fn fragment(f: &mut Function, rng: &mut Lcg, function_index: u32) {
    use Instruction as I;
    match rng.below(7) {
        0 => {
            for instruction in [
                I::LocalGet(A),
                I::LocalGet(B),
                I::I32Add,
                I::I32Const(rng.below(1000) as i32),
                I::I32Mul,
                I::LocalGet(C),
                I::I32Xor,
                I::LocalSet(C),
            ] {
                f.instruction(&instruction);
            }
        }
        1 => {
            let offset = u64::from(rng.below(4096) * 4);
            for instruction in [
                I::LocalGet(A),
                I::I32Const(0xfff),
                I::I32And,
                I::I32Load(mem(offset)),
                I::LocalGet(B),
                I::I32Add,
                I::LocalSet(C),
                I::LocalGet(B),
                I::I32Const(0xfff),
                I::I32And,
                I::LocalGet(C),
                I::I32Store(mem(offset)),
            ] {
                f.instruction(&instruction);
            }
        }
        2 => {
            for instruction in [
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
            ] {
                f.instruction(&instruction);
            }
        }
        3 => {
            for instruction in [
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
            ] {
                f.instruction(&instruction);
            }
        }
        4 => {
            for instruction in [
                I::LocalGet(A),
                I::LocalGet(B),
                I::I32LtS,
                I::If(BlockType::Result(ValType::I32)),
                I::LocalGet(A),
                I::Else,
                I::LocalGet(B),
                I::End,
                I::LocalSet(C),
            ] {
                f.instruction(&instruction);
            }
        }
        5 if function_index > 0 => {
            let callee = rng.below(function_index);
            for instruction in [
                I::LocalGet(C),
                I::I32Const(3),
                I::I32And,
                I::If(BlockType::Empty),
                I::LocalGet(A),
                I::LocalGet(C),
                I::Call(callee),
                I::LocalSet(C),
                I::End,
            ] {
                f.instruction(&instruction);
            }
        }
        _ => {
            for instruction in [
                I::LocalGet(WIDE),
                I::LocalGet(A),
                I::I64ExtendI32U,
                I::I64Const(i64::from(rng.next())),
                I::I64Mul,
                I::I64Add,
                I::I64Const(13),
                I::I64Rotl,
                I::LocalSet(WIDE),
            ] {
                f.instruction(&instruction);
            }
        }
    }
}

/// A module of `functions` functions of about 4 KiB of code each.
fn large_module(functions: u32) -> Vec<u8> {
    let mut rng = Lcg(0x5eed);
    let mut types = TypeSection::new();
    types
        .ty()
        .function([ValType::I32, ValType::I32], [ValType::I32]);
    let mut function_section = FunctionSection::new();
    let mut code = CodeSection::new();
    for index in 0..functions {
        function_section.function(0);
        let mut f = Function::new([(2, ValType::I32), (2, ValType::I64)]);
        for _ in 0..110 {
            fragment(&mut f, &mut rng, index);
        }
        f.instruction(&Instruction::LocalGet(C));
        f.instruction(&Instruction::End);
        code.function(&f);
    }
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(16),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("main", ExportKind::Func, functions - 1);
    let mut module = Module::new();
    module.section(&types);
    module.section(&function_section);
    module.section(&memories);
    module.section(&exports);
    module.section(&code);
    module.finish()
}

fn front_end(c: &mut Criterion) {
    let bytes = large_module(800);
    let mut config = Config::default();
    config.limits = Limits::spec();
    let schedule = Schedule::v1();
    let stack = StackConfig::default();
    let info = validate(&bytes, &config).expect("generated module validates");

    let mut group = c.benchmark_group("front_end");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("validate_and_instrument", |b| {
        b.iter(|| {
            let info = validate(black_box(&bytes), &config).expect("validates");
            instrument(black_box(&bytes), &info, &schedule, &stack).expect("instruments")
        })
    });
    group.bench_function("instrument", |b| {
        b.iter(|| instrument(black_box(&bytes), &info, &schedule, &stack).expect("instruments"))
    });
    // Reference point for this machine: plain wasmparser validation alone.
    group.bench_function("wasmparser_validate_reference", |b| {
        b.iter(|| {
            wasmparser::Validator::new()
                .validate_all(black_box(&bytes))
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, front_end);
criterion_main!(benches);
