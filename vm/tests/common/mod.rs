//! What the `ops_*` tests share: a module instantiated at both
//! optimisation levels, whose calls must agree.

use detvm_vm::{Engine, EngineConfig, Instance, Linker, Module, OptLevel, Outcome, Store, Value};

/// One instance per optimisation level of the same module.
pub struct Both(Vec<(Store<()>, Instance)>);

impl Both {
    /// Instantiates `wat` with no imports.
    #[allow(dead_code)]
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
