//! The token contract through the real VM, and its allowances and events
//! through the node's executor too.

use detvm_testkit::{CallResult, ContractId, DevChain, Devnet, TestChain, topic};

const OWNER: &str = "alice";

fn s(text: &str) -> String {
    text.to_owned()
}

/// A chain with the token deployed and initialised by `alice`.
fn setup() -> (TestChain, ContractId) {
    let mut chain = TestChain::new();
    let token = chain.deploy_example("token").expect("deploy token");
    chain
        .call(&token, "init", &(s("TOK"),))
        .from(OWNER)
        .run()
        .assert_ok();
    (chain, token)
}

fn mint(
    chain: &mut TestChain,
    token: &ContractId,
    from: &str,
    to: &str,
    amount: u128,
) -> CallResult {
    chain.call(token, "mint", &(s(to), amount)).from(from).run()
}

fn transfer(
    chain: &mut TestChain,
    token: &ContractId,
    from: &str,
    to: &str,
    amount: u128,
) -> CallResult {
    chain
        .call(token, "transfer", &(s(to), amount))
        .from(from)
        .run()
}

fn balance(chain: &TestChain, token: &ContractId, account: &str) -> u128 {
    chain
        .view(token, "balance_of", &(s(account),))
        .run()
        .returned()
}

fn supply(chain: &TestChain, token: &ContractId) -> u128 {
    chain.view(token, "total_supply", &()).run().returned()
}

/// The sum of every balance in the committed state.
fn sum_of_balances(chain: &TestChain, token: &ContractId) -> u128 {
    chain
        .state(token)
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(b"balance:"))
        .map(|(_, v)| borsh::from_slice::<u128>(v).unwrap())
        .sum()
}

#[test]
fn init_sets_owner_and_symbol_once() {
    let (mut chain, token) = setup();
    let owner: Option<String> = chain.view(&token, "owner", &()).run().returned();
    assert_eq!(owner.as_deref(), Some(OWNER));
    let symbol: Option<String> = chain.view(&token, "symbol", &()).run().returned();
    assert_eq!(symbol.as_deref(), Some("TOK"));
    assert_eq!(supply(&chain, &token), 0);

    let again = chain
        .call(&token, "init", &(s("XXX"),))
        .from("mallory")
        .run();
    again
        .assert_host_trap("already initialized")
        .assert_no_state_changes();
    let owner: Option<String> = chain.view(&token, "owner", &()).run().returned();
    assert_eq!(owner.as_deref(), Some(OWNER));
}

#[test]
fn methods_need_init() {
    let mut chain = TestChain::new();
    let token = chain.deploy_example("token").unwrap();
    chain
        .view(&token, "balance_of", &(s("bob"),))
        .run()
        .assert_host_trap("not initialized");
    transfer(&mut chain, &token, "bob", "carol", 0).assert_host_trap("not initialized");
    let owner: Option<String> = chain.view(&token, "owner", &()).run().returned();
    assert_eq!(owner, None);
}

#[test]
fn owner_mints() {
    let (mut chain, token) = setup();
    let result = mint(&mut chain, &token, OWNER, "bob", 1_000);
    result.assert_ok();
    assert_eq!(result.logs(), ["mint 1000 to bob"]);
    assert_eq!(balance(&chain, &token, "bob"), 1_000);
    assert_eq!(supply(&chain, &token), 1_000);
}

#[test]
fn only_the_owner_mints() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 10).assert_ok();
    let before = chain.state(&token).unwrap();

    let result = mint(&mut chain, &token, "bob", "bob", 1_000_000);
    result.assert_host_trap("only the owner can mint");
    assert!(result.state_changes().is_empty());
    assert_eq!(chain.state(&token).unwrap(), before);
    assert_eq!(balance(&chain, &token, "bob"), 10);
    assert_eq!(supply(&chain, &token), 10);
}

#[test]
fn supply_cannot_overflow() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", u128::MAX).assert_ok();
    mint(&mut chain, &token, OWNER, "carol", 1).assert_host_trap("total supply overflow");
    assert_eq!(supply(&chain, &token), u128::MAX);
    assert_eq!(balance(&chain, &token, "carol"), 0);
}

#[test]
fn transfer_moves_balance() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 100).assert_ok();
    let result = transfer(&mut chain, &token, "bob", "carol", 30);
    result.assert_ok();
    assert_eq!(result.logs(), ["transfer 30 from bob to carol"]);
    assert_eq!(balance(&chain, &token, "bob"), 70);
    assert_eq!(balance(&chain, &token, "carol"), 30);
    assert_eq!(supply(&chain, &token), 100);

    // Emptying an account removes its entry.
    let result = transfer(&mut chain, &token, "bob", "carol", 70);
    result.assert_ok();
    assert!(
        result
            .state_changes()
            .contains(&(b"balance:bob".to_vec(), None))
    );
    assert_eq!(chain.state_raw(&token, b"balance:bob").unwrap(), None);
    assert_eq!(balance(&chain, &token, "carol"), 100);

    // To oneself: nothing moves.
    transfer(&mut chain, &token, "carol", "carol", 40).assert_ok();
    assert_eq!(balance(&chain, &token, "carol"), 100);
}

