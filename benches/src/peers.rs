//! Other engines on the same inputs, for the report: wasmtime 48 with
//! Cranelift defaults (no metering), the same with fuel, and wasmi 2 with
//! fuel. They get the uninstrumented `.wasm` (they meter by themselves, or
//! not at all) and are driven the way their documentation recommends:
//! typed function handles, wasmtime's `InstancePre`, wasmi's eager
//! translation (its default, lazy translation, would make "compile" mean
//! "parse").

use std::time::Duration;

use crate::fixtures::{self, HOST_CALLS, KERNELS, Kernel, RUST_KERNELS, Source};
use crate::measure::{self, Sample};
use crate::peer_token::PeerToken;
use crate::token;

/// A peer engine configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// wasmtime with its default Cranelift settings, no fuel.
    Wasmtime,
    /// wasmtime with `consume_fuel(true)`.
    WasmtimeFuel,
    /// wasmi (an interpreter) with fuel, eager translation.
    WasmiFuel,
}

impl Peer {
    /// Every peer, in report order.
    pub const ALL: [Peer; 3] = [Self::Wasmtime, Self::WasmtimeFuel, Self::WasmiFuel];

    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wasmtime => "wasmtime 48",
            Self::WasmtimeFuel => "wasmtime 48 + fuel",
            Self::WasmiFuel => "wasmi 2 + fuel",
        }
    }
}

/// A peer's numbers, in the same order as detvm's in the report.
#[derive(Debug, Clone)]
pub struct PeerResults {
    /// Compile time of each module of `compile_inputs`.
    pub compile: Vec<Sample>,
    /// A fresh store and instance of the small contract.
    pub instantiate: Sample,
    /// One host→wasm call of `nop`.
    pub call_empty: Sample,
    /// `HOST_CALLS` wasm→host calls.
    pub call_host: Sample,
    /// Each of [`KERNELS`], then each of [`RUST_KERNELS`].
    pub kernels: Vec<Sample>,
    /// [`token::TRANSFERS`] transfers of the token workload
    /// ([`crate::peer_token`]).
    pub token: Sample,
}

/// Measures `peer` on `compile_inputs` and the fixed workloads, each with
/// `budget` (compile with `compile_budget`).
pub fn measure(
    peer: Peer,
    compile_inputs: &[Vec<u8>],
    compile_budget: Duration,
    budget: Duration,
) -> PeerResults {
    match peer {
        Peer::Wasmtime => wasmtime_peer::measure(false, compile_inputs, compile_budget, budget),
        Peer::WasmtimeFuel => wasmtime_peer::measure(true, compile_inputs, compile_budget, budget),
        Peer::WasmiFuel => wasmi_peer::measure(compile_inputs, compile_budget, budget),
    }
}

/// Every kernel, in the order of [`PeerResults::kernels`].
fn all_kernels() -> impl Iterator<Item = &'static Kernel> {
    KERNELS.iter().chain(&RUST_KERNELS)
}

/// [`token::TRANSFERS`] transfers of the token contract on `peer`.
fn measure_token(peer: Peer, budget: Duration) -> Sample {
    let code = detvm_testkit::contracts::wasm("token").expect("the token contract is built");
    let mut workload = PeerToken::new(peer, &code).expect("sets up the token");
    measure::run(budget, || {
        workload
            .transfers(token::TRANSFERS)
            .expect("transfers succeed")
    })
}

/// Fuel given to every store: as much as allowed, so nothing runs out.
const FUEL: u64 = 1 << 62;

mod wasmtime_peer {
    use super::*;
    use wasmtime::{Config, Engine, Linker, Module, Store, Val};

    fn linker(engine: &Engine) -> Linker<()> {
        let mut linker = Linker::new(engine);
        linker
            .func_wrap("env", "noop", || {})
            .expect("defines noop");
        linker
            .func_wrap("env", "log", |_: i32, _: i32| {})
            .expect("defines log");
        linker
    }

    fn store(engine: &Engine, fuel: bool) -> Store<()> {
        let mut store = Store::new(engine, ());
        if fuel {
            store.set_fuel(FUEL).expect("fuel is enabled");
        }
        store
    }

