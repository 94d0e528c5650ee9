//! The module environment: everything about a module's structure that both
//! the compiler and the runtime need, decoded once from validated bytes.
//!
//! Index spaces follow WebAssembly: imported items come first. Function
//! bodies are kept as byte ranges into the module so the compiler can decode
//! them lazily, one at a time.

use std::ops::Range;

use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, GlobalType, MemoryType,
    Operator, Parser, Payload, RefType, TableInit, TableType, TypeRef, ValType,
};

/// Why a module environment could not be decoded. Modules reach this stage
/// only after validation, so this indicates a bug or a profile gap rather
/// than bad user input; it is still an error, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode module structure at offset {offset}: {message}")]
pub struct EnvError {
    /// Byte offset of the problem.
    pub offset: u64,
    /// What went wrong.
    pub message: String,
}

impl From<wasmparser::BinaryReaderError> for EnvError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Self {
            offset: e.offset(),
            message: e.message().to_string(),
        }
    }
}

fn unsupported(offset: u64, what: impl Into<String>) -> EnvError {
    EnvError {
        offset,
        message: what.into(),
    }
}

/// A constant expression of the profile: WebAssembly 2.0 constant
/// expressions are exactly one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstOp {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const`, as raw bits.
    F32(u32),
    /// `f64.const`, as raw bits.
    F64(u64),
    /// `ref.null` of the given type.
    RefNull(RefType),
    /// `ref.func` of a function index.
    RefFunc(u32),
    /// `global.get` of an (imported, immutable) global index.
    GlobalGet(u32),
}

impl ConstOp {
    fn decode(expr: &ConstExpr<'_>) -> Result<Self, EnvError> {
        let mut reader = expr.get_operators_reader();
        let offset = reader.original_position();
        let op = match reader.read()? {
            Operator::I32Const { value } => Self::I32(value),
            Operator::I64Const { value } => Self::I64(value),
            Operator::F32Const { value } => Self::F32(value.bits()),
            Operator::F64Const { value } => Self::F64(value.bits()),
            Operator::RefNull { hty } => Self::RefNull(
                RefType::new(true, hty)
                    .ok_or_else(|| unsupported(offset, "unrepresentable ref.null type"))?,
            ),
            Operator::RefFunc { function_index } => Self::RefFunc(function_index),
            Operator::GlobalGet { global_index } => Self::GlobalGet(global_index),
            other => {
                return Err(unsupported(
                    offset,
                    format!("constant expression `{other:?}`"),
                ));
            }
        };
        match reader.read()? {
            Operator::End => Ok(op),
            _ => Err(unsupported(
                offset,
                "constant expression longer than one instruction",
            )),
        }
    }
}

/// What an import provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    /// A function of the given type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// One import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What it provides.
    pub kind: ImportKind,
}

/// One export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What kind of item.
    pub kind: ExternalKind,
    /// Index in that kind's index space.
    pub index: u32,
}

/// A defined (non-imported) global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalDef {
    /// Its type.
    pub ty: GlobalType,
    /// Its initial value.
    pub init: ConstOp,
}

/// A defined (non-imported) table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Its type.
    pub ty: TableType,
    /// Initial value of every element, `None` meaning null.
    pub init: Option<ConstOp>,
}

/// How an element segment is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementMode {
    /// Copied into a table at instantiation, then dropped.
    Active {
        /// Target table index.
        table: u32,
        /// Offset into the table.
        offset: ConstOp,
    },
    /// Available to `table.init` until `elem.drop`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// One element segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementSegment {
    /// How it is used.
    pub mode: ElementMode,
    /// Element type.
    pub ty: RefType,
    /// The elements, each a constant expression.
    pub items: Vec<ConstOp>,
}

/// One data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSegment {
    /// The offset of an active segment; `None` for a passive one.
    pub active_offset: Option<ConstOp>,
    /// Byte range of the segment's contents within the module.
    pub bytes: Range<usize>,
}

/// A defined function's body, as a byte range within the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBody {
    /// Byte range of the body (locals and code, excluding the size prefix).
    pub range: Range<usize>,
}

