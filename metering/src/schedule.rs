//! The versioned gas cost table (`docs/gas.md`, section 3).

use sha2::{Digest, Sha256};

use crate::row_name;
use crate::table::{self, RowName};

/// A versioned table of gas costs: one cost per operator class plus per-unit
/// fees.
///
/// Every operator of the determinism profile belongs to exactly one class;
/// operators outside the profile have no class and are refused by
/// [`crate::instrument`]. The canonical order of the costs (for
/// [`Schedule::entries`] and [`Schedule::hash`]) is the declaration order
/// below, which is also the order of the table in `docs/gas.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schedule {
    /// Version of the schedule; part of the hash.
    pub version: u32,
    /// `nop`, `block`, `loop`, `else`, `end`.
    pub structure: u32,
    /// `if`, `br`, `br_if`, `return`, `unreachable`.
    pub branch: u32,
    /// `br_table`.
    pub br_table: u32,
    /// `call`.
    pub call: u32,
    /// `call_indirect`.
    pub call_indirect: u32,
    /// `i32.const`, `i64.const`, `f32.const`, `f64.const`.
    pub constant: u32,
    /// `local.get`, `local.set`, `local.tee`.
    pub local: u32,
    /// `global.get`, `global.set`.
    pub global: u32,
    /// `drop`.
    pub drop: u32,
    /// `select` with or without a type annotation.
    pub select: u32,
    /// Integer comparisons, bit counting, add/sub, bitwise, shifts, rotates
    /// and sign extension.
    pub int_simple: u32,
    /// `i32.mul`, `i64.mul`.
    pub int_mul: u32,
    /// Integer division and remainder.
    pub int_div: u32,
    /// Float comparisons, sign operations, rounding, add/sub/mul, min/max.
    pub float_simple: u32,
    /// Float `div` and `sqrt`.
    pub float_div: u32,
    /// Wrapping, extension, truncation, conversion, demotion, promotion and
    /// reinterpretation between value types.
    pub conversion: u32,
    /// Every memory load.
    pub load: u32,
    /// Every memory store.
    pub store: u32,
    /// `memory.size`.
    pub memory_size: u32,
    /// `memory.grow`, before the per-page fee.
    pub memory_grow: u32,
    /// `memory.fill`, `memory.copy`, `memory.init`, before the per-byte fee.
    pub memory_bulk: u32,
    /// `data.drop`, `elem.drop`.
    pub segment_drop: u32,
    /// `table.get`, `table.set`, `table.size`.
    pub table_access: u32,
    /// `table.grow`, before the per-element fee.
    pub table_grow: u32,
    /// `table.fill`, `table.copy`, `table.init`, before the per-element fee.
    pub table_bulk: u32,
    /// `ref.null`, `ref.is_null`, `ref.func`.
    pub reference: u32,
    /// Fee per page requested by `memory.grow`.
    pub memory_grow_per_page: u32,
    /// Fee per byte of `memory.fill`, `memory.copy`, `memory.init`.
    pub memory_per_byte: u32,
    /// Fee per element of `table.grow`, `table.fill`, `table.copy`,
    /// `table.init`.
    pub table_per_element: u32,
    /// Fee per declared local (parameters excluded), paid by the entry block
    /// of every call.
    pub per_local: u32,
}

/// The operator classes of [`Schedule`] that an instruction can be charged
/// under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CostClass {
    Structure,
    Branch,
    BrTable,
    Call,
    CallIndirect,
    Constant,
    Local,
    Global,
    Drop,
    Select,
    IntSimple,
    IntMul,
    IntDiv,
    FloatSimple,
    FloatDiv,
    Conversion,
    Load,
    Store,
    MemorySize,
    MemoryGrow,
    MemoryBulk,
    SegmentDrop,
    TableAccess,
    TableGrow,
    TableBulk,
    Reference,
}

/// Which per-unit fee a dynamically priced operator pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitFee {
    MemoryPage,
    MemoryByte,
    TableElement,
}

impl Schedule {
    /// Number of costs in a schedule, i.e. of rows in [`Schedule::entries`].
    pub const ENTRIES: usize = 30;

