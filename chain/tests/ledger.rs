//! The chain model through the executor: signatures, nonces, fees, state
//! roots, block verification, proofs, replay and rewind
//! (`docs/chain.md`).

use std::sync::Arc;

use detvm_chain::{
    Action, Block, Error, Genesis, GenesisAccount, Keypair, Ledger, SignedTransaction, Transaction,
    TxError, TxOutcome, account_key,
};
use detvm_state::StateDb;

/// A contract: `set` stores its input under `k`, `get` returns it, `fail`
/// stores then traps.
const STORE: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "value_return" (func $value_return (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i64) (result i32)))
  (memory 1)
  (data (i32.const 0) "k")
  (func $store
    (call $input (i64.const 1))
    (call $read_register (i64.const 1) (i32.const 16))
    (drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16)
      (i32.wrap_i64 (call $register_len (i64.const 1))) (i64.const 2))))
  (func (export "set") (call $store))
  (func (export "fail") (call $store) unreachable)
  (func (export "get")
    (if (call $storage_read (i32.const 0) (i32.const 1) (i64.const 3))
      (then
        (call $read_register (i64.const 3) (i32.const 16))
        (call $value_return (i32.const 16)
          (i32.wrap_i64 (call $register_len (i64.const 3))))))))"#;

const CHAIN_ID: &str = "detvm-dev";

fn dev_ledger() -> Ledger {
    let db = Arc::new(StateDb::in_memory().expect("db"));
    Ledger::open(db, &Genesis::dev()).expect("ledger")
}

fn tx(key: &Keypair, nonce: u64, gas_limit: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN_ID.into(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit,
        action,
    }
    .sign(key)
}

fn transfer(key: &Keypair, nonce: u64, to: &str, amount: u128) -> SignedTransaction {
    tx(
        key,
        nonce,
        1_000_000,
        Action::Transfer {
            to: to.into(),
            amount,
        },
    )
}

fn balance(ledger: &Ledger, id: &str) -> u128 {
    ledger
        .account(id, None)
        .expect("read")
        .map_or(0, |a| a.balance)
}

fn mine(ledger: &mut Ledger, txs: Vec<SignedTransaction>) -> detvm_chain::BuiltBlock {
    let ts = ledger.head().timestamp_ns + 1_000;
    let built = ledger.build_block(txs, ts, "test").expect("build");
    ledger.commit(built.clone()).expect("commit");
    built
}

fn deploy(ledger: &mut Ledger, key: &Keypair, nonce: u64) -> String {
    let code = wat::parse_str(STORE).expect("wat");
    let built = mine(
        ledger,
        vec![tx(key, nonce, 100_000_000, Action::Deploy { code })],
    );
    match &built.receipts[0].outcome {
        TxOutcome::Deployed { contract, .. } => contract.clone(),
        other => panic!("deploy: {other:?}"),
    }
}

fn call(
    key: &Keypair,
    nonce: u64,
    contract: &str,
    method: &str,
    args: &[u8],
    amount: u128,
) -> SignedTransaction {
    tx(
        key,
        nonce,
        50_000_000,
        Action::Call {
            contract: contract.into(),
            method: method.into(),
            args: args.to_vec(),
            amount,
        },
    )
}

