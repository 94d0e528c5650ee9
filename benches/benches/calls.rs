//! Cross-contract calls (`docs/host-api.md`, "Cross-contract calls"): what a
//! nested call costs next to a direct one, on a chain over in-memory
//! storage, one call per iteration as a node runs them (module cache hit,
//! instantiation, metered run, commit).
//!
//! * `direct_empty`: the transaction calls an empty method.
//! * `nested_empty`: the transaction calls a method whose only work is one
//!   `call_contract` to that empty method; the difference is the price of
//!   a nested call (a second instance, a write layer, the register).
//! * `token_transfer_direct` / `token_transfer_via_escrow`: a token transfer
//!   made by the signer, and the same transfer made by the escrow example
//!   contract (`release`, which calls the token), when the escrow is built.

use criterion::{Criterion, criterion_group, criterion_main};
use detvm_host::{CallContext, Chain, ContractId, ReceiptOutcome};
use detvm_testkit::contracts::wasm;

const GAS: u64 = 100_000_000;

/// An empty method, and a method that calls it in the contract whose id it
/// is given as input.
const CALLEE: &str = r#"(module
  (memory 1)
  (func (export "empty")))"#;

const CALLER: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "call_contract"
    (func $call (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (memory 1)
  (data (i32.const 100) "empty")
  (func (export "call_empty")
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 0))
    ;; contract id (40 bytes) at 0, method at 100, no args, amount 0 at 200
    (if (call $call (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 5)
                    (i32.const 300) (i32.const 0) (i32.const 200)
                    (i64.const -1) (i64.const 1))
      (then unreachable))))"#;

fn context() -> CallContext {
    CallContext {
        caller: "bench".into(),
        gas: GAS,
        block_height: 1,
        block_timestamp: 0,
        amount: 0,
    }
}

fn deploy(chain: &mut Chain, wat: &str) -> ContractId {
    let code = wat::parse_str(wat).expect("the benchmark contracts parse");
    chain
        .deploy(&code, "bench")
        .expect("the benchmark contracts deploy")
        .contract
}

fn empty_calls(c: &mut Criterion) {
    let mut chain = Chain::in_memory().expect("an in-memory chain");
    let callee = deploy(&mut chain, CALLEE);
    let caller = deploy(&mut chain, CALLER);
    let ctx = context();
    let mut group = c.benchmark_group("cross_contract");
    group.bench_function("direct_empty", |b| {
        b.iter(|| {
            let receipt = chain.call(&callee, "empty", b"", &ctx).expect("runs");
            assert!(receipt.is_success());
        })
    });
    let input = callee.as_str().as_bytes().to_vec();
    group.bench_function("nested_empty", |b| {
        b.iter(|| {
            let receipt = chain
                .call(&caller, "call_empty", &input, &ctx)
                .expect("runs");
            assert!(receipt.is_success(), "{:?}", receipt.outcome);
        })
    });
    group.finish();
}

fn call_ok(
    chain: &mut Chain,
    contract: &ContractId,
    from: &str,
    method: &str,
    args: &[u8],
) -> Vec<u8> {
    let ctx = CallContext {
        caller: from.into(),
        ..context()
    };
    let receipt = chain.call(contract, method, args, &ctx).expect("runs");
    match receipt.outcome {
        ReceiptOutcome::Returned(value) => value,
        other => panic!("{method} failed: {other:?}"),
    }
}

fn args<T: borsh::BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("encodes")
}

fn escrow_transfers(c: &mut Criterion) {
    let (Ok(token_code), Ok(escrow_code)) = (wasm("token"), wasm("escrow")) else {
        eprintln!("the example contracts are not built; skipping the escrow benchmarks");
        return;
    };
    let mut chain = Chain::in_memory().expect("an in-memory chain");
    let token = chain
        .deploy(&token_code, "owner")
        .expect("deploys")
        .contract;
    let escrow = chain
        .deploy(&escrow_code, "owner")
        .expect("deploys")
        .contract;
    call_ok(
        &mut chain,
        &token,
        "owner",
        "init",
        &args(&("TOK".to_string(),)),
    );
    call_ok(
        &mut chain,
        &token,
        "owner",
        "mint",
        &args(&("alice".to_string(), u128::MAX / 4)),
    );
    call_ok(
        &mut chain,
        &token,
        "alice",
        "approve",
        &args(&(escrow.to_string(), u128::MAX / 4)),
    );

    let mut group = c.benchmark_group("cross_contract");
    let transfer = args(&("bob".to_string(), 1u128));
    group.bench_function("token_transfer_direct", |b| {
        b.iter(|| call_ok(&mut chain, &token, "alice", "transfer", &transfer))
    });
    // Each release settles one escrow: a fresh one is created (outside
    // the measurement) for every iteration.
    let create = args(&(
        token.to_string(),
        "bob".to_string(),
        "arbiter".to_string(),
        1u128,
    ));
    group.bench_function("token_transfer_via_escrow", |b| {
        b.iter_custom(|iters| {
            let mut measured = std::time::Duration::ZERO;
            for _ in 0..iters {
                let id = call_ok(&mut chain, &escrow, "alice", "create", &create);
                let start = std::time::Instant::now();
                call_ok(&mut chain, &escrow, "arbiter", "release", &id);
                measured += start.elapsed();
            }
            measured
        })
    });
    group.finish();
}

criterion_group!(benches, empty_calls, escrow_transfers);
criterion_main!(benches);
