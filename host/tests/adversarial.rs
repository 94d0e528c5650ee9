//! The adversarial corpus (`detvm_fixtures::adversarial`) through the
//! chain: every frame shape, and every compile shape at its largest size,
//! is deployed (or refused with `limit_exceeded`) and its method, which
//! recurses without bound, is called repeatedly. Every call must return a
//! receipt with a deterministic `stack_overflow` or `out_of_gas` trap and
//! no state change, never an engine error or a crash, and the chain must
//! answer an ordinary call afterwards.

mod common;

use common::{call, contract, ctx_with_gas, method, returned};
use detvm_fixtures::adversarial::{self, METHOD, Shape};
use detvm_host::{Chain, ContractId, Receipt, ReceiptOutcome, TrapKind};

/// Gas of the calls that must end on the stack bound (or out of gas).
const GAS: u64 = 100_000_000;
/// Gas of the calls that must run out first.
const LITTLE_GAS: u64 = 10_000;
/// Calls per deployed shape.
const CALLS: usize = 5;

/// A contract whose `ping` returns 42 as four little-endian bytes.
fn ping_contract() -> Vec<u8> {
    contract(
        1,
        &method(
            "ping",
            "(i32.store (i32.const 0) (i32.const 42)) \
             (call $value_return (i32.const 0) (i32.const 4))",
        ),
    )
}

fn assert_deterministic_trap(what: &str, receipt: &Receipt) -> TrapKind {
    assert!(
        receipt.state_changes.is_empty(),
        "{what}: a trapped call changes nothing: {receipt:?}"
    );
    match &receipt.outcome {
        ReceiptOutcome::Trapped { kind, .. }
            if matches!(kind, TrapKind::StackOverflow | TrapKind::OutOfGas) =>
        {
            *kind
        }
        other => panic!("{what}: expected a stack_overflow or out_of_gas trap, got {other:?}"),
    }
}

/// Deploys `shape` at `n` and calls its method [`CALLS`] times, with
/// plenty of gas and with little; then checks the chain still answers
/// `ping` of `ping_id`.
fn exercise(chain: &mut Chain, ping_id: &ContractId, shape: &Shape, n: u32) {
    let what = format!("{:?}/{} at n = {n}", shape.family, shape.name);
    let code = shape.module(n);
    match chain.deploy(&code, "deployer") {
        Ok(deployed) => {
            let mut first = None;
            for i in 0..CALLS {
                let gas = if i % 2 == 0 { GAS } else { LITTLE_GAS };
                let receipt = chain
                    .call(&deployed.contract, METHOD, b"", &ctx_with_gas(gas))
                    .unwrap_or_else(|e| panic!("{what}, call {i}: {e}"));
                let kind = assert_deterministic_trap(&format!("{what}, call {i}"), &receipt);
                assert!(receipt.gas_used <= gas, "{what}: {receipt:?}");
                if gas == LITTLE_GAS {
                    // The stack bound can only come first if the first
                    // frame does not fit at all.
                    assert!(
                        kind == TrapKind::OutOfGas || receipt.gas_used < LITTLE_GAS,
                        "{what}: {receipt:?}"
                    );
                }
                // Calls with the same gas end the same way.
                if gas == GAS {
                    match &first {
                        None => first = Some(receipt),
                        Some(earlier) => assert_eq!(earlier, &receipt, "{what}"),
                    }
                }
            }
        }
        Err(e) if e.kind() == "limit_exceeded" => {}
        Err(e) => panic!("{what}: deploy failed: {e}"),
    }
    let pong = call(chain, ping_id, "ping", b"");
    assert_eq!(returned(&pong), 42u32.to_le_bytes(), "after {what}");
}

fn chain_with_ping() -> (Chain, ContractId) {
    let mut chain = Chain::in_memory().expect("chain");
    let ping = chain.deploy(&ping_contract(), "deployer").expect("deploy");
    (chain, ping.contract)
}

/// The size of `shape` to deploy: its largest, except for the shapes of
/// about 87,000 calls in one body, which a test build compiles in about
/// 40 s each: an eighth of it there.
fn size(shape: &Shape) -> u32 {
    let flood = matches!(
        shape.name,
        "float_calls" | "int_calls" | "small_to_large" | "live_across_calls"
    );
    if flood && cfg!(debug_assertions) {
        shape.max_n() / 8
    } else {
        shape.max_n()
    }
}

#[test]
fn frame_shapes_end_in_deterministic_traps() {
    let (mut chain, ping) = chain_with_ping();
    for shape in adversarial::frame_corpus() {
        for n in [1, 64] {
            exercise(&mut chain, &ping, &shape, n);
        }
        exercise(&mut chain, &ping, &shape, size(&shape));
    }
}

#[test]
fn compile_shapes_at_their_largest_end_in_deterministic_traps() {
    let (mut chain, ping) = chain_with_ping();
    for shape in adversarial::compile_corpus() {
        exercise(&mut chain, &ping, &shape, size(&shape));
    }
}
