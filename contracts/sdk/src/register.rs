//! Host registers: how variable-length results reach the contract.
//!
//! The host writes a result (the input, a storage value, the caller's id, a
//! digest) to a register it keeps for the rest of the call; the contract asks
//! its length and copies it into memory it allocated. The host never calls
//! into the contract.

use alloc::vec::Vec;

use crate::sys;

/// The register the SDK's wrappers use for every result. Each wrapper copies
/// the result out before returning, so reusing one register is safe.
pub const SCRATCH: u64 = 0;

/// The length of register `reg` in bytes, or `None` if it is unset.
pub fn len(reg: u64) -> Option<usize> {
    // SAFETY: `register_len` touches no contract memory.
    let len = unsafe { sys::register_len(reg) };
    usize::try_from(len).ok()
}

/// A copy of register `reg`, or `None` if it is unset.
pub fn read(reg: u64) -> Option<Vec<u8>> {
    let len = len(reg)?;
    let mut bytes = Vec::with_capacity(len);
    // SAFETY: the host writes exactly `len` bytes at the start of the
    // buffer, whose capacity is `len`, and nothing else; after that the
    // first `len` bytes are initialised.
    unsafe {
        sys::read_register(reg, bytes.as_mut_ptr() as usize as u32);
        bytes.set_len(len);
    }
    Some(bytes)
}
