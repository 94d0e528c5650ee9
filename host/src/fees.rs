//! The versioned host schedule: what each host function costs and the
//! per-call limits it enforces (`docs/host-api.md`, "Fees and limits").

use detvm_metering::row_name;
use detvm_metering::table::{self, RowName};
use sha2::{Digest, Sha256};

/// The versioned table of host-function fees and per-call limits.
///
/// Every node must use the same table: gas, traps and receipts depend on
/// every entry. The canonical order of the entries (for
/// [`HostFees::entries`] and [`HostFees::hash`]) is the declaration order
/// below, which is also the order of the table in `docs/host-api.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostFees {
    /// Version of the table; part of the hash.
    pub version: u32,
    /// Charged by every host function before anything else.
    pub host_call_base: u64,
    /// Per byte copied from guest memory to the host.
    pub memory_read_per_byte: u64,
    /// Per byte copied from the host into guest memory.
    pub memory_write_per_byte: u64,
    /// Per byte the host writes into a register (`input`, `current_contract`,
    /// `caller`).
    pub register_write_per_byte: u64,
    /// Per byte of a log line, on top of reading it.
    pub log_per_byte: u64,
    /// Per storage lookup (`storage_read`, `storage_has_key`).
    pub storage_read_base: u64,
    /// Per key byte of a storage lookup.
    pub storage_read_key_byte: u64,
    /// Per value byte a storage lookup returns.
    pub storage_read_value_byte: u64,
    /// Per storage change (`storage_write`, `storage_remove`).
    pub storage_write_base: u64,
    /// Per key byte of a storage change.
    pub storage_write_key_byte: u64,
    /// Per value byte written to storage.
    pub storage_write_value_byte: u64,
    /// Per `sha256` call.
    pub sha256_base: u64,
    /// Per byte hashed.
    pub sha256_per_byte: u64,
    /// Per deploy, whatever the code.
    pub deploy_base: u64,
    /// Per byte of deployed code.
    pub deploy_per_byte: u64,
    /// Per initial 64 KiB memory page, on every call: the memory is
    /// allocated and zeroed before the method runs.
    pub instantiate_per_page: u64,
    /// Longest storage key in bytes.
    pub max_key_len: u64,
    /// Longest storage value in bytes.
    pub max_value_len: u64,
    /// Longest return value in bytes.
    pub max_return_len: u64,
    /// Most `log_utf8` lines per call.
    pub max_logs: u64,
    /// Most log bytes per call, all lines together; also the longest
    /// `panic_utf8` message kept.
    pub max_log_bytes: u64,
    /// Most distinct registers set in one call.
    pub max_registers: u64,
    /// Most bytes held in all registers together at any time in one call.
    pub max_register_bytes: u64,
    /// Longest call input (argument bytes) accepted.
    pub max_input_len: u64,
    /// Per `keccak256` call.
    pub keccak256_base: u64,
    /// Per byte hashed by `keccak256`.
    pub keccak256_per_byte: u64,
    /// Per `ed25519_verify` call.
    pub ed25519_verify_base: u64,
    /// Per message byte of `ed25519_verify`.
    pub ed25519_verify_per_byte: u64,
    /// Per `call_contract`, on top of `host_call_base`.
    pub call_base: u64,
    /// Per byte of method name and arguments handed to a callee.
    pub call_per_byte: u64,
    /// Most frames on a call stack (the transaction's call is depth 1).
    pub max_call_depth: u64,
    /// A caller keeps at least `1 / call_reserve_divisor` of its gas left.
    pub call_reserve_divisor: u64,
    /// Per `balance`.
    pub balance_base: u64,
    /// Per `transfer`.
    pub transfer_base: u64,
    /// Per `emit_event`.
    pub event_base: u64,
    /// Per event topic.
    pub event_per_topic: u64,
    /// Per event data byte, on top of reading it.
    pub event_per_byte: u64,
    /// Most topics of one event.
    pub max_event_topics: u64,
    /// Most events per call frame.
    pub max_events: u64,
    /// Most event data bytes per call frame, all events together.
    pub max_event_bytes: u64,
}

impl HostFees {
    /// Number of entries, i.e. of rows in [`HostFees::entries`].
    pub const ENTRIES: usize = 40;

