//! Instances: import resolution, allocation, segment initialisation and the
//! start function, plus export access.

use core::ffi::c_void;

use super::builtins::BUILTINS;
use super::call::Func;
use super::global::GlobalData;
use super::host::{HostFuncData, HostFuncDef};
use super::linker::{Definition, Extern, Linker};
use super::memory::{MemoryData, checked_range};
use super::module::ElemItem;
use super::store::{Store, StoreObjects};
use super::table::TableData;
use super::{
    CallError, Error, ExternType, Global, InternalError, Memory, Module, Outcome, Table, TrapKind,
    Value,
};
use crate::env::{ConstOp, ElementMode, ImportKind};
use crate::vmctx::{VMContext, VMFuncRef, VMGlobal, VMTable, ValRaw};
use wasmparser::ExternalKind;

/// Store index standing for "no object" (the reserved instrumentation
/// globals, which live in `VMRuntime`).
const NONE: u32 = u32::MAX;

/// An instance's state. Boxed in the store, so `vmctx` (which compiled code
/// receives) and the arrays it points to never move.
pub(crate) struct InstanceData {
    pub vmctx: VMContext,
    pub module: Module,
    pub funcs: Box<[VMFuncRef]>,
    pub global_ptrs: Box<[*mut VMGlobal]>,
    pub table_ptrs: Box<[*mut VMTable]>,
    /// Store indices of the memory, tables and globals, by index space.
    pub memory: Option<u32>,
    pub tables: Box<[u32]>,
    pub globals: Box<[u32]>,
    /// Data segments dropped so far (the contents stay in the module).
    data_dropped: Box<[bool]>,
    /// Element segments dropped so far. The items stay in the module, in
    /// instance-independent form: an instance holds nothing per item.
    elements_dropped: Box<[bool]>,
}

impl InstanceData {
    /// Contents of data segment `seg` (empty once dropped), `None` if there
    /// is no such segment.
    pub fn data_segment(&self, seg: u32) -> Option<&[u8]> {
        let dropped = *self.data_dropped.get(seg as usize)?;
        if dropped {
            return Some(&[]);
        }
        let plan = self.module.inner.data.get(seg as usize)?;
        self.module.inner.data_blob.get(plan.bytes.clone())
    }

    pub fn drop_data(&mut self, seg: u32) {
        if let Some(dropped) = self.data_dropped.get_mut(seg as usize) {
            *dropped = true;
        }
    }

    /// Items of element segment `seg` (empty once dropped), `None` if
    /// there is no such segment. [`InstanceData::item_ref`] turns an item
    /// into this instance's reference.
    pub fn element_segment(&self, seg: u32) -> Option<&[ElemItem]> {
        let dropped = *self.elements_dropped.get(seg as usize)?;
        if dropped {
            return Some(&[]);
        }
        Some(&self.module.inner.elements.get(seg as usize)?.items)
    }

    pub fn drop_elements(&mut self, seg: u32) {
        if let Some(dropped) = self.elements_dropped.get_mut(seg as usize) {
            *dropped = true;
        }
    }

    /// The raw reference `item` stands for in this instance: the address of
    /// its `VMFuncRef`, or the value of the global it reads.
    pub fn item_ref(&self, item: ElemItem) -> usize {
        match item {
            ElemItem::Null => 0,
            // `Module::new` checked every index against the function and
            // global index spaces, whose lengths `funcs` and `global_ptrs`
            // have, so the fallbacks are never taken.
            ElemItem::Func(f) => self
                .funcs
                .get(f as usize)
                .map_or(0, |funcref| funcref as *const VMFuncRef as usize),
            ElemItem::Global(g) => self.global_ptrs.get(g as usize).map_or(0, |&cell| {
                // SAFETY: `global_ptrs` holds pointers to global cells the
                // store owns and never frees before it is dropped (or to
                // its reserved cell), so `cell` is live; nothing writes to
                // it during this read (compiled code is suspended in a
                // builtin, or not running). A reference is stored in the
                // first 8 bytes, little-endian.
                let bytes = unsafe { (*cell).bytes };
                u64::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                ]) as usize
            }),
        }
    }
}

