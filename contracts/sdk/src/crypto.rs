//! Hashes and signatures, computed by the host (far cheaper in gas than the
//! same work in Wasm, and the same on every node).

use crate::{abort, ptr_len, register, sys};

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let (ptr, len) = ptr_len(data);
    // SAFETY: the host only reads `(ptr, len)`, which is `data`.
    unsafe { sys::sha256(ptr, len, register::SCRATCH) };
    digest("sha256: the host returned no 32-byte digest")
}

/// The Keccak-256 digest of `data`, with the original Keccak padding (as
/// Ethereum uses it, not SHA3-256).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let (ptr, len) = ptr_len(data);
    // SAFETY: the host only reads `(ptr, len)`, which is `data`.
    unsafe { sys::keccak256(ptr, len, register::SCRATCH) };
    digest("keccak256: the host returned no 32-byte digest")
}

/// Whether `signature` is a valid ed25519 signature of `message` by the
/// public key `key`, under RFC 8032's strict rules (canonical `S`, no
/// small-order key or `R`). A key that is not a curve point is `false`,
/// never a failure of the call.
pub fn ed25519_verify(signature: &[u8; 64], key: &[u8; 32], message: &[u8]) -> bool {
    let (msg_ptr, msg_len) = ptr_len(message);
    // SAFETY: the host only reads 64 bytes at `signature`, 32 at `key` and
    // `message`.
    unsafe {
        sys::ed25519_verify(
            signature.as_ptr() as usize as u32,
            key.as_ptr() as usize as u32,
            msg_ptr,
            msg_len,
        ) == 1
    }
}

/// The 32-byte digest the host just wrote to the scratch register; ends the
/// call with `failure` if there is none (a host that breaks its contract).
fn digest(failure: &str) -> [u8; 32] {
    let digest = register::read(register::SCRATCH).unwrap_or_default();
    match <[u8; 32]>::try_from(digest.as_slice()) {
        Ok(digest) => digest,
        Err(_) => abort(failure),
    }
}
