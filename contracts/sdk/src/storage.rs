//! The contract's key-value storage.
//!
//! Keys and values are byte strings (keys of at most 2,048 bytes, values of
//! at most 4 MiB). Writes go to the call's overlay and become state only if
//! the call succeeds. The typed functions store borsh encodings.

use alloc::vec::Vec;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::{abort, encode, ptr_len, register, sys};

/// The raw value stored under `key`, if any.
pub fn read_raw(key: &[u8]) -> Option<Vec<u8>> {
    let (key_ptr, key_len) = ptr_len(key);
    // SAFETY: the host only reads `key` and writes a register.
    let found = unsafe { sys::storage_read(key_ptr, key_len, register::SCRATCH) };
    if found == 1 {
        register::read(register::SCRATCH)
    } else {
        None
    }
}

/// Stores the raw `value` under `key`. Returns whether the key existed.
pub fn write_raw(key: &[u8], value: &[u8]) -> bool {
    let (key_ptr, key_len) = ptr_len(key);
    let (value_ptr, value_len) = ptr_len(value);
    // SAFETY: the host only reads `key` and `value` and writes a register.
    let existed =
        unsafe { sys::storage_write(key_ptr, key_len, value_ptr, value_len, register::SCRATCH) };
    existed == 1
}

/// Removes `key`. Returns whether it existed.
pub fn remove(key: &[u8]) -> bool {
    let (key_ptr, key_len) = ptr_len(key);
    // SAFETY: the host only reads `key` and writes a register.
    let existed = unsafe { sys::storage_remove(key_ptr, key_len, register::SCRATCH) };
    existed == 1
}

/// Removes `key` and returns its raw value, if it existed.
pub fn take_raw(key: &[u8]) -> Option<Vec<u8>> {
    if remove(key) {
        register::read(register::SCRATCH)
    } else {
        None
    }
}

/// Whether `key` is present.
pub fn has(key: &[u8]) -> bool {
    let (key_ptr, key_len) = ptr_len(key);
    // SAFETY: the host only reads `key`.
    unsafe { sys::storage_has_key(key_ptr, key_len) == 1 }
}

/// The value stored under `key`, decoded from borsh, if any.
///
/// Ends the call if the stored bytes are not a borsh encoding of `T`: the
/// contract's own state is then not what its code expects.
pub fn read<T: BorshDeserialize>(key: &[u8]) -> Option<T> {
    read_raw(key).map(|bytes| decode(&bytes))
}

/// Stores the borsh encoding of `value` under `key`. Returns whether the key
/// existed.
pub fn write<T: BorshSerialize + ?Sized>(key: &[u8], value: &T) -> bool {
    write_raw(key, &encode(value))
}

/// Removes `key` and returns its value decoded from borsh, if it existed.
pub fn take<T: BorshDeserialize>(key: &[u8]) -> Option<T> {
    take_raw(key).map(|bytes| decode(&bytes))
}

/// `prefix` followed by `suffix`: a key in the keyspace `prefix`.
pub fn key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + suffix.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(suffix);
    key
}

fn decode<T: BorshDeserialize>(bytes: &[u8]) -> T {
    match T::try_from_slice(bytes) {
        Ok(value) => value,
        Err(_) => abort("storage: a stored value does not decode"),
    }
}
