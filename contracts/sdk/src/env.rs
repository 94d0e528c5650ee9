//! The call's environment: who calls, which contract, the block, logging,
//! native tokens and events.

use alloc::string::String;

use crate::{abort, ptr_len, register, sys};

/// The calling account's id.
pub fn caller() -> String {
    // SAFETY: `caller` only writes to a host register.
    unsafe { sys::caller(register::SCRATCH) };
    register_string()
}

/// This contract's id.
pub fn current_contract() -> String {
    // SAFETY: `current_contract` only writes to a host register.
    unsafe { sys::current_contract(register::SCRATCH) };
    register_string()
}

/// The block height, as given by whoever runs the VM.
pub fn block_height() -> u64 {
    // SAFETY: no memory is involved.
    unsafe { sys::block_height() }
}

/// The block time in nanoseconds, as given by whoever runs the VM (never a
/// clock reading).
pub fn block_timestamp() -> u64 {
    // SAFETY: no memory is involved.
    unsafe { sys::block_timestamp() }
}

/// Appends `message` to the call's logs, which the receipt carries (also
/// when the call fails). The host limits their number and total size per
/// call (100 lines, 16 KiB in host fee table v1).
pub fn log(message: &str) {
    let (ptr, len) = ptr_len(message.as_bytes());
    // SAFETY: the host only reads `(ptr, len)`, which is `message`.
    unsafe { sys::log_utf8(ptr, len) }
}

/// The SHA-256 digest of `data`: [`crypto::sha256`](crate::crypto::sha256),
/// kept here because contracts written before the [`crypto`](crate::crypto)
/// module call it from `env`.
pub use crate::crypto::sha256;

/// The native tokens attached to this call. They are already in this
/// contract's balance when the method starts, and leave it again if the
/// call fails.
pub fn attached_amount() -> u128 {
    let mut bytes = [0u8; 16];
    // SAFETY: the host writes exactly 16 bytes at the start of `bytes`.
    unsafe { sys::attached_amount(bytes.as_mut_ptr() as usize as u32) };
    u128::from_le_bytes(bytes)
}

/// The native balance of `account` (a contract id or an account id) as this
/// call sees it: moves made earlier in the transaction count, including
/// this call's own. 0 for an account without a record.
///
/// Ends the call (`host` trap) if `account` is not a valid account id.
pub fn balance(account: &str) -> u128 {
    let (ptr, len) = ptr_len(account.as_bytes());
    let mut bytes = [0u8; 16];
    // SAFETY: the host reads `account` and writes exactly 16 bytes at the
    // start of `bytes`.
    unsafe { sys::balance(ptr, len, bytes.as_mut_ptr() as usize as u32) };
    u128::from_le_bytes(bytes)
}

/// This contract's own native balance ([`balance`] of
/// [`current_contract`]).
pub fn own_balance() -> u128 {
    balance(&current_contract())
}

/// Moves `amount` native tokens from this contract's balance to `to`.
///
/// Ends the call (`host` trap) if this is a view, `to` is not a valid id or
/// does not exist (a named account or a contract must have a record; an
/// implicit account is created), or the balance does not cover `amount`.
/// The move is undone if this call, or any call below it, later fails.
pub fn transfer(to: &str, amount: u128) {
    let (ptr, len) = ptr_len(to.as_bytes());
    let amount = amount.to_le_bytes();
    // SAFETY: the host only reads `to` and the 16 bytes of `amount`.
    unsafe { sys::transfer(ptr, len, amount.as_ptr() as usize as u32) }
}

/// Records an event with up to 4 `topics` (for filtering; see
/// [`events::topic`](crate::events::topic)) and `data`.
///
/// Events are results, not logs: the receipt keeps an event only if this
/// call and every call below it in the stack return. The host limits them
/// per call (4 topics, 100 events, 16 KiB of data in host fee table v2)
/// and ends the call (`host` trap) past a limit.
pub fn emit_event(topics: &[[u8; 32]], data: &[u8]) {
    let (data_ptr, data_len) = ptr_len(data);
    // `[[u8; 32]]` is laid out as its topics' bytes one after the other,
    // which is the layout the host reads.
    let topics_ptr = topics.as_ptr() as usize as u32;
    let count = topics.len() as u32;
    // SAFETY: the host only reads `32 × count` bytes at `topics_ptr`, which
    // is `topics`, and `data`.
    unsafe { sys::emit_event(topics_ptr, count, data_ptr, data_len) }
}

/// The scratch register as a string: the host writes account and contract
/// ids as UTF-8.
fn register_string() -> String {
    let bytes = register::read(register::SCRATCH).unwrap_or_default();
    match String::from_utf8(bytes) {
        Ok(id) => id,
        Err(_) => abort("the host returned an id that is not UTF-8"),
    }
}
