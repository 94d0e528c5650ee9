//! Modules: validated, instrumented and compiled once, instantiated many
//! times. Everything instantiation needs that does not depend on the
//! imports is computed here, so instantiation does no decoding.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use detvm_metering::{ModuleInfo, abi, instrument, validate};
use wasmparser::ExternalKind;

use super::memory::PAGE_SIZE;
use super::{
    Engine, Error, ExternType, FuncType, GlobalType, InternalError, MemoryType, ResourceError,
    TableType, ValType,
};
use crate::compile;
use crate::env::{ConstOp, ElementMode, ElementSegment, ImportKind, ModuleEnv};

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

/// One item of an element segment, in a form that does not depend on the
/// instance. It becomes a reference (the address of the instance's
/// `VMFuncRef`, or a global's value) only when it is written into a table,
/// so a passive segment costs an instance nothing until `table.init`
/// copies from it, and then only per element copied, which is charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ElemItem {
    /// `ref.null`.
    #[default]
    Null,
    /// `ref.func`: a function index.
    Func(u32),
    /// `global.get` of an immutable global (constant expressions can name
    /// no other), so reading it later gives the value it had at
    /// instantiation.
    Global(u32),
}

/// An element segment: how it is used and its items, shared by every
/// instance of the module.
#[derive(Debug, Clone)]
pub(crate) struct ElementPlan {
    pub mode: ElementMode,
    pub items: Box<[ElemItem]>,
}

/// What a module's active segments leave in a fresh memory or table,
/// computed once: disjoint runs in ascending order, each a start index in
/// the target and a range of `items`. Applying the runs gives the same
/// contents as applying the segments one by one, but copies at most the
/// target's initial size, however many segments overlap.
#[derive(Debug, Clone, Default)]
pub(crate) struct InitImage<T> {
    pub runs: Box<[(usize, Range<usize>)]>,
    pub items: Box<[T]>,
}

impl<T: Copy + Default> InitImage<T> {
    /// Merges `segments` (start index, contents), applied in order, later
    /// ones overwriting earlier ones. The work is the segments' total size
    /// plus sorting their bounds.
    fn merge(segments: &[(usize, &[T])]) -> Result<Self, Error> {
        let mut bounds: Vec<(usize, usize)> = segments
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|&(start, items)| {
                start
                    .checked_add(items.len())
                    .map(|end| (start, end))
                    .ok_or_else(|| internal("segment end overflows"))
            })
            .collect::<Result<_, _>>()?;
        // Sorted on the whole tuple, so the order does not depend on the
        // sort's stability.
        bounds.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (start, end) in bounds {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut runs = Vec::with_capacity(merged.len());
        let mut total = 0usize;
        for (start, end) in merged {
            let len = end - start;
            runs.push((start, total..total + len));
            total += len;
        }
        let mut items = vec![T::default(); total];
        for &(start, segment) in segments {
            if segment.is_empty() {
                continue;
            }
            // The run containing `start`: a segment is never split between
            // runs, since runs are unions of segments.
            let run = runs
                .partition_point(|(run_start, _)| *run_start <= start)
                .checked_sub(1)
                .and_then(|i| runs.get(i))
                .ok_or_else(|| internal("segment outside its image"))?;
            let from = run.1.start + (start - run.0);
            items
                .get_mut(from..from + segment.len())
                .ok_or_else(|| internal("segment outside its image"))?
                .copy_from_slice(segment);
        }
        Ok(Self {
            runs: runs.into_boxed_slice(),
            items: items.into_boxed_slice(),
        })
    }
}

/// The maxima a module declared before limits lowered them, which import
/// matching and exported types use (validation reports them; a stored
/// module carries them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Declared {
    /// For a defined memory: `Some(declared maximum)`; `None` keeps the
    /// maximum of the (instrumented) module.
    pub memory: Option<Option<u64>>,
    /// The same for each defined table.
    pub tables: Vec<Option<Option<u64>>>,
}

