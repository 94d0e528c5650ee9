//! Chain behaviour: atomic calls, receipts and their hash, deploy rules and
//! gas, contract ids, views, persistence, and bad input.

mod common;

use std::sync::Arc;

use common::*;
use detvm_host::{
    CallContext, Chain, ContractId, Error, MemoryStorage, Receipt, ReceiptOutcome, Storage,
    TrapKind, hex,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// `counter`: a contract with one key per method kind.
fn counter() -> Vec<u8> {
    let items =
        data(0, "count") + &data(16, "a") + &data(17, "b") + &data(18, "c") + &data(32, "boom");
    // Reads the 8-byte count (0 if missing), adds one, writes it back,
    // logs, returns the new count.
    let inc = "(if (call $storage_read (i32.const 0) (i32.const 5) (i64.const 0)) \
                 (then (call $read_register (i64.const 0) (i32.const 100)))) \
               (i64.store (i32.const 100) (i64.add (i64.load (i32.const 100)) (i64.const 1))) \
               (drop (call $storage_write (i32.const 0) (i32.const 5) (i32.const 100) (i32.const 8) (i64.const 0))) \
               (call $log_utf8 (i32.const 0) (i32.const 5)) \
               (call $value_return (i32.const 100) (i32.const 8))";
    let get = "(if (call $storage_read (i32.const 0) (i32.const 5) (i64.const 0)) \
                 (then (call $read_register (i64.const 0) (i32.const 100)))) \
               (call $value_return (i32.const 100) (i32.const 8))";
    let writes = "(drop (call $storage_write (i32.const 16) (i32.const 1) (i32.const 16) (i32.const 1) (i64.const 0))) \
                  (drop (call $storage_write (i32.const 17) (i32.const 1) (i32.const 17) (i32.const 1) (i64.const 0))) \
                  (drop (call $storage_remove (i32.const 0) (i32.const 5) (i64.const 0)))";
    let methods = [
        method("inc", inc),
        method("get", get),
        method("write_then_unreachable", &format!("{writes} unreachable")),
        method(
            "write_then_panic",
            &format!("{writes} (call $panic_utf8 (i32.const 32) (i32.const 4))"),
        ),
        method("write_then_loop", &format!("{writes} (loop $l (br $l))")),
        method(
            "write_then_oob",
            &format!("{writes} (drop (i32.load (i32.const 70000)))"),
        ),
        method(
            "write_then_divide",
            &format!("{writes} (drop (i32.div_u (i32.const 1) (i32.const 0)))"),
        ),
        method("recurse", &format!("{writes} (call $recurse_inner)")),
        "(func $recurse_inner (call $recurse_inner))".into(),
        "(func (export \"takes_args\") (param i32))".into(),
        "(global (export \"not_a_function\") i32 (i32.const 0))".into(),
    ];
    contract(1, &(items + &methods.concat()))
}

fn count(receipt: &Receipt) -> u64 {
    u64::from_le_bytes(returned(receipt).try_into().unwrap())
}

#[test]
fn successful_calls_commit_and_traps_change_nothing() {
    let (mut chain, id) = deployed(&counter());
    assert_eq!(count(&call(&mut chain, &id, "inc", b"")), 1);
    let second = call(&mut chain, &id, "inc", b"");
    assert_eq!(count(&second), 2);
    assert_eq!(second.logs, vec!["count".to_string()]);
    assert_eq!(
        second.state_changes,
        vec![(b"count".to_vec(), Some(2u64.to_le_bytes().to_vec()))]
    );
    let before = chain.state(&id, b"").unwrap();
    let committed = chain.committed().unwrap();

    for (name, kind) in [
        ("write_then_unreachable", TrapKind::Unreachable),
        ("write_then_panic", TrapKind::Host),
        ("write_then_loop", TrapKind::OutOfGas),
        ("write_then_oob", TrapKind::MemoryOutOfBounds),
        ("write_then_divide", TrapKind::IntegerDivideByZero),
        ("recurse", TrapKind::StackOverflow),
    ] {
        let receipt = chain
            .call(&id, name, b"", &ctx_with_gas(5_000_000))
            .unwrap();
        assert_eq!(trapped(&receipt).0, kind, "{name}");
        assert_eq!(chain.state(&id, b"").unwrap(), before, "{name}");
        assert_eq!(chain.committed().unwrap(), committed, "{name}");
        if kind == TrapKind::OutOfGas {
            assert_eq!(receipt.gas_used, 5_000_000);
        }
        if kind == TrapKind::Host {
            assert_eq!(
                receipt.outcome,
                ReceiptOutcome::Trapped {
                    kind,
                    message: Some("boom".into())
                }
            );
        }
    }
    assert_eq!(count(&call(&mut chain, &id, "get", b"")), 2);
}

#[test]
fn out_of_gas_inside_the_written_call_keeps_nothing() {
    let (mut chain, id) = deployed(&counter());
    let full = call(&mut chain, &id, "inc", b"").gas_used;
    // Fresh chain: every gas limit below what `inc` needs runs out and
    // commits nothing, whichever instruction or host call it stops in.
    let (mut chain, id) = deployed(&counter());
    for limit in [0, 1, full / 4, full / 2, full - 1] {
        let receipt = chain.call(&id, "inc", b"", &ctx_with_gas(limit)).unwrap();
        assert_eq!(trapped(&receipt).0, TrapKind::OutOfGas);
        assert_eq!(receipt.gas_used, limit);
        assert!(chain.state(&id, b"").unwrap().is_empty());
    }
    assert_eq!(
        chain
            .call(&id, "inc", b"", &ctx_with_gas(full))
            .unwrap()
            .gas_used,
        full
    );
}

fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The receipt encoding, written out from `docs/host-api.md` by hand.
fn documented_encoding(receipt: &Receipt) -> Vec<u8> {
    let mut out = Vec::new();
    match &receipt.outcome {
        ReceiptOutcome::Returned(bytes) => {
            out.push(0);
            encode_bytes(&mut out, bytes);
        }
        ReceiptOutcome::Trapped { kind, message } => {
            out.push(1);
            encode_bytes(&mut out, kind.name().as_bytes());
            match message {
                None => out.push(0),
                Some(m) => {
                    out.push(1);
                    encode_bytes(&mut out, m.as_bytes());
                }
            }
        }
    }
    out.extend_from_slice(&receipt.gas_used.to_le_bytes());
    out.extend_from_slice(&(receipt.logs.len() as u32).to_le_bytes());
    for log in &receipt.logs {
        encode_bytes(&mut out, log.as_bytes());
    }
    out.extend_from_slice(&(receipt.state_changes.len() as u32).to_le_bytes());
    for (key, value) in &receipt.state_changes {
        encode_bytes(&mut out, key);
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                encode_bytes(&mut out, v);
            }
        }
    }
    encode_events(&mut out, &receipt.events);
    encode_calls(&mut out, &receipt.calls);
    out
}