/// An instance of a [`Module`] in a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance {
    store_id: u64,
    index: u32,
}

/// An import after resolution.
enum Resolved<T> {
    Func(VMFuncRef),
    Host(HostFuncDef<T>),
    Table(u32),
    Memory(u32),
    Global(u32),
}

fn limits_match(actual: (u64, Option<u64>), wanted: (u64, Option<u64>)) -> bool {
    actual.0 >= wanted.0
        && match wanted.1 {
            None => true,
            Some(max) => actual.1.is_some_and(|actual_max| actual_max <= max),
        }
}

fn extern_kind(item: &Extern) -> &'static str {
    match item {
        Extern::Func(_) => "func",
        Extern::Table(_) => "table",
        Extern::Memory(_) => "memory",
        Extern::Global(_) => "global",
    }
}

impl Instance {
    /// Instantiates `module` in `store`, resolving its imports with
    /// `linker`.
    ///
    /// In order: imports are resolved and type-checked; the memory, tables
    /// and globals are created; active element segments, then active data
    /// segments, are copied in, each bounds-checked and then dropped (a
    /// failing one traps, keeping the effects of those before it); finally
    /// the start function runs with the engine's `start_gas_limit`. A trap
    /// in either phase is [`Error::Instantiation`].
    pub fn new<T>(
        store: &mut Store<T>,
        module: &Module,
        linker: &Linker<T>,
    ) -> Result<Instance, Error> {
        let engine = store.engine().clone();
        if !module.engine().same(&engine) || !linker.engine().same(&engine) {
            return Err(Error::WrongStore);
        }
        let resolved = resolve_imports(store.objects(), module, linker)?;
        let instance = allocate(store, module, resolved)?;
        instance.initialize_segments(store.objects_mut())?;
        if let Some(start) = module.inner.env.start {
            let func = instance
                .func_at(store.objects(), start)
                .ok_or(InternalError::StartFunctionOutOfRange { index: start })?;
            let gas = engine.config().start_gas_limit;
            if let Outcome::Trap { kind, message, .. } = func.call(store, &[], gas)? {
                return Err(Error::Instantiation { kind, message });
            }
        }
        Ok(instance)
    }

