//! How keys and values are laid out in the redb tables.

use jmt::KeyHash;
use jmt::storage::NodeKey;

use crate::StateError;

/// The hasher of the tree: SHA-256, in the `sha2` version jmt implements
/// its hasher trait for.
pub(crate) type Hasher = sha2_jmt::Sha256;

/// Big-endian, so byte order is version order in range scans.
pub(crate) fn be(version: u64) -> [u8; 8] {
    version.to_be_bytes()
}

pub(crate) fn decode_version(bytes: &[u8]) -> Result<u64, StateError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StateError::Corrupt("a version is not 8 bytes".into()))
}

pub(crate) fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash::with::<Hasher>(key)
}

/// `hash ++ version (BE)`: one key's versions are adjacent and ordered, so
/// "the last value at or before v" is one reverse range step.
pub(crate) fn value_key(hash: &KeyHash, version: u64) -> Vec<u8> {
    [&hash.0[..], &be(version)].concat()
}

/// Version first, so rewinding drops every later node with one range
/// removal.
pub(crate) fn node_key_bytes(key: &NodeKey) -> Result<Vec<u8>, StateError> {
    let path = borsh::to_vec(key.nibble_path())
        .map_err(|e| StateError::Encode(format!("a tree node key: {e}")))?;
    Ok([&be(key.version())[..], &path].concat())
}

/// A stored value or deletion: history must remember deletions too.
pub(crate) fn tag(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(v) => [&[1u8][..], v].concat(),
    }
}

pub(crate) fn untag(bytes: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(StateError::Corrupt(
            "a stored value has no valid tag".into(),
        )),
    }
}

/// Escapes a key so that the history of a key never interleaves with the
/// history of a longer key it is a prefix of, while byte order is kept:
/// `00` becomes `00 ff`, and [`terminated`] appends `00 00`, which sorts
/// before any continuation of the key.
pub(crate) fn escape(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out
}

fn terminated(key: &[u8]) -> Vec<u8> {
    let mut out = escape(key);
    out.extend_from_slice(&[0, 0]);
    out
}

fn unescape(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while let Some(&b) = escaped.get(i) {
        out.push(b);
        i += if b == 0 { 2 } else { 1 };
    }
    out
}

/// `escaped key ++ 00 00 ++ version (BE)`: in key order, then version
/// order, for prefix scans as of a version.
pub(crate) fn history_key(key: &[u8], version: u64) -> Vec<u8> {
    [terminated(key), be(version).to_vec()].concat()
}

/// The key and version of a [`history_key`].
pub(crate) fn split_history_key(bytes: &[u8]) -> Result<(Vec<u8>, u64), StateError> {
    let corrupt = || StateError::Corrupt("a history key is malformed".into());
    let split = bytes.len().checked_sub(8).ok_or_else(corrupt)?;
    let (terminated, version) = bytes.split_at(split);
    let escaped = terminated.strip_suffix(&[0, 0]).ok_or_else(corrupt)?;
    Ok((unescape(escaped), decode_version(version)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn history_keys_sort_by_key_then_version_and_round_trip(
            a in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xff]), 0..6),
            b in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xff]), 0..6),
            va in any::<u64>(),
            vb in any::<u64>(),
        ) {
            let ka = history_key(&a, va);
            let kb = history_key(&b, vb);
            prop_assert_eq!(ka.cmp(&kb), (&a, va).cmp(&(&b, vb)));
            prop_assert_eq!(split_history_key(&ka).unwrap(), (a.clone(), va));
            // A key is under a prefix exactly when its escaped form is.
            prop_assert_eq!(ka.starts_with(&escape(&b)), a.starts_with(&b));
        }

        #[test]
        fn garbage_history_keys_are_errors_or_values(bytes in prop::collection::vec(any::<u8>(), 0..24)) {
            let _ = split_history_key(&bytes);
            let _ = untag(&bytes);
        }
    }
}
