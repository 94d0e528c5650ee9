//! Code images: a module's machine code as position-independent bytes plus
//! relocations, and the loader that turns one into executable memory
//! (`docs/vm.md`, "Compiled code on disk").
//!
//! A fresh compilation and a load from disk both end in [`LoadedCode::load`],
//! so the loader is exercised by every test that runs code, not only by
//! cache hits.

use crate::runtime::SharedError;
use crate::runtime::trap_handler::{self, Registration};
use std::ops::Range;

use memmap2::{Mmap, MmapOptions};

/// Every function starts at a multiple of this (Cranelift asks for at most
/// 16 on the supported targets; a larger request is honoured too).
pub(crate) const FUNCTION_ALIGN: u32 = 16;

/// How a relocation patches its site. The numbers are the file format's
/// (`docs/vm.md`) and must never be reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelocKind {
    /// The target's absolute address, 4 bytes.
    Abs4 = 1,
    /// The target's absolute address, 8 bytes.
    Abs8 = 2,
    /// x86-64: 32-bit displacement from the site (calls and `lea`).
    X86PcRel4 = 3,
    /// aarch64: `bl`, 26-bit displacement in words.
    Arm64Call = 4,
    /// aarch64: `adrp`, the target's 4 KiB page relative to the site's.
    Arm64AdrpPage = 5,
    /// aarch64: `add`, the low 12 bits of the target.
    Arm64AddLo12 = 6,
    /// riscv64: an `auipc`+`jalr` pair.
    RiscvCall = 7,
    /// riscv64: `auipc`, the high 20 bits of the displacement.
    RiscvPcRelHi20 = 8,
    /// s390x: 32-bit displacement in halfwords.
    S390xPcRel32Dbl = 9,
}

impl RelocKind {
    /// The kind with file code `code`.
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Abs4,
            2 => Self::Abs8,
            3 => Self::X86PcRel4,
            4 => Self::Arm64Call,
            5 => Self::Arm64AdrpPage,
            6 => Self::Arm64AddLo12,
            7 => Self::RiscvCall,
            8 => Self::RiscvPcRelHi20,
            9 => Self::S390xPcRel32Dbl,
            _ => return None,
        })
    }

    /// The file code.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// Our kind for Cranelift's, if the loader applies it.
    pub(crate) fn from_cranelift(kind: cranelift_codegen::binemit::Reloc) -> Option<Self> {
        use cranelift_codegen::binemit::Reloc;
        Some(match kind {
            Reloc::Abs4 => Self::Abs4,
            Reloc::Abs8 => Self::Abs8,
            Reloc::X86PCRel4 | Reloc::X86CallPCRel4 => Self::X86PcRel4,
            Reloc::Arm64Call => Self::Arm64Call,
            Reloc::Aarch64AdrPrelPgHi21 => Self::Arm64AdrpPage,
            Reloc::Aarch64AddAbsLo12Nc => Self::Arm64AddLo12,
            Reloc::RiscvCallPlt => Self::RiscvCall,
            Reloc::RiscvPCRelHi20 => Self::RiscvPcRelHi20,
            Reloc::S390xPCRel32Dbl | Reloc::S390xPLTRel32Dbl => Self::S390xPcRel32Dbl,
            _ => return None,
        })
    }

    /// Bytes the patch touches from the site.
    fn width(self) -> usize {
        match self {
            Self::Abs8 | Self::RiscvCall => 8,
            _ => 4,
        }
    }

    /// Whether code for the target this was built for can contain it: an
    /// image made for another architecture is refused, not patched.
    fn native(self) -> bool {
        match self {
            Self::Abs4 | Self::Abs8 => true,
            Self::X86PcRel4 => cfg!(target_arch = "x86_64"),
            Self::Arm64Call | Self::Arm64AdrpPage | Self::Arm64AddLo12 => {
                cfg!(target_arch = "aarch64")
            }
            Self::RiscvCall | Self::RiscvPcRelHi20 => cfg!(target_arch = "riscv64"),
            Self::S390xPcRel32Dbl => cfg!(target_arch = "s390x"),
        }
    }
}

/// The math routines compiled code may call where the CPU has no
/// instruction for the operation. Codes are the file format's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathFn {
    CeilF32 = 1,
    CeilF64 = 2,
    FloorF32 = 3,
    FloorF64 = 4,
    TruncF32 = 5,
    TruncF64 = 6,
    NearestF32 = 7,
    NearestF64 = 8,
    FmaF32 = 9,
    FmaF64 = 10,
}

