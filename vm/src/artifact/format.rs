//! The cache file format, version 3 (`docs/vm.md`, "Compiled code on
//! disk"): a fixed header, a body, and a SHA-256 of both. Decoding checks
//! every length against the bytes present and every index against its
//! index space, so any damage is an error.

use std::ops::Range;

use sha2::{Digest, Sha256};
use wasmparser::{ExternalKind, FuncType, GlobalType, MemoryType, RefType, TableType, ValType};

use super::image::{CodeImage, ImageReloc, ImageTrap, MathFn, RelocKind, RelocTarget};
use crate::compile::{CodeArtifact, NativeFrames, Strategy};
use crate::env::{
    ConstOp, DataSegment, ElementMode, ElementSegment, Export, FunctionBody, GlobalDef, Import,
    ImportKind, ModuleEnv, TableDef,
};
use crate::runtime::module::{Declared, ModuleArtifact, ModuleSource};

/// The first eight bytes of every cache file.
pub(crate) const MAGIC: [u8; 8] = *b"DETVMCC\0";
/// The layout described in `docs/vm.md`. Bump on any change to it.
pub(crate) const FORMAT_VERSION: u32 = 3;
const HEADER_LEN: usize = 24;
const TRAILER_LEN: usize = 32;
const KIND_MODULE: u32 = 1;
const KIND_REJECTION: u32 = 2;

/// What a cache entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A compiled module.
    Module(Box<ModuleArtifact>),
    /// A deterministic refusal: the code never compiles under this key.
    Rejection {
        /// The error's kind, as the embedder reports it.
        kind: String,
        /// The error's message.
        reason: String,
    },
}

/// Why bytes are not a usable cache file (every case is a miss).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormatError {
    /// Shorter than a header and a checksum, or than the header says.
    #[error("file of {len} bytes is truncated")]
    Truncated {
        /// The file's length.
        len: usize,
    },
    /// Not a cache file.
    #[error("not a code cache file (bad magic)")]
    Magic,
    /// A cache file of another format version.
    #[error("format version {0}, expected {FORMAT_VERSION}")]
    Version(u32),
    /// The header's body length disagrees with the file's length.
    #[error("body length {declared} does not match a file of {len} bytes")]
    Length {
        /// What the header says.
        declared: u64,
        /// The file's length.
        len: usize,
    },
    /// The checksum does not match: the file was damaged.
    #[error("checksum mismatch")]
    Checksum,
    /// The entry was stored under another key.
    #[error("stored under another key")]
    Key,
    /// The header names an unknown entry kind.
    #[error("unknown entry kind {0}")]
    Kind(u32),
    /// The body does not decode.
    #[error("malformed body at offset {offset}: {what}")]
    Malformed {
        /// Offset in the body.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The module uses something the format cannot express (it is then
    /// not stored).
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}

/// Encodes an entry stored under `key` as a whole file.
pub(crate) fn encode(key: &[u8], entry: &Entry) -> Result<Vec<u8>, FormatError> {
    let mut w = Writer::default();
    w.bytes(key)?;
    let kind = match entry {
        Entry::Module(module) => {
            write_code(&mut w, &module.code)?;
            write_source(&mut w, &module.source)?;
            KIND_MODULE
        }
        Entry::Rejection { kind, reason } => {
            w.bytes(kind.as_bytes())?;
            w.bytes(reason.as_bytes())?;
            KIND_REJECTION
        }
    };
    let body = w.out;
    let mut file = Vec::with_capacity(HEADER_LEN + body.len() + TRAILER_LEN);
    file.extend_from_slice(&MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&kind.to_le_bytes());
    file.extend_from_slice(&(body.len() as u64).to_le_bytes());
    file.extend_from_slice(&body);
    let sum = Sha256::digest(&file);
    file.extend_from_slice(&sum);
    Ok(file)
}

