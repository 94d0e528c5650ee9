//! The consensus-critical front of detvm: everything a node must agree on
//! before a contract reaches the compiler.
//!
//! Bytes flow through two stages, each with its own error type:
//!
//! 1. [`validate`] decodes and validates a module against the determinism
//!    profile (WebAssembly 2.0 without vector instructions) and the size
//!    [`Limits`], and returns a [`ModuleInfo`] describing it.
//! 2. [`instrument`] rewrites the validated module into plain WebAssembly
//!    that charges gas per metered block from a versioned [`Schedule`] and
//!    bounds the stack deterministically ([`StackConfig`]), calling into the
//!    reserved imports described in [`abi`].
//!
//! The schedule, the limits and the stack configuration are each encoded
//! as a versioned name/value [`table`], the encoding every part of the
//! hashed consensus configuration shares (`docs/host-api.md`, "Consensus
//! configuration").
//!
//! The rules both stages follow are normative and written down in
//! `docs/determinism.md` and `docs/gas.md`; this crate is one implementation
//! of them. It never touches a code generator: its output is Wasm bytes.

#![deny(missing_docs)]

pub mod abi;
mod config;
mod errors;
mod features;
mod info;
mod instrument;
mod limits;
mod schedule;
pub mod table;
mod validate;

pub use config::{AllowedImport, Config, ImportPolicy};
pub use errors::{InstrumentError, MeteringError, ValidationError};
pub use features::Feature;
pub use info::{MemoryInfo, ModuleInfo, TableInfo};
pub use instrument::{ChargeSite, Counter, InstrumentStats, Instrumented, StackConfig, instrument};
pub use limits::{Limit, Limits};
pub use schedule::Schedule;
pub use validate::validate;

/// Validates `bytes` under `config`, then instruments the result.
///
/// This is the whole front-end pipeline in one call, as the VM runs it.
pub fn prepare(
    bytes: &[u8],
    config: &Config,
    schedule: &Schedule,
    stack: &StackConfig,
) -> Result<Instrumented, MeteringError> {
    let info = validate(bytes, config)?;
    Ok(instrument(bytes, &info, schedule, stack)?)
}
