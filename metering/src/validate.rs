//! Validation against the determinism profile, the limits and the import
//! policy. The order of checks is `docs/determinism.md` §2.

use wasmparser::{
    BinaryReaderError, DataKind, ElementItems, ElementKind, Encoding, ExternalKind, FuncType,
    FuncValidator, FuncValidatorAllocations, FunctionBody, Imports, MemoryType, Operator, Parser,
    Payload, SectionLimited, TableInit, TableType, TypeRef, ValType, ValidPayload, Validator,
    ValidatorResources, WasmFeatures,
};

use crate::features::{self, Feature, PROFILE};
use crate::{
    Config, ImportPolicy, Limit, Limits, MemoryInfo, ModuleInfo, TableInfo, ValidationError, abi,
};

/// Validates `bytes` against the determinism profile and `config`.
///
/// On success, returns what instrumentation needs to know about the module.
/// The rules, and which error is reported when several apply, are those of
/// `docs/determinism.md`.
pub fn validate(bytes: &[u8], config: &Config) -> Result<ModuleInfo, ValidationError> {
    let size = bytes.len() as u64;
    check(Limit::ModuleSize, size, config.limits.module_size, 0)?;

    if let Some(mut info) = accept(bytes, config) {
        info.size = bytes.len();
        return Ok(info);
    }

    // The module is rejected: the checks in their documented order find
    // the error to report.
    in_order(bytes, config)
}

/// §2 steps 2 to 4 one after the other, as documented: accepts exactly
/// the modules [`accept`] accepts, and finds the error of the others.
fn in_order(bytes: &[u8], config: &Config) -> Result<ModuleInfo, ValidationError> {
    let mut scan = Scan::new(config, bytes, true);
    scan.module()?;

    match Validator::new_with_features(PROFILE).validate_all(bytes) {
        Ok(_) => {
            scan.info.size = bytes.len();
            Ok(scan.info)
        }
        Err(profile_error) => Err(classify(bytes, scan.first_feature, &profile_error)),
    }
}

/// The single-pass form of §2 steps 2 and 3 for modules that pass both.
///
/// One decoding of the module, with the profile's grammar, feeds the
/// structural checks and the reference validator item by item and
/// instruction by instruction. It returns the module's info if every check
/// passes, and `None` at the first that fails, without saying which: the
/// caller then runs the steps in their documented order to find the error.
///
/// For a module the profile accepts, every proposal's grammar decodes the
/// same items as the profile's (the grammars only differ on encodings the
/// profile rejects), so the structural checks see what the structural pass
/// would see, and both ways accept the same modules with the same info.
fn accept(bytes: &[u8], config: &Config) -> Option<ModuleInfo> {
    let mut scan = Scan::new(config, bytes, false);
    let mut validator = Validator::new_with_features(PROFILE);
    let mut parser = Parser::new(0);
    parser.set_features(PROFILE);
    let mut allocations = FuncValidatorAllocations::default();
    for payload in parser.parse_all(bytes) {
        let payload = payload.ok()?;
        if let Payload::CodeSectionEntry(body) = &payload {
            // Limits first, as the structural pass checks them before the
            // body is validated.
            scan.body_size(body).ok()?;
            let ValidPayload::Func(func, _) = validator.payload(&payload).ok()? else {
                return None;
            };
            let func = func.into_validator(std::mem::take(&mut allocations));
            allocations = scan.validate_body(body, func)?;
            continue;
        }
        // Section limits are checked before the validator allocates from
        // the section's count.
        if let Flow::Stop = scan.payload(&payload).ok()? {
            return None;
        }
        validator.payload(&payload).ok()?;
    }
    Some(scan.info)
}

/// Whether the structural pass goes on after a payload.
enum Flow {
    Continue,
    /// A component: nothing after its header is a core module construct.
    Stop,
}

