//! Compute kernels for the benchmark suite: the same `.wasm` bytes run on
//! detvm, wasmtime and wasmi, so the module has no imports at all (and so
//! no `detvm-sdk`, whose panic handler calls the host). It is not a
//! contract: its exports take a size and return a checksum, as plain Wasm
//! functions.
//!
//! | export | signature | work | benchmark size |
//! | --- | --- | --- | ---: |
//! | `sha256` | `(n: i32) -> i64` | SHA-256 of an `n`-byte message | 131,072 |
//! | `keccak256` | `(n: i32) -> i64` | Keccak-256 of an `n`-byte message | 131,072 |
//! | `sort` | `(n: i32) -> i64` | `sort_unstable` of `n` random `u32` | 50,000 |
//! | `sort_indirect` | `(n: i32) -> i64` | the same, comparing through `call_indirect` | 20,000 |
//! | `sieve` | `(n: i32) -> i64` | sieve of Eratosthenes up to `n` | 1,000,000 |
//! | `matmul` | `(n: i32) -> i64` | product of two `n`×`n` `u32` matrices | 100 |
//! | `json_prepare` | `(n: i32) -> i64` | writes a JSON document of about `n` bytes | 131,072 |
//! | `json_parse` | `() -> i64` | parses it with `serde_json` into typed records | |
//! | `nbody` | `(n: i32) -> i64` | `n` steps of the five-body solar system, `f64` | 20,000 |
//!
//! The module is built at `opt-level = 3` (see `contracts/Cargo.toml`),
//! like compute code that is meant to be fast. Sizes are unsigned (`u32`
//! in Rust). Every input is generated inside the call by splitmix64 from
//! a fixed seed, and every result is a checksum that depends on all of the
//! work, so no engine can skip any of it. At twice the benchmark sizes no
//! kernel needs more than 33 pages (about 2 MiB, `sieve`) of memory, far
//! below the 1,024 pages (64 MiB) of the contract limits.
//!
//! Every export starts by emptying the heap (see [`arena`]), so calling
//! one any number of times on the same instance uses the same memory and
//! returns the same result. Any failure (memory cannot grow, a size whose
//! arrays overflow the address space) traps with `unreachable`.
//!
//! The only floating point of this crate is `nbody`'s. `serde_json`'s
//! number parser also contains float code for fractional numbers, which
//! the documents here never have.

#![no_std]

extern crate alloc;

mod arena;
mod json;
mod nbody;

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::cmp::Ordering;

use sha2::Digest;

/// Every panic (a failed allocation, an index out of bounds) ends the call
/// with an `unreachable` trap: there is no host to report a message to.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// A global variable of this single-threaded module.
struct Single<T>(Cell<T>);

// SAFETY: wasm32-unknown-unknown without the threads feature runs on one
// thread, so a `Cell` is never shared between threads.
unsafe impl<T> Sync for Single<T> {}

impl<T: Copy> Single<T> {
    const fn new(value: T) -> Self {
        Self(Cell::new(value))
    }

    fn get(&self) -> T {
        self.0.get()
    }

    fn set(&self, value: T) {
        self.0.set(value)
    }
}

/// splitmix64: the generator of every input.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The high half of [`Rng::next`].
    fn next_u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
}

/// The seeds of the kernels' inputs (the JSON document has its own).
const SEED_MESSAGE: u64 = 1;
const SEED_SORT: u64 = 2;
const SEED_MATMUL: u64 = 3;

/// The checksums are FNV-1a over 64-bit words: start from `FNV_OFFSET`,
/// then `acc = (acc ^ word) * FNV_PRIME` for each word, wrapping.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn mix(acc: u64, word: u64) -> u64 {
    (acc ^ word).wrapping_mul(FNV_PRIME)
}

/// Mixes in the length of `bytes`, then each byte.
fn mix_bytes(acc: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(mix(acc, bytes.len() as u64), |acc, &b| mix(acc, b.into()))
}

/// The checksum of a list of `u32`, in order.
fn checksum_u32(values: &[u32]) -> u64 {
    values.iter().fold(FNV_OFFSET, |acc, &v| mix(acc, v.into()))
}

