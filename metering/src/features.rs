//! Stub: owned by the validation work; replaced with the full feature list.

/// A WebAssembly proposal outside the determinism profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// Vector instructions and the `v128` type.
    Simd,
}

impl Feature {
    /// The stable name used in errors and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Simd => "simd",
        }
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