#[test]
fn insufficient_balance_fails_and_changes_nothing() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 50).assert_ok();
    let before = chain.state(&token).unwrap();

    let result = transfer(&mut chain, &token, "bob", "carol", 51);
    result.assert_host_trap("insufficient balance: bob has 50, needs 51");
    assert!(result.state_changes().is_empty());
    assert_eq!(chain.state(&token).unwrap(), before);
    assert_eq!(balance(&chain, &token, "bob"), 50);
    assert_eq!(balance(&chain, &token, "carol"), 0);

    // An account that never held anything.
    transfer(&mut chain, &token, "dave", "bob", 1).assert_host_trap("insufficient balance");
    assert_eq!(chain.state(&token).unwrap(), before);
}

#[test]
fn total_supply_is_the_sum_of_balances() {
    let (mut chain, token) = setup();
    let accounts = ["bob", "carol", "dave", "erin"];
    for (i, account) in accounts.iter().enumerate() {
        mint(&mut chain, &token, OWNER, account, 1_000 * (i as u128 + 1)).assert_ok();
    }
    // A deterministic mix of transfers, some of which fail.
    let (mut succeeded, mut failed) = (0, 0);
    for step in 0..24u128 {
        let from = accounts[(step % 4) as usize];
        let to = accounts[((step * 3 + 1) % 4) as usize];
        let amount = (step * 577) % 2_500;
        if transfer(&mut chain, &token, from, to, amount).is_ok() {
            succeeded += 1;
        } else {
            failed += 1;
        }
        assert_eq!(sum_of_balances(&chain, &token), supply(&chain, &token));
    }
    assert!(
        succeeded > 0 && failed > 0,
        "{succeeded} succeeded, {failed} failed"
    );
    assert_eq!(supply(&chain, &token), 10_000);
    let total: u128 = accounts.iter().map(|a| balance(&chain, &token, a)).sum();
    assert_eq!(total, 10_000);
}

#[test]
fn views_do_not_commit() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 5).assert_ok();
    let before = chain.state(&token).unwrap();
    // A state-changing method run as a view traps at its first write.
    let view = chain
        .view(&token, "transfer", &(s("carol"), 1u128))
        .from("bob")
        .run();
    assert!(!view.is_ok());
    assert_eq!(chain.state(&token).unwrap(), before);
}

/// The same calls on two fresh chains give identical receipts, hash for
/// hash, including failed calls.
#[test]
fn identical_call_sequences_give_identical_receipts() {
    fn run_sequence() -> Vec<[u8; 32]> {
        let mut chain = TestChain::new();
        let token = chain.deploy_example("token").unwrap();
        let mut hashes = Vec::new();
        let mut record = |result: CallResult| hashes.push(result.receipt_hash().unwrap());
        record(chain.call(&token, "init", &(s("TOK"),)).from(OWNER).run());
        record(mint(&mut chain, &token, OWNER, "bob", 500));
        record(mint(&mut chain, &token, "bob", "bob", 500));
        record(transfer(&mut chain, &token, "bob", "carol", 200));
        record(transfer(&mut chain, &token, "carol", "dave", 201));
        record(chain.call(&token, "total_supply", &()).run());
        record(
            chain
                .call(&token, "transfer", &(s("x"), 1u128))
                .from("bob")
                .gas(5_000)
                .run(),
        );
        hashes
    }
    let first = run_sequence();
    let second = run_sequence();
    assert_eq!(first.len(), 7);
    assert_eq!(first, second);
    // Different calls give different receipts.
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert_eq!(distinct.len(), first.len());
}

// ---- allowances and events ---------------------------------------------------

fn allowance(chain: &TestChain, token: &ContractId, owner: &str, spender: &str) -> u128 {
    chain
        .view(token, "allowance", &(s(owner), s(spender)))
        .run()
        .returned()
}

#[test]
fn mint_and_transfer_emit_events() {
    let (mut chain, token) = setup();
    let minted = mint(&mut chain, &token, OWNER, "bob", 100);
    minted.assert_event(
        token.as_str(),
        &[topic("Mint"), topic("bob")],
        &(s("bob"), 100u128),
    );
    assert_eq!(minted.events().len(), 1);

    let moved = transfer(&mut chain, &token, "bob", "carol", 30);
    moved.assert_event(
        token.as_str(),
        &[topic("Transfer"), topic("bob"), topic("carol")],
        &(s("bob"), s("carol"), 30u128),
    );
    assert_eq!(moved.events().len(), 1);
    assert!(moved.calls().is_empty(), "the token calls no one");

    // A failed transfer keeps no event.
    transfer(&mut chain, &token, "bob", "carol", 1_000)
        .assert_host_trap("insufficient balance")
        .assert_no_events();
}

