//! The escrow contract, which calls the token contract (and moves native
//! tokens), through the real VM and through the node's executor.

use borsh::BorshDeserialize;
use detvm_testkit::{CallResult, ContractId, DevChain, Devnet, TestChain, TrapKind, topic};

const OWNER: &str = "alice";
const ARBITER: &str = "judge";

fn s(text: &str) -> String {
    text.to_owned()
}

/// The escrow's record, as `contracts/escrow` stores and returns it.
#[derive(Debug, BorshDeserialize, PartialEq, Eq)]
struct Escrow {
    token: Option<String>,
    depositor: String,
    payee: String,
    arbiter: String,
    amount: u128,
    status: Status,
}

#[derive(Debug, BorshDeserialize, PartialEq, Eq)]
enum Status {
    Open,
    Released,
    Refunded,
}

/// A chain with the token (bob holds 100) and the escrow deployed.
fn setup() -> (TestChain, ContractId, ContractId) {
    let mut chain = TestChain::new();
    let token = chain.deploy_example("token").unwrap();
    let escrow = chain.deploy_example("escrow").unwrap();
    chain
        .call(&token, "init", &(s("TOK"),))
        .from(OWNER)
        .run()
        .assert_ok();
    chain
        .call(&token, "mint", &(s("bob"), 100u128))
        .from(OWNER)
        .run()
        .assert_ok();
    (chain, token, escrow)
}

fn approve(chain: &mut TestChain, token: &ContractId, from: &str, spender: &str, amount: u128) {
    chain
        .call(token, "approve", &(s(spender), amount))
        .from(from)
        .run()
        .assert_ok();
}

fn create(
    chain: &mut TestChain,
    escrow: &ContractId,
    token: &str,
    from: &str,
    amount: u128,
) -> CallResult {
    chain
        .call(
            escrow,
            "create",
            &(s(token), s("carol"), s(ARBITER), amount),
        )
        .from(from)
        .run()
}

fn balance(chain: &TestChain, token: &ContractId, account: &str) -> u128 {
    chain
        .view(token, "balance_of", &(s(account),))
        .run()
        .returned()
}

fn get(chain: &TestChain, escrow: &ContractId, id: u64) -> Option<Escrow> {
    chain.view(escrow, "get", &(id,)).run().returned()
}

#[test]
fn create_pulls_the_tokens_and_release_pays_the_payee() {
    let (mut chain, token, escrow) = setup();
    let (t, e) = (token.as_str(), escrow.as_str());
    approve(&mut chain, &token, "bob", e, 60);

    let created = create(&mut chain, &escrow, t, "bob", 60);
    let id: u64 = created.returned();
    assert_eq!(id, 0);
    let pull = created.assert_call(0, t, "transfer_from", "returned");
    assert!(pull.gas_used > 0 && pull.gas_used <= pull.gas_limit);
    assert_eq!(pull.amount, 0);
    assert_eq!(created.calls().len(), 1);
    // The token's Transfer, emitted inside the call, comes before the
    // escrow's Created.
    let events = created.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].contract, t);
    assert_eq!(
        events[0].topics,
        [topic("Transfer"), topic("bob"), topic(e)]
    );
    assert_eq!(events[1].contract, e);
    created.assert_event(
        e,
        &[topic("Created"), topic("bob"), topic("carol")],
        &(0u64, Some(s(t)), 60u128),
    );
    assert_eq!(balance(&chain, &token, "bob"), 40);
    assert_eq!(balance(&chain, &token, e), 60);
    let allowance: u128 = chain
        .view(&token, "allowance", &(s("bob"), s(e)))
        .run()
        .returned();
    assert_eq!(allowance, 0);
    assert_eq!(
        get(&chain, &escrow, 0),
        Some(Escrow {
            token: Some(s(t)),
            depositor: s("bob"),
            payee: s("carol"),
            arbiter: s(ARBITER),
            amount: 60,
            status: Status::Open,
        })
    );

    // Only the arbiter releases.
    let before = (chain.state(&token).unwrap(), chain.state(&escrow).unwrap());
    for who in ["bob", "carol"] {
        chain
            .call(&escrow, "release", &(0u64,))
            .from(who)
            .run()
            .assert_host_trap("only the arbiter can release")
            .assert_no_events();
    }
    assert_eq!(
        (chain.state(&token).unwrap(), chain.state(&escrow).unwrap()),
        before
    );

    let released = chain.call(&escrow, "release", &(0u64,)).from(ARBITER).run();
    released.assert_ok();
    let pay = released.assert_call(0, t, "transfer", "returned");
    assert!(pay.gas_used > 0 && pay.gas_used <= pay.gas_limit);
    released
        .assert_event(
            t,
            &[topic("Transfer"), topic(e), topic("carol")],
            &(s(e), s("carol"), 60u128),
        )
        .assert_event(e, &[topic("Released"), topic("carol")], &(0u64, 60u128));
    assert_eq!(balance(&chain, &token, "carol"), 60);
    assert_eq!(balance(&chain, &token, e), 0);
    assert_eq!(get(&chain, &escrow, 0).unwrap().status, Status::Released);

    // Settled once only.
    for method in ["release", "refund"] {
        chain
            .call(&escrow, method, &(0u64,))
            .from(ARBITER)
            .run()
            .assert_host_trap("escrow already settled");
    }
    chain
        .call(&escrow, "release", &(7u64,))
        .from(ARBITER)
        .run()
        .assert_host_trap("unknown escrow");
}