fn encode_events(out: &mut Vec<u8>, events: &[detvm_host::Event]) {
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for event in events {
        encode_bytes(out, event.contract.as_bytes());
        out.extend_from_slice(&(event.topics.len() as u32).to_le_bytes());
        for topic in &event.topics {
            out.extend_from_slice(topic);
        }
        encode_bytes(out, &event.data);
    }
}

fn encode_calls(out: &mut Vec<u8>, calls: &[detvm_host::CallNode]) {
    use detvm_host::CallOutcome;
    out.extend_from_slice(&(calls.len() as u32).to_le_bytes());
    for call in calls {
        encode_bytes(out, call.contract.as_bytes());
        encode_bytes(out, call.method.as_bytes());
        out.extend_from_slice(&call.amount.to_le_bytes());
        out.extend_from_slice(&call.gas_limit.to_le_bytes());
        out.extend_from_slice(&call.gas_used.to_le_bytes());
        match &call.outcome {
            CallOutcome::Returned { value } => {
                out.push(0);
                encode_bytes(out, value);
            }
            CallOutcome::Trapped { kind, message } => {
                out.push(1);
                encode_bytes(out, kind.as_bytes());
                match message {
                    None => out.push(0),
                    Some(m) => {
                        out.push(1);
                        encode_bytes(out, m.as_bytes());
                    }
                }
            }
            CallOutcome::Refused { kind, message } => {
                out.push(2);
                encode_bytes(out, kind.as_bytes());
                encode_bytes(out, message.as_bytes());
            }
        }
        out.extend_from_slice(&(call.logs.len() as u32).to_le_bytes());
        for log in &call.logs {
            encode_bytes(out, log.as_bytes());
        }
        encode_events(out, &call.events);
        out.extend_from_slice(&call.events_before.to_le_bytes());
        encode_calls(out, &call.calls);
    }
}

