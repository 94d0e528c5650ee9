//! The authenticated state: versions, history, scans, roots, proofs,
//! side records, rewind and persistence.

use std::collections::BTreeMap;
use std::sync::Arc;

use detvm_state::{
    ChangeSet, EMPTY_ROOT, Proof, ProofError, SideTable, SideWrite, StateDb, StateError, verify,
};

fn set(pairs: &[(&str, Option<&str>)]) -> ChangeSet {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn side(table: SideTable, key: &str, value: &str) -> SideWrite {
    SideWrite {
        table,
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

#[test]
fn versions_must_follow_each_other() {
    let db = StateDb::in_memory().unwrap();
    assert_eq!(db.latest_version().unwrap(), None);
    assert!(matches!(db.root(0), Err(StateError::UnknownVersion(0))));
    assert!(matches!(
        db.commit(1, &set(&[("a", Some("1"))]), &[]),
        Err(StateError::VersionOutOfOrder {
            expected: 0,
            got: 1
        })
    ));
    db.commit(0, &set(&[("a", Some("0"))]), &[]).unwrap();
    for bad in [0, 2, u64::MAX] {
        let refused = db.commit(
            bad,
            &set(&[("a", Some("x"))]),
            &[side(SideTable::Meta, "m", "x")],
        );
        assert!(
            matches!(
                refused,
                Err(StateError::VersionOutOfOrder { expected: 1, got }) if got == bad
            ),
            "{bad}: {refused:?}"
        );
    }
    // A refused commit writes nothing.
    assert_eq!(db.latest_version().unwrap(), Some(0));
    assert_eq!(db.get(b"a").unwrap(), Some(b"0".to_vec()));
    assert_eq!(db.side_get(SideTable::Meta, b"m").unwrap(), None);
    assert!(matches!(db.root(1), Err(StateError::UnknownVersion(1))));
    assert!(matches!(
        db.get_at(b"a", 1),
        Err(StateError::UnknownVersion(1))
    ));
    assert!(matches!(
        db.scan_prefix_at(b"", 1, None, 10),
        Err(StateError::UnknownVersion(1))
    ));
    assert!(matches!(
        db.prove(b"a", 1),
        Err(StateError::UnknownVersion(1))
    ));
    db.commit(1, &set(&[]), &[]).unwrap();
    assert_eq!(db.latest_version().unwrap(), Some(1));
}

#[test]
fn history_and_scans() {
    let db = StateDb::in_memory().unwrap();
    db.commit(
        0,
        &set(&[("a/1", Some("x")), ("a/2", Some("y")), ("b", Some("z"))]),
        &[],
    )
    .unwrap();
    db.commit(1, &set(&[("a/1", None), ("a/3", Some("w"))]), &[])
        .unwrap();
    db.commit(2, &set(&[]), &[]).unwrap();
    db.commit(3, &set(&[("a/2", Some("y3")), ("a/1", Some("x3"))]), &[])
        .unwrap();
    assert_eq!(db.latest_version().unwrap(), Some(3));
    assert_eq!(
        db.root(1).unwrap(),
        db.root(2).unwrap(),
        "an empty version keeps the root"
    );
    assert_eq!(db.get(b"a/1").unwrap(), Some(b"x3".to_vec()));
    assert_eq!(db.get(b"nope").unwrap(), None);
    let expected_a1 = [Some("x"), None, None, Some("x3")];
    for (v, want) in expected_a1.iter().enumerate() {
        assert_eq!(
            db.get_at(b"a/1", v as u64).unwrap(),
            want.map(|w| w.as_bytes().to_vec()),
            "a/1 at {v}"
        );
    }
    assert_eq!(db.get_at(b"b", 3).unwrap(), Some(b"z".to_vec()));
    assert!(matches!(
        db.get_at(b"a/1", 4),
        Err(StateError::UnknownVersion(4))
    ));
    assert_eq!(
        db.scan_prefix(b"a/", None, 10).unwrap(),
        vec![kv("a/1", "x3"), kv("a/2", "y3"), kv("a/3", "w")]
    );
    assert_eq!(
        db.scan_prefix(b"a/", Some(b"a/2"), 10).unwrap(),
        vec![kv("a/3", "w")]
    );
    assert_eq!(
        db.scan_prefix(b"a/", None, 1).unwrap(),
        vec![kv("a/1", "x3")]
    );
    assert_eq!(db.scan_prefix(b"a/", None, 0).unwrap(), vec![]);
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
    assert_eq!(db.scan_prefix_at(b"a/", 2, None, 0).unwrap(), vec![]);
    assert_eq!(
        db.scan_prefix_at(b"", 3, None, 10).unwrap(),
        db.scan_prefix(b"", None, 10).unwrap()
    );
}

/// Pages through a prefix with `start_after`, as an RPC client does.
fn pages(
    limit: usize,
    mut page: impl FnMut(Option<&[u8]>, usize) -> Vec<(Vec<u8>, Vec<u8>)>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let next = page(after.as_deref(), limit);
        assert!(next.len() <= limit);
        let done = next.len() < limit;
        all.extend(next);
        if done {
            return all;
        }
    }
}

#[test]
fn pagination_returns_every_entry_once_in_order() {
    let db = StateDb::in_memory().unwrap();
    let mut models: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = Vec::new();
    let mut model = BTreeMap::new();
    for v in 0..6u64 {
        let mut c = ChangeSet::new();
        for i in 0..40u64 {
            // Keys come and go: every third key is deleted at odd versions.
            let key = format!("p/{i:03}").into_bytes();
            let value = (i % 3 == 0 && v % 2 == 1).then(|| format!("{v}.{i}").into_bytes());
            if (i + v) % 4 != 0 {
                c.insert(key, value);
            }
        }
        c.insert(b"o".to_vec(), Some(b"outside".to_vec()));
        c.insert(b"q".to_vec(), Some(b"outside".to_vec()));
        db.commit(v, &c, &[]).unwrap();
        for (k, val) in &c {
            match val {
                Some(val) => model.insert(k.clone(), val.clone()),
                None => model.remove(k),
            };
        }
        models.push(model.clone());
    }
    let under = |m: &BTreeMap<Vec<u8>, Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
        m.iter()
            .filter(|(k, _)| k.starts_with(b"p/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    for limit in [1, 7, 40, 100] {
        let latest = pages(limit, |after, limit| {
            db.scan_prefix(b"p/", after, limit).unwrap()
        });
        assert_eq!(latest, under(&model), "limit {limit}");
        for (v, m) in models.iter().enumerate() {
            let then = pages(limit, |after, limit| {
                db.scan_prefix_at(b"p/", v as u64, after, limit).unwrap()
            });
            assert_eq!(then, under(m), "version {v}, limit {limit}");
        }
    }
    // `start_after` before the prefix starts at the prefix; after it, ends.
    assert_eq!(
        db.scan_prefix(b"p/", Some(b"a"), 1000).unwrap(),
        under(&model)
    );
    assert_eq!(db.scan_prefix(b"p/", Some(b"z"), 1000).unwrap(), vec![]);
    assert_eq!(
        db.scan_prefix_at(b"p/", 0, Some(b"a"), 1000).unwrap(),
        under(&models[0])
    );
    assert_eq!(
        db.scan_prefix_at(b"p/", 0, Some(b"z"), 1000).unwrap(),
        vec![]
    );
}

#[test]
fn keys_with_zero_bytes_and_prefixes_of_each_other_scan_in_order() {
    let db = StateDb::in_memory().unwrap();
    let keys: [&[u8]; 7] = [b"p", b"p\0", b"p\0\0", b"p\0\x01", b"p\x01", b"p\xff", b"q"];
    let c: ChangeSet = keys
        .iter()
        .map(|k| (k.to_vec(), Some(k.to_vec())))
        .collect();
    db.commit(0, &c, &[]).unwrap();
    db.commit(1, &set(&[("p", None)]), &[]).unwrap();
    for (version, expected) in [(0u64, &keys[..6]), (1, &keys[1..6])] {
        let then: Vec<Vec<u8>> = db
            .scan_prefix_at(b"p", version, None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(then, expected, "version {version}");
    }
    let now: Vec<Vec<u8>> = db
        .scan_prefix(b"p", None, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(now, &keys[1..6]);
    let zero: Vec<Vec<u8>> = db
        .scan_prefix_at(b"p\0", 0, Some(b"p\0"), 100)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(zero, &keys[2..4]);
}

#[test]
fn the_root_depends_only_on_the_state() {
    let a = StateDb::in_memory().unwrap();
    assert_eq!(a.root_after(&set(&[])).unwrap(), EMPTY_ROOT);
    a.commit(0, &set(&[("k1", Some("1"))]), &[]).unwrap();
    let r0 = a.root(0).unwrap();
    assert_ne!(r0, EMPTY_ROOT);
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
    a.commit(4, &set(&[("absent", None)]), &[]).unwrap();
    assert_eq!(a.root(4).unwrap(), r0, "deleting an absent key");
    a.commit(5, &set(&[("k1", None)]), &[]).unwrap();
    assert_eq!(a.root(5).unwrap(), EMPTY_ROOT, "the empty state again");
    // Another order of writes to the same final state.
    let b = StateDb::in_memory().unwrap();
    b.commit(0, &set(&[("k2", Some("2")), ("k1", Some("0"))]), &[])
        .unwrap();
    b.commit(1, &set(&[("k1", Some("1")), ("k2", None)]), &[])
        .unwrap();
    assert_eq!(b.root(1).unwrap(), r0);
    // root_after predicts commit and writes nothing.
    let next = set(&[("k9", Some("9"))]);
    let predicted = b.root_after(&next).unwrap();
    assert_eq!(b.latest_version().unwrap(), Some(1));
    assert_eq!(b.get(b"k9").unwrap(), None);
    assert_eq!(b.commit(2, &next, &[]).unwrap(), predicted);
    assert_eq!(b.root(2).unwrap(), predicted);
    assert_eq!(
        detvm_state::root_of(&set(&[("k1", Some("1"))])).unwrap(),
        r0
    );
    // A different value or key is a different root.
    assert_ne!(
        detvm_state::root_of(&set(&[("k1", Some("2"))])).unwrap(),
        r0
    );
    assert_ne!(
        detvm_state::root_of(&set(&[("k3", Some("1"))])).unwrap(),
        r0
    );
}

#[test]
fn many_keys_in_any_order_give_one_root() {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..500u32)
        .map(|i| (i.to_be_bytes().to_vec(), (i * 3).to_le_bytes().to_vec()))
        .collect();
    let all: ChangeSet = entries
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    let expected = detvm_state::root_of(&all).unwrap();
    // The same entries in 5 versions, odd ones first, with junk written
    // and deleted on the way.
    let db = StateDb::in_memory().unwrap();
    for v in 0..5u32 {
        let mut c: ChangeSet = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| (*i as u32 * 7 + 1) % 5 == v)
            .map(|(_, (k, val))| (k.clone(), Some(val.clone())))
            .collect();
        c.insert(format!("junk{v}").into_bytes(), Some(vec![v as u8]));
        if v > 0 {
            c.insert(format!("junk{}", v - 1).into_bytes(), None);
        }
        db.commit(u64::from(v), &c, &[]).unwrap();
    }
    db.commit(5, &set(&[("junk4", None)]), &[]).unwrap();
    assert_eq!(db.root(5).unwrap(), expected);
}

#[test]
fn proofs_verify_and_forgeries_do_not() {
    let db = StateDb::in_memory().unwrap();
    // A proof in the empty tree.
    db.commit(0, &set(&[]), &[]).unwrap();
    let (none, empty_proof) = db.prove(b"anything", 0).unwrap();
    assert_eq!(none, None);
    verify(&EMPTY_ROOT, b"anything", None, &empty_proof).unwrap();
    let mut c = ChangeSet::new();
    for i in 0..200u32 {
        c.insert(
            format!("key{i}").into_bytes(),
            Some(i.to_le_bytes().to_vec()),
        );
    }
    db.commit(1, &c, &[]).unwrap();
    db.commit(2, &set(&[("key7", Some("seven"))]), &[]).unwrap();
    let root1 = db.root(1).unwrap();
    let root2 = db.root(2).unwrap();
    let (value, proof) = db.prove(b"key7", 2).unwrap();
    assert_eq!(value.as_deref(), Some(&b"seven"[..]));
    verify(&root2, b"key7", Some(b"seven"), &proof).unwrap();
    assert!(matches!(
        verify(&root2, b"key7", Some(b"six"), &proof),
        Err(ProofError::Mismatch(_))
    ));
    assert!(matches!(
        verify(&root1, b"key7", Some(b"seven"), &proof),
        Err(ProofError::Mismatch(_))
    ));
    assert!(verify(&[7; 32], b"key7", Some(b"seven"), &proof).is_err());
    assert!(verify(&root2, b"key8", Some(b"seven"), &proof).is_err());
    assert!(matches!(
        verify(&root2, b"key7", None, &proof),
        Err(ProofError::WrongKind { .. })
    ));
    // The old value under the old root, at every version it existed.
    let (old, proof1) = db.prove(b"key7", 1).unwrap();
    assert_eq!(old, Some(7u32.to_le_bytes().to_vec()));
    verify(&root1, b"key7", old.as_deref(), &proof1).unwrap();
    assert!(verify(&root2, b"key7", old.as_deref(), &proof1).is_err());
    // Exclusion: the key is absent at 2 and was absent at 0.
    let (none, absent) = db.prove(b"nope", 2).unwrap();
    assert!(none.is_none());
    verify(&root2, b"nope", None, &absent).unwrap();
    assert!(matches!(
        verify(&root2, b"nope", Some(b"x"), &absent),
        Err(ProofError::WrongKind { .. })
    ));
    assert!(verify(&root2, b"key7", None, &absent).is_err());
    assert!(verify(&EMPTY_ROOT, b"nope", None, &absent).is_err());
    let (gone, before) = db.prove(b"key7", 0).unwrap();
    assert_eq!(gone, None);
    verify(&EMPTY_ROOT, b"key7", None, &before).unwrap();
    assert!(verify(&root1, b"key7", None, &before).is_err());
    // An exclusion proof does not prove another absent key that lands
    // elsewhere in the tree (most keys do).
    let wrongly_excluded = (0..50)
        .filter(|i| verify(&root2, format!("other{i}").as_bytes(), None, &absent).is_ok())
        .count();
    assert!(wrongly_excluded < 50);
    for i in 0..50 {
        let key = format!("other{i}");
        let (none, own) = db.prove(key.as_bytes(), 2).unwrap();
        assert!(none.is_none());
        verify(&root2, key.as_bytes(), None, &own).unwrap();
    }
}

#[test]
fn encoded_proofs_round_trip_and_flipped_bytes_fail() {
    let db = StateDb::in_memory().unwrap();
    let c: ChangeSet = (0..300u32)
        .map(|i| (i.to_le_bytes().to_vec(), Some(vec![i as u8; 3])))
        .collect();
    db.commit(0, &c, &[]).unwrap();
    let root = db.root(0).unwrap();
    let key = 42u32.to_le_bytes();
    for (k, value) in [(&key[..], Some(&[42u8; 3][..])), (&b"absent"[..], None)] {
        let (found, proof) = db.prove(k, 0).unwrap();
        assert_eq!(found.as_deref(), value);
        let bytes = proof.to_bytes();
        let back = Proof::from_bytes(&bytes).unwrap();
        assert_eq!(back, proof);
        assert_eq!(back.to_bytes(), bytes);
        verify(&root, k, value, &back).unwrap();
        // borsh, as a field of a larger message.
        let embedded = borsh::to_vec(&(7u8, &proof, 9u8)).unwrap();
        let (a, p, b): (u8, Proof, u8) = borsh::from_slice(&embedded).unwrap();
        assert_eq!((a, b), (7, 9));
        verify(&root, k, value, &p).unwrap();
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut forged = bytes.clone();
                forged[i] ^= bit;
                if let Ok(p) = Proof::from_bytes(&forged) {
                    assert!(verify(&root, k, value, &p).is_err(), "byte {i} bit {bit}");
                }
            }
        }
        assert!(matches!(
            Proof::from_bytes(&bytes[..bytes.len() - 1]),
            Err(StateError::MalformedProof(_))
        ));
        assert!(Proof::from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
    }
    assert!(Proof::from_bytes(&[]).is_err());
    // A sibling count beyond the tree's 256 levels is refused before any
    // sibling is read.
    let mut huge = vec![0u8];
    huge.extend_from_slice(&257u32.to_le_bytes());
    huge.extend(std::iter::repeat_n(0u8, 257));
    assert!(Proof::from_bytes(&huge).is_err());
    let mut max = vec![0u8];
    max.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(Proof::from_bytes(&max).is_err());
    // 256 null siblings decode, and prove nothing.
    let mut nulls = vec![0u8];
    nulls.extend_from_slice(&256u32.to_le_bytes());
    nulls.extend(std::iter::repeat_n(0u8, 256));
    let p = Proof::from_bytes(&nulls).unwrap();
    assert!(verify(&root, b"k", None, &p).is_err());
}

#[test]
fn side_records_commit_with_their_version() {
    let db = StateDb::in_memory().unwrap();
    db.commit(
        0,
        &set(&[]),
        &[
            side(SideTable::Blocks, "b0", "block 0"),
            side(SideTable::Receipts, "b0", "receipts 0"),
            side(SideTable::TxIndex, "t1", "0/0"),
            side(SideTable::Meta, "genesis", "g"),
        ],
    )
    .unwrap();
    db.commit(
        1,
        &set(&[]),
        &[
            side(SideTable::Blocks, "b1", "block 1"),
            side(SideTable::Blocks, "b2", "later"),
        ],
    )
    .unwrap();
    assert_eq!(
        db.side_get(SideTable::Receipts, b"b0").unwrap(),
        Some(b"receipts 0".to_vec())
    );
    // Tables are separate.
    assert_eq!(db.side_get(SideTable::Meta, b"b0").unwrap(), None);
    assert_eq!(
        db.side_range(SideTable::Blocks, b"", None, 10).unwrap(),
        vec![kv("b0", "block 0"), kv("b1", "block 1"), kv("b2", "later")]
    );
    assert_eq!(
        db.side_range(SideTable::Blocks, b"b1", Some(b"b2"), 10)
            .unwrap(),
        vec![kv("b1", "block 1")]
    );
    assert_eq!(
        db.side_range(SideTable::Blocks, b"b0", None, 2).unwrap(),
        vec![kv("b0", "block 0"), kv("b1", "block 1")]
    );
    assert_eq!(
        db.side_range(SideTable::Blocks, b"b2", Some(b"b0"), 10)
            .unwrap(),
        vec![],
        "an inverted range is empty"
    );
    assert_eq!(
        db.side_range(SideTable::Blocks, b"", None, 0).unwrap(),
        vec![]
    );
}

/// Everything observable about versions `0..=upto` of `db`.
#[derive(Debug, PartialEq)]
struct Snapshot {
    latest: Option<u64>,
    roots: Vec<[u8; 32]>,
    values: Vec<Vec<Option<Vec<u8>>>>,
    scans: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    now: Vec<(Vec<u8>, Vec<u8>)>,
    gets: Vec<Option<Vec<u8>>>,
    proofs: Vec<Vec<Vec<u8>>>,
    side: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
}

const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "zz"];
const SIDES: [SideTable; 4] = [
    SideTable::Blocks,
    SideTable::Receipts,
    SideTable::TxIndex,
    SideTable::Meta,
];

fn snapshot(db: &StateDb, upto: u64) -> Snapshot {
    let versions = 0..=upto;
    Snapshot {
        latest: db.latest_version().unwrap(),
        roots: versions.clone().map(|v| db.root(v).unwrap()).collect(),
        values: versions
            .clone()
            .map(|v| {
                KEYS.iter()
                    .map(|k| db.get_at(k.as_bytes(), v).unwrap())
                    .collect()
            })
            .collect(),
        scans: versions
            .clone()
            .map(|v| db.scan_prefix_at(b"", v, None, 100).unwrap())
            .collect(),
        now: db.scan_prefix(b"", None, 100).unwrap(),
        gets: KEYS.iter().map(|k| db.get(k.as_bytes()).unwrap()).collect(),
        proofs: versions
            .map(|v| {
                KEYS.iter()
                    .map(|k| {
                        let (value, proof) = db.prove(k.as_bytes(), v).unwrap();
                        verify(&db.root(v).unwrap(), k.as_bytes(), value.as_deref(), &proof)
                            .unwrap();
                        proof.to_bytes()
                    })
                    .collect()
            })
            .collect(),
        side: SIDES
            .iter()
            .map(|t| db.side_range(*t, b"", None, 100).unwrap())
            .collect(),
    }
}

fn history() -> Vec<(ChangeSet, Vec<SideWrite>)> {
    vec![
        (
            set(&[("a", Some("0")), ("b", Some("0"))]),
            vec![
                side(SideTable::Blocks, "0", "block 0"),
                side(SideTable::Meta, "head", "0"),
            ],
        ),
        (
            set(&[("a", Some("1")), ("c", Some("1"))]),
            vec![
                side(SideTable::Blocks, "1", "block 1"),
                side(SideTable::TxIndex, "tx1", "1"),
                side(SideTable::Meta, "head", "1"),
            ],
        ),
        (
            set(&[("a", None), ("b", Some("2")), ("d", Some("2"))]),
            vec![
                side(SideTable::Blocks, "2", "block 2"),
                side(SideTable::Meta, "head", "2"),
                side(SideTable::Meta, "head", "2 again"),
                side(SideTable::Receipts, "2", "r2"),
            ],
        ),
        (set(&[]), vec![side(SideTable::Meta, "head", "3")]),
        (
            set(&[("a", Some("4")), ("e", Some("4")), ("c", None)]),
            vec![side(SideTable::Blocks, "4", "block 4")],
        ),
    ]
}

fn build(db: &StateDb, versions: &[(ChangeSet, Vec<SideWrite>)]) -> Vec<Snapshot> {
    versions
        .iter()
        .enumerate()
        .map(|(v, (c, s))| {
            db.commit(v as u64, c, s).unwrap();
            snapshot(db, v as u64)
        })
        .collect()
}

#[test]
fn rewind_restores_everything_of_an_earlier_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let hist = history();
    let replacement = (
        set(&[("zz", Some("new")), ("b", None)]),
        vec![
            side(SideTable::Blocks, "2", "other block 2"),
            side(SideTable::Meta, "head", "2'"),
        ],
    );
    let after_replacement;
    {
        let db = StateDb::open(&path).unwrap();
        let snapshots = build(&db, &hist);
        // Rewinding to the latest version changes nothing.
        db.rewind(4).unwrap();
        assert_eq!(snapshot(&db, 4), snapshots[4]);
        assert!(matches!(db.rewind(5), Err(StateError::UnknownVersion(5))));
        db.rewind(1).unwrap();
        assert_eq!(snapshot(&db, 1), snapshots[1]);
        assert_eq!(
            db.side_get(SideTable::Meta, b"head").unwrap(),
            Some(b"1".to_vec()),
            "an overwritten side record is restored"
        );
        assert_eq!(db.side_get(SideTable::Receipts, b"2").unwrap(), None);
        for v in 2..=4 {
            assert!(matches!(db.root(v), Err(StateError::UnknownVersion(_))));
            assert!(matches!(
                db.get_at(b"a", v),
                Err(StateError::UnknownVersion(_))
            ));
            assert!(matches!(
                db.prove(b"a", v),
                Err(StateError::UnknownVersion(_))
            ));
        }
        // Committing again after the rewind is the same as a fresh history.
        db.commit(2, &replacement.0, &replacement.1).unwrap();
        after_replacement = snapshot(&db, 2);
        let fresh = StateDb::in_memory().unwrap();
        build(
            &fresh,
            &[hist[0].clone(), hist[1].clone(), replacement.clone()],
        );
        assert_eq!(snapshot(&fresh, 2), after_replacement);
        // Down to the first version, and up again.
        db.rewind(0).unwrap();
        assert_eq!(snapshot(&db, 0), snapshots[0]);
        db.commit(1, &hist[1].0, &hist[1].1).unwrap();
        db.commit(2, &replacement.0, &replacement.1).unwrap();
        assert_eq!(snapshot(&db, 2), after_replacement);
    }
    // Persistence: everything reads back from the file.
    let db = StateDb::open(&path).unwrap();
    assert_eq!(snapshot(&db, 2), after_replacement);
    db.commit(3, &set(&[("f", Some("3"))]), &[]).unwrap();
    assert_eq!(db.get(b"f").unwrap(), Some(b"3".to_vec()));
}

