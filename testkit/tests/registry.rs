//! The registry contract through the real VM.

use borsh::BorshDeserialize;
use detvm_testkit::{CallResult, ContractId, TestChain};

/// The registry's `Entry`, as the contract encodes it.
#[derive(Debug, PartialEq, Eq, BorshDeserialize)]
struct Entry {
    owner: String,
    value: String,
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn setup() -> (TestChain, ContractId) {
    let mut chain = TestChain::new();
    let registry = chain.deploy_example("registry").expect("deploy registry");
    (chain, registry)
}

fn register(
    chain: &mut TestChain,
    registry: &ContractId,
    from: &str,
    name: &str,
    value: &str,
) -> CallResult {
    chain
        .call(registry, "register", &(s(name), s(value)))
        .from(from)
        .run()
}

fn lookup(chain: &TestChain, registry: &ContractId, name: &str) -> Option<Entry> {
    chain.view(registry, "lookup", &(s(name),)).run().returned()
}

fn names_of(chain: &TestChain, registry: &ContractId, owner: &str) -> u32 {
    chain
        .view(registry, "names_of", &(s(owner),))
        .run()
        .returned()
}

fn entry(owner: &str, value: &str) -> Option<Entry> {
    Some(Entry {
        owner: s(owner),
        value: s(value),
    })
}

#[test]
fn register_and_lookup() {
    let (mut chain, registry) = setup();
    assert_eq!(lookup(&chain, &registry, "alice.name"), None);
    let result = register(
        &mut chain,
        &registry,
        "alice",
        "alice.name",
        "https://example.org/alice",
    );
    result.assert_ok();
    assert_eq!(result.logs(), ["alice registered alice.name"]);
    assert_eq!(
        lookup(&chain, &registry, "alice.name"),
        entry("alice", "https://example.org/alice")
    );
    assert_eq!(names_of(&chain, &registry, "alice"), 1);
}

#[test]
fn a_taken_name_cannot_be_registered_again() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "shared", "first").assert_ok();
    let before = chain.state(&registry).unwrap();
    for who in ["bob", "alice"] {
        let result = register(&mut chain, &registry, who, "shared", "second");
        result
            .assert_host_trap("name is taken")
            .assert_no_state_changes();
    }
    assert_eq!(chain.state(&registry).unwrap(), before);
    assert_eq!(lookup(&chain, &registry, "shared"), entry("alice", "first"));
}

#[test]
fn only_the_owner_updates_transfers_or_releases() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "home", "v1").assert_ok();
    let before = chain.state(&registry).unwrap();

    let attempts = [
        chain
            .call(&registry, "update", &(s("home"), s("stolen")))
            .from("bob")
            .run(),
        chain
            .call(&registry, "transfer", &(s("home"), s("bob")))
            .from("bob")
            .run(),
        chain
            .call(&registry, "release", &(s("home"),))
            .from("bob")
            .run(),
    ];
    for attempt in &attempts {
        attempt
            .assert_host_trap("not the owner")
            .assert_no_state_changes();
    }
    assert_eq!(chain.state(&registry).unwrap(), before);
    assert_eq!(lookup(&chain, &registry, "home"), entry("alice", "v1"));
}

#[test]
fn owner_updates_value() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "home", "v1").assert_ok();
    chain
        .call(&registry, "update", &(s("home"), s("v2")))
        .from("alice")
        .run()
        .assert_ok();
    assert_eq!(lookup(&chain, &registry, "home"), entry("alice", "v2"));
}

#[test]
fn transfer_hands_over_ownership() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "home", "v1").assert_ok();
    let result = chain
        .call(&registry, "transfer", &(s("home"), s("bob")))
        .from("alice")
        .run();
    result.assert_ok();
    assert_eq!(result.logs(), ["alice transferred home to bob"]);
    assert_eq!(lookup(&chain, &registry, "home"), entry("bob", "v1"));
    assert_eq!(names_of(&chain, &registry, "alice"), 0);
    assert_eq!(names_of(&chain, &registry, "bob"), 1);

    // The old owner has lost every right; the new one has them.
    chain
        .call(&registry, "update", &(s("home"), s("v2")))
        .from("alice")
        .run()
        .assert_host_trap("not the owner");
    chain
        .call(&registry, "update", &(s("home"), s("v2")))
        .from("bob")
        .run()
        .assert_ok();
    assert_eq!(lookup(&chain, &registry, "home"), entry("bob", "v2"));
}

#[test]
fn release_frees_the_name() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "home", "v1").assert_ok();
    chain
        .call(&registry, "release", &(s("home"),))
        .from("alice")
        .run()
        .assert_ok();
    assert_eq!(lookup(&chain, &registry, "home"), None);
    assert_eq!(names_of(&chain, &registry, "alice"), 0);
    // Nothing left behind.
    assert!(chain.state(&registry).unwrap().is_empty());

    // Now anyone may take it.
    register(&mut chain, &registry, "bob", "home", "bob's").assert_ok();
    assert_eq!(lookup(&chain, &registry, "home"), entry("bob", "bob's"));

    // A free name has no owner to act.
    chain
        .call(&registry, "release", &(s("nobody"),))
        .from("alice")
        .run()
        .assert_host_trap("name is not registered");
}

#[test]
fn names_and_values_are_bounded() {
    let (mut chain, registry) = setup();
    register(&mut chain, &registry, "alice", "", "v").assert_host_trap("invalid name");
    register(&mut chain, &registry, "alice", &"n".repeat(65), "v").assert_host_trap("invalid name");
    register(&mut chain, &registry, "alice", &"n".repeat(64), "v").assert_ok();
    register(&mut chain, &registry, "alice", "long", &"v".repeat(1_025))
        .assert_host_trap("value too long");
    assert_eq!(names_of(&chain, &registry, "alice"), 1);
}

#[test]
fn counts_follow_ownership() {
    let (mut chain, registry) = setup();
    for name in ["a", "b", "c"] {
        register(&mut chain, &registry, "alice", name, "x").assert_ok();
    }
    register(&mut chain, &registry, "bob", "d", "x").assert_ok();
    chain
        .call(&registry, "transfer", &(s("a"), s("bob")))
        .from("alice")
        .run()
        .assert_ok();
    chain
        .call(&registry, "release", &(s("b"),))
        .from("alice")
        .run()
        .assert_ok();
    assert_eq!(names_of(&chain, &registry, "alice"), 1);
    assert_eq!(names_of(&chain, &registry, "bob"), 2);
}