/// Decides why a module the profile rejects is rejected: either it is not
/// valid WebAssembly at all, or it is and needs a feature outside the
/// profile.
fn classify(
    bytes: &[u8],
    first_feature: Option<FeatureUse>,
    profile_error: &BinaryReaderError,
) -> ValidationError {
    if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        return invalid(&e);
    }
    if let Some(found) = first_feature {
        return ValidationError::UnsupportedFeature {
            feature: found.feature,
            offset: found.offset,
            message: found.what,
        };
    }
    // The scan recognises every construct the test suites exercise; this is
    // the safety net for one it does not.
    match profile_error
        .missing_wasm_feature()
        .and_then(Feature::from_wasm_features)
    {
        Some(feature) => ValidationError::UnsupportedFeature {
            feature,
            offset: profile_error.offset(),
            message: profile_error.message().to_string(),
        },
        None => invalid(profile_error),
    }
}

/// The first construct outside the profile.
struct FeatureUse {
    feature: Feature,
    offset: u64,
    what: String,
}

/// The structural pass: decodes every section item and instruction once,
/// front to back, checking limits and imports as soon as the bytes that
/// carry them are read, and noting the first construct outside the profile.
struct Scan<'c, 'b> {
    bytes: &'b [u8],
    limits: &'c Limits,
    imports: &'c ImportPolicy,
    info: ModuleInfo,
    first_feature: Option<FeatureUse>,
    /// Function types by type index (`None` for other kinds of type), for
    /// matching imports against the allow-list.
    func_types: Vec<Option<FuncType>>,
    imported_globals: u32,
    memories: u32,
    /// Whether to look for constructs outside the profile; only needed to
    /// classify a rejected module.
    record: bool,
}

type Result<T, E = ValidationError> = std::result::Result<T, E>;

impl<'c, 'b> Scan<'c, 'b> {
    fn new(config: &'c Config, bytes: &'b [u8], record: bool) -> Self {
        Self {
            bytes,
            limits: &config.limits,
            imports: &config.imports,
            info: ModuleInfo::default(),
            first_feature: None,
            func_types: Vec::new(),
            imported_globals: 0,
            memories: 0,
            record,
        }
    }

    /// Records `feature` at `offset` if it is the first construct outside
    /// the profile. `what` is only evaluated then.
    fn note(&mut self, feature: Option<Feature>, offset: u64, what: impl FnOnce() -> String) {
        if !self.record {
            return;
        }
        if let (None, Some(feature)) = (&self.first_feature, feature) {
            self.first_feature = Some(FeatureUse {
                feature,
                offset,
                what: what(),
            });
        }
    }

    fn module(&mut self) -> Result<()> {
        for payload in Parser::new(0).parse_all(self.bytes) {
            let payload = payload.map_err(|e| malformed(&e))?;
            if let Flow::Stop = self.payload(&payload)? {
                break;
            }
        }
        Ok(())
    }