// The C library's routines, the ones cranelift-jit resolves by name: the
// same functions as before code images existed, so results are unchanged.
unsafe extern "C" {
    fn ceilf(x: f32) -> f32;
    fn ceil(x: f64) -> f64;
    fn floorf(x: f32) -> f32;
    fn floor(x: f64) -> f64;
    fn truncf(x: f32) -> f32;
    fn trunc(x: f64) -> f64;
    fn nearbyintf(x: f32) -> f32;
    fn nearbyint(x: f64) -> f64;
    fn fmaf(x: f32, y: f32, z: f32) -> f32;
    fn fma(x: f64, y: f64, z: f64) -> f64;
}

impl MathFn {
    /// The routine with file code `code`.
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::CeilF32,
            2 => Self::CeilF64,
            3 => Self::FloorF32,
            4 => Self::FloorF64,
            5 => Self::TruncF32,
            6 => Self::TruncF64,
            7 => Self::NearestF32,
            8 => Self::NearestF64,
            9 => Self::FmaF32,
            10 => Self::FmaF64,
            _ => return None,
        })
    }

    /// The file code.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// Ours for a Cranelift library call, if it is one of the routines.
    pub(crate) fn from_libcall(call: cranelift_codegen::ir::LibCall) -> Option<Self> {
        use cranelift_codegen::ir::LibCall;
        Some(match call {
            LibCall::CeilF32 => Self::CeilF32,
            LibCall::CeilF64 => Self::CeilF64,
            LibCall::FloorF32 => Self::FloorF32,
            LibCall::FloorF64 => Self::FloorF64,
            LibCall::TruncF32 => Self::TruncF32,
            LibCall::TruncF64 => Self::TruncF64,
            LibCall::NearestF32 => Self::NearestF32,
            LibCall::NearestF64 => Self::NearestF64,
            LibCall::FmaF32 => Self::FmaF32,
            LibCall::FmaF64 => Self::FmaF64,
            _ => return None,
        })
    }

    fn address(self) -> usize {
        type F1 = unsafe extern "C" fn(f32) -> f32;
        type D1 = unsafe extern "C" fn(f64) -> f64;
        type F3 = unsafe extern "C" fn(f32, f32, f32) -> f32;
        type D3 = unsafe extern "C" fn(f64, f64, f64) -> f64;
        match self {
            Self::CeilF32 => ceilf as F1 as usize,
            Self::CeilF64 => ceil as D1 as usize,
            Self::FloorF32 => floorf as F1 as usize,
            Self::FloorF64 => floor as D1 as usize,
            Self::TruncF32 => truncf as F1 as usize,
            Self::TruncF64 => trunc as D1 as usize,
            Self::NearestF32 => nearbyintf as F1 as usize,
            Self::NearestF64 => nearbyint as D1 as usize,
            Self::FmaF32 => fmaf as F3 as usize,
            Self::FmaF64 => fma as D3 as usize,
        }
    }
}

/// What a relocation points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelocTarget {
    /// The start of another function of the image (by index).
    Func(u32),
    /// A math routine of this process.
    Math(MathFn),
}

/// One patch to apply at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageReloc {
    /// The function whose code is patched.
    pub func: u32,
    /// Byte offset of the site within that function.
    pub offset: u32,
    /// How the site is patched.
    pub kind: RelocKind,
    /// What the patch refers to.
    pub target: RelocTarget,
    /// Added to the target's address.
    pub addend: i64,
}

/// A module's machine code before it is placed in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeImage {
    /// Every function's bytes at its offset; padding between them.
    pub code: Vec<u8>,
    /// Byte range of each function in `code`.
    pub funcs: Vec<Range<u32>>,
    /// Patches, in the order Cranelift reported them per function.
    pub relocs: Vec<ImageReloc>,
    /// Trap instructions, in function order and by offset within one
    /// (`docs/vm.md`, "Traps: explicit checks").
    pub traps: Vec<ImageTrap>,
}

/// A trap instruction in a function's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageTrap {
    /// The function it is in.
    pub func: u32,
    /// Byte offset within that function where the handler finds it (its
    /// first byte, or on s390x its last).
    pub offset: u32,
    /// The raw trap code it raises (a `TrapCode` for every site the
    /// translator writes; Cranelift's own codes are kept as they are, and
    /// reported as unknown should one fire).
    pub code: u8,
}

