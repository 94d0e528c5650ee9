//! Stub: owned by the instrumentation work.

/// A versioned table of gas costs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schedule {
    /// Version of the schedule.
    pub version: u32,
}

impl Schedule {
    /// The default schedule.
    pub fn v1() -> Self {
        Self { version: 1 }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self::v1()
    }
}
