//! Shared helpers for the instrumentation and execution tests: the profile's
//! feature set, the pipeline, and a wasmi host providing the `detvm` imports.

#![allow(dead_code)]

use detvm_metering::{Config, Instrumented, Schedule, StackConfig, abi, instrument, validate};
use wasmi::{Engine, Extern, Func, Global, Instance, Linker, Module, Mutability, Store, Val};
use wasmparser::WasmFeatures;

/// WebAssembly 2.0 without vector instructions.
pub fn profile() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

/// Validates `bytes` with wasmparser under the profile.
pub fn check_valid(bytes: &[u8]) -> Result<(), String> {
    wasmparser::Validator::new_with_features(profile())
        .validate_all(bytes)
        .map(|_| ())
        .map_err(|error| format!("{error}"))
}

/// Validates and instruments with `Schedule::v1()` and the given stack config.
pub fn prepare_with(bytes: &[u8], stack: &StackConfig) -> Instrumented {
    let info = validate(bytes, &Config::default()).expect("test module validates");
    instrument(bytes, &info, &Schedule::v1(), stack).expect("test module instruments")
}

/// Validates and instruments with `Schedule::v1()` and the default stack config.
pub fn prepare(bytes: &[u8]) -> Instrumented {
    prepare_with(bytes, &StackConfig::default())
}

/// Which reserved import trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    OutOfGas,
    StackOverflow,
}

/// What host functions observed during a run.
#[derive(Debug, Default)]
pub struct HostState {
    /// Values passed to `env.log`, in order.
    pub logged: Vec<i64>,
    /// Reserved imports called, in order.
    pub reserved_calls: Vec<Reserved>,
}

/// An instantiated module with its store and, if instrumented, the two
/// counters.
pub struct Run {
    pub store: Store<HostState>,
    pub instance: Instance,
    pub gas_left: Option<Global>,
    pub stack_left: Option<Global>,
}

pub fn engine(fuel: bool) -> Engine {
    let mut config = wasmi::Config::default();
    config.consume_fuel(fuel);
    // Deep enough that the instrumented stack bound, not wasmi's, ends the
    // recursion tests.
    config.set_max_recursion_depth(100_000);
    config.set_max_stack_height(256 << 20);
    Engine::new(&config)
}

/// Instantiates `bytes`. Imports from `detvm` get the reserved items (gas and
/// stack counters set to `gas` and `stack`); imports from `env` named `log`
/// record their argument; every other function import returns zeros and
/// other imports get fresh default items, so arbitrary modules link.
pub fn instantiate(
    engine: &Engine,
    bytes: &[u8],
    gas: u64,
    stack: u64,
    fuel: Option<u64>,
) -> Result<Run, wasmi::Error> {
    let module = Module::new(engine, bytes)?;
    let mut store = Store::new(engine, HostState::default());
    if let Some(fuel) = fuel {
        store.set_fuel(fuel)?;
    }
    let mut linker = Linker::<HostState>::new(engine);
    let gas_left = Global::new(&mut store, Val::I64(gas as i64), Mutability::Var);
    let stack_left = Global::new(&mut store, Val::I64(stack as i64), Mutability::Var);
    let mut instrumented = false;
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        if module_name == abi::MODULE {
            instrumented = true;
            continue;
        }
        let item: Extern = match import.ty() {
            wasmi::ExternType::Func(ty) => {
                let ty = ty.clone();
                let is_log = module_name == "env" && name == "log";
                Func::new(
                    &mut store,
                    ty.clone(),
                    move |mut caller, params, results| {
                        if is_log {
                            let value = match params.first() {
                                Some(Val::I32(v)) => i64::from(*v),
                                Some(Val::I64(v)) => *v,
                                _ => 0,
                            };
                            caller.data_mut().logged.push(value);
                        }
                        for (slot, ty) in results.iter_mut().zip(ty.results()) {
                            *slot = Val::default_for_ty(*ty);
                        }
                        Ok(())
                    },
                )
                .into()
            }
            wasmi::ExternType::Global(ty) => Global::new(
                &mut store,
                Val::default_for_ty(ty.content()),
                ty.mutability(),
            )
            .into(),
            wasmi::ExternType::Memory(ty) => wasmi::Memory::new(&mut store, *ty)?.into(),
            wasmi::ExternType::Table(ty) => {
                let init = wasmi::Ref::null(ty.element());
                wasmi::Table::new(&mut store, *ty, init)?.into()
            }
        };
        linker.define(module_name, name, item)?;
    }
    linker.func_wrap(
        abi::MODULE,
        abi::OUT_OF_GAS,
        |mut caller: wasmi::Caller<'_, HostState>| {
            caller.data_mut().reserved_calls.push(Reserved::OutOfGas);
            Err::<(), _>(wasmi::Error::new("out of gas"))
        },
    )?;
    linker.func_wrap(
        abi::MODULE,
        abi::STACK_OVERFLOW,
        |mut caller: wasmi::Caller<'_, HostState>| {
            caller
                .data_mut()
                .reserved_calls
                .push(Reserved::StackOverflow);
            Err::<(), _>(wasmi::Error::new("stack overflow"))
        },
    )?;
    linker.define(abi::MODULE, abi::GAS_LEFT, gas_left)?;
    linker.define(abi::MODULE, abi::STACK_LEFT, stack_left)?;
    let instance = linker.instantiate_and_start(&mut store, &module)?;
    Ok(Run {
        store,
        instance,
        gas_left: instrumented.then_some(gas_left),
        stack_left: instrumented.then_some(stack_left),
    })
}

