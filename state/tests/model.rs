//! Random histories against a model: values, scans and roots at every
//! version, proofs, rewinds, and proof decoding of arbitrary bytes.

use std::collections::BTreeMap;

use detvm_state::{ChangeSet, Proof, StateDb, verify};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn changes() -> impl Strategy<Value = ChangeSet> {
    prop::collection::btree_map(
        // Short keys over a small alphabet: prefixes of each other, zero
        // bytes, and many rewrites of the same key.
        prop::collection::vec(prop::sample::select(vec![0u8, 1, b'k', 0xff]), 0..4),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..4)),
        0..8,
    )
}

fn apply(model: &mut Model, changes: &ChangeSet) {
    for (k, v) in changes {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

fn all_keys(history: &[ChangeSet]) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = history.iter().flat_map(|c| c.keys().cloned()).collect();
    keys.push(b"never".to_vec());
    keys.sort();
    keys.dedup();
    keys
}

/// Checks `db` at `version` against `model`: values, scans, root, proofs.
fn check(db: &StateDb, version: u64, model: &Model, keys: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let root = db.root(version).unwrap();
    for key in keys {
        prop_assert_eq!(db.get_at(key, version).unwrap(), model.get(key).cloned());
        let (value, proof) = db.prove(key, version).unwrap();
        prop_assert_eq!(value.as_ref(), model.get(key));
        prop_assert!(verify(&root, key, value.as_deref(), &proof).is_ok());
        let decoded = Proof::from_bytes(&proof.to_bytes()).unwrap();
        prop_assert!(verify(&root, key, value.as_deref(), &decoded).is_ok());
        // The opposite claim never verifies.
        let opposite = match value {
            Some(_) => None,
            None => Some(&b"x"[..]),
        };
        prop_assert!(verify(&root, key, opposite, &proof).is_err());
    }
    let scanned: Model = db
        .scan_prefix_at(b"", version, None, 1000)
        .unwrap()
        .into_iter()
        .collect();
    prop_assert_eq!(&scanned, model);
    for prefix in [&b"k"[..], b"\0", b"\xff\0"] {
        let under: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        prop_assert_eq!(
            db.scan_prefix_at(prefix, version, None, 1000).unwrap(),
            under.clone()
        );
        // Two entries per page.
        let mut paged = Vec::new();
        loop {
            let after = paged.last().map(|(k, _): &(Vec<u8>, Vec<u8>)| k.clone());
            let page = db
                .scan_prefix_at(prefix, version, after.as_deref(), 2)
                .unwrap();
            let done = page.len() < 2;
            paged.extend(page);
            if done {
                break;
            }
        }
        prop_assert_eq!(paged, under);
    }
    // The root is the root of a fresh state holding exactly the model.
    let fresh: ChangeSet = model
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    prop_assert_eq!(root, detvm_state::root_of(&fresh).unwrap());
    Ok(())
}

fn check_latest(db: &StateDb, model: &Model) -> Result<(), TestCaseError> {
    let now: Model = db
        .scan_prefix(b"", None, 1000)
        .unwrap()
        .into_iter()
        .collect();
    prop_assert_eq!(&now, model);
    for (k, v) in model {
        prop_assert_eq!(db.get(k).unwrap(), Some(v.clone()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_history_matches_a_model(history in prop::collection::vec(changes(), 1..8)) {
        let db = StateDb::in_memory().unwrap();
        let keys = all_keys(&history);
        let mut model = Model::new();
        let mut models = Vec::new();
        for (v, c) in history.iter().enumerate() {
            let root = db.commit(v as u64, c, &[]).unwrap();
            prop_assert_eq!(root, db.root(v as u64).unwrap());
            apply(&mut model, c);
            models.push(model.clone());
        }
        check_latest(&db, &model)?;
        for (v, m) in models.iter().enumerate() {
            check(&db, v as u64, m, &keys)?;
        }
    }

    #[test]
    fn rewinding_then_recommitting_matches_a_fresh_history(
        history in prop::collection::vec(changes(), 1..7),
        rewind_to in any::<prop::sample::Index>(),
        redo in prop::collection::vec(changes(), 0..4),
    ) {
        let db = StateDb::in_memory().unwrap();
        for (v, c) in history.iter().enumerate() {
            db.commit(v as u64, c, &[]).unwrap();
        }
        let to = rewind_to.index(history.len());
        db.rewind(to as u64).unwrap();
        prop_assert_eq!(db.latest_version().unwrap(), Some(to as u64));
        let kept = &history[..=to];
        let replayed: Vec<ChangeSet> = kept.iter().chain(&redo).cloned().collect();
        for (i, c) in redo.iter().enumerate() {
            db.commit((to + 1 + i) as u64, c, &[]).unwrap();
        }
        let fresh = StateDb::in_memory().unwrap();
        for (v, c) in replayed.iter().enumerate() {
            fresh.commit(v as u64, c, &[]).unwrap();
        }
        let keys = all_keys(&history.iter().chain(&redo).cloned().collect::<Vec<_>>());
        let mut model = Model::new();
        for (v, c) in replayed.iter().enumerate() {
            apply(&mut model, c);
            prop_assert_eq!(db.root(v as u64).unwrap(), fresh.root(v as u64).unwrap());
            check(&db, v as u64, &model, &keys)?;
        }
        check_latest(&db, &model)?;
        prop_assert!(db.root(replayed.len() as u64).is_err());
    }

    #[test]
    fn proof_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(p) = Proof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes(), bytes);
            let _ = verify(&[0; 32], b"k", None, &p);
            let _ = verify(&[0; 32], b"k", Some(b"v"), &p);
        }
    }

    #[test]
    fn structured_proof_bytes_never_panic(
        leaf in prop::option::of(prop::collection::vec(any::<u8>(), 64)),
        siblings in prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 64)), 0..40),
        claimed in 0u32..300,
        cut in any::<prop::sample::Index>(),
    ) {
        // Mostly well-formed encodings, so decoding gets past the first
        // byte and verification runs on odd proofs.
        let mut bytes = Vec::new();
        match &leaf {
            None => bytes.push(0),
            Some(l) => { bytes.push(1); bytes.extend(l); }
        }
        let count = if claimed < 260 { siblings.len() as u32 } else { claimed };
        bytes.extend(count.to_le_bytes());
        for (tag, node) in &siblings {
            bytes.push(*tag);
            if *tag != 0 { bytes.extend(node); }
        }
        for b in [bytes.clone(), bytes[..cut.index(bytes.len() + 1)].to_vec()] {
            if let Ok(p) = Proof::from_bytes(&b) {
                let _ = verify(&[0; 32], b"k", None, &p);
                let _ = verify(&[0; 32], b"k", Some(b"v"), &p);
            }
        }
    }
}