#[test]
fn without_allowance_create_fails_and_neither_contract_changes() {
    let (mut chain, token, escrow) = setup();
    let (t, e) = (token.as_str(), escrow.as_str());
    // Allowed less than the escrow asks for.
    approve(&mut chain, &token, "bob", e, 59);
    let before = (chain.state(&token).unwrap(), chain.state(&escrow).unwrap());

    let created = create(&mut chain, &escrow, t, "bob", 60);
    created.assert_host_trap(&format!(
        "cannot take the tokens: trapped (host): insufficient allowance: {e} may move 59 of bob's tokens, needs 60"
    ));
    created.assert_no_state_changes().assert_no_events();
    // The receipt still shows the failed call, with its gas.
    let pull = created.assert_call(0, t, "transfer_from", "trapped");
    assert!(pull.gas_used > 0 && pull.gas_used <= pull.gas_limit);
    assert!(pull.events.is_empty());
    assert_eq!(
        (chain.state(&token).unwrap(), chain.state(&escrow).unwrap()),
        before
    );
    assert_eq!(balance(&chain, &token, "bob"), 100);
    assert_eq!(get(&chain, &escrow, 0), None);

    // More than bob holds, with allowance enough: the balance check fails.
    approve(&mut chain, &token, "bob", e, 500);
    create(&mut chain, &escrow, t, "bob", 101)
        .assert_host_trap(
            "cannot take the tokens: trapped (host): insufficient balance: bob has 100, needs 101",
        )
        .assert_no_events();
    assert_eq!(balance(&chain, &token, "bob"), 100);
    assert_eq!(get(&chain, &escrow, 0), None);
}

#[test]
fn a_token_that_is_not_one_is_refused() {
    let (mut chain, _token, escrow) = setup();
    let counter = chain.deploy_example("counter").unwrap();
    let created = create(&mut chain, &escrow, counter.as_str(), "bob", 1);
    created.assert_host_trap("cannot take the tokens: refused (unknown_method)");
    let call = created.assert_call(0, counter.as_str(), "transfer_from", "refused");
    assert_eq!((call.gas_limit, call.gas_used), (0, 0));

    let nobody = "00".repeat(20);
    create(&mut chain, &escrow, &nobody, "bob", 1)
        .assert_host_trap("cannot take the tokens: refused (unknown_contract)")
        .assert_call(0, &nobody, "transfer_from", "refused");
    assert!(chain.state(&escrow).unwrap().is_empty());
}