#[test]
fn a_transfer_moves_the_amount_and_burns_the_fee() {
    let mut ledger = dev_ledger();
    let (a, b) = (Keypair::dev(0), Keypair::dev(1));
    let before_a = balance(&ledger, &a.implicit_id());
    let before_b = balance(&ledger, &b.implicit_id());
    let built = mine(&mut ledger, vec![transfer(&a, 0, &b.implicit_id(), 777)]);
    let r = &built.receipts[0];
    assert_eq!(r.outcome, TxOutcome::Transferred);
    let params = ledger.params().clone();
    let size = built.block.transactions[0].size() as u64;
    assert_eq!(
        r.gas_used,
        params.tx_base_gas + params.tx_byte_gas * size + params.transfer_gas
    );
    assert_eq!(r.fee, u128::from(r.gas_used) * params.gas_price);
    assert_eq!(balance(&ledger, &a.implicit_id()), before_a - 777 - r.fee);
    assert_eq!(balance(&ledger, &b.implicit_id()), before_b + 777);
    assert_eq!(
        ledger
            .account(&a.implicit_id(), None)
            .unwrap()
            .unwrap()
            .nonce,
        1
    );
    // The receipt lists both account records.
    let keys: Vec<_> = r.state_changes.iter().map(|(k, _)| k.clone()).collect();
    let mut expected = vec![account_key(&a.implicit_id()), account_key(&b.implicit_id())];
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn a_transfer_to_a_new_key_creates_its_account_and_it_can_spend() {
    let mut ledger = dev_ledger();
    let a = Keypair::dev(0);
    let fresh = Keypair::from_seed([9; 32]);
    mine(
        &mut ledger,
        vec![transfer(&a, 0, &fresh.implicit_id(), 10_000_000_000)],
    );
    let account = ledger.account(&fresh.implicit_id(), None).unwrap().unwrap();
    assert_eq!(account.public_key, Some(fresh.public_key()));
    let built = mine(&mut ledger, vec![transfer(&fresh, 0, &a.implicit_id(), 1)]);
    assert_eq!(built.receipts[0].outcome, TxOutcome::Transferred);
    // A named account that does not exist cannot receive.
    let built = mine(&mut ledger, vec![transfer(&a, 1, "nobody", 1)]);
    assert!(
        matches!(&built.receipts[0].outcome, TxOutcome::Failed { kind, .. } if kind == "unknown_account")
    );
    assert_eq!(
        ledger
            .account(&a.implicit_id(), None)
            .unwrap()
            .unwrap()
            .nonce,
        2
    );
}

#[test]
fn invalid_transactions_are_left_out_with_their_reason() {
    let mut ledger = dev_ledger();
    let (a, b) = (Keypair::dev(0), Keypair::dev(1));
    let to = b.implicit_id();
    let good = transfer(&a, 0, &to, 1);
    let mut tampered = transfer(&a, 0, &to, 1);
    if let Action::Transfer { amount, .. } = &mut tampered.transaction.action {
        *amount = 1_000;
    }
    let mut wrong_key = transfer(&a, 0, &to, 1);
    wrong_key.transaction.public_key = b.public_key();
    let wrong_key = wrong_key.transaction.sign(&b);
    let mut other_chain = transfer(&a, 0, &to, 1).transaction;
    other_chain.chain_id = "elsewhere".into();
    let other_chain = other_chain.sign(&a);
    let future = transfer(&a, 5, &to, 1);
    let too_rich = transfer(&a, 0, &to, u128::MAX - 10);
    let low_gas = tx(
        &a,
        0,
        10,
        Action::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    let stranger = Keypair::from_seed([7; 32]);
    let unknown = transfer(&stranger, 0, &to, 1);
    let built = ledger
        .build_block(
            vec![
                tampered,
                wrong_key,
                other_chain,
                future,
                too_rich,
                low_gas,
                unknown,
                good.clone(),
                good.clone(),
            ],
            1,
            "test",
        )
        .expect("build");
    let kinds: Vec<&str> = built.rejected.iter().map(|(_, e)| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "bad_signature",
            "wrong_key",
            "wrong_chain_id",
            "future_nonce",
            "insufficient_balance",
            "gas_limit_too_low",
            "unknown_signer",
            "stale_nonce"
        ]
    );
    assert_eq!(built.block.transactions, vec![good]);
}

#[test]
fn a_trapped_call_pays_and_changes_nothing_else() {
    let mut ledger = dev_ledger();
    let a = Keypair::dev(0);
    let contract = deploy(&mut ledger, &a, 0);
    let built = mine(&mut ledger, vec![call(&a, 1, &contract, "set", b"one", 0)]);
    assert_eq!(
        built.receipts[0].outcome,
        TxOutcome::Returned { value: vec![] }
    );
    let before = balance(&ledger, &a.implicit_id());
    let root_before = ledger.head().state_root;
    let built = mine(
        &mut ledger,
        vec![call(&a, 2, &contract, "fail", b"two", 500)],
    );
    let r = &built.receipts[0];
    assert!(matches!(&r.outcome, TxOutcome::Trapped { kind, .. } if kind == "unreachable"));
    assert!(r.fee > 0);
    assert_eq!(balance(&ledger, &a.implicit_id()), before - r.fee);
    assert_eq!(
        balance(&ledger, &contract),
        0,
        "a trapped call moves no amount"
    );
    assert_ne!(
        ledger.head().state_root,
        root_before,
        "fee and nonce changed"
    );
    let view = ledger
        .view(
            &detvm_host::ContractId::parse(&contract).unwrap(),
            "get",
            &[],
            None,
        )
        .unwrap();
    assert_eq!(view.return_value(), Some(&b"one"[..]));
    // Only the signer's record changed.
    let keys: Vec<_> = r.state_changes.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, vec![account_key(&a.implicit_id())]);
    // A returned call with an amount moves it.
    mine(
        &mut ledger,
        vec![call(&a, 3, &contract, "set", b"three", 500)],
    );
    assert_eq!(balance(&ledger, &contract), 500);
    // Views at earlier heights see earlier state.
    let id = detvm_host::ContractId::parse(&contract).unwrap();
    let old = ledger.view(&id, "get", &[], Some(2)).unwrap();
    assert_eq!(old.return_value(), Some(&b"one"[..]));
    let new = ledger.view(&id, "get", &[], None).unwrap();
    assert_eq!(new.return_value(), Some(&b"three"[..]));
}