/// Decodes a whole file, which must have been stored under `key`.
pub(crate) fn decode(file: &[u8], key: &[u8]) -> Result<Entry, FormatError> {
    let len = file.len();
    if len < HEADER_LEN + TRAILER_LEN {
        return Err(FormatError::Truncated { len });
    }
    if file[..8] != MAGIC {
        return Err(FormatError::Magic);
    }
    let word = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
    let version = word(8);
    if version != FORMAT_VERSION {
        return Err(FormatError::Version(version));
    }
    let kind = word(12);
    let mut declared = [0; 8];
    declared.copy_from_slice(&file[16..24]);
    let declared = u64::from_le_bytes(declared);
    let body_len = len - HEADER_LEN - TRAILER_LEN;
    if declared != body_len as u64 {
        return Err(if declared > body_len as u64 {
            FormatError::Truncated { len }
        } else {
            FormatError::Length { declared, len }
        });
    }
    let (signed, sum) = file.split_at(HEADER_LEN + body_len);
    if Sha256::digest(signed).as_slice() != sum {
        return Err(FormatError::Checksum);
    }
    let mut r = Reader {
        buf: &signed[HEADER_LEN..],
        pos: 0,
    };
    if r.bytes()? != key {
        return Err(FormatError::Key);
    }
    let entry = match kind {
        KIND_MODULE => {
            let code = read_code(&mut r)?;
            let source = read_source(&mut r)?;
            Entry::Module(Box::new(ModuleArtifact { code, source }))
        }
        KIND_REJECTION => Entry::Rejection {
            kind: r.string()?,
            reason: r.string()?,
        },
        other => return Err(FormatError::Kind(other)),
    };
    if r.pos != r.buf.len() {
        return Err(r.malformed("bytes after the entry"));
    }
    Ok(entry)
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) -> Result<(), FormatError> {
        self.u32(u32::try_from(n).map_err(|_| FormatError::Unencodable("a list over 4 Gi items"))?);
        Ok(())
    }
    fn bytes(&mut self, b: &[u8]) -> Result<(), FormatError> {
        self.len(b.len())?;
        self.out.extend_from_slice(b);
        Ok(())
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    fn index(&mut self, v: usize) -> Result<(), FormatError> {
        self.len(v)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn malformed(&self, what: &'static str) -> FormatError {
        FormatError::Malformed {
            offset: self.pos,
            what,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.malformed("runs past the end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    /// A count of items of at least `min_size` bytes each: bounded by the
    /// bytes left, so a damaged count cannot ask for a huge allocation.
    fn count(&mut self, min_size: usize) -> Result<usize, FormatError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size.max(1)) > self.buf.len() - self.pos {
            return Err(self.malformed("count larger than the bytes left"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, FormatError> {
        let at = self.pos;
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| FormatError::Malformed {
            offset: at,
            what: "string is not UTF-8",
        })
    }
    fn bool(&mut self) -> Result<bool, FormatError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.malformed("flag is neither 0 nor 1")),
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, FormatError> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }
    /// An index below `bound`.
    fn index(&mut self, bound: usize, what: &'static str) -> Result<u32, FormatError> {
        let v = self.u32()?;
        if (v as usize) < bound {
            Ok(v)
        } else {
            Err(self.malformed(what))
        }
    }
    fn list<T>(
        &mut self,
        min_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, FormatError>,
    ) -> Result<Vec<T>, FormatError> {
        let n = self.count(min_size)?;
        (0..n).map(|_| item(self)).collect()
    }
}

fn write_code(w: &mut Writer, code: &CodeArtifact) -> Result<(), FormatError> {
    let image = &code.image;
    w.bytes(&image.code)?;
    w.len(image.funcs.len())?;
    for range in &image.funcs {
        w.u32(range.start);
        w.u32(range.end - range.start);
    }
    w.len(image.relocs.len())?;
    for reloc in &image.relocs {
        w.u32(reloc.func);
        w.u32(reloc.offset);
        w.u8(reloc.kind.code());
        match reloc.target {
            RelocTarget::Func(f) => {
                w.u8(0);
                w.u32(f);
            }
            RelocTarget::Math(m) => {
                w.u8(1);
                w.u8(m.code());
            }
        }
        w.u64(reloc.addend as u64);
    }
    w.len(image.traps.len())?;
    for trap in &image.traps {
        w.u32(trap.func);
        w.u32(trap.offset);
        w.u8(trap.code);
    }
    for list in [&code.functions, &code.trampolines, &code.host_stubs] {
        w.len(list.len())?;
        for &i in list {
            w.u32(i);
        }
    }
    w.opt_u64(code.frames.ratio);
    w.u64(code.frames.max_frame);
    w.len(code.strategies.len())?;
    for s in &code.strategies {
        w.u8(match s {
            Strategy::Registers => 0,
            Strategy::Slots => 1,
        });
    }
    Ok(())
}

fn read_code(r: &mut Reader<'_>) -> Result<CodeArtifact, FormatError> {
    let code = r.bytes()?.to_vec();
    let funcs = r.list(8, |r| {
        let start = r.u32()?;
        let len = r.u32()?;
        let end = start
            .checked_add(len)
            .ok_or_else(|| r.malformed("function range overflows"))?;
        Ok(start..end)
    })?;
    let count = funcs.len();
    let relocs = r.list(18, |r| {
        let func = r.index(count, "relocation of an unknown function")?;
        let offset = r.u32()?;
        let kind = RelocKind::from_code(r.u8()?).ok_or_else(|| r.malformed("relocation kind"))?;
        let target = match r.u8()? {
            0 => RelocTarget::Func(r.index(count, "relocation to an unknown function")?),
            1 => RelocTarget::Math(
                MathFn::from_code(r.u8()?).ok_or_else(|| r.malformed("math routine"))?,
            ),
            _ => return Err(r.malformed("relocation target kind")),
        };
        let addend = r.u64()? as i64;
        Ok(ImageReloc {
            func,
            offset,
            kind,
            target,
            addend,
        })
    })?;
    let traps = r.list(9, |r| {
        Ok(ImageTrap {
            func: r.index(count, "trap site in an unknown function")?,
            offset: r.u32()?,
            code: r.u8()?,
        })
    })?;
    let mut table = || r.list(4, |r| r.index(count, "symbol of an unknown function"));
    let functions = table()?;
    let trampolines = table()?;
    let host_stubs = table()?;
    let ratio = r.opt_u64()?;
    let max_frame = r.u64()?;
    let strategies = r.list(1, |r| match r.u8()? {
        0 => Ok(Strategy::Registers),
        1 => Ok(Strategy::Slots),
        _ => Err(r.malformed("strategy")),
    })?;
    let image = CodeImage {
        code,
        funcs,
        relocs,
        traps,
    };
    // The loader validates again before patching; checking here makes a
    // damaged image a format error like any other.
    image
        .validate()
        .map_err(|_| r.malformed("code image fails validation"))?;
    Ok(CodeArtifact {
        image,
        functions,
        trampolines,
        host_stubs,
        frames: NativeFrames { ratio, max_frame },
        strategies,
    })
}

fn val_code(ty: ValType) -> Result<u8, FormatError> {
    Ok(match ty {
        ValType::I32 => 0x7F,
        ValType::I64 => 0x7E,
        ValType::F32 => 0x7D,
        ValType::F64 => 0x7C,
        ValType::Ref(r) => ref_code(r)?,
        _ => return Err(FormatError::Unencodable("value type outside the profile")),
    })
}

fn ref_code(r: RefType) -> Result<u8, FormatError> {
    if r == RefType::FUNCREF {
        Ok(0x70)
    } else if r == RefType::EXTERNREF {
        Ok(0x6F)
    } else {
        Err(FormatError::Unencodable(
            "reference type outside the profile",
        ))
    }
}

fn read_ref(r: &mut Reader<'_>) -> Result<RefType, FormatError> {
    match r.u8()? {
        0x70 => Ok(RefType::FUNCREF),
        0x6F => Ok(RefType::EXTERNREF),
        _ => Err(r.malformed("reference type")),
    }
}

fn read_val(r: &mut Reader<'_>) -> Result<ValType, FormatError> {
    Ok(match r.u8()? {
        0x7F => ValType::I32,
        0x7E => ValType::I64,
        0x7D => ValType::F32,
        0x7C => ValType::F64,
        0x70 => ValType::Ref(RefType::FUNCREF),
        0x6F => ValType::Ref(RefType::EXTERNREF),
        _ => return Err(r.malformed("value type")),
    })
}

fn write_table(w: &mut Writer, t: &TableType) -> Result<(), FormatError> {
    if t.table64 || t.shared {
        return Err(FormatError::Unencodable("table outside the profile"));
    }
    w.u8(ref_code(t.element_type)?);
    w.u64(t.initial);
    w.opt_u64(t.maximum);
    Ok(())
}

fn read_table(r: &mut Reader<'_>) -> Result<TableType, FormatError> {
    Ok(TableType {
        element_type: read_ref(r)?,
        table64: false,
        initial: r.u64()?,
        maximum: r.opt_u64()?,
        shared: false,
    })
}

fn write_memory(w: &mut Writer, m: &MemoryType) -> Result<(), FormatError> {
    if m.memory64 || m.shared || m.page_size_log2.is_some() {
        return Err(FormatError::Unencodable("memory outside the profile"));
    }
    w.u64(m.initial);
    w.opt_u64(m.maximum);
    Ok(())
}

fn read_memory(r: &mut Reader<'_>) -> Result<MemoryType, FormatError> {
    Ok(MemoryType {
        memory64: false,
        shared: false,
        initial: r.u64()?,
        maximum: r.opt_u64()?,
        page_size_log2: None,
    })
}

fn write_global(w: &mut Writer, g: &GlobalType) -> Result<(), FormatError> {
    if g.shared {
        return Err(FormatError::Unencodable("shared global"));
    }
    w.u8(val_code(g.content_type)?);
    w.u8(u8::from(g.mutable));
    Ok(())
}

fn read_global(r: &mut Reader<'_>) -> Result<GlobalType, FormatError> {
    Ok(GlobalType {
        content_type: read_val(r)?,
        mutable: r.bool()?,
        shared: false,
    })
}

fn write_const(w: &mut Writer, op: &ConstOp) -> Result<(), FormatError> {
    match *op {
        ConstOp::I32(v) => {
            w.u8(0);
            w.u64(u64::from(v as u32));
        }
        ConstOp::I64(v) => {
            w.u8(1);
            w.u64(v as u64);
        }
        ConstOp::F32(v) => {
            w.u8(2);
            w.u64(u64::from(v));
        }
        ConstOp::F64(v) => {
            w.u8(3);
            w.u64(v);
        }
        ConstOp::RefNull(t) => {
            w.u8(4);
            w.u64(u64::from(ref_code(t)?));
        }
        ConstOp::RefFunc(f) => {
            w.u8(5);
            w.u64(u64::from(f));
        }
        ConstOp::GlobalGet(g) => {
            w.u8(6);
            w.u64(u64::from(g));
        }
    }
    Ok(())
}

/// A constant operator; function and global indices checked against the
/// index spaces' sizes.
fn read_const(r: &mut Reader<'_>, funcs: usize, globals: usize) -> Result<ConstOp, FormatError> {
    let tag = r.u8()?;
    let v = r.u64()?;
    let small = |r: &Reader<'_>, bound: usize, what| {
        u32::try_from(v)
            .ok()
            .filter(|&i| (i as usize) < bound)
            .ok_or_else(|| r.malformed(what))
    };
    Ok(match tag {
        0 => ConstOp::I32(u32::try_from(v).map_err(|_| r.malformed("i32 constant"))? as i32),
        1 => ConstOp::I64(v as i64),
        2 => ConstOp::F32(u32::try_from(v).map_err(|_| r.malformed("f32 constant"))?),
        3 => ConstOp::F64(v),
        4 => ConstOp::RefNull(match v {
            0x70 => RefType::FUNCREF,
            0x6F => RefType::EXTERNREF,
            _ => return Err(r.malformed("ref.null type")),
        }),
        5 => ConstOp::RefFunc(small(r, funcs, "ref.func of an unknown function")?),
        6 => ConstOp::GlobalGet(small(r, globals, "global.get of an unknown global")?),
        _ => return Err(r.malformed("constant operator")),
    })
}

fn kind_code(kind: ExternalKind) -> Result<u8, FormatError> {
    Ok(match kind {
        ExternalKind::Func => 0,
        ExternalKind::Table => 1,
        ExternalKind::Memory => 2,
        ExternalKind::Global => 3,
        _ => return Err(FormatError::Unencodable("export kind outside the profile")),
    })
}

fn write_source(w: &mut Writer, source: &ModuleSource) -> Result<(), FormatError> {
    let env = &source.env;
    w.u8(u8::from(env.instrumented));
    w.len(env.types.len())?;
    for ty in &env.types {
        w.len(ty.params().len())?;
        for &p in ty.params() {
            w.u8(val_code(p)?);
        }
        w.len(ty.results().len())?;
        for &p in ty.results() {
            w.u8(val_code(p)?);
        }
    }
    w.len(env.imports.len())?;
    for import in &env.imports {
        w.bytes(import.module.as_bytes())?;
        w.bytes(import.name.as_bytes())?;
        match &import.kind {
            ImportKind::Func(t) => {
                w.u8(0);
                w.u32(*t);
            }
            ImportKind::Table(t) => {
                w.u8(1);
                write_table(w, t)?;
            }
            ImportKind::Memory(m) => {
                w.u8(2);
                write_memory(w, m)?;
            }
            ImportKind::Global(g) => {
                w.u8(3);
                write_global(w, g)?;
            }
        }
    }
    // Imported functions, tables and globals are implied by the imports.
    let defined_funcs = &env.funcs[env.imported_funcs as usize..];
    w.len(defined_funcs.len())?;
    for &t in defined_funcs {
        w.u32(t);
    }
    w.len(env.table_defs.len())?;
    for def in &env.table_defs {
        write_table(w, &def.ty)?;
        match &def.init {
            None => w.u8(0),
            Some(op) => {
                w.u8(1);
                write_const(w, op)?;
            }
        }
    }
    match (&env.memory, env.memory_imported) {
        (Some(m), false) => {
            w.u8(1);
            write_memory(w, m)?;
        }
        _ => w.u8(0),
    }
    w.len(env.global_defs.len())?;
    for def in &env.global_defs {
        write_global(w, &def.ty)?;
        write_const(w, &def.init)?;
    }
    w.len(env.exports.len())?;
    for export in &env.exports {
        w.bytes(export.name.as_bytes())?;
        w.u8(kind_code(export.kind)?);
        w.u32(export.index);
    }
    match env.start {
        None => w.u8(0),
        Some(f) => {
            w.u8(1);
            w.u32(f);
        }
    }
    w.len(env.elements.len())?;
    for segment in &env.elements {
        match &segment.mode {
            ElementMode::Active { table, offset } => {
                w.u8(0);
                w.u32(*table);
                write_const(w, offset)?;
            }
            ElementMode::Passive => w.u8(1),
            ElementMode::Declared => w.u8(2),
        }
        w.u8(ref_code(segment.ty)?);
        w.len(segment.items.len())?;
        for item in &segment.items {
            write_const(w, item)?;
        }
    }
    w.bytes(&source.data)?;
    w.len(env.data.len())?;
    for segment in &env.data {
        match &segment.active_offset {
            None => w.u8(0),
            Some(op) => {
                w.u8(1);
                write_const(w, op)?;
            }
        }
        w.index(segment.bytes.start)?;
        w.index(segment.bytes.end - segment.bytes.start)?;
    }
    w.opt_u64(source.declared.memory.flatten());
    w.u8(u8::from(source.declared.memory.is_some()));
    w.len(source.declared.tables.len())?;
    for t in &source.declared.tables {
        w.u8(u8::from(t.is_some()));
        w.opt_u64(t.flatten());
    }
    w.len(env.bodies.len())?;
    Ok(())
}

fn read_source(r: &mut Reader<'_>) -> Result<ModuleSource, FormatError> {
    let instrumented = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(r.malformed("instrumented flag")),
    };
    let types = r.list(8, |r| {
        let params = r.list(1, read_val)?;
        let results = r.list(1, read_val)?;
        Ok(FuncType::new(params, results))
    })?;
    let ntypes = types.len();
    let mut env = ModuleEnv {
        types,
        instrumented,
        ..ModuleEnv::default()
    };
    let imports = r.list(9, |r| {
        let module = r.string()?;
        let name = r.string()?;
        let kind = match r.u8()? {
            0 => ImportKind::Func(r.index(ntypes, "import of an unknown type")?),
            1 => ImportKind::Table(read_table(r)?),
            2 => ImportKind::Memory(read_memory(r)?),
            3 => ImportKind::Global(read_global(r)?),
            _ => return Err(r.malformed("import kind")),
        };
        Ok(Import { module, name, kind })
    })?;
    for import in &imports {
        match &import.kind {
            ImportKind::Func(t) => {
                env.funcs.push(*t);
                env.imported_funcs += 1;
            }
            ImportKind::Table(t) => {
                env.tables.push(*t);
                env.imported_tables += 1;
            }
            ImportKind::Memory(m) => {
                if env.memory.is_some() {
                    return Err(r.malformed("more than one memory"));
                }
                env.memory = Some(*m);
                env.memory_imported = true;
            }
            ImportKind::Global(g) => {
                env.globals.push(*g);
                env.imported_globals += 1;
            }
        }
    }
    env.imports = imports;
    if instrumented && !env.has_reserved_imports() {
        return Err(r.malformed("instrumented without the detvm imports"));
    }
    let defined = r.list(4, |r| r.index(ntypes, "function of an unknown type"))?;
    env.funcs.extend(defined);
    let nfuncs = env.funcs.len();
    // Table initialisers and global initialisers may only read imported
    // globals; element items and offsets may read any global, checked
    // once all are known.
    let imported_globals = env.globals.len();
    env.table_defs = r.list(18, |r| {
        let ty = read_table(r)?;
        let init = if r.bool()? {
            Some(read_const(r, nfuncs, imported_globals)?)
        } else {
            None
        };
        Ok(TableDef { ty, init })
    })?;
    env.tables.extend(env.table_defs.iter().map(|d| d.ty));
    if r.bool()? {
        if env.memory.is_some() {
            return Err(r.malformed("more than one memory"));
        }
        env.memory = Some(read_memory(r)?);
    }
    env.global_defs = r.list(11, |r| {
        let ty = read_global(r)?;
        let init = read_const(r, nfuncs, imported_globals)?;
        Ok(GlobalDef { ty, init })
    })?;
    env.globals.extend(env.global_defs.iter().map(|d| d.ty));
    let (ntables, nglobals) = (env.tables.len(), env.globals.len());
    let has_memory = env.memory.is_some();
    env.exports = r.list(9, |r| {
        let name = r.string()?;
        let (kind, bound) = match r.u8()? {
            0 => (ExternalKind::Func, nfuncs),
            1 => (ExternalKind::Table, ntables),
            2 => (ExternalKind::Memory, usize::from(has_memory)),
            3 => (ExternalKind::Global, nglobals),
            _ => return Err(r.malformed("export kind")),
        };
        let index = r.index(bound, "export of an unknown item")?;
        Ok(Export { name, kind, index })
    })?;
    env.start = if r.bool()? {
        Some(r.index(nfuncs, "unknown start function")?)
    } else {
        None
    };
    env.elements = r.list(6, |r| {
        let mode = match r.u8()? {
            0 => ElementMode::Active {
                table: r.index(ntables, "element segment of an unknown table")?,
                offset: read_const(r, nfuncs, nglobals)?,
            },
            1 => ElementMode::Passive,
            2 => ElementMode::Declared,
            _ => return Err(r.malformed("element mode")),
        };
        let ty = read_ref(r)?;
        let items = r.list(9, |r| read_const(r, nfuncs, nglobals))?;
        Ok(ElementSegment { mode, ty, items })
    })?;
    let data = r.bytes()?.to_vec();
    let data_len = data.len();
    env.data = r.list(9, |r| {
        let active_offset = if r.bool()? {
            if !has_memory {
                return Err(r.malformed("active data segment without a memory"));
            }
            Some(read_const(r, nfuncs, nglobals)?)
        } else {
            None
        };
        let start = r.u32()? as usize;
        let len = r.u32()? as usize;
        let bytes: Range<usize> = start..start.saturating_add(len);
        if bytes.end > data_len {
            return Err(r.malformed("data segment outside the data"));
        }
        Ok(DataSegment {
            active_offset,
            bytes,
        })
    })?;
    let memory_max = r.opt_u64()?;
    let memory = r.bool()?.then_some(memory_max);
    let tables = r.list(2, |r| {
        let present = r.bool()?;
        let max = r.opt_u64()?;
        Ok(present.then_some(max))
    })?;
    if tables.len() != env.table_defs.len() {
        return Err(r.malformed("declared maxima do not match the tables"));
    }
    let bodies = r.u32()? as usize;
    if bodies != nfuncs - env.imported_funcs as usize {
        return Err(r.malformed("body count does not match the functions"));
    }
    env.bodies = vec![FunctionBody { range: 0..0 }; bodies];
    Ok(ModuleSource {
        env,
        data,
        declared: Declared { memory, tables },
    })
}