/// `n` bytes: the little-endian bytes of successive draws of the generator
/// seeded with 1 (the last draw cut short).
fn message(n: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED_MESSAGE);
    let mut bytes = Vec::with_capacity(n);
    while bytes.len() < n {
        let take = (n - bytes.len()).min(8);
        bytes.extend_from_slice(&rng.next().to_le_bytes()[..take]);
    }
    bytes
}

/// The first 8 bytes of `digest` as a big-endian number.
fn first_word(digest: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(word)
}

/// SHA-256 of the `n`-byte message (the little-endian bytes of successive
/// splitmix64 draws from seed 1, the last one cut short); returns the
/// digest's first 8 bytes read as a big-endian number.
///
/// Benchmark size: `n = 131_072` (128 KiB).
#[unsafe(no_mangle)]
pub extern "C" fn sha256(n: u32) -> u64 {
    arena::reset();
    first_word(&sha2::Sha256::digest(message(n as usize)))
}

/// Keccak-256 (Ethereum's: the original Keccak padding, not SHA3-256's) of
/// the same `n`-byte message as [`sha256`]; returns the digest's first 8
/// bytes read as a big-endian number (`n = 0`: `0xc5d2460186f7233c`).
///
/// Benchmark size: `n = 131_072` (128 KiB).
#[unsafe(no_mangle)]
pub extern "C" fn keccak256(n: u32) -> u64 {
    arena::reset();
    first_word(&sha3::Keccak256::digest(message(n as usize)))
}

/// `n` values: the high halves of successive splitmix64 draws from seed 2.
fn random_u32s(n: usize) -> Vec<u32> {
    let mut rng = Rng::new(SEED_SORT);
    (0..n).map(|_| rng.next_u32()).collect()
}

/// Sorts `n` pseudo-random `u32` (the high halves of splitmix64 draws from
/// seed 2) with `sort_unstable`; returns the checksum of the sorted list
/// (FNV-1a over the values as 64-bit words, in order).
///
/// Benchmark size: `n = 50_000`.
#[unsafe(no_mangle)]
pub extern "C" fn sort(n: u32) -> u64 {
    arena::reset();
    let mut values = random_u32s(n as usize);
    values.sort_unstable();
    checksum_u32(&values)
}

/// A comparison of two values, called through a function pointer.
type Compare = fn(&u32, &u32) -> Ordering;

/// Three differently written comparisons that all give the ascending
/// order. `sort_indirect` picks one by its size at run time, so the
/// compiler cannot know which one is called and every comparison is a
/// `call_indirect` through the table.
static COMPARISONS: [Compare; 3] = [ascending, ascending_by_halves, ascending_signed];

fn ascending(a: &u32, b: &u32) -> Ordering {
    a.cmp(b)
}

fn ascending_by_halves(a: &u32, b: &u32) -> Ordering {
    (a >> 16)
        .cmp(&(b >> 16))
        .then((a & 0xffff).cmp(&(b & 0xffff)))
}

fn ascending_signed(a: &u32, b: &u32) -> Ordering {
    (i64::from(*a) - i64::from(u32::MAX)).cmp(&(i64::from(*b) - i64::from(u32::MAX)))
}

/// The same work and result as [`sort`], but every comparison is an
/// indirect call (`call_indirect`) of a comparison function chosen at run
/// time from a table of three, by `n % 3`: it measures indirect calls in a
/// hot loop. (Checked on the built module with `wasm2wat`: the sort's
/// loops contain `call_indirect`, and no direct call of the comparisons.)
/// Smaller than `sort`'s size: each comparison is a call.
///
/// Benchmark size: `n = 20_000`.
#[unsafe(no_mangle)]
pub extern "C" fn sort_indirect(n: u32) -> u64 {
    arena::reset();
    let compare = COMPARISONS[(n % 3) as usize];
    let mut values = random_u32s(n as usize);
    values.sort_unstable_by(compare);
    checksum_u32(&values)
}

