//! detvm's benchmarks: the fixed workloads (kernels, a small contract, the
//! token contract) and the timing loop shared by the criterion targets in
//! `benches/` and by the `report` binary that writes `BENCHMARKS.md`. The
//! generated modules (realistic code of any size, the limit modules) come
//! from `detvm-fixtures`, which the VM's tests use too. Nothing here asserts
//! a time: speed goals are read from the benchmarks and judged in the
//! report.

#![deny(missing_docs)]

pub use detvm_fixtures::{limits, realistic};

pub mod fixtures;
pub mod measure;
#[cfg(feature = "peers")]
pub mod peer_token;
#[cfg(feature = "peers")]
pub mod peers;
pub mod token;
pub mod work;
