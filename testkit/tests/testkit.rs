//! The test kit's own behaviour: errors, accessors, blocks.

use detvm_testkit::{DEFAULT_ACCOUNT, Error, TestChain, TrapKind, contracts};

#[test]
fn every_example_contract_is_built_and_deploys() {
    let mut chain = TestChain::new();
    for name in contracts::NAMES {
        let path = contracts::path(name).unwrap();
        assert!(path.ends_with(format!("{name}.wasm")), "{}", path.display());
        let id = chain.deploy_file(&path).unwrap();
        assert!(chain.chain().contains(&id).unwrap());
    }
}

#[test]
fn missing_things_are_errors() {
    let mut chain = TestChain::new();
    assert!(matches!(
        contracts::path("nope"),
        Err(Error::NoContract { .. })
    ));
    assert!(matches!(
        chain.deploy_file("/nonexistent/contract.wasm"),
        Err(Error::Read { .. })
    ));
    let rejected = chain.deploy(b"not wasm").unwrap_err();
    assert!(matches!(rejected, Error::Chain(_)), "{rejected}");
}

#[test]
fn refused_calls_have_no_receipt() {
    let mut chain = TestChain::new();
    let counter = chain.deploy_example("counter").unwrap();
    let result = chain.call(&counter, "nope", &()).run();
    assert!(!result.is_ok());
    assert!(result.receipt().is_none());
    assert_eq!(result.gas_used(), 0);
    assert!(result.logs().is_empty());
    assert!(result.state_changes().is_empty());
    assert_eq!(result.receipt_hash(), None);
    assert!(matches!(
        result.try_returned::<u64>(),
        Err(Error::NoReturnValue(_))
    ));
    result.assert_error("unknown_method");
}

#[test]
fn wrong_return_type_is_a_decode_error() {
    let mut chain = TestChain::new();
    let counter = chain.deploy_example("counter").unwrap();
    let result = chain.call(&counter, "increment", &()).run();
    // A u64 is 8 bytes; a u128 needs 16.
    assert!(matches!(
        result.try_returned::<u128>(),
        Err(Error::Decode { .. })
    ));
    assert_eq!(result.try_returned::<u64>().unwrap(), 1);
}

#[test]
fn deploys_are_per_account() {
    let mut chain = TestChain::new();
    let code = contracts::wasm("counter").unwrap();
    let first = chain.deploy(&code).unwrap();
    let second = chain.deploy(&code).unwrap();
    let other = chain.deploy_as(&code, "bob").unwrap();
    assert_ne!(first, second);
    assert_ne!(first, other);
    // Each contract has its own state.
    chain
        .call(&first, "increment", &())
        .from(DEFAULT_ACCOUNT)
        .run()
        .assert_ok();
    assert_eq!(chain.view(&second, "get", &()).run().returned::<u64>(), 0);
}

#[test]
#[should_panic(expected = "to trap with `out_of_gas`")]
fn assertion_helpers_explain_failures() {
    let mut chain = TestChain::new();
    let counter = chain.deploy_example("counter").unwrap();
    chain
        .call(&counter, "increment", &())
        .run()
        .assert_trap(TrapKind::OutOfGas);
}

#[test]
fn caller_contract_and_block_reach_the_contract() {
    let mut chain = TestChain::new();
    let counter = chain.deploy_example("counter").unwrap();
    let context =
        |result: detvm_testkit::CallResult| result.returned::<(String, String, u64, u64)>();

    let (caller, contract, height, timestamp) = context(chain.view(&counter, "context", &()).run());
    assert_eq!(caller, DEFAULT_ACCOUNT);
    assert_eq!(contract, counter.as_str());
    assert_eq!((height, timestamp), (1, 1_000_000_000));

    chain.set_block(9, 42);
    let seen = context(chain.call(&counter, "context", &()).from("bob").run());
    assert_eq!(seen, ("bob".to_owned(), counter.to_string(), 9, 42));

    let seen = context(
        chain
            .view(&counter, "context", &())
            .block_height(5)
            .block_timestamp(7)
            .run(),
    );
    assert_eq!((seen.2, seen.3), (5, 7));
}
