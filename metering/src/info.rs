//! What validation learned about a module, handed on to instrumentation.

/// A summary of a module that passed [`crate::validate`].
///
/// Counts include imported items unless the field says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModuleInfo {
    /// Size of the module in bytes.
    pub size: usize,
    /// Number of function types.
    pub types: u32,
    /// Number of imported functions.
    pub imported_functions: u32,
    /// Number of functions defined in the module (with a body).
    pub defined_functions: u32,
    /// Number of globals, imported and defined.
    pub globals: u32,
    /// Tables, imported first, after the limits were applied.
    pub tables: Vec<TableInfo>,
    /// Number of imports of any kind.
    pub imports: u32,
    /// Number of exports.
    pub exports: u32,
    /// Number of data segments.
    pub data_segments: u32,
    /// Number of element segments.
    pub element_segments: u32,
    /// Declared locals over all function bodies (parameters excluded).
    pub total_locals: u64,
    /// `block`, `loop` and `if` instructions over all function bodies.
    pub total_blocks: u64,
    /// The module's linear memory, if it has one (imported or defined).
    pub memory: Option<MemoryInfo>,
}

/// The module's single linear memory after the limits were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MemoryInfo {
    /// Whether the memory is imported rather than defined.
    pub imported: bool,
    /// Initial size in 64 KiB pages.
    pub initial: u64,
    /// The maximum in pages that instrumentation writes and the engine
    /// enforces: the declared maximum, lowered to the limit if above it, or
    /// the limit when none was declared.
    pub maximum: u64,
    /// The maximum the module itself declared, if any.
    pub declared_maximum: Option<u64>,
}

impl MemoryInfo {
    /// Whether the declared maximum was absent or above the limit and so was
    /// replaced by the limit.
    pub fn maximum_lowered(&self) -> bool {
        self.declared_maximum != Some(self.maximum)
    }
}

/// One table after the limits were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TableInfo {
    /// Whether the table is imported rather than defined.
    pub imported: bool,
    /// Initial size in elements.
    pub initial: u64,
    /// The maximum in elements that instrumentation writes and the engine
    /// enforces: the declared maximum, lowered to the limit if above it, or
    /// the limit when none was declared.
    pub maximum: u64,
    /// The maximum the module itself declared, if any.
    pub declared_maximum: Option<u64>,
}