#[test]
fn receipt_hash_is_sha256_of_the_documented_layout() {
    let (mut chain, id) = deployed(&counter());
    let ok = call(&mut chain, &id, "inc", b"");
    let removed = {
        let receipt = chain
            .call(&id, "write_then_unreachable", b"", &ctx())
            .unwrap();
        assert!(!receipt.is_success());
        receipt
    };
    let panicked = call(&mut chain, &id, "write_then_panic", b"");
    let manual = Receipt {
        outcome: ReceiptOutcome::Returned(b"r".to_vec()),
        gas_used: 42,
        logs: vec!["x".into(), "".into()],
        state_changes: vec![(b"a".to_vec(), None), (b"b".to_vec(), Some(b"v".to_vec()))],
        events: vec![detvm_host::Event {
            contract: "c".into(),
            topics: vec![[7; 32]],
            data: b"d".to_vec(),
        }],
        calls: vec![detvm_host::CallNode {
            contract: "callee".into(),
            method: "m".into(),
            amount: 5,
            gas_limit: 9,
            gas_used: 3,
            outcome: detvm_host::CallOutcome::Trapped {
                kind: "host".into(),
                message: Some("no".into()),
            },
            logs: vec!["l".into()],
            events: Vec::new(),
            events_before: 1,
            calls: vec![detvm_host::CallNode {
                contract: "deeper".into(),
                method: "n".into(),
                amount: 0,
                gas_limit: 0,
                gas_used: 0,
                outcome: detvm_host::CallOutcome::Refused {
                    kind: "reentrancy".into(),
                    message: "x".into(),
                },
                logs: Vec::new(),
                events: Vec::new(),
                events_before: 0,
                calls: Vec::new(),
            }],
        }],
    };
    for receipt in [&ok, &removed, &panicked, &manual] {
        let bytes = documented_encoding(receipt);
        assert_eq!(receipt.encode(), bytes);
        assert_eq!(receipt.hash(), <[u8; 32]>::from(Sha256::digest(&bytes)));
    }
    // A receipt whose fields differ hashes differently.
    let mut other = manual.clone();
    other.gas_used += 1;
    assert_ne!(other.hash(), manual.hash());
}

#[test]
fn same_call_on_fresh_chains_gives_the_same_receipt_hash() {
    let run = || {
        let (mut chain, id) = deployed(&counter());
        let a = call(&mut chain, &id, "inc", b"");
        let b = call(&mut chain, &id, "inc", b"");
        let c = chain
            .call(&id, "write_then_loop", b"", &ctx_with_gas(1_000_000))
            .unwrap();
        (id, [a.hash(), b.hash(), c.hash()])
    };
    let (id1, first) = run();
    let (id2, second) = run();
    assert_eq!(id1, id2);
    assert_eq!(first, second);
    assert_ne!(first[0], first[1]);
}

