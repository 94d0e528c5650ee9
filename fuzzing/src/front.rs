//! Arbitrary bytes through the front end (`detvm-metering`): validation
//! against the contract profile, limits and host import allow-list, then
//! instrumentation. Neither may panic; every module validation accepts
//! must instrument to valid WebAssembly whose imports are the four
//! reserved ones of [`detvm_metering::abi`], in order, followed by the
//! module's own imports, each a host function of `docs/host-api.md` with
//! its exact signature; and instrumenting twice gives the same bytes.

use detvm_metering::{
    Config, ImportPolicy, Limits, Schedule, StackConfig, abi, instrument, validate,
};
use wasmparser::{CompositeInnerType, FuncType, Payload, TypeRef, ValType};

/// How the input was turned into a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The bytes themselves.
    Raw,
    /// wasm-smith with a configuration chosen from the input: any
    /// proposal, any import, so rejection paths are exercised.
    AnyFeatures,
    /// wasm-smith inside the profile, importing host functions.
    Profile,
}

/// What the front end did with one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Where the module came from.
    pub source: Source,
    /// Whether validation accepted it.
    pub accepted: bool,
}

/// A broken promise of the front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontFinding {
    /// Instrumentation failed on a module validation accepted.
    #[error("instrumentation failed on a validated module: {0}")]
    Instrument(String),
    /// The instrumented module is not valid WebAssembly.
    #[error("the instrumented module is invalid: {0}")]
    InvalidOutput(String),
    /// The instrumented module's imports are not the ABI's.
    #[error("the instrumented module's imports are wrong: {0}")]
    Imports(String),
    /// Two instrumentations of the same module differ.
    #[error("instrumenting twice gives different bytes")]
    Unstable,
}

/// The WebAssembly features instrumented code may use: the profile's,
/// WebAssembly 2.0 without vector instructions (`docs/determinism.md`).
pub fn profile_features() -> wasmparser::WasmFeatures {
    wasmparser::WasmFeatures::WASM2.difference(wasmparser::WasmFeatures::SIMD)
}

/// A module importing every host function, for wasm-smith's
/// `available_imports`.
pub fn host_imports_module() -> Vec<u8> {
    use wasm_encoder::{EntityType, ImportSection, Module, TypeSection};
    let convert = |t: &detvm_vm::ValType| match t {
        detvm_vm::ValType::I32 => wasm_encoder::ValType::I32,
        detvm_vm::ValType::I64 => wasm_encoder::ValType::I64,
        detvm_vm::ValType::F32 => wasm_encoder::ValType::F32,
        detvm_vm::ValType::F64 => wasm_encoder::ValType::F64,
        detvm_vm::ValType::FuncRef => wasm_encoder::ValType::FUNCREF,
        detvm_vm::ValType::ExternRef => wasm_encoder::ValType::EXTERNREF,
    };
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    for (index, f) in detvm_host::HOST_FUNCTIONS.iter().enumerate() {
        types
            .ty()
            .function(f.params.iter().map(convert), f.results.iter().map(convert));
        imports.import(
            detvm_host::HOST_MODULE,
            f.name,
            EntityType::Function(index as u32),
        );
    }
    let mut module = Module::new();
    module.section(&types).section(&imports);
    module.finish()
}

/// The module the input stands for: its first byte chooses the [`Source`].
pub fn module_from(data: &[u8]) -> Option<(Source, Vec<u8>)> {
    let (&mode, rest) = data.split_first()?;
    let mut u = arbitrary::Unstructured::new(rest);
    match mode % 4 {
        0 | 1 => Some((Source::Raw, rest.to_vec())),
        2 => {
            let config: wasm_smith::Config = u.arbitrary().ok()?;
            let module = wasm_smith::Module::new(config, &mut u).ok()?;
            Some((Source::AnyFeatures, module.to_bytes()))
        }
        _ => {
            let config = wasm_smith::Config {
                available_imports: Some(host_imports_module()),
                max_imports: 12,
                ..detvm_fixtures::smith::profile_config()
            };
            let module = wasm_smith::Module::new(config, &mut u).ok()?;
            Some((Source::Profile, module.to_bytes()))
        }
    }
}

