//! detvm's benchmarks: the deterministic module generators, the fixed
//! workloads (kernels, a small contract, the limit modules) and the timing
//! loop shared by the criterion targets in `benches/` and by the `report`
//! binary that writes `BENCHMARKS.md`. Nothing here asserts a time: speed
//! goals are read from the benchmarks and judged in the report.

#![deny(missing_docs)]

pub mod fixtures;
pub mod limits;
pub mod measure;
#[cfg(feature = "peers")]
pub mod peers;
pub mod realistic;

/// A small linear congruential generator (Knuth's MMIX constants): enough
/// variety for code generation, and the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 32 pseudo-random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// A number in `0..bound` (`bound > 0`; slightly biased, which does
    /// not matter for code generation).
    pub fn below(&mut self, bound: u32) -> u32 {
        self.next_u32() % bound
    }
}