    pub(super) fn measure(
        fuel: bool,
        compile_inputs: &[Vec<u8>],
        compile_budget: Duration,
        budget: Duration,
    ) -> PeerResults {
        let mut config = Config::new();
        config.consume_fuel(fuel);
        let engine = Engine::new(&config).expect("wasmtime engine");
        let compile = compile_inputs
            .iter()
            .map(|wasm| {
                measure::run(compile_budget, || {
                    Module::new(&engine, wasm).expect("wasmtime compiles")
                })
            })
            .collect();

        let contract = Module::new(&engine, fixtures::contract_wasm()).expect("compiles");
        let pre = linker(&engine)
            .instantiate_pre(&contract)
            .expect("links the contract");
        let instantiate = measure::run_with_setup(
            budget,
            || (),
            |_| {
                let mut store = store(&engine, fuel);
                let instance = pre.instantiate(&mut store).expect("instantiates");
                (store, instance)
            },
        );

        let kernels = Module::new(&engine, fixtures::kernels_wasm()).expect("compiles");
        let mut store = store(&engine, fuel);
        let instance = linker(&engine)
            .instantiate(&mut store, &kernels)
            .expect("instantiates");
        let nop = instance
            .get_typed_func::<(), ()>(&mut store, "nop")
            .expect("nop");
        let call_empty = measure::run(budget, || nop.call(&mut store, ()).expect("nop runs"));
        let call_host_func = instance
            .get_typed_func::<i32, ()>(&mut store, "call_host")
            .expect("call_host");
        let call_host = measure::run(budget, || {
            call_host_func
                .call(&mut store, HOST_CALLS)
                .expect("call_host runs")
        });
        let rust = Module::new(&engine, fixtures::rust_kernels_wasm()).expect("compiles");
        let rust = linker(&engine)
            .instantiate(&mut store, &rust)
            .expect("instantiates");
        let kernels = all_kernels()
            .map(|kernel| {
                let instance = match kernel.source {
                    Source::Wat => instance,
                    Source::Rust => rust,
                };
                if let Some((export, arg)) = kernel.prepare {
                    let f = instance
                        .get_typed_func::<i32, i64>(&mut store, export)
                        .expect("prepare export");
                    f.call(&mut store, arg).expect("prepares");
                }
                // Untyped: kernels differ in signature, and a call's
                // overhead is nothing next to a kernel's milliseconds.
                let f = instance
                    .get_func(&mut store, kernel.export)
                    .expect("kernel");
                let args: Vec<Val> = kernel.arg.map(Val::I32).into_iter().collect();
                let mut results = [Val::I64(0)];
                measure::run(budget, || {
                    f.call(&mut store, &args, &mut results).expect("runs")
                })
            })
            .collect();
        let peer = if fuel {
            Peer::WasmtimeFuel
        } else {
            Peer::Wasmtime
        };
        PeerResults {
            compile,
            instantiate,
            call_empty,
            call_host,
            kernels,
            token: measure_token(peer, budget),
        }
    }
}

mod wasmi_peer {
    use super::*;
    use wasmi::{CompilationMode, Config, Engine, Linker, Module, Store, Val};

    fn linker(engine: &Engine) -> Linker<()> {
        let mut linker = Linker::new(engine);
        linker
            .func_wrap("env", "noop", || {})
            .expect("defines noop");
        linker
            .func_wrap("env", "log", |_: i32, _: i32| {})
            .expect("defines log");
        linker
    }

    fn store(engine: &Engine) -> Store<()> {
        let mut store = Store::new(engine, ());
        store.set_fuel(FUEL).expect("fuel is enabled");
        store
    }

