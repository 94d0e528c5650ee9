//! Shared helpers: contracts in WebAssembly text, a chain, call contexts.

#![allow(dead_code)]

use detvm_host::{CallContext, Chain, ContractId, HostFees, Receipt, ReceiptOutcome, TrapKind};
use detvm_metering::Schedule;

/// Every host function, imported under a `$name` of its own.
pub const IMPORTS: &str = r#"
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "value_return" (func $value_return (param i32 i32)))
  (import "env" "log_utf8" (func $log_utf8 (param i32 i32)))
  (import "env" "panic_utf8" (func $panic_utf8 (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i64) (result i32)))
  (import "env" "storage_remove" (func $storage_remove (param i32 i32 i64) (result i32)))
  (import "env" "storage_has_key" (func $storage_has_key (param i32 i32) (result i32)))
  (import "env" "current_contract" (func $current_contract (param i64)))
  (import "env" "caller" (func $caller (param i64)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "block_timestamp" (func $block_timestamp (result i64)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i64)))
"#;

/// A contract: all imports, `pages` pages of memory, then `items`.
pub fn contract(pages: u32, items: &str) -> Vec<u8> {
    let text = format!("(module {IMPORTS} (memory (export \"memory\") {pages}) {items})");
    wat::parse_str(&text).unwrap_or_else(|e| panic!("test contract does not parse: {e}\n{text}"))
}

/// An exported method `name` with body `body`.
pub fn method(name: &str, body: &str) -> String {
    format!("(func (export \"{name}\") {body})")
}

pub const GAS: u64 = 100_000_000;

pub fn ctx() -> CallContext {
    ctx_with_gas(GAS)
}

pub fn ctx_with_gas(gas: u64) -> CallContext {
    CallContext {
        caller: "alice".into(),
        gas,
        block_height: 7,
        block_timestamp: 1_700_000_000_000_000_000,
        amount: 0,
    }
}

pub fn fees() -> HostFees {
    HostFees::v2()
}

pub fn schedule() -> Schedule {
    Schedule::v1()
}

/// Cost of `n` constants.
pub fn consts(n: u64) -> u64 {
    u64::from(schedule().constant) * n
}

pub fn call_cost() -> u64 {
    u64::from(schedule().call)
}

pub fn drop_cost() -> u64 {
    u64::from(schedule().drop)
}

/// A fresh in-memory chain with `code` deployed by `deployer`.
pub fn deployed(code: &[u8]) -> (Chain, ContractId) {
    let mut chain = Chain::in_memory().expect("chain");
    let receipt = chain.deploy(code, "deployer").expect("deploy");
    (chain, receipt.contract)
}

pub fn call(chain: &mut Chain, contract: &ContractId, method: &str, args: &[u8]) -> Receipt {
    chain
        .call(contract, method, args, &ctx())
        .unwrap_or_else(|e| panic!("call {method}: {e}"))
}

pub fn returned(receipt: &Receipt) -> &[u8] {
    match &receipt.outcome {
        ReceiptOutcome::Returned(bytes) => bytes,
        other => panic!("expected a return, got {other:?}"),
    }
}

/// The trap of `receipt`, asserting it lists no state change.
pub fn trapped(receipt: &Receipt) -> (TrapKind, Option<String>) {
    assert!(
        receipt.state_changes.is_empty(),
        "a trapped call lists no changes: {receipt:?}"
    );
    match &receipt.outcome {
        ReceiptOutcome::Trapped { kind, message } => (*kind, message.clone()),
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// WAT for a data segment at `offset`.
pub fn data(offset: u32, bytes: &str) -> String {
    format!("(data (i32.const {offset}) \"{bytes}\")")
}
