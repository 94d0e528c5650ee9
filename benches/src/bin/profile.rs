//! Runs one workload in a loop, for a profiler (`perf record`, callgrind):
//!
//! ```sh
//! cargo build --release -p detvm-benches --bin profile
//! perf record -g target/release/profile limit nested_ifs_5000 metered 5
//! ```
//!
//! Usage: `profile WHAT NAME metered|unmetered [REPEAT]`, where `WHAT` is
//! `limit` (compile a limit module), `prepare` (validate + instrument a
//! limit module), `compile` (a realistic module of NAME bytes, or the
//! Wasm file NAME), `kernel`,
//! `adversarial` (compile an adversarial compile shape at its largest
//! size, or at 1/D of it with NAME `shape/D`), `call` (REPEAT host→Wasm
//! calls of the kernels module's export NAME, without arguments, as the
//! `call_empty` benchmark makes them),
//! or `token` (NAME `transfers`: REPEAT × `token::TRANSFERS` token
//! transfers through the chain; the chain always meters).
//! A limit module's NAME may be prefixed with `half:` for its half size.
//! With the `peers` feature, `wasmtime-kernel NAME plain|canonical`
//! runs a Rust kernel on wasmtime without fuel (`canonical`: with its NaN
//! canonicalisation), and `wasmtime-limit NAME backtracking|single_pass`
//! compiles a limit module with wasmtime (the same Cranelift) and the given
//! register allocator, to tell the code generator's costs from detvm's;
//! `wasmtime-compile NAME plain|fuel` compiles what `compile` does
//! with wasmtime's default settings (`fuel`: with fuel
//! metering, wasmtime's counterpart of detvm's metered code).

use std::time::Instant;

use detvm_benches::fixtures::{self, KERNELS, Loaded, RUST_KERNELS};
use detvm_benches::{limits, realistic, token};
use detvm_metering::{Config, Schedule, StackConfig, prepare};
use detvm_vm::Module;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [what, name, setting, rest @ ..] = &args[..] else {
        eprintln!(
            "usage: profile limit|prepare|adversarial|compile|kernel|call|token NAME metered|unmetered [REPEAT]"
        );
        std::process::exit(2)
    };
    let metering = setting == "metered";
    let repeat: u32 = rest.first().and_then(|r| r.parse().ok()).unwrap_or(1);
    let engine = fixtures::engine(metering);
    // `half:NAME` is the module of `limits::halves` with that name.
    let limit = |name: &str| {
        let (modules, name) = match name.strip_prefix("half:") {
            Some(name) => (limits::halves(), name),
            None => (limits::all(), name),
        };
        modules
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.bytes)
            .unwrap_or_else(|| panic!("no limit module {name}"))
    };
    let start = Instant::now();
    match what.as_str() {
        "limit" => {
            let bytes = limit(name);
            for _ in 0..repeat {
                Module::new(&engine, &bytes).expect("compiles");
            }
        }
        "prepare" => {
            let bytes = limit(name);
            for _ in 0..repeat {
                prepare(
                    &bytes,
                    &Config::default(),
                    &Schedule::default(),
                    &StackConfig::default(),
                )
                .expect("valid");
            }
        }
        "adversarial" => {
            let (shape_name, divisor) = match name.split_once('/') {
                Some((shape, d)) => (shape, d.parse::<u32>().expect("a divisor")),
                None => (name.as_str(), 1),
            };
            let shape = detvm_fixtures::adversarial::compile_corpus()
                .into_iter()
                .find(|s| s.name == shape_name)
                .unwrap_or_else(|| panic!("no adversarial shape {shape_name}"));
            let bytes = shape.module(shape.max_n() / divisor.max(1));
            let compile_start = Instant::now();
            for _ in 0..repeat {
                Module::new(&engine, &bytes).expect("compiles");
            }
            eprintln!(
                "{} bytes, compiled in {:?}",
                bytes.len(),
                compile_start.elapsed()
            );
        }
        "compile" => {
            let engine = fixtures::corpus_engine(metering);
            let bytes = compile_input(name);
            for _ in 0..repeat {
                Module::new(&engine, &bytes).expect("compiles");
            }
        }
        "kernel" => {
            let kernel = KERNELS
                .iter()
                .chain(&RUST_KERNELS)
                .find(|k| k.name == name)
                .unwrap_or_else(|| panic!("no kernel {name}"));
            let wasm = fixtures::kernels_wasm_of(kernel.source);
            let mut loaded = Loaded::new(&engine, &wasm).expect("loads");
            loaded.prepare(kernel);
            let func = loaded.func(kernel.export);
            let args = kernel.args();
            for _ in 0..repeat {
                loaded.call(func, &args);
            }
        }
        "call" => {
            let mut loaded = Loaded::new(&engine, &fixtures::kernels_wasm()).expect("loads");
            let func = loaded.func(name);
            for _ in 0..repeat {
                loaded.call(func, &[]);
            }
        }
        "token" => {
            let code = detvm_testkit::contracts::wasm("token").expect("the token is built");
            let mut chain = token::TokenChain::new(&code).expect("sets up");
            for _ in 0..repeat {
                chain.transfers(token::TRANSFERS).expect("transfers");
            }
        }
        #[cfg(feature = "peers")]
        "wasmtime-kernel" => {
            let kernel = RUST_KERNELS
                .iter()
                .find(|k| k.name == name)
                .unwrap_or_else(|| panic!("no Rust kernel {name}"));
            let mut peer =
                detvm_benches::peers::WasmtimeKernel::new(kernel, setting == "canonical");
            for _ in 0..repeat {
                peer.call();
            }
        }
        #[cfg(feature = "peers")]
        "wasmtime-compile" => {
            let bytes = compile_input(name);
            let mut config = wasmtime::Config::new();
            config.consume_fuel(setting == "fuel");
            let engine = wasmtime::Engine::new(&config).expect("wasmtime engine");
            for _ in 0..repeat {
                wasmtime::Module::new(&engine, &bytes).expect("compiles");
            }
        }
        #[cfg(feature = "peers")]
        "wasmtime-limit" => {
            let bytes = limit(name);
            let mut config = wasmtime::Config::new();
            config.cranelift_regalloc_algorithm(if setting == "single_pass" {
                wasmtime::RegallocAlgorithm::SinglePass
            } else {
                wasmtime::RegallocAlgorithm::Backtracking
            });
            let engine = wasmtime::Engine::new(&config).expect("wasmtime engine");
            for _ in 0..repeat {
                wasmtime::Module::new(&engine, &bytes).expect("compiles");
            }
        }
        other => panic!("unknown workload {other}"),
    }
    eprintln!("{what} {name} {setting} ×{repeat}: {:?}", start.elapsed());
}

/// What the compile modes compile: a size names a realistic module of that
/// many bytes; anything else, a Wasm file (an example contract).
fn compile_input(name: &str) -> Vec<u8> {
    match name.parse() {
        Ok(size) => realistic::module(size, realistic::SEED),
        Err(_) => std::fs::read(name).unwrap_or_else(|e| panic!("{name}: {e}")),
    }
}
