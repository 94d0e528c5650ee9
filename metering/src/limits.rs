//! Stub: owned by the validation work; replaced with every limit.

/// One of the size limits a module is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Limit {
    /// Size of the module in bytes.
    ModuleSize,
}

impl Limit {
    /// The stable name used in errors and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::ModuleSize => "module_size",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Size limits checked before any compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest module in bytes.
    pub module_size: u64,
    /// Memory pages a module may declare or grow to.
    pub memory_pages: u64,
}

impl Limits {
    /// The preset for contracts.
    pub fn contract() -> Self {
        Self { module_size: 4 << 20, memory_pages: 1024 }
    }

    /// WebAssembly's own maxima, for conformance tests.
    pub fn spec() -> Self {
        Self { module_size: u64::MAX, memory_pages: 65536 }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::contract()
    }
}