/// Everything structural about a module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleEnv {
    /// Function types by type index.
    pub types: Vec<FuncType>,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Type index of every function, imported first.
    pub funcs: Vec<u32>,
    /// How many of `funcs` are imported.
    pub imported_funcs: u32,
    /// Type of every table, imported first.
    pub tables: Vec<TableType>,
    /// How many of `tables` are imported.
    pub imported_tables: u32,
    /// Defined tables (`tables[imported_tables..]`), with their initialisers.
    pub table_defs: Vec<TableDef>,
    /// The memory, imported or defined (the profile allows at most one).
    pub memory: Option<MemoryType>,
    /// Whether `memory` is imported.
    pub memory_imported: bool,
    /// Type of every global, imported first.
    pub globals: Vec<GlobalType>,
    /// How many of `globals` are imported.
    pub imported_globals: u32,
    /// Defined globals (`globals[imported_globals..]`), with initialisers.
    pub global_defs: Vec<GlobalDef>,
    /// Exports in order.
    pub exports: Vec<Export>,
    /// The start function, if any.
    pub start: Option<u32>,
    /// Element segments in order.
    pub elements: Vec<ElementSegment>,
    /// Data segments in order.
    pub data: Vec<DataSegment>,
    /// Bodies of the defined functions (`funcs[imported_funcs..]`).
    pub bodies: Vec<FunctionBody>,
    /// Whether `metering::instrument` wrote this module, so that its first
    /// four imports are the `detvm` counters and traps, which the compiler
    /// and the runtime treat as such. Told by whoever decodes the module
    /// (it knows whether it instrumented it), never guessed from import
    /// names: an uninstrumented module may import anything.
    pub instrumented: bool,
}

impl ModuleEnv {
    /// The fewest bytes the memory ever has: its declared minimum (an
    /// imported memory is at least its import's minimum, and no memory
    /// shrinks). Zero without a memory.
    pub fn minimum_memory_bytes(&self) -> u64 {
        self.memory
            .map_or(0, |m| m.initial.saturating_mul(crate::runtime::PAGE_SIZE))
    }

