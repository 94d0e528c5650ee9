//! Value types, item types and values as the public API sees them, and their
//! raw encodings as compiled code stores them.
//!
//! The API has its own small type vocabulary instead of re-exporting the
//! decoder's, so that a decoder upgrade cannot change the public surface.

use core::fmt;

use crate::vmctx::ValRaw;

/// A value type of the profile (WebAssembly 2.0 without `v128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable opaque reference owned by the host.
    ExternRef,
}

impl ValType {
    /// Whether this is a reference type (`funcref` or `externref`).
    pub fn is_ref(self) -> bool {
        matches!(self, Self::FuncRef | Self::ExternRef)
    }

    /// Converts a decoder value type; `None` for types outside the profile.
    pub(crate) fn from_wasm(ty: wasmparser::ValType) -> Option<Self> {
        use wasmparser::ValType as W;
        match ty {
            W::I32 => Some(Self::I32),
            W::I64 => Some(Self::I64),
            W::F32 => Some(Self::F32),
            W::F64 => Some(Self::F64),
            W::Ref(r) => Self::from_ref(r),
            W::V128 => None,
        }
    }

    /// Converts a decoder reference type; `None` outside the profile.
    pub(crate) fn from_ref(ty: wasmparser::RefType) -> Option<Self> {
        if ty == wasmparser::RefType::FUNCREF {
            Some(Self::FuncRef)
        } else if ty == wasmparser::RefType::EXTERNREF {
            Some(Self::ExternRef)
        } else {
            None
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::FuncRef => "funcref",
            Self::ExternRef => "externref",
        })
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A signature `params -> results`.
    pub fn new(params: impl Into<Box<[ValType]>>, results: impl Into<Box<[ValType]>>) -> Self {
        Self {
            params: params.into(),
            results: results.into(),
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// Converts a decoder signature; `None` if any type is outside the
    /// profile.
    pub(crate) fn from_wasm(ty: &wasmparser::FuncType) -> Option<Self> {
        let params = ty
            .params()
            .iter()
            .map(|&t| ValType::from_wasm(t))
            .collect::<Option<Box<[_]>>>()?;
        let results = ty
            .results()
            .iter()
            .map(|&t| ValType::from_wasm(t))
            .collect::<Option<Box<[_]>>>()?;
        Some(Self { params, results })
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |types: &[ValType]| {
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        write!(f, "[{}] -> [{}]", list(&self.params), list(&self.results))
    }
}

/// The type of a linear memory, in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Initial (for a live memory: current) size in pages.
    pub minimum: u64,
    /// Largest size in pages, if bounded.
    pub maximum: Option<u64>,
}

/// The type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    /// Element type: [`ValType::FuncRef`] or [`ValType::ExternRef`].
    pub element: ValType,
    /// Initial (for a live table: current) size in elements.
    pub minimum: u64,
    /// Largest size in elements, if bounded.
    pub maximum: Option<u64>,
}

/// The type of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// The type of its value.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// The type of an importable or exportable item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

impl ExternType {
    /// `"func"`, `"table"`, `"memory"` or `"global"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Func(_) => "func",
            Self::Table(_) => "table",
            Self::Memory(_) => "memory",
            Self::Global(_) => "global",
        }
    }
}

/// An opaque host value carried by `externref`: an id the host chooses.
/// Contracts can store and pass it and compare it with null, never look
/// inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternRef(u64);

impl ExternRef {
    /// The largest id; `u64::MAX` is reserved for the null encoding.
    pub const MAX_ID: u64 = u64::MAX - 1;

    /// The reference with id `id` (ids above [`ExternRef::MAX_ID`] are
    /// taken as `MAX_ID`).
    pub const fn new(id: u64) -> Self {
        Self(if id > Self::MAX_ID { Self::MAX_ID } else { id })
    }

    /// The host's id.
    pub const fn id(self) -> u64 {
        self.0
    }

    /// Raw encoding: never zero, because zero is null.
    pub(crate) fn to_raw(self) -> ValRaw {
        self.0 + 1
    }

    /// Decodes a non-null raw externref (only ever made by
    /// [`ExternRef::to_raw`]).
    pub(crate) fn from_raw(raw: ValRaw) -> Option<Self> {
        raw.checked_sub(1).map(Self)
    }
}

/// A WebAssembly value. Floats are raw IEEE 754 bits so that every NaN
/// payload survives a round trip through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as its bits.
    F32(u32),
    /// `f64`, as its bits.
    F64(u64),
    /// `funcref`; `None` is null.
    FuncRef(Option<super::Func>),
    /// `externref`; `None` is null.
    ExternRef(Option<ExternRef>),
}

impl Value {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Self::I32(_) => ValType::I32,
            Self::I64(_) => ValType::I64,
            Self::F32(_) => ValType::F32,
            Self::F64(_) => ValType::F64,
            Self::FuncRef(_) => ValType::FuncRef,
            Self::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The null reference of a reference type, zero for a numeric type:
    /// the default value of locals and table elements.
    pub fn default_for(ty: ValType) -> Self {
        match ty {
            ValType::I32 => Self::I32(0),
            ValType::I64 => Self::I64(0),
            ValType::F32 => Self::F32(0),
            ValType::F64 => Self::F64(0),
            ValType::FuncRef => Self::FuncRef(None),
            ValType::ExternRef => Self::ExternRef(None),
        }
    }

    /// The `i32`, if this is one.
    pub fn as_i32(&self) -> Option<i32> {
        match *self {
            Self::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I64(v) => Some(v),
            _ => None,
        }
    }

    /// Raw encoding, without checking which store a funcref belongs to
    /// (callers check that first).
    pub(crate) fn to_raw(self) -> ValRaw {
        match self {
            Self::I32(v) => u64::from(v as u32),
            Self::I64(v) => v as u64,
            Self::F32(bits) => u64::from(bits),
            Self::F64(bits) => bits,
            Self::FuncRef(f) => f.map_or(0, |f| f.raw as u64),
            Self::ExternRef(e) => e.map_or(0, ExternRef::to_raw),
        }
    }

    /// Decodes a raw value of type `ty` produced by compiled code of the
    /// store `store_id`.
    pub(crate) fn from_raw(raw: ValRaw, ty: ValType, store_id: u64) -> Self {
        match ty {
            ValType::I32 => Self::I32(raw as u32 as i32),
            ValType::I64 => Self::I64(raw as i64),
            ValType::F32 => Self::F32(raw as u32),
            ValType::F64 => Self::F64(raw),
            ValType::FuncRef => Self::FuncRef((raw != 0).then_some(super::Func {
                store_id,
                raw: raw as usize,
            })),
            ValType::ExternRef => Self::ExternRef(ExternRef::from_raw(raw)),
        }
    }
}