#[test]
fn refund_goes_back_to_the_depositor() {
    let (mut chain, token, escrow) = setup();
    let (t, e) = (token.as_str(), escrow.as_str());
    approve(&mut chain, &token, "bob", e, 100);
    create(&mut chain, &escrow, t, "bob", 30).assert_ok();
    create(&mut chain, &escrow, t, "bob", 50).assert_ok();
    assert_eq!(balance(&chain, &token, "bob"), 20);

    // The depositor cannot take it back alone.
    chain
        .call(&escrow, "refund", &(1u64,))
        .from("bob")
        .run()
        .assert_host_trap("only the arbiter or the payee can refund");
    // The payee can give it up.
    let refunded = chain.call(&escrow, "refund", &(1u64,)).from("carol").run();
    refunded
        .assert_ok()
        .assert_event(e, &[topic("Refunded"), topic("bob")], &(1u64, 50u128));
    refunded.assert_call(0, t, "transfer", "returned");
    assert_eq!(balance(&chain, &token, "bob"), 70);
    assert_eq!(get(&chain, &escrow, 1).unwrap().status, Status::Refunded);
    // Escrow 0 is untouched.
    assert_eq!(get(&chain, &escrow, 0).unwrap().status, Status::Open);
    assert_eq!(balance(&chain, &token, e), 30);
}

#[test]
fn native_escrow_moves_native_tokens() {
    let (mut chain, _token, escrow) = setup();
    let e = escrow.as_str();
    chain.set_balance("bob", 1_000).unwrap();

    chain
        .call(&escrow, "create_native", &(s("carol"), s(ARBITER)))
        .from("bob")
        .run()
        .assert_host_trap("attach the amount to escrow");
    // More than bob has: the runtime refuses before anything runs.
    chain
        .call(&escrow, "create_native", &(s("carol"), s(ARBITER)))
        .from("bob")
        .amount(1_001)
        .run()
        .assert_error("insufficient_balance");

    let created = chain
        .call(&escrow, "create_native", &(s("carol"), s(ARBITER)))
        .from("bob")
        .amount(300)
        .run();
    let id: u64 = created.returned();
    created.assert_event(
        e,
        &[topic("Created"), topic("bob"), topic("carol")],
        &(id, None::<String>, 300u128),
    );
    assert_eq!(chain.balance("bob").unwrap(), 700);
    assert_eq!(chain.balance(e).unwrap(), 300);

    // carol is a named account without a record: the transfer cannot
    // create it, so the release fails and nothing moves.
    let failed = chain.call(&escrow, "release", &(id,)).from(ARBITER).run();
    failed
        .assert_host_trap("unknown account `carol`")
        .assert_no_events();
    assert_eq!(chain.balance(e).unwrap(), 300);
    assert_eq!(get(&chain, &escrow, id).unwrap().status, Status::Open);

    chain.set_balance("carol", 5).unwrap();
    let released = chain.call(&escrow, "release", &(id,)).from(ARBITER).run();
    released
        .assert_ok()
        .assert_event(e, &[topic("Released"), topic("carol")], &(id, 300u128));
    assert!(released.calls().is_empty(), "a native payment is no call");
    assert_eq!(chain.balance("carol").unwrap(), 305);
    assert_eq!(chain.balance(e).unwrap(), 0);
    assert_eq!(chain.balance("bob").unwrap(), 700);
}

#[test]
fn a_trapped_native_create_keeps_the_attached_amount_with_the_caller() {
    let (mut chain, _token, escrow) = setup();
    chain.set_balance("bob", 1_000).unwrap();
    // Too little gas: the call traps after the amount was attached.
    let out_of_gas = chain
        .call(&escrow, "create_native", &(s("carol"), s(ARBITER)))
        .from("bob")
        .amount(400)
        .gas(30_000)
        .run();
    out_of_gas
        .assert_trap(TrapKind::OutOfGas)
        .assert_no_events();
    assert_eq!(chain.balance("bob").unwrap(), 1_000);
    assert_eq!(chain.balance(escrow.as_str()).unwrap(), 0);
    assert!(chain.state(&escrow).unwrap().is_empty());
}

// ---- through the node's executor ---------------------------------------------

