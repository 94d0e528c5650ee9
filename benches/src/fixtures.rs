//! The fixed workloads: compute kernels, a small contract, and how detvm
//! is set up to run them. The criterion targets and the report use exactly
//! these, so their numbers describe the same work.

use detvm_metering::Limits;
use detvm_vm::{
    Engine, EngineConfig, Error, Func, Instance, Linker, Module, Store, ValType, Value,
};

/// Gas limit of every metered call: large enough that no benchmark runs
/// out, so metered and unmetered runs do the same work.
pub const GAS: u64 = 1 << 62;

/// Compute kernels, all in one module. Exports:
///
/// * `nop: () -> ()`, the empty call;
/// * `loop: (n) -> i32`, a counting loop of `n` iterations with a little
///   arithmetic in the body;
/// * `fib: (n) -> i32`, naive recursive Fibonacci (call-heavy);
/// * `memory_sum: (bytes) -> i64`, the sum of the i64 words in
///   `[0, bytes)` of its 16-page memory (load-heavy, bounds-checked);
/// * `call_host: (n) -> ()`, `n` calls of the imported `env.noop`.
///
/// The start function writes every word of the memory, so `memory_sum`
/// reads ordinary written pages whatever the allocator handed out
/// (untouched zero pages all map one physical page and would flatter it).
pub const KERNELS_WAT: &str = r#"
(module
  (import "env" "noop" (func $noop))
  (memory (export "memory") 16)
  (func $fill
    (local $p i32)
    (loop $next
      (i64.store (local.get $p) (i64.extend_i32_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $next (i32.lt_u (local.get $p) (i32.const 0x100000)))))
  (start $fill)
  (func (export "nop"))
  (func (export "loop") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $next
      (local.set $acc
        (i32.add (local.get $acc) (i32.xor (local.get $i) (i32.const 0x5555))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "memory_sum") (param $bytes i32) (result i64)
    (local $p i32) (local $sum i64)
    (loop $next
      (local.set $sum (i64.add (local.get $sum) (i64.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $next (i32.lt_u (local.get $p) (local.get $bytes))))
    (local.get $sum))
  (func (export "call_host") (param $n i32)
    (loop $next
      (call $noop)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $next (local.get $n))))
)
"#;

/// A small contract as a compiler emits one: a host import, one page of
/// memory (with a maximum), a table filled by an element segment, mutable
/// and immutable globals, a data segment and a handful of exported entry
/// points. Used for the instantiation benchmark.
pub const CONTRACT_WAT: &str = r#"
(module
  (import "env" "log" (func $log (param i32 i32)))
  (type $handler (func (param i32) (result i32)))
  (memory (export "memory") 1 16)
  (table 8 funcref)
  (global $stack_pointer (mut i32) (i32.const 65536))
  (global $calls (mut i64) (i64.const 0))
  (global $fee i64 (i64.const 100))
  (global $heap_base i32 (i32.const 2048))
  (data (i32.const 1024)
    "token: detvm test contract v1\00"
    "error: insufficient balance\00"
    "error: unknown selector\00"
    "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10"
    "\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20")
  (elem (i32.const 0) $balance_of $mint $burn $version)
  (func $balance_of (type $handler)
    (i32.load (i32.add (i32.const 4096) (i32.shl (i32.and (local.get 0) (i32.const 255)) (i32.const 2)))))
  (func $mint (type $handler)
    (local $slot i32)
    (local.set $slot (i32.add (i32.const 4096) (i32.shl (i32.and (local.get 0) (i32.const 255)) (i32.const 2))))
    (i32.store (local.get $slot) (i32.add (i32.load (local.get $slot)) (i32.const 1)))
    (i32.load (local.get $slot)))
  (func $burn (type $handler)
    (local $slot i32)
    (local.set $slot (i32.add (i32.const 4096) (i32.shl (i32.and (local.get 0) (i32.const 255)) (i32.const 2))))
    (if (i32.eqz (i32.load (local.get $slot)))
      (then (call $log (i32.const 1054) (i32.const 27)) (return (i32.const -1))))
    (i32.store (local.get $slot) (i32.sub (i32.load (local.get $slot)) (i32.const 1)))
    (i32.load (local.get $slot)))
  (func $version (type $handler) (i32.const 1))
  (func (export "dispatch") (param $selector i32) (param $arg i32) (result i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (if (i32.ge_u (local.get $selector) (i32.const 4))
      (then (call $log (i32.const 1082) (i32.const 23)) (return (i32.const -2))))
    (call_indirect (type $handler) (local.get $arg) (local.get $selector)))
  (func (export "calls") (result i64) (global.get $calls))
  (func (export "fee") (result i64) (global.get $fee))
)
"#;

/// Which module a kernel is exported by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// [`KERNELS_WAT`]: small hand-written loops.
    Wat,
    /// The `kernels` module built from Rust (`contracts/kernels`), see
    /// [`rust_kernels_wasm`].
    Rust,
}

/// One compute kernel at its benchmark size.
#[derive(Debug, Clone, Copy)]
pub struct Kernel {
    /// Benchmark id.
    pub name: &'static str,
    /// The module that exports it.
    pub source: Source,
    /// The export it calls.
    pub export: &'static str,
    /// Its argument, if it takes one (an `i32`; every kernel returns one
    /// integer).
    pub arg: Option<i32>,
    /// An export to call once per instance before timing, with its
    /// argument: it builds the kernel's input.
    pub prepare: Option<(&'static str, i32)>,
    /// What one call does, for the report.
    pub describe: &'static str,
}

impl Kernel {
    /// The arguments of one call.
    pub fn args(&self) -> Vec<Value> {
        self.arg.map(Value::I32).into_iter().collect()
    }
}

/// The hand-written kernels of [`KERNELS_WAT`], sized so one call takes
/// milliseconds: long enough that call overhead does not matter, short
/// enough for criterion's quick mode.
pub const KERNELS: [Kernel; 3] = [
    Kernel {
        name: "loop",
        source: Source::Wat,
        export: "loop",
        arg: Some(1_000_000),
        prepare: None,
        describe: "counting loop, 10^6 iterations",
    },
    Kernel {
        name: "fib_recursive",
        source: Source::Wat,
        export: "fib",
        arg: Some(25),
        prepare: None,
        describe: "recursive fib(25), 242,785 calls",
    },
    Kernel {
        name: "memory_loop",
        source: Source::Wat,
        export: "memory_sum",
        arg: Some(1 << 20),
        prepare: None,
        describe: "sum of 131,072 i64 loads over 1 MiB",
    },
];

/// The kernels of the Rust-built module (`contracts/kernels`, whose crate
/// documentation describes each), at the sizes it documents.
pub const RUST_KERNELS: [Kernel; 8] = [
    Kernel {
        name: "sha256",
        source: Source::Rust,
        export: "sha256",
        arg: Some(131_072),
        prepare: None,
        describe: "SHA-256 of 128 KiB (`sha2` crate)",
    },
    Kernel {
        name: "keccak256",
        source: Source::Rust,
        export: "keccak256",
        arg: Some(131_072),
        prepare: None,
        describe: "Keccak-256 of 128 KiB (`sha3` crate)",
    },
    Kernel {
        name: "sort",
        source: Source::Rust,
        export: "sort",
        arg: Some(50_000),
        prepare: None,
        describe: "`sort_unstable` of 50,000 `u32`",
    },
    Kernel {
        name: "sort_indirect",
        source: Source::Rust,
        export: "sort_indirect",
        arg: Some(20_000),
        prepare: None,
        describe: "sort of 20,000 `u32`, comparator through `call_indirect`",
    },
    Kernel {
        name: "sieve",
        source: Source::Rust,
        export: "sieve",
        arg: Some(1_000_000),
        prepare: None,
        describe: "sieve of Eratosthenes to 10^6",
    },
    Kernel {
        name: "matmul",
        source: Source::Rust,
        export: "matmul",
        arg: Some(100),
        prepare: None,
        describe: "100×100 `u32` matrix product",
    },
    Kernel {
        name: "json_parse",
        source: Source::Rust,
        export: "json_parse",
        arg: None,
        prepare: Some(("json_prepare", 131_072)),
        describe: "`serde_json` parse of a 128 KiB document into typed records",
    },
    Kernel {
        name: "nbody",
        source: Source::Rust,
        export: "nbody",
        arg: Some(20_000),
        prepare: None,
        describe: "n-body, five bodies, 20,000 `f64` steps",
    },
];

/// The position of the `nbody` kernel in [`RUST_KERNELS`]: the float
/// kernel, also measured on wasmtime with and without NaN
/// canonicalisation.
pub const NBODY: usize = 7;

/// The memory-heavy Rust kernels, measured next to wasmtime in the
/// criterion benchmarks: their speed is mostly the bounds checks'.
pub const MEMORY_HEAVY: [&str; 2] = ["sieve", "matmul"];

/// The Rust-built kernels module, as the test kit's build script built it
/// (`target/contracts`).
pub fn rust_kernels_wasm() -> Vec<u8> {
    detvm_testkit::contracts::wasm("kernels").expect("the kernels module is built")
}

/// The module exporting kernels of `source`.
pub fn kernels_wasm_of(source: Source) -> Vec<u8> {
    match source {
        Source::Wat => kernels_wasm(),
        Source::Rust => rust_kernels_wasm(),
    }
}

/// Host calls made by one `call_host` benchmark iteration.
pub const HOST_CALLS: i32 = 1_000;

/// [`KERNELS_WAT`] as binary.
pub fn kernels_wasm() -> Vec<u8> {
    kernels_wasm_padded(0)
}

/// Code placements the report measures each kernel at (see
/// [`kernels_wasm_padded`]).
pub const PLACEMENTS: u32 = 8;

/// [`KERNELS_WAT`] with a never-called function of `pad` stores compiled
/// before the kernels, which shifts their machine code by a few dozen bytes
/// per step. Cranelift does not align loop headers, so a tight loop's speed
/// depends on where it lands relative to the CPU's fetch windows (up to
/// 1.7× on `loop` on the reference machine); measuring at several
/// placements and taking the median removes that lottery from the
/// metered/unmetered ratio.
pub fn kernels_wasm_padded(pad: u32) -> Vec<u8> {
    let stores: String = (0..pad)
        .map(|k| format!("(i32.store (i32.const {}) (i32.const {k}))", 4 * k))
        .collect();
    let text = KERNELS_WAT.replacen(
        "(func $fill",
        &format!("(func $pad {stores})\n  (func $fill"),
        1,
    );
    wat::parse_str(text).expect("the kernels module is valid text")
}

/// [`CONTRACT_WAT`] as binary.
pub fn contract_wasm() -> Vec<u8> {
    wat::parse_str(CONTRACT_WAT).expect("the contract module is valid text")
}

/// A detvm engine with the default (contract) configuration, with
/// metering on, or off (the engine's measurement-only setting: no
/// instrumentation, so no gas and no deterministic stack bound).
pub fn engine(metering: bool) -> Engine {
    let mut config = EngineConfig::default();
    config.metering = metering;
    Engine::new(config).expect("the host CPU is supported")
}

/// The engine of [`engine`] with the spec limits, for the compile corpus:
/// the 4 MB realistic module has more blocks (about 12 per KB) than the
/// contract limits allow in one module (`blocks_total` = 50,000). Limits
/// only decide what is accepted, never how it is compiled, so the numbers
/// of the smaller modules are the same under either.
pub fn corpus_engine(metering: bool) -> Engine {
    let mut config = EngineConfig::default();
    config.metering = metering;
    config.limits = Limits::spec();
    Engine::new(config).expect("the host CPU is supported")
}

/// The front-end configuration of [`corpus_engine`].
pub fn corpus_config() -> detvm_metering::Config {
    detvm_metering::Config::with_limits(Limits::spec())
}

/// One shape of the adversarial compile corpus
/// (`detvm_fixtures::adversarial::compile_corpus`) at two sizes, `n` and
/// `2n`: comparing their compile times shows whether compilation stays
/// linear.
#[derive(Debug, Clone)]
pub struct AdversarialPair {
    /// The shape's name, used as the benchmark id.
    pub name: &'static str,
    /// What `n` counts.
    pub describe: &'static str,
    /// The smaller size.
    pub n: u32,
    /// The module at `n`.
    pub half: Vec<u8>,
    /// The module at `2n`.
    pub full: Vec<u8>,
}

/// Every compile shape at `n` and `2n`, with `2n` its largest size under
/// the contract limits divided by `shrink` (1 for the real measurement;
/// smoke runs pass more, so shapes that compile slowly stay quick).
pub fn adversarial_pairs(shrink: u32) -> Vec<AdversarialPair> {
    detvm_fixtures::adversarial::compile_corpus()
        .into_iter()
        .map(|shape| {
            let n = (shape.max_n() / shrink.max(1) / 2).max(1);
            AdversarialPair {
                name: shape.name,
                describe: shape.describe,
                n,
                half: shape.module(n),
                full: shape.module(2 * n),
            }
        })
        .collect()
}

/// A linker with the host functions the kernels and the contract import:
/// `env.noop: () -> ()` and `env.log: (i32, i32) -> ()`, both doing
/// nothing.
pub fn linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker.func("env", "noop", &[], &[], |_, _| Ok(Vec::new()));
    linker.func("env", "log", &[ValType::I32, ValType::I32], &[], |_, _| {
        Ok(Vec::new())
    });
    linker
}

/// A compiled module, instantiated in its own store.
pub struct Loaded {
    /// The store.
    pub store: Store<()>,
    /// The instance.
    pub instance: Instance,
}

impl Loaded {
    /// Compiles and instantiates `wasm` with [`linker`].
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<Self, Error> {
        let module = Module::new(engine, wasm)?;
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, &module, &linker(engine))?;
        Ok(Self { store, instance })
    }

    /// The exported function `name`.
    pub fn func(&self, name: &str) -> Func {
        self.instance
            .get_func(&self.store, name)
            .unwrap_or_else(|| panic!("no exported function {name}"))
    }

    /// Calls the export that prepares `kernel`'s input, if it has one.
    pub fn prepare(&mut self, kernel: &Kernel) {
        if let Some((export, arg)) = kernel.prepare {
            let func = self.func(export);
            self.call(func, &[Value::I32(arg)]);
        }
    }

    /// Calls `func` with `args` and [`GAS`], returning the results;
    /// panics on a trap or an error, which would make the timing
    /// meaningless.
    pub fn call(&mut self, func: Func, args: &[Value]) -> Vec<Value> {
        match func.call(&mut self.store, args, GAS) {
            Ok(outcome) => match outcome.results() {
                Some(results) => results.to_vec(),
                None => panic!("benchmark call trapped: {outcome:?}"),
            },
            Err(e) => panic!("benchmark call failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels compute what they should, metered and not: otherwise the
    /// benchmarks would time something else.
    #[test]
    fn kernels_compute_the_right_values() {
        for metering in [true, false] {
            let engine = engine(metering);
            let mut loaded = Loaded::new(&engine, &kernels_wasm()).expect("loads");
            let fib = loaded.func("fib");
            assert_eq!(loaded.call(fib, &[Value::I32(20)]), [Value::I32(6765)]);
            let sum = loaded.func("memory_sum");
            // Words 0, 8, …, 4088: 8 · (0 + 1 + … + 511).
            assert_eq!(
                loaded.call(sum, &[Value::I32(4096)]),
                [Value::I64(8 * 511 * 512 / 2)]
            );
            let host = loaded.func("call_host");
            assert_eq!(loaded.call(host, &[Value::I32(3)]), []);
            let contract = Loaded::new(&engine, &contract_wasm()).expect("loads");
            let mut contract = contract;
            let dispatch = contract.func("dispatch");
            assert_eq!(
                contract.call(dispatch, &[Value::I32(1), Value::I32(7)]),
                [Value::I32(1)]
            );
        }
    }
}
