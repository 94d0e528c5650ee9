//! The counter contract through the real VM.

use detvm_testkit::{ContractId, TestChain, TrapKind};

fn setup() -> (TestChain, ContractId) {
    let mut chain = TestChain::new();
    let counter = chain.deploy_example("counter").expect("deploy counter");
    (chain, counter)
}

fn get(chain: &TestChain, counter: &ContractId) -> u64 {
    chain.view(counter, "get", &()).run().returned()
}

#[test]
fn starts_at_zero() {
    let (chain, counter) = setup();
    assert_eq!(get(&chain, &counter), 0);
    assert!(chain.state(&counter).unwrap().is_empty());
}

#[test]
fn increments_persist_across_calls() {
    let (mut chain, counter) = setup();
    for expected in 1..=3u64 {
        let result = chain.call(&counter, "increment", &()).run();
        assert_eq!(result.returned::<u64>(), expected);
    }
    assert_eq!(
        chain
            .call(&counter, "increment_by", &(10u64,))
            .run()
            .returned::<u64>(),
        13
    );
    assert_eq!(get(&chain, &counter), 13);
    assert_eq!(
        chain.state_value::<u64>(&counter, b"count").unwrap(),
        Some(13)
    );
    assert_eq!(
        chain
            .call(&counter, "decrement", &())
            .run()
            .returned::<u64>(),
        12
    );
    assert_eq!(get(&chain, &counter), 12);
}

#[test]
fn a_call_reports_its_state_change() {
    let (mut chain, counter) = setup();
    let result = chain.call(&counter, "increment_by", &(7u64,)).run();
    result.assert_ok();
    assert_eq!(
        result.state_changes(),
        &[(b"count".to_vec(), Some(7u64.to_le_bytes().to_vec()))]
    );
    assert!(result.gas_used() > 0);
}

#[test]
fn reset_logs_the_caller() {
    let (mut chain, counter) = setup();
    chain.call(&counter, "increment", &()).run().assert_ok();
    let reset = chain.call(&counter, "reset", &()).from("bob").run();
    reset.assert_ok();
    assert_eq!(reset.logs(), ["reset by bob"]);
    assert_eq!(get(&chain, &counter), 0);
}

#[test]
fn trapped_call_changes_nothing() {
    let (mut chain, counter) = setup();
    chain
        .call(&counter, "increment_by", &(5u64,))
        .run()
        .assert_ok();
    let before = chain.state(&counter).unwrap();

    // Writes, logs, then aborts: the write is discarded.
    let failed = chain.call(&counter, "increment_and_fail", &()).run();
    failed.assert_host_trap("failing after the increment");
    assert!(failed.state_changes().is_empty());
    assert_eq!(chain.state(&counter).unwrap(), before);
    assert_eq!(get(&chain, &counter), 5);

    // Overflow is refused with a message, before any write.
    chain
        .call(&counter, "increment_by", &(u64::MAX,))
        .run()
        .assert_host_trap("counter overflow");
    assert_eq!(get(&chain, &counter), 5);
}

#[test]
fn decrement_at_zero_fails() {
    let (mut chain, counter) = setup();
    let result = chain.call(&counter, "decrement", &()).run();
    result
        .assert_host_trap("counter is zero")
        .assert_no_state_changes();
    assert!(chain.state(&counter).unwrap().is_empty());
}

#[test]
fn out_of_gas_changes_nothing() {
    let (mut chain, counter) = setup();
    chain.call(&counter, "increment", &()).run().assert_ok();
    let full = chain.call(&counter, "increment", &()).run();
    assert_eq!(full.returned::<u64>(), 2);
    // Any gas short of what the call needs: too little to start (memory is
    // paid first), enough to start but not for the storage write, one short.
    for gas in [1_000, full.gas_used() / 2, full.gas_used() - 1] {
        let result = chain.call(&counter, "increment", &()).gas(gas).run();
        result
            .assert_trap(TrapKind::OutOfGas)
            .assert_no_state_changes();
        assert_eq!(result.gas_used(), gas);
        assert_eq!(get(&chain, &counter), 2);
    }
    // Exactly enough succeeds.
    let exact = chain
        .call(&counter, "increment", &())
        .gas(full.gas_used())
        .run();
    assert_eq!(exact.returned::<u64>(), 3);
    assert_eq!(exact.gas_used(), full.gas_used());
}

#[test]
fn views_cannot_write() {
    let (chain, counter) = setup();
    let result = chain.view(&counter, "increment", &()).run();
    result.assert_trap(TrapKind::Host);
    assert!(chain.state(&counter).unwrap().is_empty());
}

#[test]
fn bad_arguments_and_unknown_methods() {
    let (mut chain, counter) = setup();
    // increment_by takes a u64: one byte is not one.
    chain
        .call_raw(&counter, "increment_by", vec![1u8])
        .run()
        .assert_host_trap("invalid arguments");
    // A method with no parameters takes empty input.
    chain
        .call(&counter, "increment", &(1u8,))
        .run()
        .assert_host_trap("invalid arguments");
    chain
        .call(&counter, "missing", &())
        .run()
        .assert_error("unknown_method");
    chain
        .call(&counter, "increment", &())
        .from("not an account!")
        .run()
        .assert_error("invalid_account");
    assert_eq!(get(&chain, &counter), 0);
}