/// Why a code image could not be placed in executable memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A function's range is not inside the image, out of order or
    /// misaligned.
    #[error("function {func}: range {start}..{end} does not fit an image of {len} bytes")]
    FunctionRange {
        /// Function index.
        func: usize,
        /// Its claimed start.
        start: u32,
        /// Its claimed end.
        end: u32,
        /// The image's length.
        len: usize,
    },
    /// A relocation names something outside the image.
    #[error("relocation {index}: {what}")]
    Relocation {
        /// Index in the image's relocation list.
        index: usize,
        /// What is wrong with it.
        what: &'static str,
    },
    /// A trap site lies outside its function, or has code zero.
    #[error("trap site {index} is not inside its function")]
    TrapSite {
        /// Index in the image's trap site list.
        index: usize,
    },
    /// A function, trampoline or stub table names a function the image
    /// does not have, or the tables disagree in length.
    #[error("symbol table does not match the image")]
    SymbolTable,
    /// Mapping or protecting memory failed.
    #[error("code memory: {0}")]
    Memory(#[source] SharedError<std::io::Error>),
}

impl CodeImage {
    /// Appends a function's code at the next aligned offset, returning its
    /// index.
    pub(crate) fn push_function(&mut self, code: &[u8], align: u64) -> Option<u32> {
        let align = usize::try_from(align.max(u64::from(FUNCTION_ALIGN))).ok()?;
        let start = self.code.len().checked_next_multiple_of(align)?;
        let end = start.checked_add(code.len())?;
        self.code.resize(start, 0);
        self.code.extend_from_slice(code);
        let index = u32::try_from(self.funcs.len()).ok()?;
        self.funcs
            .push(u32::try_from(start).ok()?..u32::try_from(end).ok()?);
        Some(index)
    }

    /// Checks every range and relocation against the image, so that
    /// [`LoadedCode::load`] patches only inside it.
    pub(crate) fn validate(&self) -> Result<(), LoadError> {
        let mut prev_end = 0u32;
        for (func, range) in self.funcs.iter().enumerate() {
            let fits = range.start <= range.end
                && range.start >= prev_end
                && range.start % FUNCTION_ALIGN == 0
                && (range.end as usize) <= self.code.len();
            if !fits {
                return Err(LoadError::FunctionRange {
                    func,
                    start: range.start,
                    end: range.end,
                    len: self.code.len(),
                });
            }
            prev_end = range.end;
        }
        for (index, reloc) in self.relocs.iter().enumerate() {
            let bad = |what| Err(LoadError::Relocation { index, what });
            let Some(range) = self.funcs.get(reloc.func as usize) else {
                return bad("patches a function the image does not have");
            };
            let len = (range.end - range.start) as usize;
            let fits = (reloc.offset as usize)
                .checked_add(reloc.kind.width())
                .is_some_and(|end| end <= len);
            if !fits {
                return bad("site outside its function");
            }
            if !reloc.kind.native() {
                return bad("kind of another architecture");
            }
            if let RelocTarget::Func(f) = reloc.target
                && f as usize >= self.funcs.len()
            {
                return bad("targets a function the image does not have");
            }
        }
        for (index, trap) in self.traps.iter().enumerate() {
            let inside = self
                .funcs
                .get(trap.func as usize)
                .is_some_and(|range| trap.offset < range.end - range.start);
            if !inside || trap.code == 0 {
                return Err(LoadError::TrapSite { index });
            }
        }
        Ok(())
    }
}

/// A code image placed in read-and-execute memory. Addresses into it are
/// valid while it lives.
pub(crate) struct LoadedCode {
    /// Declared before `map`: the trap sites leave the handler's table
    /// before the memory is unmapped and its addresses can be reused.
    _traps: Option<Registration>,
    map: Option<Mmap>,
    funcs: Vec<usize>,
}

impl std::fmt::Debug for LoadedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedCode")
            .field("bytes", &self.map.as_ref().map_or(0, |m| m.len()))
            .field("functions", &self.funcs.len())
            .finish()
    }
}

