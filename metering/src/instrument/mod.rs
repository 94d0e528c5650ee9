//! Gas and stack instrumentation: a Wasm-to-Wasm rewrite following
//! `docs/gas.md`.
//!
//! The consensus-relevant decisions live in one place: [`sections::parse`]
//! decodes the module; [`sections::emit`] writes it back section by section,
//! and when it reaches the code section the [`analysis`] pass decides every
//! insertion for one function body in a single pass over it, which
//! [`rewrite`] then splices into the original bytes without deciding
//! anything.

mod analysis;
mod ops;
mod rewrite;
mod sections;

use crate::row_name;
use crate::table::{self, RowName};
use crate::{InstrumentError, ModuleInfo, Schedule};

/// How the deterministic stack bound is computed and enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackConfig {
    /// The `stack_left` the host sets at the start of each call, in bytes.
    /// Instrumentation does not embed it; engines read it from here.
    pub limit: u64,
    /// Fixed bytes added to every function's frame cost, standing for the
    /// return address and bookkeeping a real frame needs. Embedded in the
    /// instrumented code.
    pub frame_overhead: u32,
}

impl StackConfig {
    /// The default stack limit in bytes.
    pub const DEFAULT_LIMIT: u64 = 262_144;
    /// The default per-frame overhead in bytes.
    pub const DEFAULT_FRAME_OVERHEAD: u32 = 64;

    /// Number of rows in [`StackConfig::entries`].
    pub const ENTRIES: usize = 2;

    /// Version of the row set of [`StackConfig::entries`] in the canonical
    /// encoding. It changes when a field is added, removed or renamed, not
    /// when a value does.
    pub const TABLE_VERSION: u32 = 1;

    /// A configuration with the given limit and per-frame overhead.
    pub fn new(limit: u64, frame_overhead: u32) -> Self {
        Self {
            limit,
            frame_overhead,
        }
    }

    /// Both fields with their names, in canonical order; `frame_overhead`
    /// is widened so the table has one value width.
    pub fn entries(&self) -> [(RowName, u64); Self::ENTRIES] {
        [
            (row_name!("limit"), self.limit),
            (row_name!("frame_overhead"), u64::from(self.frame_overhead)),
        ]
    }

    /// The canonical byte encoding of the stack configuration: the
    /// versioned table encoding of [`crate::table`] with version
    /// [`StackConfig::TABLE_VERSION`] and `u64` values. This is the `stack`
    /// part of the consensus configuration (`docs/host-api.md`, "Consensus
    /// configuration").
    pub fn canonical_bytes(&self) -> Vec<u8> {
        table::encode(Self::TABLE_VERSION, &self.entries())
    }
}

impl Default for StackConfig {
    fn default() -> Self {
        Self::new(Self::DEFAULT_LIMIT, Self::DEFAULT_FRAME_OVERHEAD)
    }
}

/// An instrumented module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Instrumented {
    /// The rewritten module.
    pub bytes: Vec<u8>,
    /// What the rewrite did.
    pub stats: InstrumentStats,
    /// The fixed charge sequences written into each defined function, in
    /// order of function and, within one, of offset: what a compiler
    /// lowers as one unit without looking for their shape (`docs/vm.md`,
    /// "Pipeline").
    pub charges: Vec<Vec<ChargeSite>>,
}

/// The counter a charge takes from (`docs/gas.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `gas_left`: a block charge (§5.1), which calls `out_of_gas` when
    /// short.
    Gas,
    /// `stack_left`: a function's frame check (§5.3), which calls
    /// `stack_overflow` when short.
    Stack,
}

/// Where instrumentation wrote one fixed charge sequence
/// (`global.get; i64.const c; i64.lt_u; if; call; end; global.get;
/// i64.const c; i64.sub; global.set` of one counter, `docs/gas.md` §5.1
/// and §5.3) into a function body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChargeSite {
    /// Bytes from the start of the function body (the first byte after
    /// its size, so the local declarations count) to the sequence's first
    /// instruction.
    pub offset: u32,
    /// The sequence's length in bytes.
    pub len: u32,
    /// The counter charged.
    pub counter: Counter,
    /// The amount charged, `c` above.
    pub amount: u64,
}

/// Counts describing a rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstrumentStats {
    /// Defined functions instrumented.
    pub functions: u32,
    /// Metered blocks that received charge code (blocks of cost zero and
    /// dead code are not counted).
    pub metered_blocks: u64,
    /// Dynamic (per-unit) charge sequences inserted.
    pub dynamic_charges: u64,
    /// Functions whose body was wrapped because it branches to its
    /// outermost label.
    pub wrapped_functions: u32,
    /// The largest frame cost of any defined function, in bytes.
    pub max_frame: u64,
    /// The frame cost (`docs/gas.md` §5.3) of every defined function, in
    /// order: what a call of it charges `stack_left`. The engine bounds
    /// each function's native frame by it (`docs/vm.md`, native frames).
    pub frame_costs: Vec<u64>,
    /// Input size in bytes.
    pub input_size: usize,
    /// Output size in bytes.
    pub output_size: usize,
}

/// Rewrites a validated module to charge gas and bound the stack.
///
/// `info` must be what [`crate::validate`] returned for `bytes`: the
/// maxima it lowered are written into the output. The same inputs always
/// give the same bytes.
pub fn instrument(
    bytes: &[u8],
    info: &ModuleInfo,
    schedule: &Schedule,
    stack: &StackConfig,
) -> Result<Instrumented, InstrumentError> {
    let parsed = sections::parse(bytes)?;
    sections::emit(
        bytes,
        &parsed,
        &sections::EmitContext {
            info,
            schedule,
            stack,
        },
    )
}

fn decode_error(offset: impl TryInto<u64>, message: impl Into<String>) -> InstrumentError {
    InstrumentError::Decode {
        offset: offset.try_into().unwrap_or(u64::MAX),
        message: message.into(),
    }
}

fn unsupported(offset: impl TryInto<u64>, message: impl Into<String>) -> InstrumentError {
    InstrumentError::Unsupported {
        offset: offset.try_into().unwrap_or(u64::MAX),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::StackConfig;

    #[test]
    fn both_fields_change_the_encoding() {
        let base = StackConfig::default();
        let limit = StackConfig::new(base.limit + 1, base.frame_overhead);
        let overhead = StackConfig::new(base.limit, base.frame_overhead + 1);
        let all = [&base, &limit, &overhead].map(StackConfig::canonical_bytes);
        assert_ne!(all[0], all[1]);
        assert_ne!(all[0], all[2]);
        assert_ne!(all[1], all[2]);
        assert_eq!(
            base.entries().map(|(name, _)| name.as_str()),
            ["limit", "frame_overhead"]
        );
    }
}