#[test]
fn calls_that_cannot_run_fail_and_pay_the_intrinsic_gas() {
    let mut ledger = dev_ledger();
    let a = Keypair::dev(0);
    let contract = deploy(&mut ledger, &a, 0);
    let built = mine(
        &mut ledger,
        vec![
            call(&a, 1, &contract, "nope", &[], 5),
            call(&a, 2, &"ab".repeat(20), "set", &[], 5),
            tx(
                &a,
                3,
                30_000,
                Action::Deploy {
                    code: b"\0asm\x01\0\0\0".to_vec(),
                },
            ),
            tx(
                &a,
                4,
                100_000_000,
                Action::Deploy {
                    code: b"garbage".to_vec(),
                },
            ),
        ],
    );
    let kinds: Vec<String> = built
        .receipts
        .iter()
        .map(|r| match &r.outcome {
            TxOutcome::Failed { kind, .. } => kind.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "unknown_method",
            "unknown_contract",
            "out_of_gas",
            "malformed"
        ]
    );
    assert_eq!(
        built.receipts[2].gas_used, 30_000,
        "out of gas uses the whole limit"
    );
    assert_eq!(balance(&ledger, &contract), 0);
}

#[test]
fn the_state_root_changes_exactly_when_the_state_does() {
    let mut ledger = dev_ledger();
    let root0 = ledger.head().state_root;
    mine(&mut ledger, vec![]);
    assert_eq!(
        ledger.head().state_root,
        root0,
        "an empty block changes nothing"
    );
    let a = Keypair::dev(0);
    mine(
        &mut ledger,
        vec![transfer(&a, 0, &Keypair::dev(1).implicit_id(), 1)],
    );
    assert_ne!(ledger.head().state_root, root0);
    // Proofs of an account under the header's root.
    let head = ledger.head().clone();
    let key = account_key(&a.implicit_id());
    let (value, proof) = ledger.db().prove(&key, head.height).unwrap();
    let value = value.expect("present");
    detvm_state::verify(&head.state_root, &key, Some(&value), &proof).expect("inclusion");
    assert!(detvm_state::verify(&root0, &key, Some(&value), &proof).is_err());
    let absent = account_key("nobody");
    let (none, proof) = ledger.db().prove(&absent, head.height).unwrap();
    assert!(none.is_none());
    detvm_state::verify(&head.state_root, &absent, None, &proof).expect("exclusion");
    assert!(detvm_state::verify(&head.state_root, &absent, Some(b"x"), &proof).is_err());
}

fn busy_chain() -> Ledger {
    let mut ledger = dev_ledger();
    let a = Keypair::dev(0);
    let contract = deploy(&mut ledger, &a, 0);
    for i in 0..5u64 {
        let txs = vec![
            transfer(&Keypair::dev(1), i, &a.implicit_id(), 1 + u128::from(i)),
            call(&a, 1 + 2 * i, &contract, "set", &i.to_le_bytes(), 0),
            call(&a, 2 + 2 * i, &contract, "fail", &[], 0),
        ];
        mine(&mut ledger, txs);
    }
    ledger
}