/// Sieve of Eratosthenes over `0..=n` (one byte per number); returns the
/// number of primes up to `n` in the low 32 bits and the largest of them
/// (0 if none) in the high 32 bits. `sieve(1_000_000)` is
/// `999_983 << 32 | 78_498`.
///
/// Benchmark size: `n = 1_000_000`.
#[unsafe(no_mangle)]
pub extern "C" fn sieve(n: u32) -> u64 {
    arena::reset();
    let n = n as usize;
    let mut composite = vec![false; n.checked_add(1).expect("size")];
    let mut count = 0;
    let mut largest = 0;
    let mut i = 2;
    while i <= n {
        if !composite[i] {
            count += 1;
            largest = i;
            if i <= n / i {
                // No overflow: `multiple` stays below `n + i`, and `n + 1`
                // bytes fit in the address space with room to spare.
                let mut multiple = i * i;
                while multiple <= n {
                    composite[multiple] = true;
                    multiple += i;
                }
            }
        }
        i += 1;
    }
    (largest as u64) << 32 | count
}

/// Multiplies two `n`×`n` matrices of `u32` (row-major, filled with the
/// high halves of splitmix64 draws from seed 3, the first matrix first),
/// wrapping; returns the checksum of the product (FNV-1a over its entries
/// as 64-bit words, row by row).
///
/// Benchmark size: `n = 100`.
#[unsafe(no_mangle)]
pub extern "C" fn matmul(n: u32) -> u64 {
    arena::reset();
    let n = n as usize;
    let len = n.checked_mul(n).expect("size");
    let mut rng = Rng::new(SEED_MATMUL);
    let a: Vec<u32> = (0..len).map(|_| rng.next_u32()).collect();
    let b: Vec<u32> = (0..len).map(|_| rng.next_u32()).collect();
    let mut c = vec![0u32; len];
    for i in 0..n {
        let out = &mut c[i * n..][..n];
        for k in 0..n {
            let a_ik = a[i * n + k];
            for (c_ij, &b_kj) in out.iter_mut().zip(&b[k * n..][..n]) {
                *c_ij = c_ij.wrapping_add(a_ik.wrapping_mul(b_kj));
            }
        }
    }
    checksum_u32(&c)
}

/// The document of the last `json_prepare`, if any.
static DOCUMENT: Single<Option<&'static [u8]>> = Single::new(None);

/// Writes the JSON document `json_parse` parses: at least `n` bytes, and
/// under `n + 300`. Returns its length in bytes. The document stays in
/// memory, untouched by the other exports, until the next `json_prepare`
/// replaces it. How it is generated is documented in `src/json.rs`.
///
/// Benchmark size: `n = 131_072` (128 KiB).
#[unsafe(no_mangle)]
pub extern "C" fn json_prepare(n: u32) -> u64 {
    arena::release();
    DOCUMENT.set(None);
    let document = json::generate(n as usize).leak();
    arena::keep();
    DOCUMENT.set(Some(document));
    document.len() as u64
}

/// Parses the document of the last `json_prepare` with `serde_json` into
/// typed records (integers, strings with escapes, booleans, nested arrays
/// and objects); returns a checksum over every parsed value (FNV-1a; see
/// `Document::checksum` in `src/json.rs`).
///
/// Returns 0 if `json_prepare` has not been called on this instance. Call
/// `json_prepare` once, then time `json_parse`.
#[unsafe(no_mangle)]
pub extern "C" fn json_parse() -> u64 {
    arena::reset();
    let Some(document) = DOCUMENT.get() else {
        return 0;
    };
    serde_json::from_slice::<json::Document>(document)
        .expect("the prepared document parses")
        .checksum()
}

/// Advances the five-body system (the Sun, Jupiter, Saturn, Uranus,
/// Neptune; the Benchmarks Game's `nbody`, time step 0.01 year) by `n`
/// steps; returns the checksum (FNV-1a over 64-bit words) of the bits of
/// the energy before and after, then of each body's position and velocity
/// coordinates (x, vx, y, vy, z, vz), Sun first. No NaN arises: the inputs
/// are finite and no two bodies meet.
///
/// Benchmark size: `n = 20_000`.
#[unsafe(no_mangle)]
pub extern "C" fn nbody(n: u32) -> u64 {
    nbody::run(n)
}