/// Checks the front end on the module `data` stands for ([`module_from`]).
pub fn check(data: &[u8]) -> Result<Option<Verdict>, FrontFinding> {
    let Some((source, bytes)) = module_from(data) else {
        return Ok(None);
    };
    let accepted = check_module(&bytes)?;
    Ok(Some(Verdict { source, accepted }))
}

/// Checks the front end on `bytes`; whether validation accepted them.
pub fn check_module(bytes: &[u8]) -> Result<bool, FrontFinding> {
    let allowed = detvm_host::allowed_imports();
    let config = Config::with_imports(ImportPolicy::AllowList(allowed));
    // The spec limits with any import: the other policy the engine has.
    let open = Config::with_limits(Limits::spec());
    let _ = validate(bytes, &open);
    let Ok(info) = validate(bytes, &config) else {
        return Ok(false);
    };
    let (schedule, stack) = (Schedule::default(), StackConfig::default());
    let out = instrument(bytes, &info, &schedule, &stack)
        .map_err(|e| FrontFinding::Instrument(e.to_string()))?;
    let again = instrument(bytes, &info, &schedule, &stack)
        .map_err(|e| FrontFinding::Instrument(e.to_string()))?;
    if out.bytes != again.bytes {
        return Err(FrontFinding::Unstable);
    }
    wasmparser::Validator::new_with_features(profile_features())
        .validate_all(&out.bytes)
        .map_err(|e| FrontFinding::InvalidOutput(e.to_string()))?;
    let original = imports(bytes).map_err(FrontFinding::Imports)?;
    let rewritten = imports(&out.bytes).map_err(FrontFinding::Imports)?;
    let reserved = [
        (abi::OUT_OF_GAS, Import::Func(vec![], vec![])),
        (abi::STACK_OVERFLOW, Import::Func(vec![], vec![])),
        (abi::GAS_LEFT, Import::MutI64),
        (abi::STACK_LEFT, Import::MutI64),
    ]
    .map(|(name, ty)| (abi::MODULE.to_owned(), name.to_owned(), ty));
    if rewritten.len() != reserved.len() + original.len()
        || rewritten[..reserved.len()] != reserved
        || rewritten[reserved.len()..] != original[..]
    {
        return Err(FrontFinding::Imports(format!(
            "{rewritten:?} for the module's {original:?}"
        )));
    }
    for (module, name, ty) in &original {
        let known = detvm_host::HOST_FUNCTIONS.iter().any(|f| {
            let as_import = Import::Func(
                f.params.iter().map(wasm_type).collect(),
                f.results.iter().map(wasm_type).collect(),
            );
            module == detvm_host::HOST_MODULE && f.name == name && *ty == as_import
        });
        if !known {
            return Err(FrontFinding::Imports(format!(
                "`{module}.{name}` ({ty:?}) is no host function"
            )));
        }
    }
    Ok(true)
}

fn wasm_type(t: &detvm_vm::ValType) -> ValType {
    match t {
        detvm_vm::ValType::I32 => ValType::I32,
        detvm_vm::ValType::I64 => ValType::I64,
        detvm_vm::ValType::F32 => ValType::F32,
        detvm_vm::ValType::F64 => ValType::F64,
        detvm_vm::ValType::FuncRef => ValType::FUNCREF,
        detvm_vm::ValType::ExternRef => ValType::EXTERNREF,
    }
}

/// An import's type, as far as the ABI cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Import {
    Func(Vec<ValType>, Vec<ValType>),
    MutI64,
    Other(String),
}

/// The imports of a valid module, with function types resolved.
fn imports(bytes: &[u8]) -> Result<Vec<(String, String, Import)>, String> {
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(|e| e.to_string())?.into_types() {
                        types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let ty = match import.ty {
                        TypeRef::Func(index) => match types.get(index as usize) {
                            Some(Some(f)) => {
                                Import::Func(f.params().to_vec(), f.results().to_vec())
                            }
                            _ => Import::Other(format!("function of type {index}")),
                        },
                        TypeRef::Global(g) if g.mutable && g.content_type == ValType::I64 => {
                            Import::MutI64
                        }
                        other => Import::Other(format!("{other:?}")),
                    };
                    out.push((import.module.to_owned(), import.name.to_owned(), ty));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