#[test]
fn approve_sets_and_replaces_the_allowance() {
    let (mut chain, token) = setup();
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 0);
    let approved = chain
        .call(&token, "approve", &(s("carol"), 50u128))
        .from("bob")
        .run();
    approved.assert_ok().assert_event(
        token.as_str(),
        &[topic("Approval"), topic("bob"), topic("carol")],
        &(s("bob"), s("carol"), 50u128),
    );
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 50);
    // Directional: carol gave bob nothing.
    assert_eq!(allowance(&chain, &token, "carol", "bob"), 0);

    chain
        .call(&token, "approve", &(s("carol"), 20u128))
        .from("bob")
        .run()
        .assert_ok();
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 20);

    // Zero revokes and frees the entry.
    let revoked = chain
        .call(&token, "approve", &(s("carol"), 0u128))
        .from("bob")
        .run();
    revoked.assert_ok();
    assert_eq!(
        revoked.state_changes(),
        [(b"allowance:bob:carol".to_vec(), None)]
    );
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 0);
}

#[test]
fn transfer_from_spends_the_allowance() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 100).assert_ok();
    chain
        .call(&token, "approve", &(s("carol"), 60u128))
        .from("bob")
        .run()
        .assert_ok();

    let moved = chain
        .call(&token, "transfer_from", &(s("bob"), s("dave"), 40u128))
        .from("carol")
        .run();
    moved.assert_ok().assert_event(
        token.as_str(),
        &[topic("Transfer"), topic("bob"), topic("dave")],
        &(s("bob"), s("dave"), 40u128),
    );
    assert_eq!(balance(&chain, &token, "bob"), 60);
    assert_eq!(balance(&chain, &token, "dave"), 40);
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 20);

    // Using up the allowance exactly removes it.
    chain
        .call(&token, "transfer_from", &(s("bob"), s("carol"), 20u128))
        .from("carol")
        .run()
        .assert_ok();
    assert_eq!(
        chain.state_raw(&token, b"allowance:bob:carol").unwrap(),
        None
    );
    assert_eq!(balance(&chain, &token, "carol"), 20);
    assert_eq!(supply(&chain, &token), 100);
}

#[test]
fn transfer_from_without_allowance_changes_nothing() {
    let (mut chain, token) = setup();
    mint(&mut chain, &token, OWNER, "bob", 100).assert_ok();
    let before = chain.state(&token).unwrap();

    // No allowance at all; and the owner's own tokens need one too.
    for spender in ["carol", "bob"] {
        chain
            .call(&token, "transfer_from", &(s("bob"), s("dave"), 1u128))
            .from(spender)
            .run()
            .assert_host_trap(&format!(
                "insufficient allowance: {spender} may move 0 of bob's tokens, needs 1"
            ))
            .assert_no_state_changes()
            .assert_no_events();
    }

    // An allowance above the balance: the balance check fails, and the
    // allowance is not spent.
    chain
        .call(&token, "approve", &(s("carol"), 500u128))
        .from("bob")
        .run()
        .assert_ok();
    let before_allowance = chain.state(&token).unwrap();
    chain
        .call(&token, "transfer_from", &(s("bob"), s("dave"), 101u128))
        .from("carol")
        .run()
        .assert_host_trap("insufficient balance: bob has 100, needs 101")
        .assert_no_events();
    assert_eq!(chain.state(&token).unwrap(), before_allowance);
    assert_eq!(allowance(&chain, &token, "bob", "carol"), 500);
    assert_ne!(before, before_allowance);
}

/// The same allowance flow through the node's executor: signed
/// transactions, and events in the chain's receipts.
#[test]
fn allowances_and_events_on_a_devnet() {
    let mut net = Devnet::new();
    let (a0, a1, a2) = (net.account(0).id, net.account(1).id, net.account(2).id);
    let token = net.deploy_example("token").send().unwrap().contract_id();
    net.call(&token, "init", &(s("TOK"),))
        .send()
        .unwrap()
        .assert_ok();
    net.call(&token, "mint", &(a0.clone(), 100u128))
        .send()
        .unwrap()
        .assert_ok();

    let approved = net
        .call(&token, "approve", &(a1.clone(), 30u128))
        .send()
        .unwrap();
    approved.assert_ok().assert_event(
        token.as_str(),
        &[topic("Approval"), topic(&a0), topic(&a1)],
        &(a0.clone(), a1.clone(), 30u128),
    );

    let refused = net
        .call(&token, "transfer_from", &(a0.clone(), a2.clone(), 31u128))
        .from(1)
        .send()
        .unwrap();
    refused
        .assert_trap(detvm_testkit::TrapKind::Host)
        .assert_no_events();

    let moved = net
        .call(&token, "transfer_from", &(a0.clone(), a2.clone(), 30u128))
        .from(1)
        .send()
        .unwrap();
    moved.assert_ok().assert_event(
        token.as_str(),
        &[topic("Transfer"), topic(&a0), topic(&a2)],
        &(a0.clone(), a2.clone(), 30u128),
    );
    let balance_of = |net: &Devnet, id: &str| -> u128 {
        net.view(&token, "balance_of", &(id.to_owned(),))
            .run()
            .unwrap()
            .returned()
    };
    assert_eq!(balance_of(&net, &a0), 70);
    assert_eq!(balance_of(&net, &a2), 30);
    // The block's stored receipt carries the same event.
    let stored = net.receipts(moved.height).unwrap();
    assert_eq!(stored[0].all_events(), moved.events());
}