impl Declared {
    fn of(info: &ModuleInfo, env: &ModuleEnv) -> Self {
        let tables = (0..env.table_defs.len())
            .map(|i| {
                // Metering off (or an older validator) reports no tables;
                // the module's own type is then the declared one.
                if info.tables.len() != env.tables.len() {
                    return None;
                }
                info.tables
                    .get(env.imported_tables as usize + i)
                    .map(|t| t.declared_maximum)
            })
            .collect();
        Self {
            memory: info.memory.map(|m| m.declared_maximum),
            tables,
        }
    }
}

/// Everything besides the code that building a module from its compiled
/// form needs: its structure, its data segments' contents (the ranges in
/// `env.data` point into `data`), and its declared maxima. What the code
/// cache stores next to the code image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModuleSource {
    /// The structure; function bodies are empty ranges (their code is
    /// compiled already).
    pub env: ModuleEnv,
    /// The data segments' contents, one after the other.
    pub data: Vec<u8>,
    /// The maxima declared before limits lowered them.
    pub declared: Declared,
}

impl ModuleSource {
    fn of(env: &ModuleEnv, wasm: &[u8], declared: Declared) -> Result<Self, Error> {
        let mut env = env.clone();
        let mut data = Vec::new();
        for segment in &mut env.data {
            let bytes = wasm
                .get(segment.bytes.clone())
                .ok_or_else(|| internal("data segment out of range"))?;
            let start = data.len();
            data.extend_from_slice(bytes);
            segment.bytes = start..data.len();
        }
        for body in &mut env.bodies {
            body.range = 0..0;
        }
        Ok(Self {
            env,
            data,
            declared,
        })
    }
}

/// A module's compiled form, as [`Module::compile_artifact`] gives it for
/// storing and [`Module::from_artifact`] takes it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModuleArtifact {
    /// The code.
    pub code: compile::CodeArtifact,
    /// The rest.
    pub source: ModuleSource,
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
    /// Element segments, instance-independent (passive ones are turned into
    /// references only by `table.init`).
    pub elements: Box<[ElementPlan]>,
    /// Which element segments an instance starts with dropped: the active
    /// and declared ones.
    pub elements_dropped: Box<[bool]>,
    /// The active element segments merged, one image per defined table,
    /// when every active segment has a constant offset and fits the initial
    /// size of a table the module defines; otherwise `None` and the
    /// segments are applied one by one, as the specification describes.
    pub table_images: Option<Box<[InitImage<ElemItem>]>>,
    pub data: Vec<DataPlan>,
    /// Passive and active segment contents, shared by every instance.
    pub data_blob: Box<[u8]>,
    /// The active data segments merged, when the memory is defined here and
    /// every active segment has a constant offset and fits the initial
    /// memory; otherwise `None` (segments applied one by one).
    pub memory_image: Option<InitImage<u8>>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("imports", &self.inner.imports)
            .field("exports", &self.inner.exports)
            .finish_non_exhaustive()
    }
}

/// Running out of memory to map is the machine's state, not the module's:
/// a resource error, which the code cache does not remember.
fn load_error(e: crate::artifact::image::LoadError) -> Error {
    match e {
        crate::artifact::image::LoadError::Memory(io) => ResourceError::CodeMemory(io).into(),
        other => Error::Compile(compile::CompileError::Load(other)),
    }
}

/// A broken invariant of a decoded module or stored artifact.
fn internal(what: &'static str) -> Error {
    InternalError::Inconsistent { what }.into()
}

impl Module {
    /// Validates, instruments (unless metering is off), decodes and
    /// compiles `bytes`.
    pub fn new(engine: &Engine, bytes: &[u8]) -> Result<Self, Error> {
        Self::build(engine, bytes, false, None).map(|(module, _)| module)
    }

    /// Compiles `bytes` like [`Module::new`] and returns the CLIF the
    /// translator wrote for each defined function (imports excluded), in
    /// Cranelift's text form, before Cranelift's own passes. For review and
    /// golden-file tests: it shows what a change to the translator does to
    /// the code, independently of the target's instruction selection.
    pub fn translated_clif(engine: &Engine, bytes: &[u8]) -> Result<Vec<String>, Error> {
        let mut clif = Vec::new();
        Self::build(engine, bytes, false, Some(&mut clif))?;
        Ok(clif.into_iter().map(|f| f.translated).collect())
    }