    /// The checks of one payload.
    fn payload(&mut self, payload: &Payload<'b>) -> Result<Flow> {
        match payload {
            Payload::Version {
                encoding: Encoding::Component,
                range,
                ..
            } => {
                // Nothing inside a component is a core module construct:
                // the header, at its version field, is the whole story.
                self.note(Some(Feature::ComponentModel), range.start + 4, || {
                    "a component, not a core module".to_string()
                });
                return Ok(Flow::Stop);
            }
            Payload::TypeSection(reader) => self.types(reader.clone())?,
            Payload::ImportSection(reader) => self.import_section(reader.clone())?,
            Payload::FunctionSection(reader) => {
                let reader = reader.clone();
                let total = u64::from(self.info.imported_functions) + u64::from(reader.count());
                check(
                    Limit::Functions,
                    total,
                    self.limits.functions,
                    reader.range().start,
                )?;
                self.info.defined_functions = reader.count();
                for item in reader {
                    item.map_err(|e| malformed(&e))?;
                }
            }
            Payload::TableSection(reader) => {
                let reader = reader.clone();
                let total = self.info.tables.len() as u64 + u64::from(reader.count());
                check(
                    Limit::Tables,
                    total,
                    self.limits.tables,
                    reader.range().start,
                )?;
                for item in reader.into_iter_with_offsets() {
                    let (offset, table) = item.map_err(|e| malformed(&e))?;
                    // An initialiser comes as a `0x40 0x00` prefix.
                    let type_offset = match table.init {
                        TableInit::Expr(_) => offset + 2,
                        TableInit::RefNull => offset,
                    };
                    self.table(table.ty, offset, Some(type_offset))?;
                    if let TableInit::Expr(expr) = table.init {
                        self.note(Some(Feature::FunctionReferences), offset, || {
                            "table with an initialiser expression".to_string()
                        });
                        self.const_expr(&expr)?;
                    }
                }
            }
            Payload::MemorySection(reader) => {
                let reader = reader.clone();
                for item in reader.into_iter_with_offsets() {
                    let (offset, memory) = item.map_err(|e| malformed(&e))?;
                    self.memory(memory, false, offset)?;
                }
            }
            Payload::TagSection(reader) => {
                let reader = reader.clone();
                self.note(Some(Feature::Exceptions), reader.range().start, || {
                    "tag section".to_string()
                });
                for item in reader {
                    item.map_err(|e| malformed(&e))?;
                }
            }
            Payload::GlobalSection(reader) => {
                let reader = reader.clone();
                let total = u64::from(self.info.globals) + u64::from(reader.count());
                check(
                    Limit::Globals,
                    total,
                    self.limits.globals,
                    reader.range().start,
                )?;
                for item in reader.into_iter_with_offsets() {
                    let (offset, global) = item.map_err(|e| malformed(&e))?;
                    self.note(features::global_type(&global.ty), offset, || {
                        describe_global(&global.ty)
                    });
                    self.const_expr(&global.init_expr)?;
                    self.info.globals = self.info.globals.saturating_add(1);
                }
            }
            Payload::ExportSection(reader) => {
                let reader = reader.clone();
                check(
                    Limit::Exports,
                    u64::from(reader.count()),
                    self.limits.exports,
                    reader.range().start,
                )?;
                for item in reader.into_iter_with_offsets() {
                    let (offset, export) = item.map_err(|e| malformed(&e))?;
                    if export.kind == ExternalKind::Tag {
                        self.note(Some(Feature::Exceptions), offset, || {
                            "export of a tag".to_string()
                        });
                    }
                    self.info.exports = self.info.exports.saturating_add(1);
                }
            }
            Payload::ElementSection(reader) => self.elements(reader.clone())?,
            Payload::DataSection(reader) => {
                let reader = reader.clone();
                check(
                    Limit::DataSegments,
                    u64::from(reader.count()),
                    self.limits.data_segments,
                    reader.range().start,
                )?;
                for item in reader {
                    let data = item.map_err(|e| malformed(&e))?;
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        self.const_expr(&offset_expr)?;
                    }
                    self.info.data_segments = self.info.data_segments.saturating_add(1);
                }
            }
            Payload::CodeSectionStart {
                count,
                unchecked_range: range,
                ..
            } => {
                let total = u64::from(self.info.imported_functions) + u64::from(*count);
                check(Limit::Functions, total, self.limits.functions, range.start)?;
            }
            Payload::CodeSectionEntry(body) => self.body(body)?,
            Payload::UnknownSection { id, range, .. } => {
                return Err(ValidationError::Malformed {
                    offset: range.start,
                    message: format!("unknown section id {id}"),
                });
            }
            // The header, start, data-count and custom sections carry
            // nothing to check here; custom sections are opaque.
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn types(&mut self, reader: SectionLimited<'_, wasmparser::RecGroup>) -> Result<()> {
        check(
            Limit::Types,
            u64::from(reader.count()),
            self.limits.types,
            reader.range().start,
        )?;
        let mut items = reader.into_iter();
        loop {
            let offset = items.original_position();
            // The decoder sizes a recursion group by its count before
            // reading it, so the count is checked first.
            if let Some(len) = rec_group_len(self.bytes, offset).filter(|_| items.len() > 0) {
                let total = u64::from(self.info.types) + u64::from(len);
                check(Limit::Types, total, self.limits.types, offset)?;
            }
            let Some(item) = items.next() else { break };
            let group = item.map_err(|e| malformed(&e))?;
            if group.is_explicit_rec_group() {
                self.note(Some(Feature::Gc), offset, || {
                    "explicit recursion group".to_string()
                });
            }
            for (offset, ty) in group.into_types_and_offsets() {
                self.info.types = self.info.types.saturating_add(1);
                check(
                    Limit::Types,
                    u64::from(self.info.types),
                    self.limits.types,
                    offset,
                )?;
                if self.record {
                    let feature = features::sub_type(&ty)
                        .or_else(|| features::encoding::<wasmparser::SubType>(self.bytes, offset));
                    self.note(feature, offset, || format!("type {ty}"));
                }
                match ty.composite_type.inner {
                    wasmparser::CompositeInnerType::Func(f) => {
                        check(
                            Limit::Params,
                            f.params().len() as u64,
                            self.limits.params,
                            offset,
                        )?;
                        check(
                            Limit::Results,
                            f.results().len() as u64,
                            self.limits.results,
                            offset,
                        )?;
                        self.func_types.push(Some(f));
                    }
                    _ => self.func_types.push(None),
                }
            }
        }
        Ok(())
    }

    fn import_section(&mut self, reader: SectionLimited<'_, Imports<'_>>) -> Result<()> {
        // With the compact encodings one entry holds several imports, so the
        // header count is only a lower bound; each import is counted again.
        check(
            Limit::Imports,
            u64::from(reader.count()),
            self.limits.imports,
            reader.range().start,
        )?;
        for group in reader.into_iter_with_offsets() {
            let (group_offset, group) = group.map_err(|e| malformed(&e))?;
            if !matches!(group, Imports::Single(..)) {
                self.note(Some(Feature::CompactImports), group_offset, || {
                    "compact import encoding".to_string()
                });
            }
            for import in group {
                let (offset, import) = import.map_err(|e| malformed(&e))?;
                self.info.imports = self.info.imports.saturating_add(1);
                check(
                    Limit::Imports,
                    u64::from(self.info.imports),
                    self.limits.imports,
                    offset,
                )?;
                self.import_allowed(&import, offset)?;
                match import.ty {
                    TypeRef::Func(_) | TypeRef::FuncExact(_) => {
                        if let TypeRef::FuncExact(_) = import.ty {
                            self.note(Some(Feature::CustomDescriptors), offset, || {
                                "import of a function with an exact type".to_string()
                            });
                        }
                        self.info.imported_functions =
                            self.info.imported_functions.saturating_add(1);
                        check(
                            Limit::Functions,
                            u64::from(self.info.imported_functions),
                            self.limits.functions,
                            offset,
                        )?;
                    }
                    TypeRef::Table(ty) => self.table(ty, offset, None)?,
                    TypeRef::Memory(ty) => self.memory(ty, true, offset)?,
                    TypeRef::Global(ty) => {
                        self.note(features::global_type(&ty), offset, || {
                            format!("imported {}", describe_global(&ty))
                        });
                        self.info.globals = self.info.globals.saturating_add(1);
                        self.imported_globals = self.imported_globals.saturating_add(1);
                        check(
                            Limit::Globals,
                            u64::from(self.info.globals),
                            self.limits.globals,
                            offset,
                        )?;
                    }
                    TypeRef::Tag(_) => {
                        self.note(Some(Feature::Exceptions), offset, || {
                            "tag import".to_string()
                        });
                    }
                }
                if self.record && self.first_feature.is_none() {
                    let feature = features::encoding::<wasmparser::Import<'_>>(self.bytes, offset);
                    self.note(feature, offset, || {
                        "encoding of the import's limits".to_string()
                    });
                }
            }
        }
        Ok(())
    }

    fn import_allowed(&self, import: &wasmparser::Import<'_>, offset: u64) -> Result<()> {
        let refuse = |reason: String| ValidationError::ImportNotAllowed {
            module: import.module.to_string(),
            name: import.name.to_string(),
            offset,
            reason,
        };
        if import.module == abi::MODULE {
            return Err(refuse(format!(
                "the `{}` module is reserved for instrumentation",
                abi::MODULE
            )));
        }
        let list = match self.imports {
            ImportPolicy::AllowList(list) => list,
            ImportPolicy::Any => return Ok(()),
        };
        let TypeRef::Func(type_index) = import.ty else {
            return Err(refuse(format!(
                "only function imports can be allowed, this is a {} import",
                type_ref_kind(&import.ty)
            )));
        };
        let Some(ty) = self
            .func_types
            .get(type_index as usize)
            .and_then(Option::as_ref)
        else {
            // Not a function type: invalid, and validation says so.
            return Ok(());
        };
        let mut candidates = list
            .iter()
            .filter(|a| a.module == import.module && a.name == import.name)
            .peekable();
        let Some(first) = candidates.peek() else {
            return Err(refuse("it is not in the allow-list".to_string()));
        };
        let expected = signature(&first.params, &first.results);
        if candidates.any(|a| a.params == ty.params() && a.results == ty.results()) {
            return Ok(());
        }
        Err(refuse(format!(
            "its type {} differs from the allowed {expected}",
            signature(ty.params(), ty.results())
        )))
    }

    /// A table at `offset`; `defined_at` is where the table type of a
    /// defined (not imported) table starts, to check its encoding.
    fn table(&mut self, ty: TableType, offset: u64, defined_at: Option<u64>) -> Result<()> {
        let imported = defined_at.is_none();
        let count = self.info.tables.len() as u64 + 1;
        check(Limit::Tables, count, self.limits.tables, offset)?;
        let feature = features::table_type(&ty);
        self.note(feature, offset, || format!("table of {}", ty.element_type));
        if let Some(type_offset) = defined_at.filter(|_| self.record) {
            let encoding = features::encoding::<TableType>(self.bytes, type_offset);
            self.note(encoding, offset, || {
                "encoding of the table's limits".to_string()
            });
        }
        // Sizes of tables outside the profile are not in profile units.
        if feature.is_none() {
            check(
                Limit::TableElements,
                ty.initial,
                self.limits.table_elements,
                offset,
            )?;
        }
        let limit = self.limits.table_elements;
        self.info.tables.push(TableInfo {
            imported,
            initial: ty.initial,
            maximum: ty.maximum.map_or(limit, |m| m.min(limit)),
            declared_maximum: ty.maximum,
        });
        Ok(())
    }

    fn memory(&mut self, ty: MemoryType, imported: bool, offset: u64) -> Result<()> {
        let feature = features::memory_type(&ty);
        self.note(feature, offset, || {
            let kind = match feature {
                Some(Feature::Memory64) => "64-bit",
                Some(Feature::Threads) => "shared",
                _ => "custom page size",
            };
            format!("{kind} memory")
        });
        self.memories = self.memories.saturating_add(1);
        if self.memories > 1 {
            self.note(Some(Feature::MultiMemory), offset, || {
                "a second memory".to_string()
            });
        }
        if !imported && self.record {
            let encoding = features::encoding::<MemoryType>(self.bytes, offset);
            self.note(encoding, offset, || {
                "encoding of the memory's limits".to_string()
            });
        }
        // Sizes of memories outside the profile are not in profile units.
        if feature.is_none() {
            check(
                Limit::MemoryPages,
                ty.initial,
                self.limits.memory_pages,
                offset,
            )?;
        }
        if self.info.memory.is_none() {
            let limit = self.limits.memory_pages;
            self.info.memory = Some(MemoryInfo {
                imported,
                initial: ty.initial,
                maximum: ty.maximum.map_or(limit, |m| m.min(limit)),
                declared_maximum: ty.maximum,
            });
        }
        Ok(())
    }

    fn elements(&mut self, reader: SectionLimited<'_, wasmparser::Element<'_>>) -> Result<()> {
        check(
            Limit::ElementSegments,
            u64::from(reader.count()),
            self.limits.element_segments,
            reader.range().start,
        )?;
        for item in reader.into_iter_with_offsets() {
            let (offset, element) = item.map_err(|e| malformed(&e))?;
            if let ElementKind::Active { offset_expr, .. } = &element.kind {
                self.const_expr(offset_expr)?;
            }
            match element.items {
                ElementItems::Functions(functions) => {
                    for f in functions {
                        f.map_err(|e| malformed(&e))?;
                    }
                }
                ElementItems::Expressions(ty, exprs) => {
                    self.note(features::ref_type(ty), offset, || {
                        format!("element segment of {ty}")
                    });
                    for expr in exprs {
                        self.const_expr(&expr.map_err(|e| malformed(&e))?)?;
                    }
                }
            }
            self.info.element_segments = self.info.element_segments.saturating_add(1);
        }
        Ok(())
    }

    fn const_expr(&mut self, expr: &wasmparser::ConstExpr<'_>) -> Result<()> {
        let mut ops = expr.get_operators_reader();
        while !ops.eof() {
            let (op, offset) = ops.read_with_offset().map_err(|e| malformed(&e))?;
            let feature = features::const_operator(&op, self.imported_globals);
            self.note(feature, offset, || {
                format!("instruction `{}` in a constant expression", op_name(&op))
            });
        }
        Ok(())
    }

    fn body_size(&self, body: &FunctionBody<'_>) -> Result<()> {
        let range = body.range();
        let size = range.end.saturating_sub(range.start);
        check(
            Limit::FunctionBodySize,
            size,
            self.limits.function_body_size,
            range.start,
        )
    }

    /// The limits of one local declaration `(count, _)` at `offset`, given
    /// the locals the body declared before it.
    fn locals(&mut self, declared: &mut u64, count: u32, offset: u64) -> Result<()> {
        *declared = declared.saturating_add(u64::from(count));
        check(
            Limit::LocalsPerFunction,
            *declared,
            self.limits.locals_per_function,
            offset,
        )?;
        self.info.total_locals = self.info.total_locals.saturating_add(u64::from(count));
        check(
            Limit::LocalsTotal,
            self.info.total_locals,
            self.limits.locals_total,
            offset,
        )
    }

    /// The limits of a `block`, `loop` or `if` at `offset`, given the
    /// blocks the body had before it.
    fn block(&mut self, blocks: &mut u64, offset: u64) -> Result<()> {
        *blocks += 1;
        check(
            Limit::BlocksPerFunction,
            *blocks,
            self.limits.blocks_per_function,
            offset,
        )?;
        self.info.total_blocks += 1;
        check(
            Limit::BlocksTotal,
            self.info.total_blocks,
            self.limits.blocks_total,
            offset,
        )
    }

    /// The body's limits, checked as the structural pass does, interleaved
    /// with its validation by `func`: one decoding serves both. `None` if
    /// any check fails. The body size was checked already.
    fn validate_body(
        &mut self,
        body: &FunctionBody<'b>,
        mut func: FuncValidator<ValidatorResources>,
    ) -> Option<FuncValidatorAllocations> {
        let mut reader = body.get_binary_reader();
        reader.set_features(PROFILE);
        let mut declared: u64 = 0;
        for _ in 0..reader.read_var_u32().ok()? {
            let offset = reader.original_position();
            let count: u32 = reader.read().ok()?;
            let ty: ValType = reader.read().ok()?;
            self.locals(&mut declared, count, offset).ok()?;
            func.define_locals(offset, count, ty).ok()?;
        }
        let mut blocks: u64 = 0;
        while !reader.eof() {
            let offset = reader.original_position();
            // `block`, `loop`, `if` and `br_table` are one-byte opcodes.
            match self.bytes.get(usize::try_from(offset).ok()?) {
                Some(0x02..=0x04) => self.block(&mut blocks, offset).ok()?,
                Some(0x0e) => {
                    let mut immediate = reader.clone();
                    immediate.read_u8().ok()?;
                    let targets = immediate.read_var_u32().ok()?;
                    check(
                        Limit::BrTableTargets,
                        u64::from(targets),
                        self.limits.br_table_targets,
                        offset,
                    )
                    .ok()?;
                }
                _ => {}
            }
            reader
                .visit_operator(&mut func.visitor(offset))
                .ok()?
                .ok()?;
        }
        reader
            .finish_expression(&func.visitor(reader.original_position()))
            .ok()?;
        Some(func.into_allocations())
    }

    fn body(&mut self, body: &FunctionBody<'_>) -> Result<()> {
        self.body_size(body)?;

        let mut locals = body.get_locals_reader().map_err(|e| malformed(&e))?;
        let mut declared: u64 = 0;
        for _ in 0..locals.get_count() {
            let offset = locals.original_position();
            let (count, ty) = locals.read().map_err(|e| malformed(&e))?;
            self.locals(&mut declared, count, offset)?;
            self.note(features::val_type(ty), offset, || {
                format!("local of type {ty}")
            });
        }

        let mut ops = wasmparser::OperatorsReader::new(locals.get_binary_reader());
        let mut blocks: u64 = 0;
        while !ops.eof() {
            let (op, offset) = ops.read_with_offset().map_err(|e| malformed(&e))?;
            match &op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.block(&mut blocks, offset)?;
                }
                Operator::BrTable { targets } => {
                    check(
                        Limit::BrTableTargets,
                        u64::from(targets.len()),
                        self.limits.br_table_targets,
                        offset,
                    )?;
                }
                _ => {}
            }
            let mut feature = features::operator(&op);
            if feature.is_none()
                && self.first_feature.is_none()
                && features::operator_encoding_varies(&op)
            {
                feature = features::operator_encoding(self.bytes, offset);
            }
            self.note(feature, offset, || {
                format!("instruction `{}`", op_name(&op))
            });
        }
        ops.finish().map_err(|e| malformed(&e))
    }
}