#[test]
fn token_escrow_on_a_devnet() {
    let mut net = Devnet::new();
    let (a0, a1, a2) = (net.account(0).id, net.account(1).id, net.account(2).id);
    let token = net.deploy_example("token").send().unwrap().contract_id();
    let escrow = net.deploy_example("escrow").send().unwrap().contract_id();
    let (t, e) = (token.to_string(), escrow.to_string());
    net.call(&token, "init", &(s("TOK"),))
        .send()
        .unwrap()
        .assert_ok();
    net.call(&token, "mint", &(a0.clone(), 100u128))
        .send()
        .unwrap()
        .assert_ok();
    let token_balance = |net: &Devnet, id: &str| -> u128 {
        net.view(&token, "balance_of", &(id.to_owned(),))
            .run()
            .unwrap()
            .returned()
    };

    // No allowance: the transaction traps, no contract state changes, and
    // the receipt shows the trapped call and no events.
    let failed = net
        .call(
            &escrow,
            "create",
            &(t.clone(), a2.clone(), a1.clone(), 60u128),
        )
        .send()
        .unwrap();
    failed.assert_trap(TrapKind::Host).assert_no_events();
    let call = failed.assert_call(0, &t, "transfer_from", "trapped");
    assert!(call.gas_used > 0 && call.gas_used <= call.gas_limit);
    assert_eq!(token_balance(&net, &a0), 100);
    let none: Option<Escrow> = net.view(&escrow, "get", &(0u64,)).run().unwrap().returned();
    assert_eq!(none, None);
    // Only the signer's account record (fee, nonce) changed.
    let changed: Vec<&Vec<u8>> = failed
        .receipt
        .state_changes
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed, [&[b"account/".as_slice(), a0.as_bytes()].concat()]);

    net.call(&token, "approve", &(e.clone(), 60u128))
        .send()
        .unwrap()
        .assert_ok();
    let created = net
        .call(
            &escrow,
            "create",
            &(t.clone(), a2.clone(), a1.clone(), 60u128),
        )
        .send()
        .unwrap();
    created.assert_ok();
    assert_eq!(created.returned::<u64>(), 0);
    let call = created.assert_call(0, &t, "transfer_from", "returned");
    assert!(call.gas_used > 0 && call.gas_used <= call.gas_limit);
    created
        .assert_event(
            &t,
            &[topic("Transfer"), topic(&a0), topic(&e)],
            &(a0.clone(), e.clone(), 60u128),
        )
        .assert_event(
            &e,
            &[topic("Created"), topic(&a0), topic(&a2)],
            &(0u64, Some(t.clone()), 60u128),
        );
    assert_eq!(token_balance(&net, &e), 60);

    // Dev account 0 is not the arbiter.
    net.call(&escrow, "release", &(0u64,))
        .send()
        .unwrap()
        .assert_trap(TrapKind::Host)
        .assert_no_events();
    let released = net
        .call(&escrow, "release", &(0u64,))
        .from(1)
        .send()
        .unwrap();
    released
        .assert_ok()
        .assert_call(0, &t, "transfer", "returned");
    released.assert_event(&e, &[topic("Released"), topic(&a2)], &(0u64, 60u128));
    assert_eq!(token_balance(&net, &a2), 60);
    assert_eq!(token_balance(&net, &e), 0);
    assert_eq!(token_balance(&net, &a0), 40);
}

#[test]
fn native_escrow_on_a_devnet() {
    let mut net = Devnet::new();
    let (a0, a1, a2) = (net.account(0).id, net.account(1).id, net.account(2).id);
    let escrow = net.deploy_example("escrow").send().unwrap().contract_id();
    let e = escrow.to_string();
    let payee_before = net.balance(&a2).unwrap();

    let created = net
        .call(&escrow, "create_native", &(a2.clone(), a1.clone()))
        .amount(5_000)
        .send()
        .unwrap();
    created.assert_ok();
    let id: u64 = created.returned();
    created.assert_event(
        &e,
        &[topic("Created"), topic(&a0), topic(&a2)],
        &(id, None::<String>, 5_000u128),
    );
    assert_eq!(net.balance(&e).unwrap(), 5_000);

    // The payee cannot release: the trap moves nothing.
    let refused = net.call(&escrow, "release", &(id,)).from(2).send().unwrap();
    refused.assert_trap(TrapKind::Host).assert_no_events();
    assert_eq!(net.balance(&e).unwrap(), 5_000);

    net.call(&escrow, "release", &(id,))
        .from(1)
        .send()
        .unwrap()
        .assert_ok()
        .assert_event(&e, &[topic("Released"), topic(&a2)], &(id, 5_000u128));
    assert_eq!(net.balance(&e).unwrap(), 0);
    // a2 paid the fee of its failed release, and got the escrow.
    assert_eq!(
        net.balance(&a2).unwrap(),
        payee_before - refused.fee() + 5_000
    );
}