    pub(super) fn measure(
        compile_inputs: &[Vec<u8>],
        compile_budget: Duration,
        budget: Duration,
    ) -> PeerResults {
        let mut config = Config::default();
        config.consume_fuel(true);
        config.compilation_mode(CompilationMode::Eager);
        let engine = Engine::new(&config);
        let compile = compile_inputs
            .iter()
            .map(|wasm| {
                measure::run(compile_budget, || {
                    Module::new(&engine, wasm).expect("wasmi compiles")
                })
            })
            .collect();

        let contract = Module::new(&engine, fixtures::contract_wasm()).expect("compiles");
        let contract_linker = linker(&engine);
        let instantiate = measure::run_with_setup(
            budget,
            || (),
            |_| {
                let mut store = store(&engine);
                let instance = contract_linker
                    .instantiate_and_start(&mut store, &contract)
                    .expect("instantiates");
                (store, instance)
            },
        );

        let kernels = Module::new(&engine, fixtures::kernels_wasm()).expect("compiles");
        let mut store = store(&engine);
        let instance = linker(&engine)
            .instantiate_and_start(&mut store, &kernels)
            .expect("instantiates");
        let nop = instance
            .get_typed_func::<(), ()>(&store, "nop")
            .expect("nop");
        let call_empty = measure::run(budget, || nop.call(&mut store, ()).expect("nop runs"));
        let call_host_func = instance
            .get_typed_func::<i32, ()>(&store, "call_host")
            .expect("call_host");
        let call_host = measure::run(budget, || {
            call_host_func
                .call(&mut store, HOST_CALLS)
                .expect("call_host runs")
        });
        let rust = Module::new(&engine, fixtures::rust_kernels_wasm()).expect("compiles");
        let rust = linker(&engine)
            .instantiate_and_start(&mut store, &rust)
            .expect("instantiates");
        let kernels = all_kernels()
            .map(|kernel| {
                let instance = match kernel.source {
                    Source::Wat => instance,
                    Source::Rust => rust,
                };
                if let Some((export, arg)) = kernel.prepare {
                    let f = instance
                        .get_typed_func::<i32, i64>(&store, export)
                        .expect("prepare export");
                    f.call(&mut store, arg).expect("prepares");
                }
                let f = instance.get_func(&store, kernel.export).expect("kernel");
                let args: Vec<Val> = kernel.arg.map(Val::I32).into_iter().collect();
                let mut results = [Val::I64(0)];
                measure::run(budget, || {
                    f.call(&mut store, &args, &mut results).expect("runs")
                })
            })
            .collect();
        PeerResults {
            compile,
            instantiate,
            call_empty,
            call_host,
            kernels,
            token: measure_token(Peer::WasmiFuel, budget),
        }
    }
}

/// A kernel of the Rust-built module on wasmtime without fuel, ready to
/// run: for the criterion benchmarks of float kernels, which put wasmtime
/// with Cranelift's NaN canonicalisation (what detvm used to do after every
/// float operator) next to its default (none).
pub struct WasmtimeKernel {
    store: wasmtime::Store<()>,
    func: wasmtime::Func,
    args: Vec<wasmtime::Val>,
}

impl WasmtimeKernel {
    /// Compiles the Rust-built kernels module, with `nan_canonicalization`
    /// or without, and prepares `kernel`.
    pub fn new(kernel: &Kernel, nan_canonicalization: bool) -> Self {
        use wasmtime::{Config, Engine, Instance, Module, Store, Val};
        let mut config = Config::new();
        config.cranelift_nan_canonicalization(nan_canonicalization);
        let engine = Engine::new(&config).expect("wasmtime engine");
        let module = Module::new(&engine, fixtures::rust_kernels_wasm()).expect("compiles");
        let mut store = Store::new(&engine, ());
        // The module has no imports.
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
        if let Some((export, arg)) = kernel.prepare {
            let f = instance
                .get_typed_func::<i32, i64>(&mut store, export)
                .expect("prepare export");
            f.call(&mut store, arg).expect("prepares");
        }
        let func = instance
            .get_func(&mut store, kernel.export)
            .expect("kernel");
        let args = kernel.arg.map(Val::I32).into_iter().collect();
        Self { store, func, args }
    }

    /// One run of the kernel; its checksum.
    pub fn call(&mut self) -> i64 {
        let mut results = [wasmtime::Val::I64(0)];
        self.func
            .call(&mut self.store, &self.args, &mut results)
            .expect("runs");
        results[0].unwrap_i64()
    }
}
