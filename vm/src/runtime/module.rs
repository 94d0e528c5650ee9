//! Modules: validated, instrumented and compiled once, instantiated many
//! times. Everything instantiation needs that does not depend on the
//! imports is computed here, so instantiation does no decoding.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use detvm_metering::{ModuleInfo, abi, instrument, validate};
use wasmparser::ExternalKind;

use super::{Engine, Error, ExternType, FuncType, GlobalType, MemoryType, TableType, ValType};
use crate::compile;
use crate::env::{ConstOp, ElementSegment, ImportKind, ModuleEnv};

/// Pages of 64 KiB a 32-bit memory can address.
pub(crate) const MAX_PAGES: u64 = 1 << 16;

/// A compiled module. Cheap to clone (shared), `Send + Sync`.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

/// One import a module declares (the reserved instrumentation imports are
/// not listed: the engine provides them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportType {
    /// Import module name.
    pub module: String,
    /// Import field name.
    pub name: String,
    /// What it must provide.
    pub ty: ExternType,
}

/// One export a module declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportType {
    /// Export name.
    pub name: String,
    /// What it provides.
    pub ty: ExternType,
}

/// What instantiation needs to create the module's own memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryPlan {
    /// The type imports are checked against: the module's declared
    /// maximum, before limits lowered it.
    pub declared: MemoryType,
    /// The largest size `memory.grow` may reach.
    pub enforced_max: u64,
}

/// What instantiation needs to create one of the module's own tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TablePlan {
    pub declared: TableType,
    pub enforced_max: u64,
    pub init: Option<ConstOp>,
}

/// A data segment: its active offset, if any, and its bytes in the
/// module's data blob.
#[derive(Debug, Clone)]
pub(crate) struct DataPlan {
    pub active_offset: Option<ConstOp>,
    pub bytes: Range<usize>,
}

pub(crate) struct ModuleInner {
    pub engine: Engine,
    pub env: ModuleEnv,
    pub code: compile::CompiledCode,
    /// Canonical signature id of each type index.
    pub type_ids: Box<[u32]>,
    /// Leading function, global and import indices taken by the
    /// instrumentation ABI (zero when metering is off).
    pub reserved_funcs: u32,
    pub reserved_globals: u32,
    pub reserved_imports: usize,
    pub imports: Vec<ImportType>,
    pub exports: Vec<ExportType>,
    pub export_index: BTreeMap<String, (ExternalKind, u32)>,
    pub memory: Option<MemoryPlan>,
    pub tables: Vec<TablePlan>,
    pub globals: Vec<(GlobalType, ConstOp)>,
    pub elements: Vec<ElementSegment>,
    pub data: Vec<DataPlan>,
    pub data_blob: Box<[u8]>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("imports", &self.inner.imports)
            .field("exports", &self.inner.exports)
            .finish_non_exhaustive()
    }
}

fn internal(what: impl Into<String>) -> Error {
    Error::Internal(what.into())
}

