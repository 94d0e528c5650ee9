//! The engine: configuration, the code generator's target, and the
//! engine-wide registry of function signatures.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use detvm_metering::{Config, ImportPolicy, Limits, Schedule, StackConfig};

use super::{ConfigError, Error, FuncType};
use crate::compile;

/// How hard the code generator optimises. Results, gas and traps are the
/// same at every level; only speed of compilation and execution differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimisation: fastest compilation.
    None,
    /// Optimise for speed (the default).
    #[default]
    Speed,
}

/// Everything that decides how modules are accepted, compiled and run.
///
/// Every node of a network must use the same `limits`, `schedule`, `stack`,
/// `imports` and `start_gas_limit`, with `metering` on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Size limits of accepted modules; also the largest memory and table
    /// any instance may grow to. [`Limits::contract`] by default,
    /// [`Limits::spec`] for conformance tests.
    pub limits: Limits,
    /// Gas costs.
    pub schedule: Schedule,
    /// Deterministic stack bound; `stack.limit` is the `stack_left` every
    /// call starts with.
    pub stack: StackConfig,
    /// Whether modules are instrumented (the default). Off is for
    /// measurement only: no gas is charged, no deterministic stack bound
    /// applies, and deep recursion ends in [`Error::NativeStackExhausted`].
    pub metering: bool,
    /// Code generator optimisation level.
    pub opt_level: OptLevel,
    /// Which imports modules may declare.
    pub imports: ImportPolicy,
    /// The gas limit the start function runs with during instantiation.
    pub start_gas_limit: u64,
    /// Translate every function with the slot strategy (`docs/vm.md`, two
    /// translation strategies) instead of choosing per function. Results,
    /// gas and traps are the same either way; this exists so tests can
    /// run whole suites through the strategy few functions take.
    pub slot_strategy_only: bool,
    /// Run Cranelift's IR verifier on every function it compiles: a check
    /// of the code generator itself, which changes no output but costs
    /// compile time, more than linearly on some shapes (many block
    /// parameters at many joins). On by default in debug builds only.
    pub verify_ir: bool,
    /// Give every memory access an explicit bounds check, also on targets
    /// where loads (and, on x86-64, stores) fault instead (`docs/vm.md`,
    /// "Faulting loads"). Results, gas, traps and memory after a trap are
    /// the same either way; this exists so tests can compare the two.
    pub explicit_bounds_checks: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            limits: Limits::contract(),
            schedule: Schedule::default(),
            stack: StackConfig::default(),
            metering: true,
            opt_level: OptLevel::Speed,
            imports: ImportPolicy::Any,
            start_gas_limit: 10_000_000,
            slot_strategy_only: false,
            verify_ir: cfg!(debug_assertions),
            explicit_bounds_checks: false,
        }
    }
}

impl EngineConfig {
    /// The defaults with these limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The configuration for conformance tests: [`Limits::spec`], otherwise
    /// the defaults.
    pub fn spec() -> Self {
        Self {
            limits: Limits::spec(),
            ..Self::default()
        }
    }

    /// The validation configuration derived from this one.
    pub(crate) fn validation_config(&self) -> Config {
        let mut config = Config::with_limits(self.limits.clone());
        config.imports = self.imports.clone();
        config
    }
}

/// A compilation and execution environment. Cheap to clone (shared);
/// modules and stores must be used with the engine that created them.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    config: EngineConfig,
    isas: compile::TargetIsas,
    signatures: RwLock<SignatureRegistry>,
    /// The engine's part of code cache keys, computed on first use.
    cache_identity: OnceLock<Vec<u8>>,
}

/// Canonical ids for function signatures, shared by every module of an
/// engine so that `call_indirect` can compare signatures across instances
/// with one integer comparison. Only looked up, never iterated.
#[derive(Default)]
struct SignatureRegistry {
    ids: BTreeMap<FuncType, u32>,
    types: Vec<Arc<FuncType>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    /// An engine with [`EngineConfig::default`].
    ///
    /// # Panics
    ///
    /// If the host CPU is not supported by the code generator; use
    /// [`Engine::new`] to handle that as an error.
    fn default() -> Self {
        match Self::new(EngineConfig::default()) {
            Ok(engine) => engine,
            Err(e) => panic!("cannot create the default engine: {e}"),
        }
    }
}

impl Engine {
    /// Creates an engine for the host CPU.
    pub fn new(config: EngineConfig) -> Result<Self, Error> {
        if config.stack.limit > i64::MAX as u64 {
            return Err(ConfigError::StackLimitTooLarge {
                limit: config.stack.limit,
            }
            .into());
        }
        // A frame that charges nothing would let recursion go on without
        // bound on `stack_left`, and nothing could bound the native stack.
        if config.metering && config.stack.frame_overhead == 0 {
            return Err(ConfigError::ZeroFrameOverhead.into());
        }
        let isas = compile::make_isas(&compile::CodegenConfig {
            opt_level: match config.opt_level {
                OptLevel::None => compile::OptLevel::None,
                OptLevel::Speed => compile::OptLevel::Speed,
            },
            verify: config.verify_ir,
            metering: config.metering,
            prepay_loops: true,
            slot_strategy_only: config.slot_strategy_only,
            faulting_accesses: !config.explicit_bounds_checks,
        })
        .map_err(Error::Compile)?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                config,
                isas,
                signatures: RwLock::default(),
                cache_identity: OnceLock::new(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Whether `self` and `other` are the same engine.
    pub fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn isas(&self) -> &compile::TargetIsas {
        &self.inner.isas
    }

    /// What of this engine decides compiled code, for cache keys
    /// (`docs/vm.md`, "Key").
    pub(crate) fn cache_identity(&self) -> &[u8] {
        self.inner
            .cache_identity
            .get_or_init(|| crate::artifact::engine_identity(&self.inner.config, &self.inner.isas))
    }

    /// The canonical id of `ty`, registering it if new.
    pub(crate) fn register_signature(&self, ty: &FuncType) -> u32 {
        if let Some(&id) = self.read_registry().ids.get(ty) {
            return id;
        }
        let mut registry = match self.inner.signatures.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(&id) = registry.ids.get(ty) {
            return id;
        }
        // Ids are dense; u32::MAX stays free as "no signature".
        let id = u32::try_from(registry.types.len()).unwrap_or(u32::MAX - 1);
        registry.types.push(Arc::new(ty.clone()));
        registry.ids.insert(ty.clone(), id);
        id
    }

    /// The signature with canonical id `id`.
    pub(crate) fn signature(&self, id: u32) -> Option<Arc<FuncType>> {
        self.read_registry().types.get(id as usize).cloned()
    }

    fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, SignatureRegistry> {
        // The registry is never left half-updated (push then insert), so a
        // poisoned lock still holds consistent data.
        match self.inner.signatures.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_ir_decides_whether_cranelift_verifies() {
        for verify_ir in [false, true] {
            let config = EngineConfig {
                verify_ir,
                ..EngineConfig::default()
            };
            let engine = Engine::new(config).expect("engine");
            let isas = engine.isas();
            for isa in [&isas.normal, &isas.large] {
                assert_eq!(isa.flags().enable_verifier(), verify_ir);
            }
        }
        assert_eq!(
            EngineConfig::default().verify_ir,
            cfg!(debug_assertions),
            "on by default in debug builds only"
        );
    }
}