    /// Compiles `bytes` like [`Module::new`] and also returns the compiled
    /// form for the code cache.
    pub(crate) fn compile_artifact(
        engine: &Engine,
        bytes: &[u8],
    ) -> Result<(Self, ModuleArtifact), Error> {
        let (module, artifact) = Self::build(engine, bytes, true, None)?;
        let artifact = artifact.ok_or(InternalError::ArtifactNotKept)?;
        Ok((module, artifact))
    }

    /// Builds a module from its compiled form without compiling: loads the
    /// code and plans instantiation from the stored structure. The
    /// artifact's indices are checked against each other (see
    /// `artifact::format` for the structure's own checks), so a damaged one
    /// is an error.
    pub(crate) fn from_artifact(engine: &Engine, artifact: &ModuleArtifact) -> Result<Self, Error> {
        let source = &artifact.source;
        let env = &source.env;
        let counts_match = artifact.code.functions.len() == env.bodies.len()
            && artifact.code.trampolines.len() == env.types.len()
            && env.bodies.len() + env.imported_funcs as usize == env.funcs.len()
            && source.declared.tables.len() == env.table_defs.len();
        if !counts_match {
            return Err(InternalError::ArtifactMismatch.into());
        }
        if engine.config().metering != env.instrumented {
            return Err(InternalError::MeteringMismatch {
                metering: engine.config().metering,
            }
            .into());
        }
        let code = compile::CompiledCode::load(&artifact.code).map_err(load_error)?;
        let inner = plan(engine, env.clone(), code, &source.data, &source.declared)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    fn build(
        engine: &Engine,
        bytes: &[u8],
        keep: bool,
        clif: Option<&mut Vec<compile::FunctionClif>>,
    ) -> Result<(Self, Option<ModuleArtifact>), Error> {
        let config = engine.config();
        let info =
            validate(bytes, &config.validation_config()).map_err(|e| Error::Rejected(e.into()))?;
        let (wasm, frame_costs, charges) = if config.metering {
            let instrumented = instrument(bytes, &info, &config.schedule, &config.stack)
                .map_err(|e| Error::Rejected(e.into()))?;
            let frame_costs = instrumented.stats.frame_costs;
            (
                instrumented.bytes,
                Some(frame_costs),
                Some(instrumented.charges),
            )
        } else {
            (bytes.to_vec(), None, None)
        };
        // Instrumented exactly when metering is on: just above.
        let env = ModuleEnv::parse(&wasm, config.metering)?;
        let artifact = compile::compile_module(
            engine.isas(),
            &env,
            &wasm,
            frame_costs.as_deref(),
            charges.as_deref(),
            clif,
        )
        .map_err(Error::Compile)?;
        let code = compile::CompiledCode::load(&artifact).map_err(load_error)?;
        let declared = Declared::of(&info, &env);
        let kept = if keep {
            Some(ModuleArtifact {
                code: artifact,
                source: ModuleSource::of(&env, &wasm, declared.clone())?,
            })
        } else {
            None
        };
        let inner = plan(engine, env, code, &wasm, &declared)?;
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            kept,
        ))
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

    /// Whether the module declares a start function (which every
    /// instantiation runs).
    pub fn has_start(&self) -> bool {
        self.inner.env.start.is_some()
    }

    /// The initial size, in 64 KiB pages, of the memory the module defines;
    /// zero when it defines none (an imported memory is not counted).
    pub fn defined_memory_pages(&self) -> u64 {
        match self.inner.env.memory {
            Some(memory) if !self.inner.env.memory_imported => memory.initial,
            _ => 0,
        }
    }