impl Module {
    /// Validates, instruments (unless metering is off), decodes and
    /// compiles `bytes`.
    pub fn new(engine: &Engine, bytes: &[u8]) -> Result<Self, Error> {
        let config = engine.config();
        let info =
            validate(bytes, &config.validation_config()).map_err(|e| Error::Rejected(e.into()))?;
        let wasm = if config.metering {
            instrument(bytes, &info, &config.schedule, &config.stack)
                .map_err(|e| Error::Rejected(e.into()))?
                .bytes
        } else {
            bytes.to_vec()
        };
        let env = ModuleEnv::parse(&wasm)?;
        if config.metering != env.is_instrumented() {
            return Err(internal(
                "instrumentation imports do not match the metering setting",
            ));
        }
        let code = compile::compile_module(engine.isas(), &env, &wasm)
            .map_err(|e| Error::Compile(e.to_string()))?;
        let inner = plan(engine, env, code, &wasm, &info)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The engine the module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The imports the module needs, in order.
    pub fn imports(&self) -> &[ImportType] {
        &self.inner.imports
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> &[ExportType] {
        &self.inner.exports
    }

    /// The signature of the exported function `name`, if there is one.
    pub fn export_func_type(&self, name: &str) -> Option<&FuncType> {
        self.inner
            .exports
            .iter()
            .find(|export| export.name == name)
            .and_then(|export| match &export.ty {
                ExternType::Func(ty) => Some(ty),
                _ => None,
            })
    }

    pub(crate) fn same(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

fn plan(
    engine: &Engine,
    env: ModuleEnv,
    code: compile::CompiledCode,
    wasm: &[u8],
    info: &ModuleInfo,
) -> Result<ModuleInner, Error> {
    let limits = &engine.config().limits;
    let (reserved_funcs, reserved_globals, reserved_imports) = if env.is_instrumented() {
        (
            abi::RESERVED_FUNCS,
            abi::RESERVED_GLOBALS,
            abi::RESERVED_IMPORTS as usize,
        )
    } else {
        (0, 0, 0)
    };

    let types = env
        .types
        .iter()
        .map(|t| FuncType::from_wasm(t).ok_or_else(|| internal("type outside the profile")))
        .collect::<Result<Box<[_]>, _>>()?;
    let type_ids = types.iter().map(|t| engine.register_signature(t)).collect();

    let func_type = |func: u32| -> Result<FuncType, Error> {
        env.funcs
            .get(func as usize)
            .and_then(|&t| types.get(t as usize))
            .cloned()
            .ok_or_else(|| internal("function index out of range"))
    };

    let imports = env.imports[reserved_imports.min(env.imports.len())..]
        .iter()
        .map(|import| {
            let ty = match &import.kind {
                ImportKind::Func(t) => ExternType::Func(
                    types
                        .get(*t as usize)
                        .cloned()
                        .ok_or_else(|| internal("import type out of range"))?,
                ),
                ImportKind::Table(t) => ExternType::Table(table_type(t)?),
                ImportKind::Memory(m) => ExternType::Memory(memory_type(m)),
                ImportKind::Global(g) => ExternType::Global(global_type(g)?),
            };
            Ok(ImportType {
                module: import.module.clone(),
                name: import.name.clone(),
                ty,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;

    // Limits lowered the maxima of defined memories and tables; imports are
    // matched against what the module declared, growth against the lowered
    // maximum.
    let memory = match env.memory {
        Some(m) if !env.memory_imported => {
            let mut declared = memory_type(&m);
            if let Some(info) = info.memory {
                declared.maximum = info.declared_maximum;
            }
            Some(MemoryPlan {
                declared,
                enforced_max: memory_max(m.maximum, limits.memory_pages),
            })
        }
        _ => None,
    };
    let tables = env
        .table_defs
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let mut declared = table_type(&def.ty)?;
            // Metering off (or an older validator) reports no tables; the
            // module's own type is then the declared one.
            if info.tables.len() == env.tables.len()
                && let Some(info) = info.tables.get(env.imported_tables as usize + i)
            {
                declared.maximum = info.declared_maximum;
            }
            Ok(TablePlan {
                declared,
                enforced_max: table_max(def.ty.maximum, limits.table_elements),
                init: def.init,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let globals = env
        .global_defs
        .iter()
        .map(|g| Ok((global_type(&g.ty)?, g.init)))
        .collect::<Result<Vec<_>, Error>>()?;

    let mut exports = Vec::with_capacity(env.exports.len());
    let mut export_index = BTreeMap::new();
    for export in &env.exports {
        let ty = match export.kind {
            ExternalKind::Func => ExternType::Func(func_type(export.index)?),
            ExternalKind::Table => {
                let i = export.index as usize;
                let declared = match i.checked_sub(env.imported_tables as usize) {
                    Some(defined) => tables.get(defined).map(|t| t.declared),
                    None => env.tables.get(i).map(table_type).transpose()?,
                };
                ExternType::Table(declared.ok_or_else(|| internal("table index out of range"))?)
            }
            ExternalKind::Memory => ExternType::Memory(
                memory
                    .map(|m| m.declared)
                    .or(env.memory.as_ref().map(memory_type))
                    .ok_or_else(|| internal("memory index out of range"))?,
            ),
            ExternalKind::Global => ExternType::Global(global_type(
                env.globals
                    .get(export.index as usize)
                    .ok_or_else(|| internal("global index out of range"))?,
            )?),
            _ => return Err(internal("export kind outside the profile")),
        };
        exports.push(ExportType {
            name: export.name.clone(),
            ty,
        });
        export_index.insert(export.name.clone(), (export.kind, export.index));
    }

    let mut data_blob = Vec::new();
    let mut data = Vec::with_capacity(env.data.len());
    for segment in &env.data {
        let bytes = wasm
            .get(segment.bytes.clone())
            .ok_or_else(|| internal("data segment out of range"))?;
        let start = data_blob.len();
        data_blob.extend_from_slice(bytes);
        data.push(DataPlan {
            active_offset: segment.active_offset,
            bytes: start..data_blob.len(),
        });
    }

    Ok(ModuleInner {
        engine: engine.clone(),
        elements: env.elements.clone(),
        env,
        code,
        type_ids,
        reserved_funcs,
        reserved_globals,
        reserved_imports,
        imports,
        exports,
        export_index,
        memory,
        tables,
        globals,
        data,
        data_blob: data_blob.into_boxed_slice(),
    })
}

/// The largest size a memory may grow to: its maximum, capped by the
/// engine's page limit and the 32-bit address space.
pub(crate) fn memory_max(declared: Option<u64>, limit: u64) -> u64 {
    declared.unwrap_or(MAX_PAGES).min(limit).min(MAX_PAGES)
}

/// The largest size a table may grow to.
pub(crate) fn table_max(declared: Option<u64>, limit: u64) -> u64 {
    declared
        .unwrap_or(u64::from(u32::MAX))
        .min(limit)
        .min(u64::from(u32::MAX))
}

pub(crate) fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        minimum: m.initial,
        maximum: m.maximum,
    }
}

pub(crate) fn table_type(t: &wasmparser::TableType) -> Result<TableType, Error> {
    Ok(TableType {
        element: ValType::from_ref(t.element_type)
            .ok_or_else(|| internal("table element type outside the profile"))?,
        minimum: t.initial,
        maximum: t.maximum,
    })
}

pub(crate) fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType, Error> {
    Ok(GlobalType {
        content: ValType::from_wasm(g.content_type)
            .ok_or_else(|| internal("global type outside the profile"))?,
        mutable: g.mutable,
    })
}
