//! The consensus configuration: the gas schedule, the host fees, the size
//! limits and the stack configuration, encoded and hashed as one
//! (`docs/host-api.md`, "Consensus configuration").

use detvm_metering::row_name;
use detvm_metering::table::{RowName, write_name};
use detvm_metering::{Limits, Schedule, StackConfig};
use sha2::{Digest, Sha256};

use crate::fees::HostFees;

/// Everything a node is configured with that decides results, gas, traps
/// or state. Two nodes whose configurations have the same
/// [`ConsensusConfig::hash`] run contracts identically.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsensusConfig {
    /// Gas costs of WebAssembly instructions (`docs/gas.md`, section 3).
    pub schedule: Schedule,
    /// Host function fees and per-call limits (`docs/host-api.md`, "Fees
    /// and limits").
    pub host_fees: HostFees,
    /// Size limits of deployable modules (`docs/determinism.md`, section 4).
    pub limits: Limits,
    /// The deterministic stack bound (`docs/gas.md`, section 6).
    pub stack: StackConfig,
}

/// Names of the parts, in the order they are encoded.
const PARTS: [RowName; 4] = [
    row_name!("schedule"),
    row_name!("host_fees"),
    row_name!("limits"),
    row_name!("stack"),
];

impl ConsensusConfig {
    /// The bytes every encoding starts with, so that no other hashed
    /// object of the chain can share its hash.
    pub const TAG: &'static [u8] = b"detvm/consensus-config";

    /// Version of the encoding's framing. Adding, removing or reordering a
    /// part makes a new version.
    pub const FORMAT_VERSION: u32 = 1;

    /// A configuration of these four parts.
    pub fn new(
        schedule: Schedule,
        host_fees: HostFees,
        limits: Limits,
        stack: StackConfig,
    ) -> Self {
        Self {
            schedule,
            host_fees,
            limits,
            stack,
        }
    }

    /// Every part with its name and its canonical table encoding, in
    /// encoding order.
    pub fn parts(&self) -> [(RowName, Vec<u8>); 4] {
        let [schedule, host_fees, limits, stack] = PARTS;
        [
            (schedule, self.schedule.canonical_bytes()),
            (host_fees, self.host_fees.canonical_bytes()),
            (limits, self.limits.canonical_bytes()),
            (stack, self.stack.canonical_bytes()),
        ]
    }

    /// The canonical encoding [`ConsensusConfig::hash`] digests: the
    /// [`TAG`](Self::TAG), the [`FORMAT_VERSION`](Self::FORMAT_VERSION)
    /// (`u32` little-endian), the number of parts (`u32` LE), then per part
    /// its name (length byte and ASCII), the length of its table encoding
    /// (`u64` LE) and the table encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let parts = self.parts();
        encode_parts(
            &parts
                .each_ref()
                .map(|(name, bytes)| (*name, bytes.as_slice())),
        )
    }

    /// SHA-256 of [`ConsensusConfig::canonical_bytes`]: what a chain
    /// commits to in its genesis and what nodes compare to agree on how
    /// contracts run.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }
}

/// The configuration every chain runs: [`Schedule::v1`], [`HostFees::v2`],
/// [`Limits::contract`] and the default [`StackConfig`].
impl Default for ConsensusConfig {
    fn default() -> Self {
        Self::new(
            Schedule::v1(),
            HostFees::v2(),
            Limits::contract(),
            StackConfig::default(),
        )
    }
}

