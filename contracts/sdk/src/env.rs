//! The call's environment: who calls, which contract, the block, logging and
//! hashing.

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

/// The SHA-256 digest of `data`, computed by the host (cheaper in gas than
/// hashing in Wasm for all but tiny inputs).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let (ptr, len) = ptr_len(data);
    // SAFETY: the host only reads `(ptr, len)`, which is `data`.
    unsafe { sys::sha256(ptr, len, register::SCRATCH) };
    let digest = register::read(register::SCRATCH).unwrap_or_default();
    match <[u8; 32]>::try_from(digest.as_slice()) {
        Ok(digest) => digest,
        Err(_) => abort("sha256: the host returned no 32-byte digest"),
    }
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
