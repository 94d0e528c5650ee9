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
use detvm_host::{CallContext, Chain, ContractId};

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
            let receipt = chain.call(&caller, "call_empty", &input, &ctx).expect("runs");
            assert!(receipt.is_success(), "{:?}", receipt.outcome);
        })
    });
    group.finish();
}

criterion_group!(benches, empty_calls);
criterion_main!(benches);
