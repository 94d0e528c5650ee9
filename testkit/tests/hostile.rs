//! The hostile contract: every case ends in its documented trap, with the
//! contract's state unchanged and the host still standing.

use detvm_testkit::{ContractId, TestChain, TrapKind};

/// Gas for each case: enough to reach the limit each case aims at (growing
/// memory to 1,024 pages costs about 4.3 million), little enough that the
/// runaway cases stop quickly.
const GAS: u64 = 20_000_000;

fn setup() -> (TestChain, ContractId) {
    let mut chain = TestChain::new();
    let hostile = chain.deploy_example("hostile").expect("deploy hostile");
    (chain, hostile)
}

/// Runs `method` and checks it trapped with `kind` (and, for `host` traps, a
/// message containing `message`), changed no state, and left the chain
/// usable and deterministic.
fn expect_trap(method: &str, kind: TrapKind, message: &str) -> detvm_testkit::CallResult {
    let (mut chain, hostile) = setup();
    let before = chain.state(&hostile).unwrap();
    let result = chain.call(&hostile, method, &()).gas(GAS).run();
    result.assert_trap(kind).assert_no_state_changes();
    if kind == TrapKind::Host {
        result.assert_host_trap(message);
    }
    assert!(result.gas_used() <= GAS);
    assert_eq!(
        chain.state(&hostile).unwrap(),
        before,
        "{method} changed state"
    );
    assert_eq!(chain.state_raw(&hostile, b"hostile").unwrap(), None);
    // The host survived: the same chain still runs calls.
    let again = chain.call(&hostile, method, &()).gas(GAS).run();
    assert_eq!(again.trap_kind(), Some(kind));
    assert_eq!(
        again.receipt_hash(),
        result.receipt_hash(),
        "{method} is not deterministic"
    );
    result
}

#[test]
fn infinite_loop_runs_out_of_gas() {
    let result = expect_trap("infinite_loop", TrapKind::OutOfGas, "");
    assert_eq!(result.gas_used(), GAS);
}

#[test]
fn every_case_has_a_test() {
    // The contract's exports, minus memory and linker globals, are exactly
    // the cases tested here.
    let code = detvm_testkit::contracts::wasm("hostile").unwrap();
    let source = include_str!("hostile.rs");
    let mut cases = 0;
    for export in exported_functions(&code) {
        assert!(
            source.contains(&format!("\"{export}\"")),
            "no test for `{export}`"
        );
        cases += 1;
    }
    assert_eq!(cases, 13);
}

/// The names of the function exports of a Wasm module.
fn exported_functions(code: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        if let wasmparser::Payload::ExportSection(exports) = payload.unwrap() {
            for export in exports {
                let export = export.unwrap();
                if export.kind == wasmparser::ExternalKind::Func {
                    names.push(export.name.to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    expect_trap("recurse", TrapKind::StackOverflow, "");
}

#[test]
fn growing_memory_stops_at_the_limit() {
    let result = expect_trap("grow_memory", TrapKind::MemoryOutOfBounds, "");
    // It really grew to the limit first: about 1,000 pages at 4,096 gas each.
    assert!(result.gas_used() > 4_000_000, "gas {}", result.gas_used());
}

#[test]
fn allocating_forever_fails_in_the_allocator() {
    expect_trap(
        "allocate_forever",
        TrapKind::Host,
        "memory allocation of 1048576 bytes failed",
    );
}

#[test]
fn storage_spam_runs_out_of_gas() {
    let result = expect_trap("storage_spam", TrapKind::OutOfGas, "");
    assert_eq!(result.gas_used(), GAS);
}

#[test]
fn out_of_bounds_log() {
    expect_trap("oob_log", TrapKind::MemoryOutOfBounds, "");
}

#[test]
fn wrapping_pointer() {
    expect_trap("oob_wrapping_pointer", TrapKind::MemoryOutOfBounds, "");
}

#[test]
fn out_of_bounds_register_read() {
    expect_trap("oob_read_register", TrapKind::MemoryOutOfBounds, "");
}

#[test]
fn huge_log() {
    expect_trap("huge_log", TrapKind::Host, "log_utf8: logs would total");
}

#[test]
fn too_many_logs() {
    expect_trap("many_logs", TrapKind::Host, "log_utf8: more than 100 logs");
}

#[test]
fn over_long_key() {
    expect_trap(
        "long_key",
        TrapKind::Host,
        "storage_write: the key is 4096 bytes",
    );
}

#[test]
fn log_that_is_not_utf8() {
    expect_trap("invalid_utf8_log", TrapKind::Host, "log_utf8: not UTF-8");
}

#[test]
fn unset_register() {
    expect_trap(
        "unset_register",
        TrapKind::Host,
        "read_register: register 42 is not set",
    );
}