#[test]
fn rewind_needs_a_committed_version() {
    let db = StateDb::in_memory().unwrap();
    assert!(matches!(db.rewind(0), Err(StateError::UnknownVersion(0))));
    db.commit(0, &set(&[("a", Some("0"))]), &[]).unwrap();
    assert!(matches!(db.rewind(1), Err(StateError::UnknownVersion(1))));
    db.rewind(0).unwrap();
    assert_eq!(db.latest_version().unwrap(), Some(0));
    assert_eq!(db.get(b"a").unwrap(), Some(b"0".to_vec()));
}

#[test]
fn a_database_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    drop(StateDb::open(&path).unwrap());
    {
        let raw = redb::Database::create(&path).unwrap();
        let txn = raw.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("format");
            let mut t = txn.open_table(def).unwrap();
            t.insert(&b"layout"[..], &[0u8, 0, 0, 99][..]).unwrap();
        }
        txn.commit().unwrap();
    }
    match StateDb::open(&path) {
        Err(StateError::IncompatibleFormat(message)) => assert!(message.contains("99")),
        other => panic!("{other:?}"),
    }
    // Versions without a layout marker: written before there was one.
    let old = dir.path().join("old.redb");
    {
        let raw = redb::Database::create(&old).unwrap();
        let txn = raw.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("roots");
            let mut t = txn.open_table(def).unwrap();
            t.insert(&0u64.to_be_bytes()[..], &[0u8; 32][..]).unwrap();
        }
        txn.commit().unwrap();
    }
    assert!(matches!(
        StateDb::open(&old),
        Err(StateError::IncompatibleFormat(_))
    ));
    // Not a database at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    assert!(StateDb::open(&junk).is_err());
}