    pub(crate) fn same(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

fn plan(
    engine: &Engine,
    mut env: ModuleEnv,
    code: compile::CompiledCode,
    wasm: &[u8],
    declared_max: &Declared,
) -> Result<ModuleInner, Error> {
    let limits = &engine.config().limits;
    let (reserved_funcs, reserved_globals, reserved_imports) = if env.instrumented {
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
            if let Some(maximum) = declared_max.memory {
                declared.maximum = maximum;
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
            if let Some(&Some(maximum)) = declared_max.tables.get(i) {
                declared.maximum = maximum;
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

    // The items move out of `env` (nothing else reads them) into a form
    // half the size, so a large segment is held once per module.
    let elements = std::mem::take(&mut env.elements)
        .into_iter()
        .map(|segment| element_plan(segment, env.funcs.len(), env.globals.len()))
        .collect::<Result<Box<[_]>, Error>>()?;
    let elements_dropped = elements
        .iter()
        .map(|segment| !matches!(segment.mode, ElementMode::Passive))
        .collect();
    let table_images = table_images(&elements, &tables, env.imported_tables)?;
    let memory_image = memory_image(memory.as_ref(), &data, &data_blob)?;

    Ok(ModuleInner {
        engine: engine.clone(),
        elements,
        elements_dropped,
        table_images,
        memory_image,
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

/// An element segment in instance-independent form. Function and global
/// indices are checked here, so turning an item into a reference cannot
/// fail later.
fn element_plan(
    segment: ElementSegment,
    funcs: usize,
    globals: usize,
) -> Result<ElementPlan, Error> {
    let items = match segment.mode {
        // Declared segments only make `ref.func` valid; nothing reads them.
        ElementMode::Declared => Box::default(),
        _ => segment
            .items
            .iter()
            .map(|op| match *op {
                ConstOp::RefNull(_) => Ok(ElemItem::Null),
                ConstOp::RefFunc(f) if (f as usize) < funcs => Ok(ElemItem::Func(f)),
                ConstOp::GlobalGet(g) if (g as usize) < globals => Ok(ElemItem::Global(g)),
                _ => Err(internal("element segment item is not a valid reference")),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(ElementPlan {
        mode: segment.mode,
        items,
    })
}

/// A constant `i32` offset as an index, or `None` if the offset depends on
/// an import.
fn constant_offset(op: ConstOp) -> Option<usize> {
    match op {
        ConstOp::I32(v) => usize::try_from(v as u32).ok(),
        _ => None,
    }
}

/// The merged active element segments of each defined table, if every
/// active segment targets a defined table at a constant offset and fits
/// its initial size, so instantiation cannot fail part way through them.
fn table_images(
    elements: &[ElementPlan],
    tables: &[TablePlan],
    imported_tables: u32,
) -> Result<Option<Box<[InitImage<ElemItem>]>>, Error> {
    let mut per_table: Vec<Vec<(usize, &[ElemItem])>> = vec![Vec::new(); tables.len()];
    for segment in elements {
        let ElementMode::Active { table, offset } = segment.mode else {
            continue;
        };
        let Some(defined) = table.checked_sub(imported_tables) else {
            return Ok(None);
        };
        let (Some(plan), Some(start)) = (tables.get(defined as usize), constant_offset(offset))
        else {
            return Ok(None);
        };
        let fits = (start as u64)
            .checked_add(segment.items.len() as u64)
            .is_some_and(|end| end <= plan.declared.minimum);
        if !fits {
            return Ok(None);
        }
        per_table[defined as usize].push((start, &segment.items));
    }
    let images = per_table
        .iter()
        .map(|segments| InitImage::merge(segments))
        .collect::<Result<_, _>>()?;
    Ok(Some(images))
}

/// The merged active data segments, if the memory is defined here and
/// every active segment has a constant offset and fits the initial memory.
fn memory_image(
    memory: Option<&MemoryPlan>,
    data: &[DataPlan],
    data_blob: &[u8],
) -> Result<Option<InitImage<u8>>, Error> {
    let Some(memory) = memory else {
        return Ok(None);
    };
    let size = memory.declared.minimum.saturating_mul(PAGE_SIZE);
    let mut segments = Vec::new();
    for plan in data {
        let Some(offset) = plan.active_offset else {
            continue;
        };
        let Some(start) = constant_offset(offset) else {
            return Ok(None);
        };
        let bytes = data_blob
            .get(plan.bytes.clone())
            .ok_or_else(|| internal("data segment out of range"))?;
        let fits = (start as u64)
            .checked_add(bytes.len() as u64)
            .is_some_and(|end| end <= size);
        if !fits {
            return Ok(None);
        }
        segments.push((start, bytes));
    }
    InitImage::merge(&segments).map(Some)
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