#[test]
fn another_node_verifies_and_replays_every_block() {
    let producer = busy_chain();
    let mut follower = dev_ledger();
    for h in 1..=producer.head().height {
        let block = producer.block(h).unwrap().unwrap();
        let receipts = follower.apply_block(&block).expect("valid");
        assert_eq!(receipts, producer.receipts(h).unwrap().unwrap());
        assert_eq!(follower.head(), &block.header);
    }
    // Tampered blocks are refused without changing anything.
    let next = {
        let mut p = busy_chain();
        let a = Keypair::dev(0);
        let ts = p.head().timestamp_ns + 5;
        let built = p
            .build_block(
                vec![transfer(&a, 11, &Keypair::dev(2).implicit_id(), 3)],
                ts,
                "p",
            )
            .unwrap();
        built.block
    };
    let head = follower.head().clone();
    let tamper = |f: &dyn Fn(&mut Block)| {
        let mut b = next.clone();
        f(&mut b);
        b
    };
    for bad in [
        tamper(&|b| b.header.state_root[0] ^= 1),
        tamper(&|b| b.header.receipts_root[0] ^= 1),
        tamper(&|b| b.header.tx_root[0] ^= 1),
        tamper(&|b| b.header.gas_used += 1),
        tamper(&|b| b.header.height += 1),
        tamper(&|b| b.header.parent_hash[0] ^= 1),
        tamper(&|b| b.header.timestamp_ns = head.timestamp_ns),
        tamper(&|b| b.transactions[0].signature[5] ^= 1),
        tamper(&|b| b.transactions.push(b.transactions[0].clone())),
    ] {
        let err = follower
            .apply_block(&bad)
            .expect_err("tampered block accepted");
        assert!(matches!(err, Error::InvalidBlock { .. }), "{err}");
        assert_eq!(follower.head(), &head);
    }
    follower.apply_block(&next).expect("the real block");
}

#[test]
fn rewind_restores_an_earlier_height() {
    let mut ledger = busy_chain();
    let header3 = ledger.block(3).unwrap().unwrap().header;
    let receipts4 = ledger.receipts(4).unwrap().unwrap();
    let block4 = ledger.block(4).unwrap().unwrap();
    ledger.rewind(3).unwrap();
    assert_eq!(ledger.head(), &header3);
    assert!(ledger.block(4).unwrap().is_none());
    assert!(
        ledger
            .tx_location(&block4.transactions[0].hash())
            .unwrap()
            .is_none()
    );
    // The same block applies again, with the same receipts.
    assert_eq!(ledger.apply_block(&block4).unwrap(), receipts4);
}

#[test]
fn a_database_remembers_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let head = {
        let db = Arc::new(StateDb::open(&path).unwrap());
        let mut ledger = Ledger::open(db, &Genesis::dev()).unwrap();
        mine(
            &mut ledger,
            vec![transfer(
                &Keypair::dev(0),
                0,
                &Keypair::dev(1).implicit_id(),
                1,
            )],
        );
        ledger.head().clone()
    };
    let db = Arc::new(StateDb::open(&path).unwrap());
    let ledger = Ledger::open(db.clone(), &Genesis::dev()).unwrap();
    assert_eq!(ledger.head(), &head);
    drop(ledger);
    let mut other = Genesis::dev();
    other.chain_id = "other".into();
    assert!(matches!(
        Ledger::open(db, &other),
        Err(Error::GenesisMismatch { .. })
    ));
}

#[test]
fn genesis_files_are_checked() {
    let key = Keypair::dev(3);
    let named = |id: &str, balance: &str| GenesisAccount {
        id: id.into(),
        balance: balance.into(),
        public_key: Some(detvm_host::hex(&key.public_key())),
    };
    let with = |accounts: Vec<GenesisAccount>| Genesis {
        accounts,
        ..Genesis::dev()
    };
    assert!(with(vec![named("alice", "5")]).resolve().is_ok());
    for bad in [
        with(vec![named("alice", "5"), named("alice", "6")]),
        with(vec![named("alice", "-5")]),
        with(vec![named("alice", "1e3")]),
        with(vec![named("a b", "5")]),
        with(vec![named(&"ab".repeat(20), "5")]),
        with(vec![
            named(&u128::MAX.to_string(), "5"),
            named("bob", &u128::MAX.to_string()),
            named("carol", "1"),
        ]),
    ] {
        assert!(bad.resolve().is_err(), "{bad:?}");
    }
    assert!(Genesis::from_json("{\"chain_id\": \"x\", \"bogus\": 1}").is_err());
    let round = Genesis::from_json(&Genesis::dev().to_json()).unwrap();
    assert_eq!(round, Genesis::dev());
    // A named account with a key can sign.
    let db = Arc::new(StateDb::in_memory().unwrap());
    let mut ledger = Ledger::open(db, &with(vec![named("alice", "100000000000")])).unwrap();
    let t = Transaction {
        chain_id: ledger.params().chain_id.clone(),
        signer: "alice".into(),
        public_key: key.public_key(),
        nonce: 0,
        gas_limit: 1_000_000,
        action: Action::Transfer {
            to: key.implicit_id(),
            amount: 3,
        },
    }
    .sign(&key);
    let built = mine(&mut ledger, vec![t]);
    assert_eq!(built.receipts[0].outcome, TxOutcome::Transferred);
    let _ = TxError::Duplicate;
}