#[test]
fn racing_commits_of_one_version_let_one_through() {
    let db = Arc::new(StateDb::in_memory().unwrap());
    db.commit(0, &set(&[]), &[]).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let c: ChangeSet = [(b"k".to_vec(), Some(vec![i]))].into_iter().collect();
                db.commit(1, &c, &[]).is_ok()
            })
        })
        .collect();
    let won = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(won, 1);
    assert_eq!(db.latest_version().unwrap(), Some(1));
}

#[test]
fn many_small_versions_on_a_large_state() {
    let db = StateDb::in_memory().unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let c: ChangeSet = (0..10_000u32)
        .map(|i| (i.to_be_bytes().to_vec(), Some(vec![1])))
        .collect();
    db.commit(0, &c, &[]).unwrap();
    for (k, v) in &c {
        model.insert(k.clone(), v.clone().unwrap_or_default());
    }
    for v in 1..=1_000u32 {
        let c: ChangeSet = (0..10u32)
            .map(|j| {
                let key = ((v * 7919 + j * 104_729) % 10_000).to_be_bytes().to_vec();
                // Every tenth version deletes its first key.
                let value = (!(v % 10 == 0 && j == 0)).then(|| v.to_le_bytes().to_vec());
                (key, value)
            })
            .collect();
        db.commit(u64::from(v), &c, &[]).unwrap();
        for (k, val) in c {
            match val {
                Some(val) => model.insert(k, val),
                None => model.remove(&k),
            };
        }
    }
    for i in (0..10_000u32).step_by(97) {
        let key = i.to_be_bytes();
        assert_eq!(db.get(&key).unwrap().as_ref(), model.get(&key[..]));
        let (value, proof) = db.prove(&key, 1_000).unwrap();
        assert_eq!(value.as_ref(), model.get(&key[..]));
        verify(&db.root(1_000).unwrap(), &key, value.as_deref(), &proof).unwrap();
    }
    let all: ChangeSet = model.into_iter().map(|(k, v)| (k, Some(v))).collect();
    assert_eq!(db.root(1_000).unwrap(), detvm_state::root_of(&all).unwrap());
}