    /// The first published schedule; the default.
    pub fn v1() -> Self {
        Self {
            version: 1,
            structure: 0,
            branch: 2,
            br_table: 4,
            call: 10,
            call_indirect: 15,
            constant: 1,
            local: 1,
            global: 2,
            drop: 1,
            select: 2,
            int_simple: 1,
            int_mul: 3,
            int_div: 20,
            float_simple: 3,
            float_div: 20,
            conversion: 3,
            load: 3,
            store: 3,
            memory_size: 2,
            memory_grow: 100,
            memory_bulk: 10,
            segment_drop: 5,
            table_access: 3,
            table_grow: 100,
            table_bulk: 10,
            reference: 2,
            memory_grow_per_page: 4096,
            memory_per_byte: 1,
            table_per_element: 2,
            per_local: 1,
        }
    }

    /// Every cost with its name, in canonical order (the order of the table
    /// in `docs/gas.md` and of the hash encoding). The version is not a row.
    pub fn entries(&self) -> [(RowName, u32); Self::ENTRIES] {
        [
            (row_name!("structure"), self.structure),
            (row_name!("branch"), self.branch),
            (row_name!("br_table"), self.br_table),
            (row_name!("call"), self.call),
            (row_name!("call_indirect"), self.call_indirect),
            (row_name!("constant"), self.constant),
            (row_name!("local"), self.local),
            (row_name!("global"), self.global),
            (row_name!("drop"), self.drop),
            (row_name!("select"), self.select),
            (row_name!("int_simple"), self.int_simple),
            (row_name!("int_mul"), self.int_mul),
            (row_name!("int_div"), self.int_div),
            (row_name!("float_simple"), self.float_simple),
            (row_name!("float_div"), self.float_div),
            (row_name!("conversion"), self.conversion),
            (row_name!("load"), self.load),
            (row_name!("store"), self.store),
            (row_name!("memory_size"), self.memory_size),
            (row_name!("memory_grow"), self.memory_grow),
            (row_name!("memory_bulk"), self.memory_bulk),
            (row_name!("segment_drop"), self.segment_drop),
            (row_name!("table_access"), self.table_access),
            (row_name!("table_grow"), self.table_grow),
            (row_name!("table_bulk"), self.table_bulk),
            (row_name!("reference"), self.reference),
            (row_name!("memory_grow_per_page"), self.memory_grow_per_page),
            (row_name!("memory_per_byte"), self.memory_per_byte),
            (row_name!("table_per_element"), self.table_per_element),
            (row_name!("per_local"), self.per_local),
        ]
    }

    /// The canonical byte encoding that [`Schedule::hash`] digests
    /// (`docs/gas.md`, section 3.1): the versioned table encoding of
    /// [`crate::table`] with `u32` values.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        table::encode(self.version, &self.entries())
    }

    /// SHA-256 of [`Schedule::canonical_bytes`], published for each version
    /// (`docs/gas.md`, section 3.1). What a chain commits to is the hash of
    /// the whole consensus configuration, of which the schedule is a part.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    pub(crate) fn cost(&self, class: CostClass) -> u32 {
        match class {
            CostClass::Structure => self.structure,
            CostClass::Branch => self.branch,
            CostClass::BrTable => self.br_table,
            CostClass::Call => self.call,
            CostClass::CallIndirect => self.call_indirect,
            CostClass::Constant => self.constant,
            CostClass::Local => self.local,
            CostClass::Global => self.global,
            CostClass::Drop => self.drop,
            CostClass::Select => self.select,
            CostClass::IntSimple => self.int_simple,
            CostClass::IntMul => self.int_mul,
            CostClass::IntDiv => self.int_div,
            CostClass::FloatSimple => self.float_simple,
            CostClass::FloatDiv => self.float_div,
            CostClass::Conversion => self.conversion,
            CostClass::Load => self.load,
            CostClass::Store => self.store,
            CostClass::MemorySize => self.memory_size,
            CostClass::MemoryGrow => self.memory_grow,
            CostClass::MemoryBulk => self.memory_bulk,
            CostClass::SegmentDrop => self.segment_drop,
            CostClass::TableAccess => self.table_access,
            CostClass::TableGrow => self.table_grow,
            CostClass::TableBulk => self.table_bulk,
            CostClass::Reference => self.reference,
        }
    }

    pub(crate) fn fee(&self, fee: UnitFee) -> u32 {
        match fee {
            UnitFee::MemoryPage => self.memory_grow_per_page,
            UnitFee::MemoryByte => self.memory_per_byte,
            UnitFee::TableElement => self.table_per_element,
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self::v1()
    }
}