#[test]
fn only_dev_chains_take_direct_changes_and_unsigned_transactions() {
    let unsigned = |signer: &str| SignedTransaction {
        transaction: Transaction {
            chain_id: CHAIN_ID.into(),
            signer: signer.into(),
            public_key: [0; 32],
            nonce: 0,
            gas_limit: 1_000_000,
            action: Action::Transfer {
                to: Keypair::dev(5).implicit_id(),
                amount: 1,
            },
        },
        signature: [0; 64],
    };
    let a = Keypair::dev(0).implicit_id();
    // A dev chain: the cheat and the impersonated transfer both apply.
    let mut dev = dev_ledger();
    let change = (b"chain/note".to_vec(), Some(b"x".to_vec()));
    let built = dev
        .build_block_with(vec![change.clone()], vec![unsigned(&a)], 5, "t")
        .unwrap();
    assert_eq!(built.block.transactions.len(), 1);
    assert_eq!(built.receipts[0].outcome, TxOutcome::Transferred);
    dev.commit(built.clone()).unwrap();
    let mut follower = dev_ledger();
    follower
        .apply_block(&built.block)
        .expect("a follower replays the cheat");
    assert_eq!(follower.head(), dev.head());
    // The same genesis without the dev flag.
    let mut genesis = Genesis::dev();
    genesis.params.dev = false;
    let mut real = Ledger::open(Arc::new(StateDb::in_memory().unwrap()), &genesis).unwrap();
    assert!(matches!(
        real.build_block_with(vec![change], vec![], 5, "t"),
        Err(Error::InvalidBlock { .. })
    ));
    let built = real.build_block(vec![unsigned(&a)], 5, "t").unwrap();
    assert_eq!(
        built.rejected[0].1.kind(),
        "wrong_key",
        "the all-zero key is not the account's"
    );
    let mut forged = built.block.clone();
    forged.dev_changes.push((b"chain/note".to_vec(), None));
    let mut other = Ledger::open(Arc::new(StateDb::in_memory().unwrap()), &genesis).unwrap();
    assert!(other.apply_block(&forged).is_err());
}

