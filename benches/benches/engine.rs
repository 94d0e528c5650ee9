//! Criterion benchmarks of every engine stage: front end (validate +
//! instrument), compilation (realistic modules, the limit modules and the
//! adversarial compile corpus), instantiation, host↔wasm calls, and compute
//! kernels with metering on and off. `cargo bench -p detvm-benches --
//! --test` runs each once (CI).

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use detvm_benches::fixtures::{self, HOST_CALLS, KERNELS, Loaded, RUST_KERNELS};
use detvm_benches::{limits, realistic, token};
use detvm_metering::{Schedule, StackConfig, prepare};
use detvm_vm::{EngineConfig, Instance, Module, Store, Value};

/// Realistic module sizes, in bytes.
const SIZES: [(&str, usize); 4] = [
    ("10KB", 10_000),
    ("100KB", 100_000),
    ("1MB", 1_000_000),
    ("4MB", 4_000_000),
];

fn validate_instrument(c: &mut Criterion) {
    let config = fixtures::corpus_config();
    let schedule = Schedule::default();
    let stack = StackConfig::default();
    let mut group = c.benchmark_group("validate_instrument");
    group.sample_size(10);
    for (name, size) in SIZES {
        let wasm = realistic::module(size, realistic::SEED);
        group.throughput(Throughput::Bytes(wasm.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| prepare(black_box(&wasm), &config, &schedule, &stack).expect("valid"))
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for metering in [true, false] {
        let engine = fixtures::corpus_engine(metering);
        let setting = if metering { "metered" } else { "unmetered" };
        for (name, size) in SIZES {
            let wasm = realistic::module(size, realistic::SEED);
            group.throughput(Throughput::Bytes(wasm.len() as u64));
            group.bench_function(BenchmarkId::new(setting, name), |b| {
                b.iter(|| Module::new(&engine, black_box(&wasm)).expect("compiles"))
            });
        }
    }
    group.finish();
}

/// The limit modules, with the (default) contract configuration. Criterion
/// reports time and bytes/s; the report turns them into time per byte.
fn compile_limits(c: &mut Criterion) {
    let engine = fixtures::engine(true);
    let mut group = c.benchmark_group("compile_limits");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for module in limits::all() {
        group.throughput(Throughput::Bytes(module.bytes.len() as u64));
        group.bench_function(module.name, |b| {
            b.iter(|| Module::new(&engine, black_box(&module.bytes)).expect("compiles"))
        });
    }
    group.finish();
}

/// The adversarial compile corpus, each shape at `n` and `2n` (`2n` its
/// largest size; an eighth of that with `--test`, where some shapes would
/// otherwise take minutes): time(2n) / time(n) is the doubling ratio the
/// report tabulates.
fn compile_adversarial(c: &mut Criterion) {
    let quick = std::env::args().any(|arg| arg == "--test");
    let engine = fixtures::engine(true);
    let mut group = c.benchmark_group("compile_adversarial");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for pair in fixtures::adversarial_pairs(if quick { 8 } else { 1 }) {
        for (size, wasm) in [("n", &pair.half), ("2n", &pair.full)] {
            group.throughput(Throughput::Bytes(wasm.len() as u64));
            group.bench_function(BenchmarkId::new(pair.name, size), |b| {
                b.iter(|| Module::new(&engine, black_box(wasm)).expect("compiles"))
            });
        }
    }
    group.finish();
}

fn instantiate(c: &mut Criterion) {
    let engine = fixtures::engine(true);
    let module = Module::new(&engine, &fixtures::contract_wasm()).expect("compiles");
    let linker = fixtures::linker(&engine);
    let mut group = c.benchmark_group("instantiate");
    // A fresh store and instance, as each transaction gets; dropped
    // outside the timing, as in the report.
    group.bench_function("store_and_instance", |b| {
        b.iter_with_large_drop(|| {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
            (store, instance)
        })
    });
    // The instance alone, into a store made (and dropped) outside the timing.
    group.bench_function("instance", |b| {
        b.iter_batched_ref(
            || Store::new(&engine, ()),
            |store| Instance::new(store, &module, &linker).expect("instantiates"),
            BatchSize::SmallInput,
        )
    });
    // Modules whose segments would make instantiation expensive if it did
    // per-instance work per segment item: it should cost about what the
    // small contract does (plus the charged initial memory).
    for (name, wasm) in [
        ("passive_elements_4M", segments::big_passive_elements()),
        ("overlapping_data_1000x4KB", segments::overlapping_data()),
        ("tables_at_limits", segments::tables_at_limits()),
    ] {
        let module = Module::new(&engine, &wasm).expect("compiles");
        let linker = detvm_vm::Linker::new(&engine);
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || Store::new(&engine, ()),
                |store| Instance::new(store, &module, &linker).expect("instantiates"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Modules at the contract limits for the instantiation cases.
mod segments {
    use wasm_encoder::{
        CodeSection, ConstExpr, DataSection, ElementSection, Elements, ExportKind, ExportSection,
        Function, FunctionSection, MemorySection, MemoryType, Module, RefType, TableSection,
        TableType, TypeSection,
    };

    fn funcref_table(slots: u64) -> TableType {
        TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: slots,
            maximum: Some(slots),
            shared: false,
        }
    }

    /// `n` functions `[] -> []` with empty bodies, exporting the first.
    fn empty_functions(module: &mut Module, n: u32) -> (FunctionSection, CodeSection) {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for _ in 0..n {
            funcs.function(0);
            let mut f = Function::new([]);
            f.instructions().end();
            code.function(&f);
        }
        (funcs, code)
    }

    /// One passive segment of 4,150,000 function indices (nearly the
    /// 4 MiB module size), never used.
    pub fn big_passive_elements() -> Vec<u8> {
        let mut module = Module::new();
        let (funcs, code) = empty_functions(&mut module, 2);
        module.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(funcref_table(1));
        module.section(&tables);
        let mut elements = ElementSection::new();
        let items: Vec<u32> = (0..4_150_000).map(|i| i % 2).collect();
        elements.passive(Elements::Functions(items.into()));
        module.section(&elements).section(&code);
        module.finish()
    }

    /// 1,000 active data segments (the limit) of 4,000 bytes, all into one
    /// 64 KiB page.
    pub fn overlapping_data() -> Vec<u8> {
        let mut module = Module::new();
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        let mut data = DataSection::new();
        for i in 0..1_000u32 {
            let offset = (i * 7_919) % (65_536 - 4_000);
            let bytes = (0..4_000u32).map(move |j| (i + j) as u8);
            data.active(0, &ConstExpr::i32_const(offset as i32), bytes);
        }
        module.section(&data);
        module.finish()
    }

    /// The largest instance the contract limits allow besides memory:
    /// 10,000 functions, two tables of 10,000 slots, each filled by one
    /// active segment, and 1,000 overlapping active segments of 100 items.
    pub fn tables_at_limits() -> Vec<u8> {
        let mut module = Module::new();
        let (funcs, code) = empty_functions(&mut module, 10_000);
        module.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(funcref_table(10_000));
        tables.table(funcref_table(10_000));
        module.section(&tables);
        let mut exports = ExportSection::new();
        exports.export("f", ExportKind::Func, 0);
        module.section(&exports);
        let mut elements = ElementSection::new();
        for table in 0..2 {
            let items: Vec<u32> = (0..10_000).collect();
            elements.active(
                Some(table),
                &ConstExpr::i32_const(0),
                Elements::Functions(items.into()),
            );
        }
        for i in 0..998u32 {
            let items: Vec<u32> = (0..100).map(|j| (i + j) % 10_000).collect();
            elements.active(
                Some(i % 2),
                &ConstExpr::i32_const(((i * 97) % 9_900) as i32),
                Elements::Functions(items.into()),
            );
        }
        module.section(&elements).section(&code);
        module.finish()
    }
}

fn calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_empty");
    for metering in [true, false] {
        let engine = fixtures::engine(metering);
        let mut loaded = Loaded::new(&engine, &fixtures::kernels_wasm()).expect("loads");
        let nop = loaded.func("nop");
        let setting = if metering { "metered" } else { "unmetered" };
        group.bench_function(BenchmarkId::new("func", setting), |b| {
            b.iter(|| loaded.call(nop, &[]))
        });
        // Through a `TypedFunc`: the signature checked once, no allocation.
        let typed = nop.typed::<(), ()>(&loaded.store).expect("nop is [] -> []");
        group.bench_function(BenchmarkId::new("typed", setting), |b| {
            b.iter(|| {
                typed
                    .call(&mut loaded.store, (), fixtures::GAS)
                    .expect("calls")
            })
        });
        // Through `Instance::call`, which also looks the export up by name.
        group.bench_function(BenchmarkId::new("by_name", setting), |b| {
            b.iter(|| {
                loaded
                    .instance
                    .call(&mut loaded.store, "nop", &[], fixtures::GAS)
                    .expect("calls")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("call_host");
    group.throughput(Throughput::Elements(HOST_CALLS as u64));
    for metering in [true, false] {
        let engine = fixtures::engine(metering);
        let mut loaded = Loaded::new(&engine, &fixtures::kernels_wasm()).expect("loads");
        let call_host = loaded.func("call_host");
        let setting = if metering { "metered" } else { "unmetered" };
        group.bench_function(setting, |b| {
            b.iter(|| loaded.call(call_host, &[Value::I32(HOST_CALLS)]))
        });
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    for kernel in KERNELS.iter().chain(&RUST_KERNELS) {
        let wasm = fixtures::kernels_wasm_of(kernel.source);
        let mut group = c.benchmark_group(kernel.name);
        group.sample_size(20);
        for metering in [true, false] {
            let engine = fixtures::engine(metering);
            let mut loaded = Loaded::new(&engine, &wasm).expect("loads");
            loaded.prepare(kernel);
            let func = loaded.func(kernel.export);
            let args = kernel.args();
            let setting = if metering { "metered" } else { "unmetered" };
            group.bench_function(setting, |b| b.iter(|| loaded.call(func, black_box(&args))));
        }
        // The float kernel next to wasmtime with and without Cranelift's
        // NaN canonicalisation, which detvm replaced by its own placement
        // (`docs/vm.md`, "Floats"); the memory-heavy kernels next to
        // wasmtime, whose guard pages need no bounds checks where detvm
        // checks stores explicitly (`docs/vm.md`, "Faulting loads",
        // "Checks" and "Proven loops").
        #[cfg(feature = "peers")]
        {
            let settings: &[(&str, bool)] = if kernel.name == RUST_KERNELS[fixtures::NBODY].name {
                &[("wasmtime", false), ("wasmtime_nan_canon", true)]
            } else if fixtures::MEMORY_HEAVY.contains(&kernel.name) {
                &[("wasmtime", false)]
            } else {
                &[]
            };
            for &(setting, canonicalize) in settings {
                let mut peer = detvm_benches::peers::WasmtimeKernel::new(kernel, canonicalize);
                group.bench_function(setting, |b| b.iter(|| peer.call()));
            }
        }
        group.finish();
    }
}

/// Token transfers through the chain (instantiate, run, commit per call),
/// per transfer.
fn token_transfers(c: &mut Criterion) {
    let code = detvm_testkit::contracts::wasm("token").expect("the token contract is built");
    let mut chain = token::TokenChain::new(&code).expect("sets up");
    let mut group = c.benchmark_group("token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("transfer", |b| {
        b.iter(|| chain.transfers(1).expect("transfers"))
    });
    group.finish();
}

/// The engine's own setup, for completeness: creating an `Engine` (ISA
/// detection and flags) is paid once per process.
fn engine_new(c: &mut Criterion) {
    c.bench_function("engine_new", |b| {
        b.iter(|| detvm_vm::Engine::new(EngineConfig::default()).expect("engine"))
    });
}

criterion_group!(
    benches,
    validate_instrument,
    compile,
    compile_limits,
    compile_adversarial,
    instantiate,
    calls,
    kernels,
    token_transfers,
    engine_new
);
criterion_main!(benches);
