//! Module-level decoding and re-encoding: the reserved imports and types,
//! index shifting outside function bodies, memory and table maxima, custom
//! sections (`docs/gas.md`, section 2).

use std::borrow::Cow;

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasm_encoder::{
    BlockType, CustomSection, DataCountSection, ElementSection, Encode, EntityType, ExportSection,
    GlobalSection, GlobalType, ImportSection, MemorySection, RawSection, Section, SectionId,
    StartSection, TableSection, TypeSection,
};
use wasmparser::{
    CompositeInnerType, Encoding, FunctionBody, KnownCustom, Parser, Payload, TableInit, TypeRef,
    ValType,
};

use super::analysis::{Analyzer, ModuleTypes, value_size, wasm_error};
use super::rewrite::write_body;
use super::{ChargeSite, InstrumentStats, Instrumented, StackConfig};
use super::{decode_error, unsupported};
use crate::abi::{self, RESERVED_FUNCS, RESERVED_GLOBALS};
use crate::{InstrumentError, ModuleInfo, Schedule};

/// The input module, decoded enough to analyse and re-emit it.
pub(crate) struct ParsedModule<'a> {
    /// Every payload except function bodies, in order.
    pub payloads: Vec<Payload<'a>>,
    /// The defined function bodies, in order.
    pub bodies: Vec<FunctionBody<'a>>,
    pub types: ModuleTypes,
    pub imported_functions: u32,
    pub imported_tables: u32,
    pub defined_tables: u32,
    pub imported_memories: u32,
    pub defined_memories: u32,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<ParsedModule<'_>, InstrumentError> {
    let mut module = ParsedModule {
        payloads: Vec::new(),
        bodies: Vec::new(),
        types: ModuleTypes::default(),
        imported_functions: 0,
        imported_tables: 0,
        defined_tables: 0,
        imported_memories: 0,
        defined_memories: 0,
    };
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(wasm_error)?;
        match &payload {
            Payload::Version {
                encoding, range, ..
            } => {
                if *encoding != Encoding::Module {
                    return Err(unsupported(range.start, "not a core module"));
                }
            }
            Payload::TypeSection(reader) => {
                for group in reader.clone().into_iter_with_offsets() {
                    let (offset, group) = group.map_err(wasm_error)?;
                    if group.is_explicit_rec_group() {
                        return Err(unsupported(
                            offset,
                            "recursion groups are outside the profile",
                        ));
                    }
                    for sub_type in group.into_types() {
                        match sub_type.composite_type.inner {
                            CompositeInnerType::Func(func)
                                if sub_type.is_final
                                    && sub_type.supertype_idxs.is_empty()
                                    && !sub_type.composite_type.shared =>
                            {
                                module.types.types.push(func)
                            }
                            _ => {
                                return Err(unsupported(
                                    offset,
                                    "only function types are supported",
                                ));
                            }
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports_with_offsets() {
                    let (offset, import) = import.map_err(wasm_error)?;
                    match import.ty {
                        TypeRef::Func(ty) => {
                            module.types.func_types.push(ty);
                            module.imported_functions += 1;
                        }
                        TypeRef::Global(global) => {
                            let size = value_size(global.content_type, offset as usize)?;
                            module.types.global_sizes.push(size);
                        }
                        TypeRef::Table(_) => module.imported_tables += 1,
                        TypeRef::Memory(_) => module.imported_memories += 1,
                        TypeRef::FuncExact(_) | TypeRef::Tag(_) => {
                            return Err(unsupported(
                                offset as usize,
                                "import kind outside the profile",
                            ));
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    module.types.func_types.push(ty.map_err(wasm_error)?);
                }
            }
            Payload::TableSection(reader) => module.defined_tables = reader.count(),
            Payload::MemorySection(reader) => module.defined_memories = reader.count(),
            Payload::GlobalSection(reader) => {
                for global in reader.clone().into_iter_with_offsets() {
                    let (offset, global) = global.map_err(wasm_error)?;
                    let size = value_size(global.ty.content_type, offset as usize)?;
                    module.types.global_sizes.push(size);
                }
            }
            Payload::CodeSectionEntry(body) => {
                module.bodies.push(body.clone());
                continue;
            }
            Payload::TagSection(reader) => {
                return Err(unsupported(
                    reader.range().start,
                    "tags are outside the profile",
                ));
            }
            Payload::UnknownSection { range, .. } => {
                return Err(unsupported(range.start, "unknown section"));
            }
            Payload::CustomSection(_)
            | Payload::ExportSection(_)
            | Payload::StartSection { .. }
            | Payload::ElementSection(_)
            | Payload::DataCountSection { .. }
            | Payload::DataSection(_)
            | Payload::CodeSectionStart { .. }
            | Payload::End(_) => {}
            _ => {
                return Err(unsupported(
                    0,
                    "component-model sections are outside the profile",
                ));
            }
        }
        module.payloads.push(payload);
    }
    let defined = module.types.func_types.len() - module.imported_functions as usize;
    if defined != module.bodies.len() {
        return Err(decode_error(
            bytes.len(),
            "function and code section counts differ",
        ));
    }
    Ok(module)
}

/// Everything [`emit`] needs besides the parsed module.
pub(crate) struct EmitContext<'p> {
    pub info: &'p ModuleInfo,
    pub schedule: &'p Schedule,
    pub stack: &'p StackConfig,
}

/// The types appended after the `(func)` type for function wrappers, and
/// the wrapper block type of every type index used by a defined function.
pub(crate) struct WrapperTypes {
    /// Result lists of the appended types, in order.
    pub appended: Vec<Vec<ValType>>,
    /// Block type by type index; `Empty` for types no defined function uses.
    pub block_types: Vec<BlockType>,
}

/// One appended type per distinct result list of two or more values among
/// the types of defined functions, in order of the first defined function
/// with that result list (`docs/gas.md`, 2.2).
pub(crate) fn wrapper_types(parsed: &ParsedModule<'_>) -> Result<WrapperTypes, InstrumentError> {
    let types = &parsed.types.types;
    let first_appended = u32::try_from(types.len())
        .ok()
        .and_then(|count| count.checked_add(1))
        .ok_or_else(|| unsupported(0, "too many types"))?;
    let mut appended: Vec<Vec<ValType>> = Vec::new();
    let mut block_types = vec![BlockType::Empty; types.len()];
    let mut known = vec![false; types.len()];
    let defined = &parsed.types.func_types[parsed.imported_functions as usize..];
    for &type_index in defined {
        let index = type_index as usize;
        let (Some(ty), Some(seen)) = (types.get(index), known.get_mut(index)) else {
            return Err(decode_error(0, "function type index out of range"));
        };
        if std::mem::replace(seen, true) {
            continue;
        }
        block_types[index] = match ty.results() {
            [] => BlockType::Empty,
            [single] => BlockType::Result(encode_val_type(*single, 0)?),
            many => {
                let position = match appended.iter().position(|known| known == many) {
                    Some(position) => position,
                    None => {
                        appended.push(many.to_vec());
                        appended.len() - 1
                    }
                };
                let position = u32::try_from(position)
                    .ok()
                    .and_then(|position| first_appended.checked_add(position))
                    .ok_or_else(|| unsupported(0, "too many types"))?;
                BlockType::FunctionType(position)
            }
        };
    }
    Ok(WrapperTypes {
        appended,
        block_types,
    })
}

/// The output module, written section by section into one buffer.
struct Output(Vec<u8>);

impl Output {
    fn section(&mut self, section: &impl Section) {
        section.append_to(&mut self.0);
    }
}

/// Writes the instrumented module, analysing and rewriting each function
/// body as the code section is reached.
pub(crate) fn emit(
    bytes: &[u8],
    parsed: &ParsedModule<'_>,
    context: &EmitContext<'_>,
) -> Result<Instrumented, InstrumentError> {
    check_info(parsed, context.info)?;
    let wrappers = wrapper_types(parsed)?;
    let mut stats = InstrumentStats {
        input_size: bytes.len(),
        ..InstrumentStats::default()
    };
    // Instrumented modules are typically one and a half to two times larger.
    let mut out = Output(Vec::with_capacity(bytes.len() * 2 + 64));
    out.0
        .extend_from_slice(&[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    let mut charges = Vec::with_capacity(parsed.bodies.len());
    let mut shifter = Shifter;
    let mut types_written = false;
    let mut imports_written = false;
    let reserved_type =
        u32::try_from(parsed.types.types.len()).map_err(|_| unsupported(0, "too many types"))?;

    for payload in &parsed.payloads {
        let is_custom = matches!(
            payload,
            Payload::CustomSection(_) | Payload::Version { .. } | Payload::End(_)
        );
        if !is_custom && !matches!(payload, Payload::TypeSection(_)) && !types_written {
            out.section(&type_section(parsed, &wrappers.appended)?);
            types_written = true;
        }
        if !is_custom
            && !matches!(payload, Payload::TypeSection(_) | Payload::ImportSection(_))
            && !imports_written
        {
            out.section(&reserved_imports(reserved_type));
            imports_written = true;
        }
        match payload {
            Payload::Version { .. } | Payload::End(_) => {}
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    // A name section carries no semantics: drop it if it
                    // cannot be decoded rather than refuse the module.
                    if let Ok(section) = NameShifter.custom_name_section(names) {
                        out.section(&section);
                    }
                } else {
                    out.section(&CustomSection {
                        name: Cow::Borrowed(reader.name()),
                        data: Cow::Borrowed(reader.data()),
                    });
                }
            }
            Payload::TypeSection(_) => {
                out.section(&type_section(parsed, &wrappers.appended)?);
                types_written = true;
            }
            Payload::ImportSection(reader) => {
                let mut imports = reserved_imports(reserved_type);
                for import in reader.clone().into_imports() {
                    let import = import.map_err(wasm_error)?;
                    let ty = shifter.entity_type(import.ty).map_err(reencode_error)?;
                    imports.import(import.module, import.name, ty);
                }
                out.section(&imports);
                imports_written = true;
            }
            Payload::FunctionSection(reader) => {
                let range = reader.range();
                let data = bytes
                    .get(range.start as usize..range.end as usize)
                    .ok_or_else(|| decode_error(range.start, "section out of range"))?;
                out.section(&RawSection {
                    id: SectionId::Function as u8,
                    data,
                });
            }
            Payload::TableSection(reader) => {
                let mut tables = TableSection::new();
                for (index, table) in reader.clone().into_iter().enumerate() {
                    let table = table.map_err(wasm_error)?;
                    let mut ty = shifter.table_type(table.ty).map_err(reencode_error)?;
                    let info_index = parsed.imported_tables as usize + index;
                    if let Some(limits) = context.info.tables.get(info_index) {
                        ty.maximum = Some(limits.maximum);
                    }
                    match table.init {
                        TableInit::RefNull => tables.table(ty),
                        TableInit::Expr(init) => {
                            let init = shifter.const_expr(init).map_err(reencode_error)?;
                            tables.table_with_init(ty, &init)
                        }
                    };
                }
                out.section(&tables);
            }
            Payload::MemorySection(reader) => {
                let mut memories = MemorySection::new();
                for memory in reader.clone() {
                    let memory = memory.map_err(wasm_error)?;
                    let mut ty = shifter.memory_type(memory).map_err(reencode_error)?;
                    if let Some(limits) = context.info.memory {
                        ty.maximum = Some(limits.maximum);
                    }
                    memories.memory(ty);
                }
                out.section(&memories);
            }
            Payload::GlobalSection(reader) => {
                let mut globals = GlobalSection::new();
                shifter
                    .parse_global_section(&mut globals, reader.clone())
                    .map_err(reencode_error)?;
                out.section(&globals);
            }
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                shifter
                    .parse_export_section(&mut exports, reader.clone())
                    .map_err(reencode_error)?;
                out.section(&exports);
            }
            Payload::StartSection { func, .. } => {
                let function_index = shifter.start_section(*func).map_err(reencode_error)?;
                out.section(&StartSection { function_index });
            }
            Payload::ElementSection(reader) => {
                let mut elements = ElementSection::new();
                shifter
                    .parse_element_section(&mut elements, reader.clone())
                    .map_err(reencode_error)?;
                out.section(&elements);
            }
            Payload::DataCountSection { count, .. } => {
                out.section(&DataCountSection { count: *count });
            }
            Payload::DataSection(reader) => {
                let mut data = wasm_encoder::DataSection::new();
                shifter
                    .parse_data_section(&mut data, reader.clone())
                    .map_err(reencode_error)?;
                out.section(&data);
            }
            Payload::CodeSectionStart { .. } => {
                charges = code_section(&mut out.0, bytes, parsed, context, &wrappers, &mut stats)?;
            }
            _ => return Err(unsupported(0, "section outside the profile")),
        }
    }
    if !types_written {
        out.section(&type_section(parsed, &wrappers.appended)?);
    }
    if !imports_written {
        out.section(&reserved_imports(reserved_type));
    }
    stats.output_size = out.0.len();
    Ok(Instrumented {
        bytes: out.0,
        stats,
        charges,
    })
}

fn check_info(parsed: &ParsedModule<'_>, info: &ModuleInfo) -> Result<(), InstrumentError> {
    if let Some(memory) = info.memory {
        let defined = parsed.defined_memories > 0;
        if memory.imported == defined || parsed.imported_memories + parsed.defined_memories != 1 {
            return Err(InstrumentError::InfoMismatch {
                message: "memory description does not match the module".to_string(),
            });
        }
    }
    let tables = parsed.imported_tables as usize + parsed.defined_tables as usize;
    if !info.tables.is_empty() && info.tables.len() != tables {
        return Err(InstrumentError::InfoMismatch {
            message: format!(
                "{} tables described, module has {tables}",
                info.tables.len()
            ),
        });
    }
    Ok(())
}

fn type_section(
    parsed: &ParsedModule<'_>,
    wrapper_types: &[Vec<ValType>],
) -> Result<TypeSection, InstrumentError> {
    let mut types = TypeSection::new();
    for ty in &parsed.types.types {
        let params = encode_val_types(ty.params())?;
        let results = encode_val_types(ty.results())?;
        types.ty().function(params, results);
    }
    types.ty().function([], []);
    for results in wrapper_types {
        types.ty().function([], encode_val_types(results)?);
    }
    Ok(types)
}

fn reserved_imports(reserved_type: u32) -> ImportSection {
    let counter = EntityType::Global(GlobalType {
        val_type: wasm_encoder::ValType::I64,
        mutable: true,
        shared: false,
    });
    let mut imports = ImportSection::new();
    imports.import(
        abi::MODULE,
        abi::OUT_OF_GAS,
        EntityType::Function(reserved_type),
    );
    imports.import(
        abi::MODULE,
        abi::STACK_OVERFLOW,
        EntityType::Function(reserved_type),
    );
    imports.import(abi::MODULE, abi::GAS_LEFT, counter);
    imports.import(abi::MODULE, abi::STACK_LEFT, counter);
    imports
}

/// Appends the code section, with its id and size, to `out`.
fn code_section(
    out: &mut Vec<u8>,
    bytes: &[u8],
    parsed: &ParsedModule<'_>,
    context: &EmitContext<'_>,
    wrappers: &WrapperTypes,
    stats: &mut InstrumentStats,
) -> Result<Vec<Vec<ChargeSite>>, InstrumentError> {
    let input_code: usize = parsed
        .bodies
        .iter()
        .map(|body| body.as_bytes().len() + 5)
        .sum();
    // Injected code roughly doubles typical bodies; reserving once avoids
    // repeated copies of a large section.
    out.reserve(input_code * 2 + 16);
    out.push(SectionId::Code as u8);
    // The contents are written in place, after room for the longest size
    // prefix; the prefix is then written and the contents moved up to it.
    let size_at = out.len();
    out.extend_from_slice(&[0; 5]);
    let contents = out.len();
    let count = u32::try_from(parsed.bodies.len())
        .map_err(|_| unsupported(0, "too many function bodies"))?;
    count.encode(out);
    let mut analyzer = Analyzer::new(
        &parsed.types,
        context.schedule,
        context.stack.frame_overhead,
    );
    let mut body_bytes = Vec::new();
    let mut charges = Vec::with_capacity(parsed.bodies.len());
    let defined = &parsed.types.func_types[parsed.imported_functions as usize..];
    for (body, &type_index) in parsed.bodies.iter().zip(defined) {
        let plan = analyzer.analyze(body, type_index)?;
        let wrapper = wrappers
            .block_types
            .get(type_index as usize)
            .copied()
            .unwrap_or(BlockType::Empty);
        let mut sites = Vec::new();
        write_body(
            &mut body_bytes,
            &mut sites,
            bytes,
            body,
            &plan,
            analyzer.edits(),
            wrapper,
        )?;
        charges.push(sites);
        body_bytes.as_slice().encode(out);

        stats.functions += 1;
        stats.metered_blocks += plan.charged_blocks;
        stats.wrapped_functions += u32::from(plan.wrap);
        stats.max_frame = stats.max_frame.max(plan.frame);
        stats.frame_costs.push(plan.frame);
        stats.dynamic_charges += plan.dynamic_charges;
    }
    let size = u32::try_from(out.len() - contents)
        .map_err(|_| unsupported(0, "code section too large"))?;
    let mut prefix = Vec::with_capacity(5);
    size.encode(&mut prefix);
    out[size_at..size_at + prefix.len()].copy_from_slice(&prefix);
    out.copy_within(contents.., size_at + prefix.len());
    out.truncate(out.len() - (5 - prefix.len()));
    Ok(charges)
}

pub(crate) fn encode_val_type(
    ty: ValType,
    offset: usize,
) -> Result<wasm_encoder::ValType, InstrumentError> {
    Shifter.val_type(ty).map_err(|error| match error {
        ReencodeError::ParseError(error) => wasm_error(error),
        _ => unsupported(offset, format!("value type {ty} cannot be encoded")),
    })
}

fn encode_val_types(types: &[ValType]) -> Result<Vec<wasm_encoder::ValType>, InstrumentError> {
    types.iter().map(|&ty| encode_val_type(ty, 0)).collect()
}

/// An index that no longer fits in `u32` after the shift.
#[derive(Debug)]
struct IndexOverflow;

fn reencode_error(error: ReencodeError<IndexOverflow>) -> InstrumentError {
    match error {
        ReencodeError::ParseError(error) => wasm_error(error),
        ReencodeError::UserError(IndexOverflow) => {
            unsupported(0, "index does not fit after shifting")
        }
        other => unsupported(0, format!("cannot re-encode: {other:?}")),
    }
}

/// Shifts function and global indices past the reserved imports.
struct Shifter;

impl Reencode for Shifter {
    type Error = IndexOverflow;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<IndexOverflow>> {
        func.checked_add(RESERVED_FUNCS)
            .ok_or(ReencodeError::UserError(IndexOverflow))
    }

    fn global_index(&mut self, global: u32) -> Result<u32, ReencodeError<IndexOverflow>> {
        global
            .checked_add(RESERVED_GLOBALS)
            .ok_or(ReencodeError::UserError(IndexOverflow))
    }
}

/// [`Shifter`] for the `name` section, which also drops label names: the
/// injected `if` blocks renumber labels.
struct NameShifter;

impl Reencode for NameShifter {
    type Error = IndexOverflow;

    fn function_index(&mut self, func: u32) -> Result<u32, ReencodeError<IndexOverflow>> {
        Shifter.function_index(func)
    }

    fn global_index(&mut self, global: u32) -> Result<u32, ReencodeError<IndexOverflow>> {
        Shifter.global_index(global)
    }

    fn parse_custom_name_subsection(
        &mut self,
        names: &mut wasm_encoder::NameSection,
        section: wasmparser::Name<'_>,
    ) -> Result<(), ReencodeError<IndexOverflow>> {
        if matches!(section, wasmparser::Name::Label(_)) {
            return Ok(());
        }
        wasm_encoder::reencode::utils::parse_custom_name_subsection(self, names, section)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Limits, Schedule, StackConfig, instrument, validate};

    /// A module whose code section is `functions` bodies of `adds` additions.
    fn module(functions: usize, adds: usize) -> Vec<u8> {
        let body = "local.get 0 i32.const 7 i32.add local.set 0 ".repeat(adds);
        let funcs = format!("(func (param i32) {body})").repeat(functions);
        wat::parse_str(format!("(module {funcs})")).expect("parses")
    }

    /// The code section, written in place, gets a size prefix of every
    /// length, and the contents after it are intact.
    #[test]
    fn code_section_size_prefixes_of_every_length() {
        for (functions, adds) in [(0, 0), (1, 0), (1, 10), (1, 1_000), (40, 3_000)] {
            let bytes = module(functions, adds);
            let info = validate(&bytes, &Config::with_limits(Limits::spec())).expect("valid");
            let out = instrument(&bytes, &info, &Schedule::v1(), &StackConfig::default())
                .expect("instruments");
            assert_eq!(out.bytes.len(), out.stats.output_size);
            wasmparser::Validator::new()
                .validate_all(&out.bytes)
                .expect("the output is valid");
            let mut bodies = 0;
            for payload in wasmparser::Parser::new(0).parse_all(&out.bytes) {
                if let wasmparser::Payload::CodeSectionEntry(body) = payload.expect("decodes") {
                    let mut ops = body.get_operators_reader().expect("decodes");
                    while !ops.eof() {
                        ops.read().expect("decodes");
                    }
                    bodies += 1;
                }
            }
            assert_eq!(bodies, functions);
        }
    }
}
