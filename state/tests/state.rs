//! The authenticated state: versions, history, roots, proofs, rewind and
//! persistence.

use std::collections::BTreeMap;

use detvm_state::{
    ChangeSet, EMPTY_ROOT, Proof, SideTable, SideWrite, StateDb, StateError, verify,
};
use proptest::prelude::*;

fn set(pairs: &[(&str, Option<&str>)]) -> ChangeSet {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

#[test]
fn versions_history_and_scans() {
    let db = StateDb::in_memory().unwrap();
    assert_eq!(db.latest_version().unwrap(), None);
    assert!(matches!(
        db.commit(1, &set(&[]), &[]),
        Err(StateError::VersionOutOfOrder {
            expected: 0,
            got: 1
        })
    ));
    db.commit(
        0,
        &set(&[("a/1", Some("x")), ("a/2", Some("y")), ("b", Some("z"))]),
        &[],
    )
    .unwrap();
    db.commit(1, &set(&[("a/1", None), ("a/3", Some("w"))]), &[])
        .unwrap();
    db.commit(2, &set(&[]), &[]).unwrap();
    assert_eq!(db.latest_version().unwrap(), Some(2));
    assert_eq!(
        db.root(1).unwrap(),
        db.root(2).unwrap(),
        "an empty version keeps the root"
    );
    assert_eq!(db.get(b"a/1").unwrap(), None);
    assert_eq!(db.get_at(b"a/1", 0).unwrap(), Some(b"x".to_vec()));
    assert_eq!(db.get_at(b"a/1", 2).unwrap(), None);
    assert!(matches!(
        db.get_at(b"a/1", 3),
        Err(StateError::UnknownVersion(3))
    ));
    assert_eq!(
        db.scan_prefix(b"a/", None, 10).unwrap(),
        vec![kv("a/2", "y"), kv("a/3", "w")]
    );
    assert_eq!(
        db.scan_prefix(b"a/", Some(b"a/2"), 10).unwrap(),
        vec![kv("a/3", "w")]
    );
    assert_eq!(
        db.scan_prefix(b"a/", None, 1).unwrap(),
        vec![kv("a/2", "y")]
    );
    assert_eq!(
        db.scan_prefix_at(b"a/", 0, None, 10).unwrap(),
        vec![kv("a/1", "x"), kv("a/2", "y")]
    );
    assert_eq!(
        db.scan_prefix_at(b"a/", 0, Some(b"a/1"), 10).unwrap(),
        vec![kv("a/2", "y")]
    );
    assert_eq!(
        db.scan_prefix_at(b"a/", 2, None, 1).unwrap(),
        vec![kv("a/2", "y")]
    );
    assert_eq!(
        db.scan_prefix_at(b"a/", 2, None, 10).unwrap(),
        vec![kv("a/2", "y"), kv("a/3", "w")]
    );
}

#[test]
fn keys_with_zero_bytes_and_prefixes_of_each_other_scan_in_order() {
    let db = StateDb::in_memory().unwrap();
    let mut c = ChangeSet::new();
    for k in [&b"p"[..], b"p\0", b"p\0\0", b"p\0\x01", b"p\x01", b"q"] {
        c.insert(k.to_vec(), Some(k.to_vec()));
    }
    db.commit(0, &c, &[]).unwrap();
    let now: Vec<Vec<u8>> = db
        .scan_prefix(b"p", None, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    let then: Vec<Vec<u8>> = db
        .scan_prefix_at(b"p", 0, None, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(now, then);
    assert_eq!(now.len(), 5);
    let mut sorted = now.clone();
    sorted.sort();
    assert_eq!(now, sorted);
}

#[test]
fn the_root_depends_only_on_the_state() {
    let a = StateDb::in_memory().unwrap();
    assert_eq!(a.root_after(&set(&[])).unwrap(), EMPTY_ROOT);
    a.commit(0, &set(&[("k1", Some("1"))]), &[]).unwrap();
    let r0 = a.root(0).unwrap();
    a.commit(1, &set(&[("k1", Some("1"))]), &[]).unwrap();
    assert_eq!(a.root(1).unwrap(), r0, "the same value again");
    a.commit(2, &set(&[("k2", Some("2"))]), &[]).unwrap();
    assert_ne!(a.root(2).unwrap(), r0);
    a.commit(3, &set(&[("k2", None)]), &[]).unwrap();
    assert_eq!(
        a.root(3).unwrap(),
        r0,
        "deleting brings the earlier root back"
    );
    // Another order of writes to the same final state.
    let b = StateDb::in_memory().unwrap();
    b.commit(0, &set(&[("k2", Some("2")), ("k1", Some("0"))]), &[])
        .unwrap();
    b.commit(1, &set(&[("k1", Some("1")), ("k2", None)]), &[])
        .unwrap();
    assert_eq!(b.root(1).unwrap(), r0);
    // root_after predicts commit.
    let next = set(&[("k9", Some("9"))]);
    let predicted = b.root_after(&next).unwrap();
    assert_eq!(b.commit(2, &next, &[]).unwrap(), predicted);
    assert_eq!(
        detvm_state::root_of(&set(&[("k1", Some("1"))])).unwrap(),
        r0
    );
}

#[test]
fn proofs_verify_and_forgeries_do_not() {
    let db = StateDb::in_memory().unwrap();
    let mut c = ChangeSet::new();
    for i in 0..200u32 {
        c.insert(
            format!("key{i}").into_bytes(),
            Some(i.to_le_bytes().to_vec()),
        );
    }
    db.commit(0, &c, &[]).unwrap();
    db.commit(1, &set(&[("key7", Some("seven"))]), &[]).unwrap();
    let root0 = db.root(0).unwrap();
    let root1 = db.root(1).unwrap();
    let (value, proof) = db.prove(b"key7", 1).unwrap();
    assert_eq!(value.as_deref(), Some(&b"seven"[..]));
    verify(&root1, b"key7", Some(b"seven"), &proof).unwrap();
    assert!(verify(&root1, b"key7", Some(b"six"), &proof).is_err());
    assert!(verify(&root0, b"key7", Some(b"seven"), &proof).is_err());
    assert!(verify(&root1, b"key8", Some(b"seven"), &proof).is_err());
    assert!(verify(&root1, b"key7", None, &proof).is_err());
    // The old value under the old root.
    let (old, proof0) = db.prove(b"key7", 0).unwrap();
    assert_eq!(old, Some(7u32.to_le_bytes().to_vec()));
    verify(&root0, b"key7", old.as_deref(), &proof0).unwrap();
    // Exclusion.
    let (none, absent) = db.prove(b"nope", 1).unwrap();
    assert!(none.is_none());
    verify(&root1, b"nope", None, &absent).unwrap();
    assert!(verify(&root1, b"nope", Some(b"x"), &absent).is_err());
    // Encoded proofs: round trip, and every flipped byte fails to decode
    // or to verify.
    let bytes = proof.to_bytes();
    let back = Proof::from_bytes(&bytes).unwrap();
    verify(&root1, b"key7", Some(b"seven"), &back).unwrap();
    for i in 0..bytes.len() {
        let mut forged = bytes.clone();
        forged[i] ^= 0x01;
        if let Ok(p) = Proof::from_bytes(&forged) {
            assert!(
                verify(&root1, b"key7", Some(b"seven"), &p).is_err(),
                "byte {i}"
            );
        }
    }
    assert!(Proof::from_bytes(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn rewind_restores_everything_of_an_earlier_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let db = StateDb::open(&path).unwrap();
        let side = |v: u64| {
            vec![SideWrite {
                table: SideTable::Blocks,
                key: v.to_be_bytes().to_vec(),
                value: vec![v as u8],
            }]
        };
        db.commit(0, &set(&[("a", Some("0")), ("b", Some("0"))]), &side(0))
            .unwrap();
        db.commit(1, &set(&[("a", Some("1")), ("c", Some("1"))]), &side(1))
            .unwrap();
        let root1 = db.root(1).unwrap();
        db.commit(
            2,
            &set(&[("a", None), ("b", Some("2")), ("d", Some("2"))]),
            &side(2),
        )
        .unwrap();
        db.commit(3, &set(&[]), &side(3)).unwrap();
        db.rewind(1).unwrap();
        assert_eq!(db.latest_version().unwrap(), Some(1));
        assert_eq!(db.root(1).unwrap(), root1);
        assert!(matches!(db.root(2), Err(StateError::UnknownVersion(2))));
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.get(b"b").unwrap(), Some(b"0".to_vec()));
        assert_eq!(db.get(b"d").unwrap(), None);
        assert_eq!(
            db.side_get(SideTable::Blocks, &2u64.to_be_bytes()).unwrap(),
            None
        );
        assert_eq!(
            db.side_get(SideTable::Blocks, &1u64.to_be_bytes()).unwrap(),
            Some(vec![1])
        );
        assert_eq!(
            db.side_range(SideTable::Blocks, &[], None, 10)
                .unwrap()
                .len(),
            2
        );
        let (v, proof) = db.prove(b"a", 1).unwrap();
        verify(&root1, b"a", v.as_deref(), &proof).unwrap();
        // Committing again after the rewind works and matches a fresh
        // database with the same history.
        db.commit(2, &set(&[("e", Some("2"))]), &[]).unwrap();
        assert!(matches!(db.rewind(9), Err(StateError::UnknownVersion(9))));
    }
    let db = StateDb::open(&path).unwrap();
    assert_eq!(db.latest_version().unwrap(), Some(2));
    let fresh = StateDb::in_memory().unwrap();
    fresh
        .commit(0, &set(&[("a", Some("0")), ("b", Some("0"))]), &[])
        .unwrap();
    fresh
        .commit(1, &set(&[("a", Some("1")), ("c", Some("1"))]), &[])
        .unwrap();
    fresh.commit(2, &set(&[("e", Some("2"))]), &[]).unwrap();
    assert_eq!(db.root(2).unwrap(), fresh.root(2).unwrap());
    assert_eq!(
        db.scan_prefix(b"", None, 100).unwrap(),
        fresh.scan_prefix(b"", None, 100).unwrap()
    );
}

#[test]
fn many_small_versions_on_a_large_state() {
    let db = StateDb::in_memory().unwrap();
    let mut c = ChangeSet::new();
    for i in 0..10_000u32 {
        c.insert(i.to_be_bytes().to_vec(), Some(vec![1]));
    }
    db.commit(0, &c, &[]).unwrap();
    for v in 1..=1_000u32 {
        let c: ChangeSet = (0..10u32)
            .map(|j| {
                (
                    ((v * 7919 + j * 104_729) % 10_000).to_be_bytes().to_vec(),
                    Some(v.to_le_bytes().to_vec()),
                )
            })
            .collect();
        db.commit(u64::from(v), &c, &[]).unwrap();
    }
    let (value, proof) = db.prove(&5u32.to_be_bytes(), 1_000).unwrap();
    verify(
        &db.root(1_000).unwrap(),
        &5u32.to_be_bytes(),
        value.as_deref(),
        &proof,
    )
    .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_history_matches_a_model(versions in prop::collection::vec(
        prop::collection::btree_map(0u8..24, prop::option::of(prop::collection::vec(any::<u8>(), 0..4)), 0..8),
        1..8,
    )) {
        let db = StateDb::in_memory().unwrap();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut models = Vec::new();
        for (v, changes) in versions.iter().enumerate() {
            let c: ChangeSet = changes.iter().map(|(k, val)| (vec![b'k', *k], val.clone())).collect();
            db.commit(v as u64, &c, &[]).unwrap();
            for (k, val) in &c {
                match val {
                    Some(val) => { model.insert(k.clone(), val.clone()); }
                    None => { model.remove(k); }
                }
            }
            models.push(model.clone());
        }
        for (v, m) in models.iter().enumerate() {
            for k in 0u8..24 {
                let key = vec![b'k', k];
                prop_assert_eq!(db.get_at(&key, v as u64).unwrap(), m.get(&key).cloned());
            }
            let scanned: BTreeMap<Vec<u8>, Vec<u8>> = db.scan_prefix_at(b"k", v as u64, None, 100).unwrap().into_iter().collect();
            prop_assert_eq!(&scanned, m);
            // The root is the root of a fresh state holding exactly this.
            let fresh: ChangeSet = m.iter().map(|(k, val)| (k.clone(), Some(val.clone()))).collect();
            prop_assert_eq!(db.root(v as u64).unwrap(), detvm_state::root_of(&fresh).unwrap());
        }
    }

    #[test]
    fn random_bytes_are_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = Proof::from_bytes(&bytes) {
            let _ = verify(&[0; 32], b"k", None, &p);
        }
    }
}
