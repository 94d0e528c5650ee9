//! Size limits that keep compilation and instantiation linear in the size of
//! a module. `docs/determinism.md` §4 explains each one.

use crate::row_name;
use crate::table::{self, RowName};

/// One of the size limits a module is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Limit {
    /// Size of the module in bytes.
    ModuleSize,
    /// Entries in the type section.
    Types,
    /// Functions, imported and defined.
    Functions,
    /// Imports of any kind.
    Imports,
    /// Globals, imported and defined.
    Globals,
    /// Exports.
    Exports,
    /// Parameters of one function type.
    Params,
    /// Results of one function type.
    Results,
    /// Locals declared in one function body, parameters excluded.
    LocalsPerFunction,
    /// Locals declared over all function bodies.
    LocalsTotal,
    /// Bytes of one function body, after its size prefix.
    FunctionBodySize,
    /// `block`, `loop` and `if` instructions in one function body.
    BlocksPerFunction,
    /// `block`, `loop` and `if` instructions over all function bodies.
    BlocksTotal,
    /// Targets of one `br_table`, excluding the default.
    BrTableTargets,
    /// Tables, imported and defined.
    Tables,
    /// Initial elements of one table.
    TableElements,
    /// Data segments.
    DataSegments,
    /// Element segments.
    ElementSegments,
    /// Initial size of the memory in 64 KiB pages.
    MemoryPages,
}

impl Limit {
    /// Every limit, in declaration order.
    pub const ALL: &'static [Limit] = &[
        Self::ModuleSize,
        Self::Types,
        Self::Functions,
        Self::Imports,
        Self::Globals,
        Self::Exports,
        Self::Params,
        Self::Results,
        Self::LocalsPerFunction,
        Self::LocalsTotal,
        Self::FunctionBodySize,
        Self::BlocksPerFunction,
        Self::BlocksTotal,
        Self::BrTableTargets,
        Self::Tables,
        Self::TableElements,
        Self::DataSegments,
        Self::ElementSegments,
        Self::MemoryPages,
    ];

    /// The stable name used in errors, JSON and the canonical encoding
    /// ([`Limits::entries`]).
    pub const fn name(self) -> &'static str {
        match self {
            Self::ModuleSize => "module_size",
            Self::Types => "types",
            Self::Functions => "functions",
            Self::Imports => "imports",
            Self::Globals => "globals",
            Self::Exports => "exports",
            Self::Params => "params",
            Self::Results => "results",
            Self::LocalsPerFunction => "locals_per_function",
            Self::LocalsTotal => "locals_total",
            Self::FunctionBodySize => "function_body_size",
            Self::BlocksPerFunction => "blocks_per_function",
            Self::BlocksTotal => "blocks_total",
            Self::BrTableTargets => "br_table_targets",
            Self::Tables => "tables",
            Self::TableElements => "table_elements",
            Self::DataSegments => "data_segments",
            Self::ElementSegments => "element_segments",
            Self::MemoryPages => "memory_pages",
        }
    }

    /// The limit with this stable name, if any.
    pub fn from_name(name: &str) -> Option<Limit> {
        Self::ALL.iter().copied().find(|l| l.name() == name)
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Size limits checked before any compilation.
///
/// Every bound is inclusive: a module with exactly the limit passes. The
/// field documentation says what is counted; `u64::MAX` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest module in bytes.
    pub module_size: u64,
    /// Most entries in the type section.
    pub types: u64,
    /// Most functions, imported and defined.
    pub functions: u64,
    /// Most imports of any kind.
    pub imports: u64,
    /// Most globals, imported and defined.
    pub globals: u64,
    /// Most exports.
    pub exports: u64,
    /// Most parameters of one function type.
    pub params: u64,
    /// Most results of one function type.
    pub results: u64,
    /// Most locals declared in one function body, parameters excluded.
    pub locals_per_function: u64,
    /// Most locals declared over all function bodies.
    pub locals_total: u64,
    /// Largest function body in bytes, after its size prefix.
    pub function_body_size: u64,
    /// Most `block`, `loop` and `if` instructions in one function body.
    pub blocks_per_function: u64,
    /// Most `block`, `loop` and `if` instructions over all function bodies.
    pub blocks_total: u64,
    /// Most targets of one `br_table`, excluding the default.
    pub br_table_targets: u64,
    /// Most tables, imported and defined.
    pub tables: u64,
    /// Largest initial size of a table in elements; larger declared maxima
    /// are lowered to it.
    pub table_elements: u64,
    /// Most data segments.
    pub data_segments: u64,
    /// Most element segments.
    pub element_segments: u64,
    /// Largest initial memory in 64 KiB pages; larger declared maxima are
    /// lowered to it.
    pub memory_pages: u64,
}

impl Limits {
    /// Number of limits, i.e. of rows in [`Limits::entries`].
    pub const ENTRIES: usize = 19;

    /// Version of the row set of [`Limits::entries`] in the canonical
    /// encoding. It changes when a limit is added, removed or renamed, not
    /// when a value does.
    pub const TABLE_VERSION: u32 = 1;