impl LoadedCode {
    /// Validates `image`, maps memory, copies the code, applies every
    /// relocation and makes the memory executable.
    pub(crate) fn load(image: &CodeImage) -> Result<Self, LoadError> {
        image.validate()?;
        if image.code.is_empty() {
            return Ok(Self {
                _traps: None,
                map: None,
                funcs: vec![0; image.funcs.len()],
            });
        }
        let mut map = MmapOptions::new()
            .len(image.code.len())
            .map_anon()
            .map_err(|e| LoadError::Memory(SharedError::new(e)))?;
        map.copy_from_slice(&image.code);
        // The mapping never moves, so addresses computed now are the ones
        // the code will run at.
        let base = map.as_ptr() as usize;
        let func_addr = |f: u32| base + image.funcs[f as usize].start as usize;
        for (index, reloc) in image.relocs.iter().enumerate() {
            let target = match reloc.target {
                RelocTarget::Func(f) => func_addr(f),
                RelocTarget::Math(m) => m.address(),
            };
            let site_offset =
                image.funcs[reloc.func as usize].start as usize + reloc.offset as usize;
            patch(
                &mut map[site_offset..site_offset + reloc.kind.width()],
                reloc.kind,
                base + site_offset,
                (target as i64).wrapping_add(reloc.addend),
            )
            .map_err(|what| LoadError::Relocation { index, what })?;
        }
        let map = map
            .make_exec()
            .map_err(|e| LoadError::Memory(SharedError::new(e)))?;
        // SAFETY: `map` is a live mapping of `map.len()` bytes that this
        // function owns; flushing the instruction cache over it only
        // makes the processor see the bytes just written.
        unsafe {
            wasmtime_internal_jit_icache_coherence::clear_cache(map.as_ptr().cast(), map.len())
        }
        .map_err(|e| LoadError::Memory(SharedError::new(e)))?;
        wasmtime_internal_jit_icache_coherence::pipeline_flush_mt()
            .map_err(|e| LoadError::Memory(SharedError::new(e)))?;
        let funcs = (0..image.funcs.len() as u32).map(func_addr).collect();
        let sites = image
            .traps
            .iter()
            .map(|t| (image.funcs[t.func as usize].start + t.offset, t.code))
            .collect();
        let traps = trap_handler::register(base, base + map.len(), sites);
        Ok(Self {
            _traps: Some(traps),
            map: Some(map),
            funcs,
        })
    }

    /// Address of function `index` of the image.
    ///
    /// # Panics
    /// If `index` is out of range: a bug in the caller.
    pub(crate) fn function(&self, index: u32) -> usize {
        self.funcs[index as usize]
    }

    /// Whether `addr` lies inside the mapping (for tests).
    #[cfg(test)]
    pub(crate) fn contains(&self, addr: usize) -> bool {
        self.map
            .as_ref()
            .is_some_and(|m| (m.as_ptr() as usize..m.as_ptr() as usize + m.len()).contains(&addr))
    }
}

fn read_u32(site: &[u8]) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&site[..4]);
    u32::from_ne_bytes(bytes)
}

fn write_u32(site: &mut [u8], value: u32) {
    site[..4].copy_from_slice(&value.to_ne_bytes());
}

