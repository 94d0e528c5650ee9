//! Compiled modules outside the process: code images, their loader, the
//! file format and the on-disk cache (`docs/vm.md`, "Compiled code on
//! disk").

mod cache;
pub(crate) mod format;
pub(crate) mod image;

use sha2::{Digest, Sha256};

use crate::compile::TargetIsas;
use crate::runtime::module::ModuleArtifact;
use crate::{Engine, Error, Module};

pub use cache::{CacheStats, Cached, CodeCache};

/// The version of the code generator's output, part of every cache key.
/// Bump it with any change that alters the machine code or the meaning of
/// a stored artifact (a Cranelift flag, the translation, the calling
/// convention, `vmctx` offsets) when the crate version stays the same;
/// otherwise a node could load code compiled by an older engine.
pub const CODEGEN_VERSION: u32 = 25;

/// Everything that decides a module's compiled code (`docs/vm.md`, "Key"):
/// a different key is a different entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    bytes: Vec<u8>,
    name: String,
}

impl CacheKey {
    /// The key of the code with SHA-256 `code_hash` under `engine`, with
    /// `context`: whatever else the embedder's use of the entry depends on
    /// (the host passes its fee table's hash and host API version).
    pub fn new(engine: &Engine, code_hash: &[u8; 32], context: &[u8]) -> Self {
        let mut bytes = Vec::new();
        let mut field = |b: &[u8]| {
            bytes.extend_from_slice(&(b.len() as u32).to_le_bytes());
            bytes.extend_from_slice(b);
        };
        field(code_hash);
        field(engine.cache_identity());
        field(context);
        let name = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            + cache::EXTENSION;
        Self { bytes, name }
    }

    /// The key's bytes, as stored in the file.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file name of the entry.
    pub(crate) fn file_name(&self) -> &str {
        &self.name
    }
}

/// The engine's part of every key: engine version, configuration digest
/// and target. Computed once per engine.
pub(crate) fn engine_identity(config: &crate::EngineConfig, isas: &TargetIsas) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    field(env!("CARGO_PKG_NAME").as_bytes());
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(&CODEGEN_VERSION.to_le_bytes());
    // The debug rendering covers every field, including ones added later;
    // the schedule's own hash is its canonical form.
    let mut config_digest = Sha256::new();
    config_digest.update(config.schedule.hash());
    config_digest.update(format!("{config:?}").as_bytes());
    field(&config_digest.finalize());
    field(isa_description(isas).as_bytes());
    out
}

/// The target triple and every shared and ISA flag of both ISAs.
fn isa_description(isas: &TargetIsas) -> String {
    let mut out = String::new();
    for isa in [&isas.normal, &isas.large] {
        out.push_str(&isa.triple().to_string());
        out.push('\n');
        out.push_str(&isa.flags().to_string());
        for flag in isa.isa_flags() {
            out.push_str(&flag.to_string());
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "prepay_loops={} slot_strategy_only={} faulting_loads={} faulting_stores={}\n",
        isas.prepay_loops, isas.slot_strategy_only, isas.faulting_loads, isas.faulting_stores
    ));
    out
}

/// A module's compiled form, ready to be stored with
/// [`CodeCache::put_module`]. Obtained from [`Module::new_with_artifact`].
#[derive(Debug, Clone)]
pub struct Artifact {
    pub(crate) inner: ModuleArtifact,
}

impl Module {
    /// Compiles `bytes` like [`Module::new`] and also returns the compiled
    /// form, for a [`CodeCache`]. Keeping it costs a copy of the code and
    /// the module's structure.
    pub fn new_with_artifact(engine: &Engine, bytes: &[u8]) -> Result<(Module, Artifact), Error> {
        Module::compile_artifact(engine, bytes).map(|(module, inner)| (module, Artifact { inner }))
    }
}

#[cfg(test)]
mod tests;