    /// Every bound with its [`Limit::name`], in canonical order: the order
    /// of [`Limit::ALL`] and of the table in `docs/determinism.md` §4.
    pub fn entries(&self) -> [(RowName, u64); Self::ENTRIES] {
        [
            (row_name!(Limit::ModuleSize.name()), self.module_size),
            (row_name!(Limit::Types.name()), self.types),
            (row_name!(Limit::Functions.name()), self.functions),
            (row_name!(Limit::Imports.name()), self.imports),
            (row_name!(Limit::Globals.name()), self.globals),
            (row_name!(Limit::Exports.name()), self.exports),
            (row_name!(Limit::Params.name()), self.params),
            (row_name!(Limit::Results.name()), self.results),
            (
                row_name!(Limit::LocalsPerFunction.name()),
                self.locals_per_function,
            ),
            (row_name!(Limit::LocalsTotal.name()), self.locals_total),
            (
                row_name!(Limit::FunctionBodySize.name()),
                self.function_body_size,
            ),
            (
                row_name!(Limit::BlocksPerFunction.name()),
                self.blocks_per_function,
            ),
            (row_name!(Limit::BlocksTotal.name()), self.blocks_total),
            (
                row_name!(Limit::BrTableTargets.name()),
                self.br_table_targets,
            ),
            (row_name!(Limit::Tables.name()), self.tables),
            (row_name!(Limit::TableElements.name()), self.table_elements),
            (row_name!(Limit::DataSegments.name()), self.data_segments),
            (
                row_name!(Limit::ElementSegments.name()),
                self.element_segments,
            ),
            (row_name!(Limit::MemoryPages.name()), self.memory_pages),
        ]
    }

    /// The canonical byte encoding of the limits: the versioned table
    /// encoding of [`crate::table`] with version [`Limits::TABLE_VERSION`]
    /// and `u64` values. This is the `limits` part of the consensus
    /// configuration (`docs/host-api.md`, "Consensus configuration").
    pub fn canonical_bytes(&self) -> Vec<u8> {
        table::encode(Self::TABLE_VERSION, &self.entries())
    }

    /// The preset for contracts.
    pub fn contract() -> Self {
        Self {
            module_size: 4 << 20,
            types: 1_024,
            functions: 10_000,
            imports: 100,
            globals: 1_000,
            exports: 1_000,
            params: 64,
            results: 8,
            locals_per_function: 4_096,
            locals_total: 1_000_000,
            function_body_size: 256 << 10,
            blocks_per_function: 5_000,
            blocks_total: 50_000,
            br_table_targets: 65_536,
            tables: 2,
            table_elements: 10_000,
            data_segments: 1_000,
            element_segments: 1_000,
            memory_pages: 1_024,
        }
    }

    /// WebAssembly's own implementation limits (those of the JS API), for
    /// conformance tests. Limits the JS API does not have are unlimited.
    pub fn spec() -> Self {
        Self {
            module_size: 1 << 30,
            types: 1_000_000,
            functions: 1_000_000,
            imports: 100_000,
            globals: 1_000_000,
            exports: 100_000,
            params: 1_000,
            results: 1_000,
            locals_per_function: 50_000,
            locals_total: u64::MAX,
            function_body_size: 7_654_321,
            blocks_per_function: u64::MAX,
            blocks_total: u64::MAX,
            br_table_targets: u64::MAX,
            tables: 100_000,
            table_elements: 10_000_000,
            data_segments: 100_000,
            element_segments: 100_000,
            memory_pages: 65_536,
        }
    }

    /// The bound for `limit`.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::ModuleSize => self.module_size,
            Limit::Types => self.types,
            Limit::Functions => self.functions,
            Limit::Imports => self.imports,
            Limit::Globals => self.globals,
            Limit::Exports => self.exports,
            Limit::Params => self.params,
            Limit::Results => self.results,
            Limit::LocalsPerFunction => self.locals_per_function,
            Limit::LocalsTotal => self.locals_total,
            Limit::FunctionBodySize => self.function_body_size,
            Limit::BlocksPerFunction => self.blocks_per_function,
            Limit::BlocksTotal => self.blocks_total,
            Limit::BrTableTargets => self.br_table_targets,
            Limit::Tables => self.tables,
            Limit::TableElements => self.table_elements,
            Limit::DataSegments => self.data_segments,
            Limit::ElementSegments => self.element_segments,
            Limit::MemoryPages => self.memory_pages,
        }
    }

    /// Sets the bound for `limit`.
    pub fn set(&mut self, limit: Limit, max: u64) {
        let field = match limit {
            Limit::ModuleSize => &mut self.module_size,
            Limit::Types => &mut self.types,
            Limit::Functions => &mut self.functions,
            Limit::Imports => &mut self.imports,
            Limit::Globals => &mut self.globals,
            Limit::Exports => &mut self.exports,
            Limit::Params => &mut self.params,
            Limit::Results => &mut self.results,
            Limit::LocalsPerFunction => &mut self.locals_per_function,
            Limit::LocalsTotal => &mut self.locals_total,
            Limit::FunctionBodySize => &mut self.function_body_size,
            Limit::BlocksPerFunction => &mut self.blocks_per_function,
            Limit::BlocksTotal => &mut self.blocks_total,
            Limit::BrTableTargets => &mut self.br_table_targets,
            Limit::Tables => &mut self.tables,
            Limit::TableElements => &mut self.table_elements,
            Limit::DataSegments => &mut self.data_segments,
            Limit::ElementSegments => &mut self.element_segments,
            Limit::MemoryPages => &mut self.memory_pages,
        };
        *field = max;
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::contract()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_every_limit_in_order() {
        assert_eq!(Limit::ALL.len(), Limits::ENTRIES);
        let limits = Limits::spec();
        for (limit, (name, value)) in Limit::ALL.iter().zip(limits.entries()) {
            assert_eq!(name, limit.name());
            assert_eq!(value, limits.get(*limit), "{limit}");
        }
    }

    #[test]
    fn every_limit_changes_the_encoding() {
        let base = Limits::contract();
        let mut seen = vec![base.canonical_bytes()];
        for &limit in Limit::ALL {
            let mut changed = base.clone();
            changed.set(limit, base.get(limit) + 1);
            seen.push(changed.canonical_bytes());
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
    }
}