#[test]
fn memory_and_redb_give_identical_receipts_and_redb_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let script = |chain: &mut Chain| -> (ContractId, Vec<[u8; 32]>) {
        let deploy = chain.deploy(&counter(), "deployer").unwrap();
        let id = deploy.contract;
        let mut hashes = Vec::new();
        for name in ["inc", "inc", "write_then_panic", "inc", "get"] {
            hashes.push(chain.call(&id, name, b"args", &ctx()).unwrap().hash());
        }
        (id, hashes)
    };
    let mut memory = Chain::in_memory().unwrap();
    let mut redb = Chain::open(dir.path()).unwrap();
    let (id_memory, memory_hashes) = script(&mut memory);
    let (id_redb, redb_hashes) = script(&mut redb);
    assert_eq!(id_memory, id_redb);
    assert_eq!(memory_hashes, redb_hashes);
    assert_eq!(
        memory.state(&id_memory, b"").unwrap(),
        redb.state(&id_redb, b"").unwrap()
    );
    let committed = redb.committed().unwrap();
    drop(redb);

    let mut reopened = Chain::open(dir.path()).unwrap();
    assert_eq!(reopened.committed().unwrap(), committed);
    assert_eq!(reopened.cached_modules(), 0);
    assert_eq!(count(&call(&mut reopened, &id_redb, "get", b"")), 3);
    assert_eq!(count(&call(&mut reopened, &id_redb, "inc", b"")), 4);
    drop(reopened);
    let again = Chain::open(dir.path()).unwrap();
    assert_eq!(
        again.state(&id_redb, b"").unwrap(),
        vec![(b"count".to_vec(), 4u64.to_le_bytes().to_vec())]
    );
}

#[test]
fn view_reads_but_cannot_write() {
    let (mut chain, id) = deployed(&counter());
    call(&mut chain, &id, "inc", b"");
    let committed = chain.committed().unwrap();
    let view = chain.view(&id, "get", b"", &ctx()).unwrap();
    assert_eq!(count(&view), 1);
    let write = chain.view(&id, "inc", b"", &ctx()).unwrap();
    let (kind, message) = trapped(&write);
    assert_eq!(kind, TrapKind::Host);
    let message = message.unwrap();
    assert!(
        message.starts_with("storage_write") && message.contains("view"),
        "{message}"
    );
    let remove = chain
        .view(&id, "write_then_unreachable", b"", &ctx())
        .unwrap();
    assert_eq!(trapped(&remove).0, TrapKind::Host);
    assert_eq!(count(&chain.view(&id, "get", b"", &ctx()).unwrap()), 1);
    assert_eq!(chain.committed().unwrap(), committed);
}

#[test]
fn deploy_gas_is_per_byte_whether_or_not_the_module_is_cached() {
    let code = counter();
    let expected = fees().deploy_base + fees().deploy_per_byte * code.len() as u64;
    let mut chain = Chain::in_memory().unwrap();
    assert_eq!(chain.cached_modules(), 0);
    let first = chain.deploy(&code, "deployer").unwrap();
    assert_eq!(chain.cached_modules(), 1);
    let second = chain.deploy(&code, "deployer").unwrap();
    assert_eq!(chain.cached_modules(), 1, "the second deploy hit the cache");
    assert_eq!(first.gas_used, expected);
    assert_eq!(second.gas_used, expected);
    assert_eq!(first.code_hash, second.code_hash);
    assert_eq!(first.code_hash, <[u8; 32]>::from(Sha256::digest(&code)));
    // Same code twice: two contracts with separate storage.
    assert_ne!(first.contract, second.contract);
    call(&mut chain, &first.contract, "inc", b"");
    assert!(chain.state(&second.contract, b"").unwrap().is_empty());
    assert_eq!(chain.state(&first.contract, b"").unwrap().len(), 1);
}

