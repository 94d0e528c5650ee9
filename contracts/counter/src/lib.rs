//! A counter that persists across calls.
//!
//! Methods (arguments and results are borsh):
//!
//! | method | arguments | result | |
//! | --- | --- | --- | --- |
//! | `increment` | — | `u64` | adds one, returns the new value |
//! | `increment_by` | `u64` | `u64` | adds `by`; fails with `counter overflow` past `u64::MAX` |
//! | `decrement` | — | `u64` | subtracts one; fails with `counter is zero` at zero |
//! | `get` | — | `u64` | the value (0 before the first write); works as a view |
//! | `reset` | — | — | sets the value back to 0 and logs who did it |
//! | `increment_and_fail` | — | — | increments, logs, then fails: its write is discarded |
//! | `context` | — | `(String, String, u64, u64)` | the caller, this contract's id, the block height and timestamp |

#![no_std]

extern crate alloc;

use alloc::string::String;

use detvm_sdk::{abort, env, methods, storage};

const COUNT: &[u8] = b"count";

fn load() -> u64 {
    storage::read(COUNT).unwrap_or(0)
}

fn store(value: u64) -> u64 {
    storage::write(COUNT, &value);
    value
}

methods! {
    /// Adds one and returns the new value.
    fn increment() -> u64 {
        add(1)
    }

    /// Adds `by` and returns the new value.
    fn increment_by(by: u64) -> u64 {
        add(by)
    }

    /// Subtracts one and returns the new value; fails at zero.
    fn decrement() -> u64 {
        match load().checked_sub(1) {
            Some(value) => store(value),
            None => abort("counter is zero"),
        }
    }

    /// The current value.
    fn get() -> u64 {
        load()
    }

    /// Sets the value back to zero.
    fn reset() {
        store(0);
        let mut line = String::from("reset by ");
        line.push_str(&env::caller());
        env::log(&line);
    }

    /// Increments, logs, then fails: shows that a failed call's writes are
    /// discarded.
    fn increment_and_fail() {
        add(1);
        env::log("incremented");
        abort("failing after the increment");
    }

    /// What the host reports about this call: caller, contract, block.
    fn context() -> (String, String, u64, u64) {
        (
            env::caller(),
            env::current_contract(),
            env::block_height(),
            env::block_timestamp(),
        )
    }
}

fn add(by: u64) -> u64 {
    match load().checked_add(by) {
        Some(value) => store(value),
        None => abort("counter overflow"),
    }
}