/// The number of types in the explicit recursion group at `offset`, if one
/// starts there.
fn rec_group_len(bytes: &[u8], offset: u64) -> Option<u32> {
    let mut reader =
        wasmparser::BinaryReader::new(bytes.get(usize::try_from(offset).ok()?..)?, offset);
    if reader.read_u8().ok()? != 0x4e {
        return None;
    }
    reader.read_var_u32().ok()
}

/// `Err(LimitExceeded)` if `value` is above `max`.
fn check(limit: Limit, value: u64, max: u64, offset: u64) -> Result<()> {
    if value > max {
        return Err(ValidationError::LimitExceeded {
            limit,
            value,
            max,
            offset,
        });
    }
    Ok(())
}

fn malformed(e: &BinaryReaderError) -> ValidationError {
    ValidationError::Malformed {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

fn invalid(e: &BinaryReaderError) -> ValidationError {
    ValidationError::Invalid {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

/// The instruction's name without its immediates.
fn op_name(op: &Operator<'_>) -> String {
    let debug = format!("{op:?}");
    match debug.find([' ', '{', '(']) {
        Some(end) => debug[..end].to_string(),
        None => debug,
    }
}

fn describe_global(ty: &wasmparser::GlobalType) -> String {
    let shared = if ty.shared { "shared " } else { "" };
    format!("{shared}global of type {}", ty.content_type)
}

fn type_ref_kind(ty: &TypeRef) -> &'static str {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "function",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    }
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |tys: &[ValType]| {
        tys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AllowedImport;
    use arbitrary::{Arbitrary, Unstructured};

    /// Bytes for `Unstructured`, the same on every run.
    fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    /// Limits tight enough that generated modules cross them.
    fn tight_limits(u: &mut Unstructured<'_>) -> Limits {
        let mut limits = Limits::contract();
        for &limit in Limit::ALL {
            if limit != Limit::ModuleSize && u.arbitrary::<bool>().unwrap_or(false) {
                limits.set(limit, u.int_in_range(0..=6).unwrap_or(0));
            }
        }
        limits
    }

    fn config(u: &mut Unstructured<'_>) -> Config {
        let limits = if u.arbitrary::<bool>().unwrap_or(false) {
            tight_limits(u)
        } else {
            Limits::spec()
        };
        let imports = match u.int_in_range(0..=2).unwrap_or(0) {
            0 => ImportPolicy::Any,
            1 => ImportPolicy::AllowList(Vec::new()),
            _ => ImportPolicy::AllowList(vec![AllowedImport::new("", "", [], [])]),
        };
        Config { limits, imports }
    }

    /// The single pass accepts a module, with the same info, exactly when
    /// the checks in their documented order do.
    fn assert_same(bytes: &[u8], config: &Config) -> bool {
        let fast = accept(bytes, config).map(|mut info| {
            info.size = bytes.len();
            info
        });
        let slow = in_order(bytes, config);
        assert_eq!(fast, slow.clone().ok(), "{slow:?} for {bytes:02x?}");
        assert_eq!(validate(bytes, config), slow);
        slow.is_ok()
    }

    #[test]
    fn single_pass_agrees_with_the_documented_order() {
        let (mut accepted, mut rejected) = (0, 0);
        for seed in 0..1000u64 {
            let data = seed_bytes(seed, 4096);
            let mut u = Unstructured::new(&data);
            let Ok(mut smith) = wasm_smith::Config::arbitrary(&mut u) else {
                continue;
            };
            if seed % 2 == 0 {
                // Mostly modules inside the profile, so most are accepted.
                smith.simd_enabled = false;
                smith.relaxed_simd_enabled = false;
                smith.threads_enabled = false;
                smith.exceptions_enabled = false;
                smith.gc_enabled = false;
                smith.tail_call_enabled = false;
                smith.memory64_enabled = false;
                smith.extended_const_enabled = false;
                smith.wide_arithmetic_enabled = false;
                smith.custom_page_sizes_enabled = false;
                smith.compact_imports_enabled = false;
                smith.custom_descriptors_enabled = false;
                smith.shared_everything_threads_enabled = false;
                smith.max_memories = smith.max_memories.min(1);
            }
            let Ok(module) = wasm_smith::Module::new(smith, &mut u) else {
                continue;
            };
            let mut bytes = module.to_bytes();
            let config = config(&mut u);
            if assert_same(&bytes, &config) {
                accepted += 1;
            } else {
                rejected += 1;
            }
            // And a few corruptions of it.
            for _ in 0..4 {
                let (Ok(at), Ok(value)) = (u.int_in_range(0..=bytes.len()), u.arbitrary::<u8>())
                else {
                    break;
                };
                if at < bytes.len() {
                    bytes[at] = value;
                } else {
                    bytes.push(value);
                }
                assert_same(&bytes, &config);
            }
        }
        assert!(
            accepted >= 100 && rejected >= 100,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    /// A limit crossed late in the module wins over an invalid instruction
    /// earlier, because the structural pass comes first.
    #[test]
    fn a_late_limit_wins_over_an_earlier_invalid_instruction() {
        let bytes = wat::parse_str(
            r#"(module
                (func (result i32) i64.const 1)
                (func block block nop end end))"#,
        )
        .expect("parses");
        let mut limits = Limits::spec();
        limits.blocks_per_function = 1;
        let config = Config::with_limits(limits);
        assert!(!assert_same(&bytes, &config));
        match validate(&bytes, &config) {
            Err(ValidationError::LimitExceeded {
                limit: Limit::BlocksPerFunction,
                value: 2,
                max: 1,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            validate(&bytes, &Config::with_limits(Limits::spec())),
            Err(ValidationError::Invalid { .. })
        ));
    }
}