    /// The published table, with cross-contract calls, native value,
    /// events and the crypto functions; the default. (Version 1 was its
    /// first 24 rows.)
    pub fn v2() -> Self {
        Self {
            version: 2,
            host_call_base: 100,
            memory_read_per_byte: 1,
            memory_write_per_byte: 1,
            register_write_per_byte: 1,
            log_per_byte: 10,
            storage_read_base: 2_000,
            storage_read_key_byte: 10,
            storage_read_value_byte: 2,
            storage_write_base: 10_000,
            storage_write_key_byte: 50,
            storage_write_value_byte: 20,
            sha256_base: 500,
            sha256_per_byte: 4,
            deploy_base: 100_000,
            deploy_per_byte: 50,
            instantiate_per_page: 4_096,
            max_key_len: 2_048,
            max_value_len: 4 << 20,
            max_return_len: 1 << 20,
            max_logs: 100,
            max_log_bytes: 16 << 10,
            max_registers: 64,
            max_register_bytes: 32 << 20,
            max_input_len: 4 << 20,
            keccak256_base: 500,
            keccak256_per_byte: 4,
            ed25519_verify_base: 60_000,
            ed25519_verify_per_byte: 4,
            call_base: 20_000,
            call_per_byte: 2,
            max_call_depth: 16,
            call_reserve_divisor: 64,
            balance_base: 2_000,
            transfer_base: 20_000,
            event_base: 1_000,
            event_per_topic: 500,
            event_per_byte: 10,
            max_event_topics: 4,
            max_events: 100,
            max_event_bytes: 16 << 10,
        }
    }

    /// Every entry with its name, in canonical order. The version is not a
    /// row.
    pub fn entries(&self) -> [(RowName, u64); Self::ENTRIES] {
        [
            (row_name!("host_call_base"), self.host_call_base),
            (row_name!("memory_read_per_byte"), self.memory_read_per_byte),
            (
                row_name!("memory_write_per_byte"),
                self.memory_write_per_byte,
            ),
            (
                row_name!("register_write_per_byte"),
                self.register_write_per_byte,
            ),
            (row_name!("log_per_byte"), self.log_per_byte),
            (row_name!("storage_read_base"), self.storage_read_base),
            (
                row_name!("storage_read_key_byte"),
                self.storage_read_key_byte,
            ),
            (
                row_name!("storage_read_value_byte"),
                self.storage_read_value_byte,
            ),
            (row_name!("storage_write_base"), self.storage_write_base),
            (
                row_name!("storage_write_key_byte"),
                self.storage_write_key_byte,
            ),
            (
                row_name!("storage_write_value_byte"),
                self.storage_write_value_byte,
            ),
            (row_name!("sha256_base"), self.sha256_base),
            (row_name!("sha256_per_byte"), self.sha256_per_byte),
            (row_name!("deploy_base"), self.deploy_base),
            (row_name!("deploy_per_byte"), self.deploy_per_byte),
            (row_name!("instantiate_per_page"), self.instantiate_per_page),
            (row_name!("max_key_len"), self.max_key_len),
            (row_name!("max_value_len"), self.max_value_len),
            (row_name!("max_return_len"), self.max_return_len),
            (row_name!("max_logs"), self.max_logs),
            (row_name!("max_log_bytes"), self.max_log_bytes),
            (row_name!("max_registers"), self.max_registers),
            (row_name!("max_register_bytes"), self.max_register_bytes),
            (row_name!("max_input_len"), self.max_input_len),
            (row_name!("keccak256_base"), self.keccak256_base),
            (row_name!("keccak256_per_byte"), self.keccak256_per_byte),
            (row_name!("ed25519_verify_base"), self.ed25519_verify_base),
            (
                row_name!("ed25519_verify_per_byte"),
                self.ed25519_verify_per_byte,
            ),
            (row_name!("call_base"), self.call_base),
            (row_name!("call_per_byte"), self.call_per_byte),
            (row_name!("max_call_depth"), self.max_call_depth),
            (row_name!("call_reserve_divisor"), self.call_reserve_divisor),
            (row_name!("balance_base"), self.balance_base),
            (row_name!("transfer_base"), self.transfer_base),
            (row_name!("event_base"), self.event_base),
            (row_name!("event_per_topic"), self.event_per_topic),
            (row_name!("event_per_byte"), self.event_per_byte),
            (row_name!("max_event_topics"), self.max_event_topics),
            (row_name!("max_events"), self.max_events),
            (row_name!("max_event_bytes"), self.max_event_bytes),
        ]
    }

