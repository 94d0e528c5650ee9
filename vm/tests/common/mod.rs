//! What several engine tests share: a module instantiated at both
//! optimisation levels, whose calls must agree; the sweep of every
//! translation setting; calls with one `i32` result.

// Each test file uses part of this module.
#![allow(dead_code)]

use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, OptLevel, Outcome, Store, Value};

/// One instance per optimisation level of the same module.
pub struct Both(Vec<(Store<()>, Instance)>);

impl Both {
    /// Instantiates `wat` with no imports.
    pub fn new(wat: &str) -> Self {
        Self::with_linker(wat, |_| {})
    }

    /// Instantiates `wat` with the imports `define` adds to each linker.
    pub fn with_linker(wat: &str, define: impl Fn(&mut Linker<()>)) -> Self {
        let bytes = wat::parse_str(wat).expect("wat");
        let mut instances = Vec::new();
        for opt in [OptLevel::None, OptLevel::Speed] {
            let mut config = EngineConfig::default();
            config.opt_level = opt;
            let engine = Engine::new(config).expect("engine");
            let module = Module::new(&engine, &bytes).expect("compiles");
            let mut store = Store::new(&engine, ());
            let mut linker = Linker::new(&engine);
            define(&mut linker);
            let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
            instances.push((store, instance));
        }
        Self(instances)
    }

    /// Results, or the trap's stable name; both levels must agree.
    pub fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>, &'static str> {
        let mut outcome = None;
        for (store, instance) in &mut self.0 {
            let result = match instance.call(store, name, args, 1 << 40).expect("call") {
                Outcome::Success { results, .. } => Ok(results),
                Outcome::Trap { kind, .. } => Err(kind.name()),
            };
            if let Some(previous) = &outcome {
                assert_eq!(
                    previous, &result,
                    "{name}{args:?}: optimisation levels disagree"
                );
            }
            outcome = Some(result);
        }
        outcome.expect("ran")
    }
}

/// Every translation setting: loads checked explicitly or faulting
/// (`docs/vm.md`, "Faulting loads"), both strategies, both optimisation
/// levels, metering on and off. The first of each metering setting
/// (explicit checks and the slot strategy, which never versions a loop) is
/// the one others are compared with.
pub fn every_config() -> Vec<EngineConfig> {
    let mut out = Vec::new();
    for explicit_bounds_checks in [true, false] {
        for slots in [true, false] {
            for opt in [OptLevel::Speed, OptLevel::None] {
                for metering in [true, false] {
                    let mut config = EngineConfig::default();
                    config.explicit_bounds_checks = explicit_bounds_checks;
                    config.slot_strategy_only = slots;
                    config.opt_level = opt;
                    config.metering = metering;
                    out.push(config);
                }
            }
        }
    }
    out
}

/// `bytes` compiled by `engine` and instantiated without imports.
pub fn instantiate(engine: &Engine, bytes: &[u8]) -> (Store<()>, Instance) {
    let module = Module::new(engine, bytes).expect("compiles");
    let mut store = Store::new(engine, ());
    let linker = Linker::new(engine);
    let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
    (store, instance)
}

/// Calls `name` (one `i32` result) with `gas`: its result or trap name,
/// and the gas it used.
pub fn call_i32(
    instance: &Instance,
    store: &mut Store<()>,
    name: &str,
    args: &[i32],
    gas: u64,
) -> (Result<i32, &'static str>, u64) {
    let args: Vec<Value> = args.iter().copied().map(Value::I32).collect();
    match instance.call(store, name, &args, gas).expect("call") {
        Outcome::Success { results, gas_used } => match results[..] {
            [Value::I32(v)] => (Ok(v), gas_used),
            ref other => panic!("{name}: unexpected results {other:?}"),
        },
        Outcome::Trap { kind, gas_used, .. } => (Err(kind.name()), gas_used),
    }
}

/// The number of memory bounds checks in each function's translated CLIF,
/// in definition order: explicit checks, and faulting accesses (loads and
/// stores that carry the `memory_out_of_bounds` trap code, `user2`),
/// which check where they access.
pub fn checks_per_function(engine: &Engine, bytes: &[u8]) -> Vec<usize> {
    Module::translated_clif(engine, bytes)
        .expect("compiles")
        .iter()
        .map(|f| f.lines().filter(|l| is_check(l)).count())
        .collect()
}

/// Whether a CLIF line is an explicit memory bounds check or a faulting
/// access.
pub fn is_check(line: &str) -> bool {
    line.contains("icmp ugt")
        || is_faulting_load(line)
        || (line.contains("store") && line.contains(" user2 "))
}

/// Whether a CLIF line is a faulting load.
pub fn is_faulting_load(line: &str) -> bool {
    line.contains("load") && line.contains(" user2 ")
}