    fn data<'s>(&self, objects: &'s StoreObjects) -> Option<&'s InstanceData> {
        if self.store_id != objects.id {
            return None;
        }
        objects.instances.get(self.index as usize).map(|b| &**b)
    }

    fn func_at(&self, objects: &StoreObjects, index: u32) -> Option<Func> {
        let data = self.data(objects)?;
        let funcref = data.funcs.get(index as usize)?;
        Some(Func {
            store_id: objects.id,
            raw: funcref as *const VMFuncRef as usize,
        })
    }

    /// The export `name`, or `None` if there is none (or `store` is not
    /// this instance's store).
    pub fn get_export<T>(&self, store: &Store<T>, name: &str) -> Option<Extern> {
        let objects = store.objects();
        let data = self.data(objects)?;
        let &(kind, index) = data.module.inner.export_index.get(name)?;
        self.export_item(objects, data, kind, index)
    }

    fn export_item(
        &self,
        objects: &StoreObjects,
        data: &InstanceData,
        kind: ExternalKind,
        index: u32,
    ) -> Option<Extern> {
        let store_id = objects.id;
        let store_index = |list: &[u32]| list.get(index as usize).copied().filter(|&i| i != NONE);
        Some(match kind {
            ExternalKind::Func => Extern::Func(self.func_at(objects, index)?),
            ExternalKind::Table => Extern::Table(Table {
                store_id,
                index: store_index(&data.tables)?,
            }),
            ExternalKind::Memory => Extern::Memory(Memory {
                store_id,
                index: data.memory?,
            }),
            ExternalKind::Global => Extern::Global(Global {
                store_id,
                index: store_index(&data.globals)?,
            }),
            _ => return None,
        })
    }

    /// Every export, in the module's order.
    pub fn exports<T>(&self, store: &Store<T>) -> Result<Vec<(String, Extern)>, Error> {
        let objects = store.objects();
        let data = self.data(objects).ok_or(Error::WrongStore)?;
        data.module
            .inner
            .env
            .exports
            .iter()
            .map(|export| {
                self.export_item(objects, data, export.kind, export.index)
                    .map(|item| (export.name.clone(), item))
                    .ok_or_else(|| {
                        InternalError::ExportUnresolved {
                            name: export.name.clone(),
                        }
                        .into()
                    })
            })
            .collect()
    }

    /// The exported function `name`.
    pub fn get_func<T>(&self, store: &Store<T>, name: &str) -> Option<Func> {
        match self.get_export(store, name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The exported memory `name`.
    pub fn get_memory<T>(&self, store: &Store<T>, name: &str) -> Option<Memory> {
        match self.get_export(store, name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The exported table `name`.
    pub fn get_table<T>(&self, store: &Store<T>, name: &str) -> Option<Table> {
        match self.get_export(store, name)? {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The exported global `name`, as a handle.
    pub fn get_global_handle<T>(&self, store: &Store<T>, name: &str) -> Option<Global> {
        match self.get_export(store, name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The current value of the exported global `name`.
    pub fn get_global<T>(&self, store: &Store<T>, name: &str) -> Option<Value> {
        self.get_global_handle(store, name)?.get(store).ok()
    }

    /// Calls the exported function `name`; see [`Func::call`].
    pub fn call<T>(
        &self,
        store: &mut Store<T>,
        name: &str,
        args: &[Value],
        gas_limit: u64,
    ) -> Result<Outcome, Error> {
        if self.store_id != store.objects().id {
            return Err(Error::WrongStore);
        }
        let func = match self.get_export(store, name) {
            Some(Extern::Func(f)) => f,
            Some(_) => return Err(CallError::NotAFunction(name.into()).into()),
            None => return Err(CallError::NoSuchExport(name.into()).into()),
        };
        func.call(store, args, gas_limit)
    }

    /// Active element then data segments, in order (WebAssembly 2.0).
    ///
    /// When `Module::new` could merge them (no imported target, constant
    /// offsets, everything in bounds, so nothing can fail), the merged
    /// images are applied: at most the initial table sizes and the initial
    /// memory are written, however many segments overlap. Otherwise each
    /// segment is checked and copied in turn, so a failing one leaves the
    /// writes of those before it, as the specification says.
    fn initialize_segments(&self, objects: &mut StoreObjects) -> Result<(), Error> {
        let StoreObjects {
            instances,
            tables,
            memories,
            globals,
            ..
        } = objects;
        let globals: &[Box<GlobalData>] = globals;
        let data = instances
            .get_mut(self.index as usize)
            .ok_or(InternalError::InstanceVanished)?;
        let module = data.module.clone();
        let inner = &module.inner;
        let trap = |kind| Error::Instantiation {
            kind,
            message: None,
        };
        let internal = |what| Error::from(InternalError::Inconsistent { what });
        let imported_tables = inner.env.imported_tables as usize;

        match &inner.table_images {
            Some(images) => {
                for (defined, image) in images.iter().enumerate() {
                    if image.runs.is_empty() {
                        continue;
                    }
                    let table = data
                        .tables
                        .get(imported_tables + defined)
                        .and_then(|&t| tables.get_mut(t as usize))
                        .ok_or_else(|| internal("element table out of range"))?;
                    let elements = table.elements_mut();
                    for (start, range) in image.runs.iter() {
                        let items = image
                            .items
                            .get(range.clone())
                            .ok_or_else(|| internal("element image out of range"))?;
                        let slots = elements
                            .get_mut(*start..*start + items.len())
                            .ok_or_else(|| internal("element image exceeds its table"))?;
                        for (slot, item) in slots.iter_mut().zip(items) {
                            *slot = data.item_ref(*item);
                        }
                    }
                }
            }
            None => {
                for segment in inner.elements.iter() {
                    let ElementMode::Active { table, offset } = segment.mode else {
                        continue;
                    };
                    let offset = eval_const(offset, &data.funcs, &data.globals, globals)?;
                    let table = data
                        .tables
                        .get(table as usize)
                        .and_then(|&t| tables.get_mut(t as usize))
                        .ok_or_else(|| internal("element table out of range"))?;
                    let elements = table.elements_mut();
                    // Checked before any item is evaluated: a segment that
                    // does not fit costs nothing per item.
                    let range = checked_range(
                        u64::from(offset as u32),
                        segment.items.len() as u64,
                        elements.len(),
                    )
                    .ok_or_else(|| trap(TrapKind::TableOutOfBounds))?;
                    for (slot, item) in elements[range].iter_mut().zip(segment.items.iter()) {
                        *slot = data.item_ref(*item);
                    }
                }
            }
        }

        let memory = data
            .memory
            .and_then(|m| memories.get_mut(m as usize))
            .map_or(&mut [][..], |m| m.bytes_mut());
        match &inner.memory_image {
            Some(image) => {
                for (start, range) in image.runs.iter() {
                    let bytes = image
                        .items
                        .get(range.clone())
                        .ok_or_else(|| internal("data image out of range"))?;
                    memory
                        .get_mut(*start..*start + bytes.len())
                        .ok_or_else(|| internal("data image exceeds the memory"))?
                        .copy_from_slice(bytes);
                }
                for (dropped, plan) in data.data_dropped.iter_mut().zip(&inner.data) {
                    *dropped |= plan.active_offset.is_some();
                }
            }
            None => {
                for (i, plan) in inner.data.iter().enumerate() {
                    let Some(offset) = plan.active_offset else {
                        continue;
                    };
                    let offset = eval_const(offset, &data.funcs, &data.globals, globals)?;
                    let bytes = inner
                        .data_blob
                        .get(plan.bytes.clone())
                        .ok_or_else(|| internal("data segment out of range"))?;
                    let range =
                        checked_range(u64::from(offset as u32), bytes.len() as u64, memory.len())
                            .ok_or_else(|| trap(TrapKind::MemoryOutOfBounds))?;
                    memory[range].copy_from_slice(bytes);
                    data.data_dropped[i] = true;
                }
            }
        }
        Ok(())
    }
}

/// Evaluates a constant expression for an instance whose functions and
/// globals are `funcs` and `instance_globals` (store indices).
fn eval_const(
    op: ConstOp,
    funcs: &[VMFuncRef],
    instance_globals: &[u32],
    globals: &[Box<GlobalData>],
) -> Result<ValRaw, Error> {
    let bad = || Error::from(InternalError::ConstExprMissingItem);
    Ok(match op {
        ConstOp::I32(v) => u64::from(v as u32),
        ConstOp::I64(v) => v as u64,
        ConstOp::F32(bits) => u64::from(bits),
        ConstOp::F64(bits) => bits,
        ConstOp::RefNull(_) => 0,
        ConstOp::RefFunc(f) => funcs.get(f as usize).ok_or_else(bad)? as *const VMFuncRef as u64,
        ConstOp::GlobalGet(g) => {
            let index = *instance_globals.get(g as usize).ok_or_else(bad)?;
            globals.get(index as usize).ok_or_else(bad)?.get_raw()
        }
    })
}

fn resolve_imports<T>(
    objects: &StoreObjects,
    module: &Module,
    linker: &Linker<T>,
) -> Result<Vec<Resolved<T>>, Error> {
    let inner = &module.inner;
    let mut resolved = Vec::with_capacity(inner.imports.len());
    for (i, import) in inner.imports.iter().enumerate() {
        let link_error = |reason: String| Error::Link {
            module: import.module.clone(),
            name: import.name.clone(),
            reason,
        };
        let foreign = || link_error("item belongs to another store".into());
        let definition = linker
            .get(&import.module, &import.name)
            .ok_or_else(|| link_error("unknown import".into()))?;
        let item = match (&import.ty, definition) {
            (ExternType::Func(want), definition) => {
                let type_index = match inner.env.imports.get(inner.reserved_imports + i) {
                    Some(crate::env::Import {
                        kind: ImportKind::Func(t),
                        ..
                    }) => *t,
                    _ => return Err(InternalError::ImportListMismatch.into()),
                };
                let want_id = inner.type_ids[type_index as usize];
                let mismatch = |found: &dyn std::fmt::Display| {
                    link_error(format!("expected function {want}, found {found}"))
                };
                match definition {
                    Definition::Host(def) if def.type_id == want_id => Resolved::Host(def.clone()),
                    Definition::Host(def) => return Err(mismatch(&def.ty)),
                    Definition::Extern(Extern::Func(f)) => {
                        if f.store_id != objects.id {
                            return Err(foreign());
                        }
                        // SAFETY: `f` belongs to this store (checked), so
                        // `raw` addresses a live `VMFuncRef` it owns.
                        let funcref = unsafe { &*(f.raw as *const VMFuncRef) };
                        if funcref.type_id != want_id {
                            let found = objects.engine.signature(funcref.type_id);
                            return Err(match found {
                                Some(ty) => mismatch(&ty),
                                None => mismatch(&"an unknown signature"),
                            });
                        }
                        Resolved::Func(VMFuncRef {
                            code: funcref.code,
                            vmctx: funcref.vmctx,
                            type_id: funcref.type_id,
                            _pad: 0,
                        })
                    }
                    Definition::Extern(other) => {
                        return Err(link_error(format!(
                            "expected func, found {}",
                            extern_kind(other)
                        )));
                    }
                }
            }
            (ExternType::Table(want), Definition::Extern(Extern::Table(t))) => {
                let have = objects.table(*t).map_err(|_| foreign())?.ty();
                if have.element != want.element
                    || !limits_match((have.minimum, have.maximum), (want.minimum, want.maximum))
                {
                    return Err(link_error(format!(
                        "expected table {want:?}, found {have:?}"
                    )));
                }
                Resolved::Table(t.index)
            }
            (ExternType::Memory(want), Definition::Extern(Extern::Memory(m))) => {
                let have = objects.memory(*m).map_err(|_| foreign())?.ty();
                if !limits_match((have.minimum, have.maximum), (want.minimum, want.maximum)) {
                    return Err(link_error(format!(
                        "expected memory {want:?}, found {have:?}"
                    )));
                }
                Resolved::Memory(m.index)
            }
            (ExternType::Global(want), Definition::Extern(Extern::Global(g))) => {
                let have = objects.global(*g).map_err(|_| foreign())?.ty;
                if have != *want {
                    return Err(link_error(format!(
                        "expected global {want:?}, found {have:?}"
                    )));
                }
                Resolved::Global(g.index)
            }
            (want, Definition::Host(_)) => {
                return Err(link_error(format!(
                    "expected {}, found func",
                    want.kind_name()
                )));
            }
            (want, Definition::Extern(other)) => {
                return Err(link_error(format!(
                    "expected {}, found {}",
                    want.kind_name(),
                    extern_kind(other)
                )));
            }
        };
        resolved.push(item);
    }
    Ok(resolved)
}

/// Creates the instance's objects and its `VMContext`, and adds it to the
/// store. Segments and the start function come after.
fn allocate<T>(
    store: &mut Store<T>,
    module: &Module,
    resolved: Vec<Resolved<T>>,
) -> Result<Instance, Error> {
    let inner = &module.inner;
    let env = &inner.env;
    let store_ptr = store.inner_ptr();
    let store_inner = store.inner_mut();
    let objects = &mut store_inner.objects;
    let runtime = objects.runtime();

    let mut imported_funcs = Vec::new();
    let mut table_indices = Vec::with_capacity(env.tables.len());
    let mut global_indices = Vec::with_capacity(env.globals.len());
    global_indices.resize(inner.reserved_globals as usize, NONE);
    let mut memory = None;
    for item in resolved {
        match item {
            Resolved::Func(f) => imported_funcs.push(Ok(f)),
            Resolved::Host(h) => imported_funcs.push(Err(h)),
            Resolved::Table(t) => table_indices.push(t),
            Resolved::Memory(m) => memory = Some(m),
            Resolved::Global(g) => global_indices.push(g),
        }
    }

    if let Some(plan) = inner.memory {
        let data = MemoryData::new(
            plan.declared.minimum,
            plan.declared.maximum,
            plan.enforced_max,
        )?;
        memory = Some(objects.push_memory(data).index);
    }
    for plan in &inner.tables {
        let init = match plan.init {
            // Table initialisers can only name imported items: evaluate
            // them without this instance's functions.
            Some(op) => eval_const(op, &[], &global_indices, &objects.globals)? as usize,
            None => 0,
        };
        let data = TableData::new(
            plan.declared.element,
            plan.declared.minimum,
            plan.declared.maximum,
            plan.enforced_max,
            init,
        )?;
        table_indices.push(objects.push_table(data).index);
    }

    let null_func = || VMFuncRef {
        code: core::ptr::null(),
        vmctx: core::ptr::null_mut(),
        type_id: NONE,
        _pad: 0,
    };
    let mut data = Box::new(InstanceData {
        vmctx: VMContext {
            runtime,
            builtins: &BUILTINS,
            memory: core::ptr::null_mut(),
            globals: core::ptr::null(),
            tables: core::ptr::null(),
            funcs: core::ptr::null(),
            type_ids: inner.type_ids.as_ptr(),
            instance: core::ptr::null_mut(),
        },
        module: module.clone(),
        funcs: (0..env.funcs.len()).map(|_| null_func()).collect(),
        global_ptrs: Box::default(),
        table_ptrs: Box::default(),
        memory,
        tables: Box::default(),
        globals: Box::default(),
        data_dropped: vec![false; inner.data.len()].into_boxed_slice(),
        elements_dropped: inner.elements_dropped.clone(),
    });
    let vmctx: *mut VMContext = &raw mut data.vmctx;
    data.vmctx.instance = (&raw mut *data).cast::<c_void>();

    let memory_ptr = memory
        .and_then(|m| objects.memories.get_mut(m as usize))
        .map_or(core::ptr::null_mut(), |m| &raw mut m.vm);
    data.vmctx.memory = memory_ptr;

    // Functions: reserved, imported, defined.
    let reserved = inner.reserved_funcs as usize;
    let imported_count = imported_funcs.len();
    for (i, import) in imported_funcs.into_iter().enumerate() {
        let index = reserved + i;
        data.funcs[index] = match import {
            Ok(funcref) => funcref,
            Err(def) => {
                let type_index = env.funcs[index];
                let mut host = HostFuncData::new(&def, store_ptr, runtime, &BUILTINS, memory);
                let funcref = VMFuncRef {
                    code: inner.code.host_stub(type_index),
                    vmctx: host.vmctx().cast::<c_void>(),
                    type_id: def.type_id,
                    _pad: 0,
                };
                store_inner.host_funcs.push(host);
                funcref
            }
        };
    }
    let objects = &mut store_inner.objects;
    let first_defined = reserved + imported_count;
    for index in first_defined..env.funcs.len() {
        let type_index = env.funcs[index];
        data.funcs[index] = VMFuncRef {
            code: inner.code.function((index - first_defined) as u32),
            vmctx: vmctx.cast::<c_void>(),
            type_id: inner.type_ids[type_index as usize],
            _pad: 0,
        };
    }

    // Globals: reserved, imported, defined (initialisers may read imported
    // globals and take references to this instance's functions).
    for (ty, init) in &inner.globals {
        let raw = eval_const(*init, &data.funcs, &global_indices, &objects.globals)?;
        global_indices.push(objects.push_global(GlobalData::new(*ty, raw)).index);
    }
    let reserved_cell: *mut VMGlobal = &raw mut *objects.reserved_global;
    data.global_ptrs = global_indices
        .iter()
        .map(|&g| match objects.globals.get_mut(g as usize) {
            Some(global) => &raw mut global.cell,
            None => reserved_cell,
        })
        .collect();
    data.table_ptrs = table_indices
        .iter()
        .map(|&t| match objects.tables.get_mut(t as usize) {
            Some(table) => &raw mut table.vm,
            None => core::ptr::null_mut(),
        })
        .collect();
    data.vmctx.globals = data.global_ptrs.as_ptr();
    data.vmctx.tables = data.table_ptrs.as_ptr();
    data.vmctx.funcs = data.funcs.as_ptr();
    data.globals = global_indices.into_boxed_slice();
    data.tables = table_indices.into_boxed_slice();

    objects.register_module(module);
    objects.instances.push(data);
    Ok(Instance {
        store_id: objects.id,
        index: (objects.instances.len() - 1) as u32,
    })
}
