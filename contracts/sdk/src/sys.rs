//! Raw bindings to the host API, imported from module `env`.
//!
//! One declaration per row of `docs/host-api.md`, with exactly the documented
//! signature: deploy-time validation rejects any other import, and any of
//! these with another signature. `i32` pointers and lengths are `u32` here,
//! `i64` register ids are `u64` (the host reads both as unsigned).
//!
//! Prefer the safe wrappers ([`crate::env`](mod@crate::env), [`crate::storage`],
//! [`crate::register`], [`crate::crypto`], [`crate::call`]). These are public for contracts that need exact
//! control over the calls, such as the test contracts that probe the host's
//! bounds checks.
//!
//! # Safety
//!
//! The host bounds-checks every `(ptr, len)` pair against the contract's
//! memory and traps with `memory_out_of_bounds` instead of touching anything
//! outside it, so no call can corrupt the host. The functions are `unsafe`
//! because the host writes into the contract's memory (`read_register`): the
//! caller must make sure the bytes written there do not overwrite live Rust
//! data.

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    /// Writes the call's argument bytes to register `reg`.
    pub fn input(reg: u64);
    /// Length of register `reg` in bytes, or `-1` if it is unset.
    pub fn register_len(reg: u64) -> i64;
    /// Copies register `reg` to memory at `ptr`; traps (`host`) if the
    /// register is unset, `memory_out_of_bounds` if it does not fit.
    pub fn read_register(reg: u64, ptr: u32);
    /// Sets the call's return bytes; the last call wins.
    pub fn value_return(ptr: u32, len: u32);
    /// Appends a log line, which must be UTF-8.
    pub fn log_utf8(ptr: u32, len: u32);
    /// Ends the call as a `host` trap carrying the message. Never returns.
    pub fn panic_utf8(ptr: u32, len: u32) -> !;
    /// Sets `key` to `value`. Returns `1` and writes the old value to `reg`
    /// if the key existed, else `0`.
    pub fn storage_write(
        key_ptr: u32,
        key_len: u32,
        value_ptr: u32,
        value_len: u32,
        reg: u64,
    ) -> u32;
    /// Returns `1` and writes the value to `reg` if `key` is present, else `0`.
    pub fn storage_read(key_ptr: u32, key_len: u32, reg: u64) -> u32;
    /// Removes `key`. Returns `1` and writes the old value to `reg` if it
    /// existed, else `0`.
    pub fn storage_remove(key_ptr: u32, key_len: u32, reg: u64) -> u32;
    /// Returns `1` if `key` is present, else `0`.
    pub fn storage_has_key(key_ptr: u32, key_len: u32) -> u32;
    /// Writes the contract's own id (UTF-8) to `reg`.
    pub fn current_contract(reg: u64);
    /// Writes the calling account's id (UTF-8) to `reg`.
    pub fn caller(reg: u64);
    /// The block height given by the caller of the VM.
    pub fn block_height() -> u64;
    /// The block time in nanoseconds given by the caller of the VM.
    pub fn block_timestamp() -> u64;
    /// Writes the SHA-256 of the bytes at `(ptr, len)` (32 bytes) to `reg`.
    pub fn sha256(ptr: u32, len: u32, reg: u64);
    /// Writes the Keccak-256 of the bytes at `(ptr, len)` (32 bytes) to
    /// `reg`.
    pub fn keccak256(ptr: u32, len: u32, reg: u64);
    /// `1` if the 64-byte signature at `sig_ptr` is a valid (strict)
    /// ed25519 signature of the message at `(msg_ptr, msg_len)` by the
    /// 32-byte public key at `key_ptr`, else `0`.
    pub fn ed25519_verify(sig_ptr: u32, key_ptr: u32, msg_ptr: u32, msg_len: u32) -> u32;
    /// Calls `method` of `contract` with `args`, attaching the `u128`
    /// little-endian amount at `amount_ptr` and at most `gas` gas. Returns
    /// `0` (returned: the return bytes in `reg`), `1` (the callee trapped:
    /// `kind` or `kind: message` in `reg`) or `2` (refused: `kind: message`
    /// in `reg`).
    pub fn call_contract(
        contract_ptr: u32,
        contract_len: u32,
        method_ptr: u32,
        method_len: u32,
        args_ptr: u32,
        args_len: u32,
        amount_ptr: u32,
        gas: u64,
        reg: u64,
    ) -> u32;
    /// Writes the amount attached to this call (`u128` LE, 16 bytes) at
    /// `ptr`.
    pub fn attached_amount(ptr: u32);
    /// Writes the balance of the account (`u128` LE, 16 bytes) at `ptr`;
    /// returns `1` if the account has a record, else `0`.
    pub fn balance(account_ptr: u32, account_len: u32, ptr: u32) -> u32;
    /// Moves the `u128` LE amount at `amount_ptr` from this contract's
    /// balance to the account; traps (`host`) if it cannot.
    pub fn transfer(account_ptr: u32, account_len: u32, amount_ptr: u32);
    /// Records an event: `topic_count` 32-byte topics at `topics_ptr` and
    /// the data at `(data_ptr, data_len)`.
    pub fn emit_event(topics_ptr: u32, topic_count: u32, data_ptr: u32, data_len: u32);
}