impl Run {
    /// Calls export `name` with `args`, returning its results.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, wasmi::Error> {
        let func = self
            .instance
            .get_func(&self.store, name)
            .ok_or_else(|| wasmi::Error::new(format!("no export {name}")))?;
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|ty| Val::default_for_ty(*ty))
            .collect();
        func.call(&mut self.store, args, &mut results)?;
        Ok(results)
    }

    pub fn gas_left(&self) -> u64 {
        match self.gas_left.map(|global| global.get(&self.store)) {
            Some(Val::I64(value)) => value as u64,
            other => panic!("no gas counter: {other:?}"),
        }
    }

    pub fn set_gas_left(&mut self, gas: u64) {
        let global = self.gas_left.expect("instrumented");
        global
            .set(&mut self.store, Val::I64(gas as i64))
            .expect("mutable i64 global");
    }

    pub fn stack_left(&self) -> u64 {
        match self.stack_left.map(|global| global.get(&self.store)) {
            Some(Val::I64(value)) => value as u64,
            other => panic!("no stack counter: {other:?}"),
        }
    }

    pub fn set_stack_left(&mut self, stack: u64) {
        let global = self.stack_left.expect("instrumented");
        global
            .set(&mut self.store, Val::I64(stack as i64))
            .expect("mutable i64 global");
    }

    pub fn reserved_calls(&self) -> &[Reserved] {
        &self.store.data().reserved_calls
    }

    pub fn logged(&self) -> &[i64] {
        &self.store.data().logged
    }
}

/// A comparable rendering of a value: numbers by bits, references by
/// null-ness (handles differ between instances).
pub fn value_key(value: &Val) -> String {
    match value {
        Val::I32(v) => format!("i32:{v}"),
        Val::I64(v) => format!("i64:{v}"),
        Val::F32(v) => format!("f32:{:#x}", v.to_bits()),
        Val::F64(v) => format!("f64:{:#x}", v.to_bits()),
        Val::V128(_) => "v128".to_string(),
        Val::FuncRef(r) => format!("funcref:{}", if r.is_null() { "null" } else { "some" }),
        Val::ExternRef(r) => format!("externref:{}", if r.is_null() { "null" } else { "some" }),
    }
}

pub fn values_key(values: &[Val]) -> Vec<String> {
    values.iter().map(value_key).collect()
}

/// Runs `test` on a thread with a large native stack: wasmi recurses
/// natively on wasm calls, and the recursion tests go deep on purpose.
pub fn with_big_stack(test: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(test)
        .expect("spawn test thread")
        .join()
        .expect("test thread passed");
}
