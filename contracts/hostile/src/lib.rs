//! A contract that misbehaves on purpose, one exported method per case. Each
//! method first writes a marker to storage (and logs a line), then
//! misbehaves; each must end in the trap documented in `contracts/README.md`
//! with the marker discarded, and must never bring the host down.
//!
//! | method | what it does | trap |
//! | --- | --- | --- |
//! | `infinite_loop` | loops forever | `out_of_gas` |
//! | `recurse` | unbounded, non-tail recursion | `stack_overflow` |
//! | `grow_memory` | grows memory a page at a time until `memory.grow` fails, then stores one byte past the end | `memory_out_of_bounds` |
//! | `allocate_forever` | allocates 1 MiB blocks until the allocator fails | `host` (`memory allocation of … failed`) |
//! | `storage_spam` | writes 1 KiB values under new keys forever | `out_of_gas` |
//! | `oob_log` | `log_utf8` on a range that ends past memory | `memory_out_of_bounds` |
//! | `oob_wrapping_pointer` | `storage_write` with a key range that wraps around 2^32 | `memory_out_of_bounds` |
//! | `oob_read_register` | `read_register` to the last byte of memory | `memory_out_of_bounds` |
//! | `huge_log` | one 32 KiB log line (over `max_log_bytes`) | `host` |
//! | `many_logs` | 101 log lines (over `max_logs`) | `host` |
//! | `long_key` | `storage_write` with a 4 KiB key (over `max_key_len`) | `host` |
//! | `invalid_utf8_log` | `log_utf8` on bytes that are not UTF-8 | `host` |
//! | `unset_register` | `read_register` on a register never set | `host` |

#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::arch::wasm32;
use core::hint::black_box;

use detvm_sdk::{env, storage, sys};

const PAGE: usize = 65_536;

/// The key every case writes before misbehaving; it must never persist.
pub const MARKER: &[u8] = b"hostile";

/// Writes the marker and a log line, so tests can check both are discarded.
fn mark() {
    storage::write_raw(MARKER, b"was here");
    env::log("hostile: about to misbehave");
}

/// The first address past the end of memory.
fn memory_end() -> usize {
    wasm32::memory_size(0).wrapping_mul(PAGE)
}

/// Declares exported methods that take no arguments and never return.
macro_rules! cases {
    ($($(#[$attr:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name() {
            mark();
            $body
        }
    )*};
}

cases! {
    /// Loops forever: `out_of_gas`.
    fn infinite_loop() {
        let mut i: u64 = 0;
        loop {
            // Opaque, so the loop cannot be optimised away.
            i = black_box(i.wrapping_add(1));
        }
    }

    /// Recurses without bound: `stack_overflow`.
    fn recurse() {
        black_box(deep(0));
    }

    /// Grows memory to the limit, then stores past it: `memory_out_of_bounds`.
    fn grow_memory() {
        while wasm32::memory_grow(0, 1) != usize::MAX {}
        let past_end = memory_end() as *mut u8;
        // SAFETY: none; this store is meant to trap. On wasm32 it is a plain
        // `i32.store8` at an address the engine must reject, which ends the
        // call before anything else happens.
        unsafe { core::ptr::write_volatile(past_end, 1) };
    }

    /// Allocates until memory runs out: `host`, with the allocator's message.
    fn allocate_forever() {
        loop {
            let block: Vec<u8> = Vec::with_capacity(1 << 20);
            // Opaque, so the allocation cannot be optimised away; never freed.
            black_box(block.as_ptr());
            core::mem::forget(block);
        }
    }

    /// Writes new keys forever: `out_of_gas`.
    fn storage_spam() {
        let value = [7u8; 1024];
        let mut i: u64 = 0;
        loop {
            storage::write_raw(&i.to_le_bytes(), &value);
            i = i.wrapping_add(1);
        }
    }

    /// Logs a range that ends past memory: `memory_out_of_bounds`.
    fn oob_log() {
        let start = memory_end() - 8;
        // SAFETY: the host only reads; it must reject the range.
        unsafe { sys::log_utf8(start as u32, 16) };
    }

    /// A key range that wraps around 2^32: `memory_out_of_bounds`.
    fn oob_wrapping_pointer() {
        let value = b"value";
        // SAFETY: the host only reads; it must reject the key range.
        unsafe { sys::storage_write(u32::MAX - 15, 32, value.as_ptr() as u32, 5, 0) };
    }

    /// Copies a register to the last byte of memory: `memory_out_of_bounds`.
    fn oob_read_register() {
        // SAFETY: `caller` writes only a register (several bytes long).
        unsafe { sys::caller(1) };
        let last = memory_end() - 1;
        // SAFETY: the register does not fit at `last`; the host must reject
        // the copy without writing anything.
        unsafe { sys::read_register(1, last as u32) };
    }

    /// One log line over `max_log_bytes`: `host`.
    fn huge_log() {
        let line = "a".repeat(32 << 10);
        env::log(&line);
    }

    /// One log line more than `max_logs`: `host`.
    fn many_logs() {
        for _ in 0..101 {
            env::log("spam");
        }
    }

    /// A storage key over `max_key_len`: `host`.
    fn long_key() {
        storage::write_raw(&[b'k'; 4096], b"value");
    }

    /// A log line that is not UTF-8: `host`.
    fn invalid_utf8_log() {
        let bytes = [0xff_u8, 0xfe, 0xfd];
        // SAFETY: the host only reads `bytes`.
        unsafe { sys::log_utf8(bytes.as_ptr() as u32, bytes.len() as u32) };
    }

    /// Reads a register that was never set: `host`.
    fn unset_register() {
        let mut buffer = [0u8; 8];
        // SAFETY: had the register been set, the host would write at most
        // its length, which `buffer` might not hold; it is unset, so the host
        // must trap without writing.
        unsafe { sys::read_register(42, buffer.as_mut_ptr() as u32) };
        black_box(buffer);
    }
}

/// Recursion that is neither a tail call nor an accumulation LLVM could turn
/// into a loop: the result passes through an opaque value.
#[inline(never)]
fn deep(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = deep(black_box(depth.wrapping_add(1)));
    black_box(below) ^ depth
}