/// The framing of the encoding around the parts' table encodings. Each part
/// is length-prefixed so that no byte can move from one part to the next
/// without changing the whole.
fn encode_parts<const N: usize>(parts: &[(RowName, &[u8]); N]) -> Vec<u8> {
    let count: u32 = const {
        assert!(N <= u32::MAX as usize, "at most u32::MAX parts");
        N as u32
    };
    let size = parts
        .iter()
        .map(|(name, bytes)| 1 + name.as_str().len() + 8 + bytes.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(ConsensusConfig::TAG.len() + 8 + size);
    out.extend_from_slice(ConsensusConfig::TAG);
    out.extend_from_slice(&ConsensusConfig::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (name, bytes) in parts {
        write_name(*name, &mut out);
        // usize is at most 64 bits wide on every target Rust supports.
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use detvm_metering::Limit;

    /// Published in docs/host-api.md, "Consensus configuration": changing a
    /// default part changes it, and every chain's genesis with it.
    const DEFAULT_HASH: &str = "4302c0ec717d48c055bdb7fc222865632d5b3f561cf4e05fa6cbd666841baa60";

    #[test]
    fn default_hash_is_the_published_one() {
        assert_eq!(crate::hex(&ConsensusConfig::default().hash()), DEFAULT_HASH);
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/host-api.md"),
        )
        .expect("docs/host-api.md is readable");
        assert!(
            doc.contains(DEFAULT_HASH),
            "docs/host-api.md does not publish it"
        );
    }

    #[test]
    fn a_chain_runs_under_the_default_configuration() {
        let chain = crate::Chain::in_memory().expect("an in-memory chain");
        assert_eq!(chain.consensus_config(), &ConsensusConfig::default());
        assert_eq!(chain.fees(), &chain.consensus_config().host_fees);
    }

    #[test]
    fn parts_keep_their_own_published_hashes() {
        let config = ConsensusConfig::default();
        assert_eq!(
            crate::hex(&config.schedule.hash()),
            "f869f67df346edab196e37d5aad7f6568e0d8ae356ccc53116c13462ffef8a15"
        );
        assert_eq!(
            crate::hex(&config.host_fees.hash()),
            "8088ce3a245f1b161ec2df5a8e5e515b04fc0f49c8e6437977b102255c010a4c"
        );
    }

    /// Reads the framing back: the tag, the version, the count, and each
    /// part's name and bytes, which must be exactly the part's own
    /// encoding.
    #[test]
    fn encoding_frames_each_part_in_order() {
        let config = ConsensusConfig::default();
        let bytes = config.canonical_bytes();
        let rest = bytes
            .strip_prefix(ConsensusConfig::TAG)
            .expect("starts with the tag");
        let (version, rest) = rest.split_at(4);
        assert_eq!(version, 1u32.to_le_bytes());
        let (count, mut rest) = rest.split_at(4);
        assert_eq!(count, 4u32.to_le_bytes());
        let expected = [
            ("schedule", config.schedule.canonical_bytes()),
            ("host_fees", config.host_fees.canonical_bytes()),
            ("limits", config.limits.canonical_bytes()),
            ("stack", config.stack.canonical_bytes()),
        ];
        for (name, part) in expected {
            let (len, tail) = rest.split_first().expect("a name length");
            let (got_name, tail) = tail.split_at(usize::from(*len));
            assert_eq!(got_name, name.as_bytes());
            let (part_len, tail) = tail.split_at(8);
            let part_len = u64::from_le_bytes(part_len.try_into().expect("8 bytes"));
            let (got, tail) = tail.split_at(usize::try_from(part_len).expect("fits"));
            assert_eq!(got, part.as_slice(), "{name}");
            rest = tail;
        }
        assert!(rest.is_empty(), "nothing after the last part");
    }

    #[test]
    fn moving_bytes_between_parts_or_reordering_them_changes_the_hash() {
        let a = row_name!("a");
        let b = row_name!("b");
        let base = encode_parts(&[(a, b"xy".as_slice()), (b, b"z".as_slice())]);
        let moved = encode_parts(&[(a, b"x".as_slice()), (b, b"yz".as_slice())]);
        let swapped = encode_parts(&[(b, b"z".as_slice()), (a, b"xy".as_slice())]);
        assert_ne!(base, moved);
        assert_ne!(base, swapped);
        // Without the lengths the first two would be the same bytes.
        let unframed = |parts: &[&[u8]]| parts.concat();
        assert_eq!(unframed(&[b"xy", b"z"]), unframed(&[b"x", b"yz"]));

        // The same holds for the real parts: the stack table's bytes
        // appended to the limits table's are not the same configuration.
        let config = ConsensusConfig::default();
        let [schedule, host_fees, limits, stack] = config.parts();
        let mut joined = limits.1.clone();
        joined.extend_from_slice(&stack.1);
        let merged = encode_parts(&[
            (schedule.0, schedule.1.as_slice()),
            (host_fees.0, host_fees.1.as_slice()),
            (limits.0, joined.as_slice()),
            (stack.0, &[][..]),
        ]);
        assert_ne!(merged, config.canonical_bytes());
        let reordered = encode_parts(&[
            (host_fees.0, host_fees.1.as_slice()),
            (schedule.0, schedule.1.as_slice()),
            (limits.0, limits.1.as_slice()),
            (stack.0, stack.1.as_slice()),
        ]);
        assert_ne!(reordered, config.canonical_bytes());
    }

    fn schedule_fields_mut(s: &mut Schedule) -> [&mut u32; Schedule::ENTRIES] {
        [
            &mut s.structure,
            &mut s.branch,
            &mut s.br_table,
            &mut s.call,
            &mut s.call_indirect,
            &mut s.constant,
            &mut s.local,
            &mut s.global,
            &mut s.drop,
            &mut s.select,
            &mut s.int_simple,
            &mut s.int_mul,
            &mut s.int_div,
            &mut s.float_simple,
            &mut s.float_div,
            &mut s.conversion,
            &mut s.load,
            &mut s.store,
            &mut s.memory_size,
            &mut s.memory_grow,
            &mut s.memory_bulk,
            &mut s.segment_drop,
            &mut s.table_access,
            &mut s.table_grow,
            &mut s.table_bulk,
            &mut s.reference,
            &mut s.memory_grow_per_page,
            &mut s.memory_per_byte,
            &mut s.table_per_element,
            &mut s.per_local,
        ]
    }

    /// Every configuration that differs from the default in exactly one
    /// field of one part (the versions included), each with a label.
    fn one_field_changed() -> Vec<(String, ConsensusConfig)> {
        let base = ConsensusConfig::default();
        let mut out = Vec::new();
        let mut versioned = base.clone();
        versioned.schedule.version += 1;
        out.push(("schedule.version".to_owned(), versioned));
        let mut versioned = base.clone();
        versioned.host_fees.version += 1;
        out.push(("host_fees.version".to_owned(), versioned));
        for (index, (name, _)) in base.schedule.entries().iter().enumerate() {
            let mut changed = base.clone();
            if let Some(field) = schedule_fields_mut(&mut changed.schedule)
                .into_iter()
                .nth(index)
            {
                *field += 1;
            }
            assert_eq!(
                changed.schedule.entries()[index].1,
                base.schedule.entries()[index].1 + 1,
                "the field list follows the rows at {name}"
            );
            out.push((format!("schedule.{name}"), changed));
        }
        for (index, (name, _)) in base.host_fees.entries().iter().enumerate() {
            let mut changed = base.clone();
            if let Some(field) = crate::fees::fields_mut(&mut changed.host_fees)
                .into_iter()
                .nth(index)
            {
                *field += 1;
            }
            assert_eq!(
                changed.host_fees.entries()[index].1,
                base.host_fees.entries()[index].1 + 1,
                "the field list follows the rows at {name}"
            );
            out.push((format!("host_fees.{name}"), changed));
        }
        for &limit in Limit::ALL {
            let mut changed = base.clone();
            changed.limits.set(limit, base.limits.get(limit) + 1);
            out.push((format!("limits.{limit}"), changed));
        }
        let mut changed = base.clone();
        changed.stack.limit += 1;
        out.push(("stack.limit".to_owned(), changed));
        let mut changed = base.clone();
        changed.stack.frame_overhead += 1;
        out.push(("stack.frame_overhead".to_owned(), changed));
        out
    }

    #[test]
    fn every_field_of_every_part_changes_the_hash() {
        let base = ConsensusConfig::default();
        let changed = one_field_changed();
        let rows = base.schedule.entries().len()
            + base.host_fees.entries().len()
            + base.limits.entries().len()
            + base.stack.entries().len();
        // Two versions plus one per row: no row was left out.
        assert_eq!(changed.len(), 2 + rows);
        let mut seen = std::collections::BTreeMap::new();
        seen.insert(base.hash(), "default".to_owned());
        for (label, config) in changed {
            if let Some(earlier) = seen.insert(config.hash(), label.clone()) {
                panic!("{label} and {earlier} have the same hash");
            }
        }
    }
}