#[test]
fn a_sibling_shares_compiled_modules_but_not_state() {
    let (mut chain, id) = deployed(&counter());
    call(&mut chain, &id, "inc", b"");
    assert_eq!(chain.cached_modules(), 1);
    let mut sibling = chain.sibling(Arc::new(MemoryStorage::new()));
    assert_eq!(sibling.cached_modules(), 1, "nothing to compile again");
    let there = sibling.deploy(&counter(), "deployer").unwrap();
    assert_eq!(
        chain.cached_modules(),
        1,
        "the sibling's deploy hit the cache"
    );
    assert_eq!(count(&call(&mut sibling, &there.contract, "inc", b"")), 1);
    assert_eq!(count(&call(&mut sibling, &there.contract, "inc", b"")), 2);
    assert_eq!(count(&call(&mut chain, &id, "get", b"")), 1, "own state");
    assert!(sibling.take_trace().is_empty(), "tracing is off");
    assert_eq!(sibling.consensus_config(), chain.consensus_config());
}

#[test]
fn contract_id_follows_the_documented_rule() {
    let code = counter();
    let code_hash: [u8; 32] = Sha256::digest(&code).into();
    let expected = |deployer: &str, nonce: u64| {
        let mut preimage = Vec::new();
        encode_bytes(&mut preimage, b"detvm/contract/v1");
        encode_bytes(&mut preimage, deployer.as_bytes());
        preimage.extend_from_slice(&nonce.to_le_bytes());
        preimage.extend_from_slice(&code_hash);
        hex(&Sha256::digest(&preimage)[..20])
    };
    let mut chain = Chain::in_memory().unwrap();
    let a0 = chain.deploy(&code, "alice").unwrap().contract;
    let b0 = chain.deploy(&code, "bob").unwrap().contract;
    let a1 = chain.deploy(&code, "alice").unwrap().contract;
    assert_eq!(a0.as_str(), expected("alice", 0));
    assert_eq!(b0.as_str(), expected("bob", 0));
    assert_eq!(a1.as_str(), expected("alice", 1));
    assert_eq!(ContractId::parse(a0.as_str()), Some(a0.clone()));
    assert_eq!(ContractId::parse("ABC"), None);
    assert_eq!(ContractId::parse(&"G".repeat(40)), None);
}