/// Patches one site at address `at` to refer to `target` (addend
/// included). Code is in the host's byte order: every supported target
/// runs the code it compiles.
fn patch(site: &mut [u8], kind: RelocKind, at: usize, target: i64) -> Result<(), &'static str> {
    let disp = target.wrapping_sub(at as i64);
    let disp32 = || i32::try_from(disp).map_err(|_| "displacement out of range");
    match kind {
        RelocKind::Abs4 => {
            let value = u32::try_from(target).map_err(|_| "address above 4 GiB")?;
            write_u32(site, value);
        }
        RelocKind::Abs8 => site.copy_from_slice(&(target as u64).to_ne_bytes()),
        RelocKind::X86PcRel4 => write_u32(site, disp32()? as u32),
        RelocKind::S390xPcRel32Dbl => {
            if disp % 2 != 0 {
                return Err("odd displacement");
            }
            let halves = i32::try_from(disp >> 1).map_err(|_| "displacement out of range")?;
            write_u32(site, halves as u32);
        }
        RelocKind::Arm64Call => {
            if disp % 4 != 0 {
                return Err("unaligned call target");
            }
            let words = disp >> 2;
            if !(-(1 << 25)..(1 << 25)).contains(&words) {
                return Err("call beyond the reach of `bl`");
            }
            let inst = read_u32(site) | (words as u32 & 0x03ff_ffff);
            write_u32(site, inst);
        }
        RelocKind::Arm64AdrpPage => {
            let page = |x: i64| x & !0xfff;
            let pages = (page(target) - page(at as i64)) >> 12;
            if !(-(1 << 20)..(1 << 20)).contains(&pages) {
                return Err("page beyond the reach of `adrp`");
            }
            let imm = pages as u32;
            let inst = read_u32(site) | ((imm & 0x3) << 29) | (((imm >> 2) & 0x7ffff) << 5);
            write_u32(site, inst);
        }
        RelocKind::Arm64AddLo12 => {
            let inst = read_u32(site) | (((target as u32) & 0xfff) << 10);
            write_u32(site, inst);
        }
        RelocKind::RiscvCall => {
            let disp = disp32()? as u32;
            // `jalr` sign-extends its 12 bits, so the high part rounds.
            let hi20 = disp.wrapping_add(0x800) & 0xffff_f000;
            let lo12 = disp.wrapping_sub(hi20) & 0xfff;
            let auipc = (read_u32(&site[..4]) & 0xfff) | hi20;
            let jalr = (read_u32(&site[4..]) & 0xf_ffff) | (lo12 << 20);
            write_u32(&mut site[..4], auipc);
            write_u32(&mut site[4..], jalr);
        }
        RelocKind::RiscvPcRelHi20 => {
            let rounded = i32::try_from(disp + 0x800).map_err(|_| "displacement out of range")?;
            let inst = read_u32(site) | (rounded as u32 & 0xffff_f000);
            write_u32(site, inst);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with_reloc(reloc: ImageReloc) -> CodeImage {
        let mut image = CodeImage::default();
        image.push_function(&[0; 32], 16);
        image.push_function(&[0; 16], 16);
        image.relocs.push(reloc);
        image
    }

    const ABS8: ImageReloc = ImageReloc {
        func: 0,
        offset: 8,
        kind: RelocKind::Abs8,
        target: RelocTarget::Func(1),
        addend: 0,
    };

    #[test]
    fn absolute_relocation_holds_the_target_address() {
        let code = LoadedCode::load(&image_with_reloc(ABS8)).expect("loads");
        let map = code.map.as_ref().expect("mapped");
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&map[8..16]);
        assert_eq!(u64::from_ne_bytes(bytes) as usize, code.function(1));
        assert!(code.contains(code.function(1)));
        assert_eq!(code.function(1) - code.function(0), 32);
    }

    #[test]
    fn relocations_outside_the_image_are_refused() {
        let cases = [
            ImageReloc { func: 2, ..ABS8 },
            ImageReloc { offset: 25, ..ABS8 },
            ImageReloc {
                offset: u32::MAX,
                ..ABS8
            },
            ImageReloc {
                target: RelocTarget::Func(7),
                ..ABS8
            },
        ];
        for reloc in cases {
            assert!(
                matches!(
                    LoadedCode::load(&image_with_reloc(reloc)),
                    Err(LoadError::Relocation { .. })
                ),
                "{reloc:?}"
            );
        }
    }

    #[test]
    fn foreign_relocation_kinds_are_refused() {
        let foreign = if cfg!(target_arch = "x86_64") {
            RelocKind::Arm64Call
        } else {
            RelocKind::X86PcRel4
        };
        let image = image_with_reloc(ImageReloc {
            kind: foreign,
            ..ABS8
        });
        assert!(matches!(
            LoadedCode::load(&image),
            Err(LoadError::Relocation { .. })
        ));
    }

    #[test]
    fn function_ranges_outside_the_image_are_refused() {
        let mut image = image_with_reloc(ABS8);
        image.funcs[1] = 48..80;
        assert!(matches!(
            LoadedCode::load(&image),
            Err(LoadError::FunctionRange { func: 1, .. })
        ));
        image.funcs[1] = 8..16;
        assert!(matches!(
            LoadedCode::load(&image),
            Err(LoadError::FunctionRange { func: 1, .. })
        ));
    }

    #[test]
    fn codes_round_trip() {
        for code in 0..=u8::MAX {
            if let Some(kind) = RelocKind::from_code(code) {
                assert_eq!(kind.code(), code);
            }
            if let Some(f) = MathFn::from_code(code) {
                assert_eq!(f.code(), code);
            }
        }
    }
}
