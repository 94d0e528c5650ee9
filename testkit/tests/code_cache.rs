//! A code cache hit changes nothing (`docs/vm.md`, "Compiled code on
//! disk"): the same deploys and calls give the same receipts, gas and
//! errors without a cache, with an empty one (every module compiled and
//! written) and with a full one after a restart (every module loaded).

use std::sync::Arc;

use detvm_host::{CallContext, Chain, CodeCache, ContractId};
use detvm_testkit::contracts;

/// Modules that trap, run out of gas, or are refused at deploy, next to
/// the example contracts.
const EXTRA: &[&str] = &[
    r#"(module (memory 1) (func (export "boom") unreachable))"#,
    r#"(module (memory 1) (func (export "spin") (loop (br 0))))"#,
    r#"(module (memory 1)
         (func (export "divide") (drop (i32.div_s (i32.const 1) (i32.const 0)))))"#,
    r#"(module (memory 1)
         (func (export "deep") (call 0)))"#,
    // Refused: a start function.
    r#"(module (memory 1) (func $s) (start $s) (func (export "x")))"#,
    // Refused: not a valid module for the profile (an import outside the
    // allow-list).
    r#"(module (import "env" "no_such_host_function" (func)) (memory 1) (func (export "x")))"#,
];

/// Methods called on every deployed contract: most trap or are unknown for
/// most contracts, which is part of what must not change.
const METHODS: &[(&str, &[u8])] = &[
    ("increment", b""),
    ("increment", b""),
    ("get", b""),
    ("total_supply", b""),
    ("symbol", b""),
    ("boom", b""),
    ("spin", b""),
    ("divide", b""),
    ("deep", b""),
    ("no_such_method", b""),
];

fn context(gas: u64) -> CallContext {
    CallContext {
        caller: "alice".into(),
        gas,
        block_height: 1,
        block_timestamp: 0,
        amount: 0,
    }
}

/// A receipt with its gas, or an error as clients see it: its kind and
/// message. Not the error's `Debug`: a rejection loaded from the cache
/// keeps only its kind and message, not the engine's error behind it.
fn entry<T: std::fmt::Debug>(result: &Result<T, detvm_host::Error>) -> String {
    match result {
        Ok(receipt) => format!("Ok({receipt:?})"),
        Err(e) => format!("Err({}: {e})", e.kind()),
    }
}

/// Every deploy and call of the scenario, as text: receipts with their
/// gas, and errors with their messages.
fn scenario(chain: &mut Chain) -> Vec<String> {
    let mut codes: Vec<Vec<u8>> = contracts::NAMES
        .iter()
        .map(|name| contracts::wasm(name).expect("example contracts are built"))
        .collect();
    codes.extend(
        EXTRA
            .iter()
            .map(|wat| wat::parse_str(wat).expect("valid text")),
    );
    let mut log = Vec::new();
    let mut deployed: Vec<ContractId> = Vec::new();
    for code in &codes {
        let receipt = chain.deploy(code, "alice");
        if let Ok(receipt) = &receipt {
            deployed.push(receipt.contract.clone());
        }
        log.push(entry(&receipt));
    }
    for contract in &deployed {
        for (method, input) in METHODS {
            for gas in [1_000_000, 5_000] {
                let receipt = chain.call(contract, method, input, &context(gas));
                log.push(entry(&receipt));
            }
        }
    }
    log
}

#[test]
fn receipts_are_the_same_without_a_cache_on_a_miss_and_on_a_hit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("code-cache");

    let reference = scenario(&mut Chain::in_memory().expect("chain"));

    let mut cold = Chain::in_memory().expect("chain");
    cold.set_code_cache(Arc::new(CodeCache::open(&cache_dir, 1 << 30)));
    assert_eq!(scenario(&mut cold), reference, "cache empty: compiled");
    let written = cold.code_cache().expect("set").stats();
    let codes = (contracts::NAMES.len() + EXTRA.len()) as u64;
    assert_eq!((written.hits, written.writes), (0, codes), "{written:?}");

    // A restart: new engine, new process-wide state, the same directory.
    let mut warm = Chain::in_memory().expect("chain");
    warm.set_code_cache(Arc::new(CodeCache::open(&cache_dir, 1 << 30)));
    assert_eq!(scenario(&mut warm), reference, "cache full: loaded");
    let loaded = warm.code_cache().expect("set").stats();
    assert_eq!((loaded.hits, loaded.misses), (codes, 0), "{loaded:?}");

    // Some calls trapped, ran out of gas or were refused, so those paths
    // were compared too.
    let text = reference.join("\n");
    for expected in [
        "OutOfGas",
        "Unreachable",
        "IntegerDivideByZero",
        "StackOverflow",
        "start_function",
    ] {
        assert!(text.contains(expected), "no {expected} in the scenario");
    }
}