    /// The canonical encoding [`HostFees::hash`] digests: the versioned
    /// table encoding of [`detvm_metering::table`] with `u64` values. This
    /// is the `host_fees` part of the consensus configuration
    /// ([`crate::ConsensusConfig`]).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        table::encode(self.version, &self.entries())
    }

    /// SHA-256 of [`HostFees::canonical_bytes`]: what nodes compare to agree
    /// on the table.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }

    /// Gas to deploy `code_len` bytes of code.
    pub fn deploy_gas(&self, code_len: u64) -> u64 {
        self.deploy_base
            .saturating_add(self.deploy_per_byte.saturating_mul(code_len))
    }
}

impl Default for HostFees {
    fn default() -> Self {
        Self::v2()
    }
}

/// Every field of `fees` that is a row, in canonical order, for tests
/// that change one row at a time.
#[cfg(test)]
pub(crate) fn fields_mut(fees: &mut HostFees) -> [&mut u64; HostFees::ENTRIES] {
    [
        &mut fees.host_call_base,
        &mut fees.memory_read_per_byte,
        &mut fees.memory_write_per_byte,
        &mut fees.register_write_per_byte,
        &mut fees.log_per_byte,
        &mut fees.storage_read_base,
        &mut fees.storage_read_key_byte,
        &mut fees.storage_read_value_byte,
        &mut fees.storage_write_base,
        &mut fees.storage_write_key_byte,
        &mut fees.storage_write_value_byte,
        &mut fees.sha256_base,
        &mut fees.sha256_per_byte,
        &mut fees.deploy_base,
        &mut fees.deploy_per_byte,
        &mut fees.instantiate_per_page,
        &mut fees.max_key_len,
        &mut fees.max_value_len,
        &mut fees.max_return_len,
        &mut fees.max_logs,
        &mut fees.max_log_bytes,
        &mut fees.max_registers,
        &mut fees.max_register_bytes,
        &mut fees.max_input_len,
        &mut fees.keccak256_base,
        &mut fees.keccak256_per_byte,
        &mut fees.ed25519_verify_base,
        &mut fees.ed25519_verify_per_byte,
        &mut fees.call_base,
        &mut fees.call_per_byte,
        &mut fees.max_call_depth,
        &mut fees.call_reserve_divisor,
        &mut fees.balance_base,
        &mut fees.transfer_base,
        &mut fees.event_base,
        &mut fees.event_per_topic,
        &mut fees.event_per_byte,
        &mut fees.max_event_topics,
        &mut fees.max_events,
        &mut fees.max_event_bytes,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_hash_is_the_published_one() {
        // Published in docs/host-api.md; a change here is a new version.
        let hash = HostFees::v2().hash();
        assert_eq!(
            crate::hex(&hash),
            "8088ce3a245f1b161ec2df5a8e5e515b04fc0f49c8e6437977b102255c010a4c"
        );
    }

    #[test]
    fn every_entry_changes_the_hash() {
        let base = HostFees::v2();
        let mut names: Vec<&str> = base.entries().iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HostFees::ENTRIES);
        let mut seen = vec![base.hash()];
        let mut version = base.clone();
        version.version = 3;
        seen.push(version.hash());
        for index in 0..HostFees::ENTRIES {
            let mut changed = base.clone();
            if let Some(field) = fields_mut(&mut changed).into_iter().nth(index) {
                *field += 1;
            }
            // The field list follows the rows: only row `index` moved.
            for (row, ((_, new), (_, old))) in
                changed.entries().iter().zip(base.entries()).enumerate()
            {
                assert_eq!(*new, if row == index { old + 1 } else { old }, "row {row}");
            }
            seen.push(changed.hash());
        }
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "two fee tables share a hash");
    }

    #[test]
    fn deploy_gas_saturates() {
        let fees = HostFees::v2();
        assert_eq!(
            fees.deploy_gas(10),
            fees.deploy_base + 10 * fees.deploy_per_byte
        );
        assert_eq!(fees.deploy_gas(u64::MAX), u64::MAX);
    }
}