fn rejected_kind(chain: &mut Chain, text: &str) -> String {
    match chain.deploy(&wat::parse_str(text).unwrap(), "deployer") {
        Err(Error::Rejected(rejection)) => {
            assert!(!rejection.to_string().is_empty());
            rejection.kind().to_owned()
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn deploy_rejects_imports_outside_the_host_table() {
    let mut chain = Chain::in_memory().unwrap();
    let cases = [
        r#"(module (import "env" "open_file" (func (param i32))))"#,
        r#"(module (import "env" "storage_write" (func (param i32 i32 i32 i32) (result i32))))"#,
        r#"(module (import "wasi" "input" (func (param i64))))"#,
        r#"(module (import "env" "memory" (memory 1)))"#,
        r#"(module (import "detvm" "gas_left" (global (mut i64))))"#,
        r#"(module (import "detvm" "out_of_gas" (func)))"#,
    ];
    for text in cases {
        assert_eq!(
            rejected_kind(&mut chain, text),
            "import_not_allowed",
            "{text}"
        );
    }
    assert_eq!(chain.cached_modules(), 0);
    assert_eq!(chain.committed().unwrap(), 0);
    // The full table is accepted.
    assert!(chain.deploy(&contract(1, ""), "deployer").is_ok());
}

#[test]
fn deploy_rejects_start_functions_garbage_and_broken_segments() {
    let mut chain = Chain::in_memory().unwrap();
    assert_eq!(
        rejected_kind(&mut chain, "(module (func $s) (start $s))"),
        "start_function"
    );
    assert_eq!(
        rejected_kind(
            &mut chain,
            r#"(module (memory 1) (data (i32.const 65535) "ab"))"#
        ),
        "instantiation"
    );
    assert_eq!(
        rejected_kind(
            &mut chain,
            "(module (func (result v128) v128.const i64x2 0 0))"
        ),
        "unsupported_feature"
    );
    match chain.deploy(b"\0asm garbage", "deployer") {
        Err(Error::Rejected(rejection)) => {
            assert_eq!(rejection.kind(), "malformed");
            // The engine's error stays behind the rejection.
            assert!(matches!(
                rejection,
                detvm_host::Rejection::Engine(detvm_vm::Error::Rejected(_))
            ));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.committed().unwrap(), 0);
}

#[test]
fn bad_requests_are_errors_not_receipts() {
    let (mut chain, id) = deployed(&counter());
    let unknown = ContractId::parse(&"0".repeat(40)).unwrap();
    assert!(matches!(
        chain.call(&unknown, "inc", b"", &ctx()),
        Err(Error::UnknownContract(_))
    ));
    assert!(matches!(
        chain.state(&unknown, b""),
        Err(Error::UnknownContract(_))
    ));
    assert!(matches!(
        chain.call(&id, "nope", b"", &ctx()),
        Err(Error::UnknownMethod { .. })
    ));
    assert!(matches!(
        chain.call(&id, "recurse_inner", b"", &ctx()),
        Err(Error::UnknownMethod { .. })
    ));
    let err = chain.call(&id, "takes_args", b"", &ctx()).unwrap_err();
    assert!(matches!(err, Error::NotAMethod { .. }));
    assert!(err.to_string().contains("takes_args"));
    assert!(matches!(
        chain.call(&id, "not_a_function", b"", &ctx()),
        Err(Error::UnknownMethod { .. })
    ));
    let mut bad_caller = ctx();
    bad_caller.caller = "no spaces".into();
    assert!(matches!(
        chain.call(&id, "inc", b"", &bad_caller),
        Err(Error::InvalidAccount(_))
    ));
    assert!(matches!(
        chain.deploy(&counter(), ""),
        Err(Error::InvalidAccount(_))
    ));
    let too_long = vec![0; fees().max_input_len as usize + 1];
    assert!(matches!(
        chain.call(&id, "inc", &too_long, &ctx()),
        Err(Error::InputTooLong { .. })
    ));
    assert_eq!(chain.committed().unwrap(), 1, "only the deploy committed");
}

#[test]
fn state_lists_by_prefix_in_key_order() {
    let (mut chain, id) = deployed(&counter());
    call(&mut chain, &id, "inc", b"");
    let items = data(0, "ab") + &data(2, "aa") + &data(4, "b");
    let writer = contract(
        1,
        &(items
            + &method(
                "m",
                "(drop (call $storage_write (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 1) (i64.const 0))) \
                 (drop (call $storage_write (i32.const 2) (i32.const 2) (i32.const 0) (i32.const 1) (i64.const 0))) \
                 (drop (call $storage_write (i32.const 4) (i32.const 1) (i32.const 0) (i32.const 1) (i64.const 0)))",
            )),
    );
    let other = chain.deploy(&writer, "deployer").unwrap().contract;
    call(&mut chain, &other, "m", b"");
    let keys = |prefix: &[u8]| -> Vec<Vec<u8>> {
        chain
            .state(&other, prefix)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(
        keys(b""),
        vec![b"aa".to_vec(), b"ab".to_vec(), b"b".to_vec()]
    );
    assert_eq!(keys(b"a"), vec![b"aa".to_vec(), b"ab".to_vec()]);
    assert!(keys(b"c").is_empty());
    // The first contract's key is not visible through the second.
    assert_eq!(chain.state(&id, b"").unwrap().len(), 1);
}

#[test]
fn calls_work_from_a_thread_with_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let (mut chain, id) = deployed(&counter());
            count(&call(&mut chain, &id, "inc", b""))
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), 1);
}

#[test]
fn chain_over_a_shared_storage_sees_committed_state() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let mut a = Chain::with_storage(storage.clone()).unwrap();
    let id = a.deploy(&counter(), "deployer").unwrap().contract;
    call(&mut a, &id, "inc", b"");
    let mut b = Chain::with_storage(storage).unwrap();
    assert_eq!(count(&call(&mut b, &id, "inc", b"")), 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic(
        code in proptest::collection::vec(any::<u8>(), 0..64),
        method in "[a-z_]{0,12}",
        args in proptest::collection::vec(any::<u8>(), 0..64),
        caller in "[ -~]{0,70}",
        gas in any::<u64>(),
    ) {
        let mut chain = Chain::in_memory().unwrap();
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&code);
        let _ = chain.deploy(&module, "deployer");
        let _ = chain.deploy(&code, &caller);
        let id = chain.deploy(&counter(), "deployer").unwrap().contract;
        let context = CallContext { caller, gas: gas % 10_000_000, block_height: gas, block_timestamp: gas, amount: 0 };
        if let Ok(receipt) = chain.call(&id, &method, &args, &context) {
            prop_assert!(receipt.gas_used <= context.gas);
        }
        let _ = chain.view(&id, &method, &args, &context);
    }
}

/// Fails every read of contract state once `fail` is set.
struct FlakyStorage {
    inner: MemoryStorage,
    fail: std::sync::atomic::AtomicBool,
}

impl Storage for FlakyStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, detvm_host::StorageError> {
        if key.starts_with(b"state/") && self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            // A backend error, as a broken disk would give.
            return Err(detvm_host::StorageError::Backend {
                operation: "read",
                source: "injected fault".into(),
            });
        }
        self.inner.get(key)
    }
    fn scan_prefix(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<detvm_host::Entry>, detvm_host::StorageError> {
        self.inner.scan_prefix(prefix)
    }
    fn apply(&self, batch: &[detvm_host::Change]) -> Result<(), detvm_host::StorageError> {
        self.inner.apply(batch)
    }
}

