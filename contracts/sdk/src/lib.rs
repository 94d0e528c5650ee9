//! Write detvm smart contracts in Rust.
//!
//! A contract is a `no_std` `cdylib` built for `wasm32-unknown-unknown`. Each
//! exported function with no parameters and no results is a method; the
//! method reads its arguments with [`input`] and sets its return value with
//! [`return_value`]. Arguments, return values and state are
//! [borsh](https://borsh.io)-encoded: a method's arguments are the borsh
//! encoding of the tuple of its parameters. Link contracts with a small
//! shadow stack (`-zstack-size=65536`, as `contracts/build-contract.rs`
//! does): every call pays gas for each page of initial memory.
//!
//! ```ignore
//! #![no_std]
//! extern crate alloc;
//! use detvm_sdk::{methods, storage};
//!
//! methods! {
//!     /// Adds `by` to the counter and returns the new value.
//!     fn increment_by(by: u64) -> u64 {
//!         let value = storage::read::<u64>(b"count").unwrap_or(0);
//!         let Some(value) = value.checked_add(by) else {
//!             detvm_sdk::abort("counter overflow")
//!         };
//!         storage::write(b"count", &value);
//!         value
//!     }
//! }
//! ```
//!
//! What the SDK provides:
//!
//! * [`sys`]: the raw host functions of `docs/host-api.md`, exactly as the
//!   host exports them; [`register`], [`env`](mod@env), [`storage`],
//!   [`crypto`] and [`call`]: safe wrappers over every one of them.
//! * [`input`], [`return_value`], [`abort`], [`require`]: a method's
//!   arguments, result and failure.
//! * [`env`](mod@env): the caller, the contract, the block, logs, native
//!   tokens ([`env::attached_amount`], [`env::balance`], [`env::transfer`])
//!   and raw events ([`env::emit_event`]).
//! * [`crypto`]: SHA-256, Keccak-256 and ed25519 verification by the host.
//! * [`call`]: calls to other contracts, typed
//!   ([`call::Call`]`::new(contract, method).args(&a).invoke::<R>()`), with
//!   a [`call::CallError`] saying whether the callee trapped or the call was
//!   refused, and [`call::OrAbort`] for callers that cannot go on without
//!   the result.
//! * [`events`]: [`events::topic`] (the Keccak-256 of a name) and
//!   [`events::emit`] with borsh data.
//! * [`methods!`]: declares exported methods with typed parameters;
//!   [`reentrant!`]: lets the contract be called while it is running.
//! * On wasm32, a panic handler that ends the call through `panic_utf8` with
//!   the panic message, and a small global allocator (a bump allocator that
//!   reuses the most recent allocation; a call is short-lived, and its memory
//!   is discarded with its instance).
//!
//! Everything a contract can observe comes from the host through these
//! functions (no clock, no randomness, no floating point here), so a
//! contract built with the SDK is deterministic by construction.
//!
//! # Failure
//!
//! A method fails by ending the call as a `host` trap with a message:
//! [`abort`], [`require`], or a Rust panic (which the panic handler turns
//! into the same thing). The host then discards every storage write the
//! call made (its logs stay in the receipt: they are not state). The SDK itself never panics except through this path: host results
//! it cannot use (undecodable arguments or state) end the call with a message
//! naming the problem.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod allocator;
pub mod call;
pub mod crypto;
pub mod env;
pub mod events;
mod macros;
#[cfg(target_arch = "wasm32")]
mod panic;
pub mod register;
pub mod storage;
pub mod sys;

use alloc::vec::Vec;

/// The borsh crate the SDK uses, for contracts that do not depend on it
/// directly (derives then need `#[borsh(crate = "detvm_sdk::borsh")]`).
pub use borsh;
pub use borsh::{BorshDeserialize, BorshSerialize};

/// The call's raw argument bytes.
pub fn input_bytes() -> Vec<u8> {
    // SAFETY: `input` only writes to a host register.
    unsafe { sys::input(register::SCRATCH) };
    register::read(register::SCRATCH).unwrap_or_default()
}

/// The call's arguments, decoded from borsh.
///
/// Ends the call with `invalid arguments` if the bytes are not exactly one
/// borsh encoding of `T` (trailing bytes included).
pub fn input<T: BorshDeserialize>() -> T {
    match T::try_from_slice(&input_bytes()) {
        Ok(value) => value,
        Err(_) => abort("invalid arguments"),
    }
}

/// Sets the call's return value to the raw `bytes` (the last call wins).
pub fn return_bytes(bytes: &[u8]) {
    let (ptr, len) = ptr_len(bytes);
    // SAFETY: the host only reads `(ptr, len)`, which is `bytes`.
    unsafe { sys::value_return(ptr, len) }
}

/// Sets the call's return value to the borsh encoding of `value` (the last
/// call wins).
pub fn return_value<T: BorshSerialize + ?Sized>(value: &T) {
    return_bytes(&encode(value));
}

/// Ends the call as a `host` trap carrying `message`. Every storage write of
/// the call is discarded.
pub fn abort(message: &str) -> ! {
    let (ptr, len) = ptr_len(message.as_bytes());
    // SAFETY: the host only reads `(ptr, len)`, which is `message`.
    unsafe { sys::panic_utf8(ptr, len) }
}

/// Ends the call with `message` (see [`abort`]) unless `condition` holds.
pub fn require(condition: bool, message: &str) {
    if !condition {
        abort(message)
    }
}

/// The borsh encoding of `value`.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail: borsh only reports the writer's errors.
    if value.serialize(&mut bytes).is_err() {
        abort("borsh: cannot encode value")
    }
    bytes
}

/// A slice as the `(ptr, len)` pair of the host ABI. On wasm32 both fit in
/// `u32` exactly; other targets only compile this crate, never run it.
pub(crate) fn ptr_len(bytes: &[u8]) -> (u32, u32) {
    (bytes.as_ptr() as usize as u32, bytes.len() as u32)
}