    /// Decodes the structure of a module that already passed validation;
    /// `instrumented`: whether `metering::instrument` wrote it (then its
    /// reserved imports must be there).
    pub fn parse(bytes: &[u8], instrumented: bool) -> Result<Self, EnvError> {
        let mut env = ModuleEnv {
            instrumented,
            ..ModuleEnv::default()
        };
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        env.types.push(ty?);
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports_with_offsets() {
                        let (offset, import) = import?;
                        let kind = match import.ty {
                            TypeRef::Func(ty) => {
                                env.funcs.push(ty);
                                env.imported_funcs += 1;
                                ImportKind::Func(ty)
                            }
                            TypeRef::Table(ty) => {
                                env.tables.push(ty);
                                env.imported_tables += 1;
                                ImportKind::Table(ty)
                            }
                            TypeRef::Memory(ty) => {
                                env.set_memory(ty, true, offset)?;
                                ImportKind::Memory(ty)
                            }
                            TypeRef::Global(ty) => {
                                env.globals.push(ty);
                                env.imported_globals += 1;
                                ImportKind::Global(ty)
                            }
                            _ => {
                                return Err(unsupported(offset, "import kind outside the profile"));
                            }
                        };
                        env.imports.push(Import {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                            kind,
                        });
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        env.funcs.push(ty?);
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        let table = table?;
                        let init = match &table.init {
                            TableInit::RefNull => None,
                            TableInit::Expr(expr) => Some(ConstOp::decode(expr)?),
                        };
                        env.tables.push(table.ty);
                        env.table_defs.push(TableDef { ty: table.ty, init });
                    }
                }
                Payload::MemorySection(reader) => {
                    let offset = reader.range().start;
                    for memory in reader {
                        env.set_memory(memory?, false, offset)?;
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        let global = global?;
                        env.globals.push(global.ty);
                        env.global_defs.push(GlobalDef {
                            ty: global.ty,
                            init: ConstOp::decode(&global.init_expr)?,
                        });
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        env.exports.push(Export {
                            name: export.name.to_string(),
                            kind: export.kind,
                            index: export.index,
                        });
                    }
                }
                Payload::StartSection { func, .. } => env.start = Some(func),
                Payload::ElementSection(reader) => {
                    for element in reader {
                        env.elements.push(decode_element(element?)?);
                    }
                }
                Payload::DataSection(reader) => {
                    for data in reader {
                        let data = data?;
                        let active_offset = match &data.kind {
                            DataKind::Passive => None,
                            DataKind::Active { offset_expr, .. } => {
                                Some(ConstOp::decode(offset_expr)?)
                            }
                        };
                        let start = data.range.end as usize - data.data.len();
                        env.data.push(DataSegment {
                            active_offset,
                            bytes: start..data.range.end as usize,
                        });
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let range = body.range();
                    env.bodies.push(FunctionBody {
                        range: range.start as usize..range.end as usize,
                    });
                }
                _ => {}
            }
        }
        if instrumented && !env.has_reserved_imports() {
            return Err(unsupported(
                0,
                "instrumented, but the detvm imports are not at the front",
            ));
        }
        Ok(env)
    }

    fn set_memory(&mut self, ty: MemoryType, imported: bool, offset: u64) -> Result<(), EnvError> {
        if self.memory.is_some() {
            return Err(unsupported(offset, "more than one memory"));
        }
        self.memory = Some(ty);
        self.memory_imported = imported;
        Ok(())
    }

    /// The type of function `func_index`.
    pub fn func_type(&self, func_index: u32) -> Option<&FuncType> {
        let ty = *self.funcs.get(func_index as usize)?;
        self.types.get(ty as usize)
    }

    /// Whether this module carries the four `detvm` instrumentation imports
    /// at the front, as `metering::instrument` writes them: what an
    /// instrumented module must have, not what makes one.
    pub(crate) fn has_reserved_imports(&self) -> bool {
        use detvm_metering::abi;
        let names = [
            abi::OUT_OF_GAS,
            abi::STACK_OVERFLOW,
            abi::GAS_LEFT,
            abi::STACK_LEFT,
        ];
        self.imports.len() >= names.len()
            && self
                .imports
                .iter()
                .zip(names)
                .all(|(import, name)| import.module == abi::MODULE && import.name == name)
    }

    /// A function body's reader, for the compiler.
    pub fn body<'a>(
        &self,
        bytes: &'a [u8],
        defined_index: usize,
    ) -> Option<wasmparser::FunctionBody<'a>> {
        let range = self.bodies.get(defined_index)?.range.clone();
        let data = bytes.get(range.clone())?;
        Some(wasmparser::FunctionBody::new(
            wasmparser::BinaryReader::new(data, range.start as u64),
        ))
    }
}

fn decode_element(element: wasmparser::Element<'_>) -> Result<ElementSegment, EnvError> {
    let mode = match &element.kind {
        ElementKind::Passive => ElementMode::Passive,
        ElementKind::Declared => ElementMode::Declared,
        ElementKind::Active {
            table_index,
            offset_expr,
        } => ElementMode::Active {
            table: table_index.unwrap_or(0),
            offset: ConstOp::decode(offset_expr)?,
        },
    };
    let (ty, items) = match element.items {
        ElementItems::Functions(reader) => {
            let items = reader
                .into_iter()
                .map(|f| f.map(ConstOp::RefFunc))
                .collect::<Result<Vec<_>, _>>()?;
            (RefType::FUNCREF, items)
        }
        ElementItems::Expressions(ty, reader) => {
            let mut items = Vec::new();
            for expr in reader {
                items.push(ConstOp::decode(&expr?)?);
            }
            (ty, items)
        }
    };
    Ok(ElementSegment { mode, ty, items })
}

/// Whether `ty` is one of the value types of the profile.
pub fn is_profile_type(ty: ValType) -> bool {
    matches!(
        ty,
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64
    ) || ty == ValType::Ref(RefType::FUNCREF)
        || ty == ValType::Ref(RefType::EXTERNREF)
}