#[test]
fn a_storage_fault_is_an_error_not_a_receipt() {
    let storage = Arc::new(FlakyStorage {
        inner: MemoryStorage::new(),
        fail: std::sync::atomic::AtomicBool::new(false),
    });
    let mut chain = Chain::with_storage(storage.clone()).unwrap();
    let id = chain.deploy(&counter(), "deployer").unwrap().contract;
    call(&mut chain, &id, "inc", b"");
    storage
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let error = chain.call(&id, "inc", b"", &ctx()).unwrap_err();
    assert!(matches!(error, Error::Storage(_)), "{error}");
    assert_eq!(error.kind(), "storage");
    storage
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(count(&call(&mut chain, &id, "get", b"")), 1);
}

#[test]
fn chain_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Chain>();
    send_sync::<Receipt>();
}

#[test]
fn every_call_pays_for_its_initial_memory_first() {
    let per_page = fees().instantiate_per_page;
    for pages in [0u64, 1, 3] {
        let memory = if pages == 0 {
            String::new()
        } else {
            format!("(memory {pages})")
        };
        let text = format!(
            r#"(module (import "env" "storage_write" (func $w (param i32 i32 i32 i32 i64) (result i32)))
                 {memory}
                 (func (export "empty"))
                 (func (export "write") (drop (call $w (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0)))))"#
        );
        let (mut chain, id) = deployed(&wat::parse_str(&text).unwrap());
        // An empty body costs nothing under the schedule (`end` is free).
        assert_eq!(
            call(&mut chain, &id, "empty", b"").gas_used,
            per_page * pages
        );
        if pages > 0 {
            let limit = per_page * pages - 1;
            let short = chain.call(&id, "write", b"", &ctx_with_gas(limit)).unwrap();
            assert_eq!(trapped(&short).0, TrapKind::OutOfGas);
            assert_eq!(short.gas_used, limit);
            assert!(chain.state(&id, b"").unwrap().is_empty());
        }
    }
}