#[test]
fn the_genesis_commits_to_its_validator_set() {
    let open = |genesis: &Genesis| {
        let db = Arc::new(detvm_state::StateDb::in_memory().unwrap());
        Ledger::open(db, genesis)
    };
    let validator = |i: u32, power: u64| detvm_chain::GenesisValidator {
        public_key: detvm_host::hex(&Keypair::dev(i).public_key()),
        power,
    };
    let with = |validators| Genesis {
        validators,
        ..Genesis::dev()
    };
    let none = open(&Genesis::dev()).unwrap().genesis_hash();
    let two = open(&with(vec![validator(0, 1), validator(1, 1)]))
        .unwrap()
        .genesis_hash();
    let reordered = open(&with(vec![validator(1, 1), validator(0, 1)]))
        .unwrap()
        .genesis_hash();
    let heavier = open(&with(vec![validator(0, 2), validator(1, 1)]))
        .unwrap()
        .genesis_hash();
    assert_ne!(none, two);
    assert_eq!(two, reordered, "the set is ordered by key");
    assert_ne!(two, heavier, "voting power is part of the set");
    // 32 bytes that are not the encoding of a curve point.
    let off_curve = (0u8..=255)
        .map(|b| {
            let mut k = [0u8; 32];
            k[0] = b;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .expect("an off-curve encoding");
    let not_a_point = detvm_chain::GenesisValidator {
        public_key: detvm_host::hex(&off_curve),
        power: 1,
    };
    for bad in [
        with(vec![validator(0, 0)]),
        with(vec![validator(0, 1), validator(0, 2)]),
        with(vec![validator(0, u64::MAX), validator(1, 1)]),
        with(vec![not_a_point]),
        with(vec![detvm_chain::GenesisValidator {
            public_key: "12".into(),
            power: 1,
        }]),
    ] {
        assert!(
            matches!(open(&bad), Err(detvm_chain::Error::Genesis(_))),
            "{:?}",
            bad.validators
        );
    }
    // The file form round-trips, and a chain without validators writes none.
    let text = with(vec![validator(0, 3)]).to_json();
    assert!(text.contains("\"validators\""));
    assert_eq!(Genesis::from_json(&text).unwrap().validators.len(), 1);
    assert!(!Genesis::dev().to_json().contains("validators"));
}

/// `emit` emits one event whose only topic is its 32-byte input.
const EMITTER: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (memory 1)
  (func (export "emit")
    (call $input (i64.const 1))
    (call $read_register (i64.const 1) (i32.const 0))
    (call $emit (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))"#;

#[test]
fn the_event_index_finds_events_by_contract_and_topic_and_rewinds() {
    use detvm_chain::{EventLocation, EventSelector};
    let mut ledger = dev_ledger();
    let key = Keypair::dev(0);
    let code = wat::parse_str(EMITTER).expect("wat");
    let deploy_tx = |nonce| {
        tx(
            &key,
            nonce,
            100_000_000,
            Action::Deploy { code: code.clone() },
        )
    };
    let built = mine(&mut ledger, vec![deploy_tx(0), deploy_tx(1)]);
    let ids: Vec<String> = built
        .receipts
        .iter()
        .map(|r| match &r.outcome {
            TxOutcome::Deployed { contract, .. } => contract.clone(),
            other => panic!("deploy: {other:?}"),
        })
        .collect();
    let (a, b) = (&ids[0], &ids[1]);
    let (t1, t2) = ([1u8; 32], [2u8; 32]);
    let h1 = mine(&mut ledger, vec![call(&key, 2, a, "emit", &t1, 0)])
        .block
        .header
        .height;
    // Two events in one block: positions 0 and 1.
    let h2 = mine(
        &mut ledger,
        vec![
            call(&key, 3, b, "emit", &t2, 0),
            call(&key, 4, a, "emit", &t2, 0),
        ],
    )
    .block
    .header
    .height;
    let find = |ledger: &Ledger, selector: &EventSelector, from, to| {
        ledger
            .event_locations(selector, from, to, 100)
            .expect("index reads")
    };
    let at = |height, tx_index| EventLocation {
        height,
        tx_index,
        event_index: 0,
    };
    let by_a = EventSelector::Contract(a.clone());
    let by_t2 = EventSelector::Topic {
        position: 0,
        topic: t2,
    };
    assert_eq!(
        find(&ledger, &by_a, 0, u64::MAX),
        vec![at(h1, 0), at(h2, 1)]
    );
    assert_eq!(
        find(&ledger, &by_t2, 0, u64::MAX),
        vec![at(h2, 0), at(h2, 1)]
    );
    assert_eq!(find(&ledger, &by_a, h2, h2), vec![at(h2, 1)]);
    assert_eq!(find(&ledger, &by_a, 0, h1), vec![at(h1, 0)]);
    let nothing = EventSelector::Topic {
        position: 1,
        topic: t1,
    };
    assert!(find(&ledger, &nothing, 0, u64::MAX).is_empty());
    assert_eq!(
        ledger.event_locations(&by_a, 0, u64::MAX, 1).unwrap().len(),
        1
    );
    // The index entries point at the events they name.
    let receipts = ledger.receipts(h2).unwrap().unwrap();
    assert_eq!(receipts[1].all_events()[0].contract, *a);
    assert_eq!(receipts[1].all_events()[0].topics, vec![t2]);

    ledger.rewind(h1).expect("rewind");
    assert_eq!(find(&ledger, &by_a, 0, u64::MAX), vec![at(h1, 0)]);
    assert!(find(&ledger, &by_t2, 0, u64::MAX).is_empty());
}
