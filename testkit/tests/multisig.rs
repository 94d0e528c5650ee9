//! The multisig contract, which makes the calls its owners approve, through
//! the real VM and through the node's executor.

use borsh::BorshDeserialize;
use detvm_testkit::{CallResult, ContractId, DevChain, Devnet, TestChain, TrapKind, topic};

const OWNERS: [&str; 3] = ["ann", "ben", "cat"];

fn s(text: &str) -> String {
    text.to_owned()
}

/// A proposal, as `contracts/multisig` stores and returns it.
#[derive(Debug, BorshDeserialize)]
struct Proposal {
    proposer: String,
    contract: String,
    method: String,
    args: Vec<u8>,
    amount: u128,
    approvals: Vec<String>,
    executed: bool,
    result: Option<Vec<u8>>,
    failures: u32,
    last_error: Option<String>,
}

/// A chain with a 2-of-3 multisig holding 50 tokens of the token contract.
fn setup() -> (TestChain, ContractId, ContractId) {
    let mut chain = TestChain::new();
    let token = chain.deploy_example("token").unwrap();
    let multisig = chain.deploy_example("multisig").unwrap();
    chain
        .call(&multisig, "init", &(OWNERS.map(s).to_vec(), 2u32))
        .run()
        .assert_ok();
    chain.call(&token, "init", &(s("TOK"),)).run().assert_ok();
    chain
        .call(&token, "mint", &(s(multisig.as_str()), 50u128))
        .run()
        .assert_ok();
    (chain, token, multisig)
}

fn propose(
    chain: &mut TestChain,
    multisig: &ContractId,
    from: &str,
    contract: &str,
    method: &str,
    args: Vec<u8>,
    amount: u128,
) -> CallResult {
    chain
        .call(multisig, "propose", &(s(contract), s(method), args, amount))
        .from(from)
        .run()
}

/// Proposes `token.transfer(to, amount)` as `ann`; returns the id.
fn propose_transfer(
    chain: &mut TestChain,
    multisig: &ContractId,
    token: &ContractId,
    to: &str,
    amount: u128,
) -> u64 {
    let args = borsh::to_vec(&(s(to), amount)).unwrap();
    propose(chain, multisig, "ann", token.as_str(), "transfer", args, 0).returned()
}

fn approve(chain: &mut TestChain, multisig: &ContractId, id: u64, from: &str) -> CallResult {
    chain.call(multisig, "approve", &(id,)).from(from).run()
}

fn proposal(chain: &TestChain, multisig: &ContractId, id: u64) -> Proposal {
    let found: Option<Proposal> = chain.view(multisig, "proposal", &(id,)).run().returned();
    found.expect("the proposal exists")
}

fn balance(chain: &TestChain, token: &ContractId, account: &str) -> u128 {
    chain
        .view(token, "balance_of", &(s(account),))
        .run()
        .returned()
}

#[test]
fn init_checks_owners_and_threshold() {
    let mut chain = TestChain::new();
    let multisig = chain.deploy_example("multisig").unwrap();
    let bad: [(Vec<String>, u32); 4] = [
        (vec![s("ann"), s("ben")], 0),
        (vec![s("ann"), s("ben")], 3),
        (vec![s("ann"), s("ann")], 1),
        (vec![], 1),
    ];
    for (owners, threshold) in bad {
        chain
            .call(&multisig, "init", &(owners, threshold))
            .run()
            .assert_host_trap("invalid owners or threshold")
            .assert_no_state_changes();
    }
    chain
        .call(
            &multisig,
            "propose",
            &(s("x"), s("y"), Vec::<u8>::new(), 0u128),
        )
        .from("ann")
        .run()
        .assert_host_trap("not initialized");

    chain
        .call(&multisig, "init", &(vec![s("ann"), s("ben")], 2u32))
        .run()
        .assert_ok();
    chain
        .call(&multisig, "init", &(vec![s("mallory")], 1u32))
        .from("mallory")
        .run()
        .assert_host_trap("already initialized");
    let owners: Vec<String> = chain.view(&multisig, "owners", &()).run().returned();
    assert_eq!(owners, ["ann", "ben"]);
    let threshold: u32 = chain.view(&multisig, "threshold", &()).run().returned();
    assert_eq!(threshold, 2);
}

#[test]
fn the_second_approval_executes_the_call() {
    let (mut chain, token, multisig) = setup();
    let (t, m) = (token.as_str(), multisig.as_str());
    let args = borsh::to_vec(&(s("dave"), 20u128)).unwrap();
    let proposed = propose(&mut chain, &multisig, "ann", t, "transfer", args.clone(), 0);
    let id: u64 = proposed.returned();
    proposed.assert_event(
        m,
        &[topic("Proposed"), topic("ann")],
        &(id, s(t), s("transfer"), 0u128),
    );

    // k - 1 approvals: nothing is called.
    let token_before = chain.state(&token).unwrap();
    let first = approve(&mut chain, &multisig, id, "ann");
    assert_eq!(first.returned::<Option<bool>>(), None);
    assert!(first.calls().is_empty());
    first.assert_event(m, &[topic("Approved"), topic("ann")], &(id, 1u32));
    assert_eq!(first.events().len(), 1);
    assert_eq!(chain.state(&token).unwrap(), token_before);
    assert!(!proposal(&chain, &multisig, id).executed);

    approve(&mut chain, &multisig, id, "ann").assert_host_trap("already approved");
    approve(&mut chain, &multisig, id, "mallory").assert_host_trap("not an owner");
    assert_eq!(chain.state(&token).unwrap(), token_before);

    let second = approve(&mut chain, &multisig, id, "cat");
    assert_eq!(second.returned::<Option<bool>>(), Some(true));
    let call = second.assert_call(0, t, "transfer", "returned");
    assert!(call.gas_used > 0 && call.gas_used <= call.gas_limit);
    assert_eq!(call.amount, 0);
    assert_eq!(second.calls().len(), 1);
    // Approved, then the token's Transfer inside the call, then Executed.
    let events = second.events();
    let names: Vec<[u8; 32]> = events.iter().map(|e| e.topics[0]).collect();
    assert_eq!(
        names,
        [topic("Approved"), topic("Transfer"), topic("Executed")]
    );
    second
        .assert_event(
            t,
            &[topic("Transfer"), topic(m), topic("dave")],
            &(s(m), s("dave"), 20u128),
        )
        .assert_event(m, &[topic("Executed")], &(id, Vec::<u8>::new()));
    assert_eq!(balance(&chain, &token, "dave"), 20);
    assert_eq!(balance(&chain, &token, m), 30);

    let done = proposal(&chain, &multisig, id);
    assert!(done.executed);
    assert_eq!(done.result, Some(vec![]));
    assert_eq!(done.approvals, ["ann", "cat"]);
    assert_eq!(
        (done.proposer.as_str(), done.method.as_str()),
        ("ann", "transfer")
    );
    assert_eq!(
        (done.contract.as_str(), done.args, done.amount),
        (t, args, 0)
    );
    assert_eq!((done.failures, done.last_error), (0, None));

    // Executed once only.
    approve(&mut chain, &multisig, id, "ben").assert_host_trap("already executed");
    chain
        .call(&multisig, "execute", &(id,))
        .from("ben")
        .run()
        .assert_host_trap("already executed");
    assert_eq!(balance(&chain, &token, "dave"), 20);
}

#[test]
fn only_owners_propose() {
    let (mut chain, token, multisig) = setup();
    let before = chain.state(&multisig).unwrap();
    propose(
        &mut chain,
        &multisig,
        "mallory",
        token.as_str(),
        "transfer",
        vec![],
        0,
    )
    .assert_host_trap("not an owner")
    .assert_no_events();
    assert_eq!(chain.state(&multisig).unwrap(), before);
    approve(&mut chain, &multisig, 0, "ann").assert_host_trap("unknown proposal");
}

#[test]
fn a_trapped_callee_leaves_the_proposal_executable() {
    let (mut chain, token, multisig) = setup();
    let (t, m) = (token.as_str(), multisig.as_str());
    // The multisig holds 50: a transfer of 80 traps in the token.
    let id = propose_transfer(&mut chain, &multisig, &token, "dave", 80);
    approve(&mut chain, &multisig, id, "ann").assert_ok();
    let token_before = chain.state(&token).unwrap();

    let failed = approve(&mut chain, &multisig, id, "ben");
    // The multisig's own call returns: the approval and the failure stay.
    assert_eq!(failed.returned::<Option<bool>>(), Some(false));
    let call = failed.assert_call(0, t, "transfer", "trapped");
    assert!(call.gas_used > 0 && call.gas_used <= call.gas_limit);
    assert!(call.events.is_empty());
    let error = format!("trapped (host): insufficient balance: {m} has 50, needs 80");
    // No Transfer: the token's events went with its trap.
    let names: Vec<[u8; 32]> = failed.events().iter().map(|e| e.topics[0]).collect();
    assert_eq!(names, [topic("Approved"), topic("ExecutionFailed")]);
    failed.assert_event(m, &[topic("ExecutionFailed")], &(id, error.clone()));
    assert_eq!(chain.state(&token).unwrap(), token_before);
    assert!(
        failed
            .state_changes()
            .iter()
            .all(|(k, _)| k.starts_with(b"proposal:")),
        "only the proposal's record changed: {:?}",
        failed.state_changes()
    );

    let record = proposal(&chain, &multisig, id);
    assert!(!record.executed);
    assert_eq!(record.failures, 1);
    assert_eq!(record.last_error.as_deref(), Some(error.as_str()));
    assert_eq!(record.approvals, ["ann", "ben"]);
    assert_eq!(record.result, None);

    // Once the multisig holds enough, any owner runs it again.
    chain
        .call(&token, "mint", &(s(m), 30u128))
        .run()
        .assert_ok();
    let retried = chain.call(&multisig, "execute", &(id,)).from("cat").run();
    assert!(retried.returned::<bool>());
    retried.assert_call(0, t, "transfer", "returned");
    assert_eq!(balance(&chain, &token, "dave"), 80);
    assert_eq!(balance(&chain, &token, m), 0);
    let record = proposal(&chain, &multisig, id);
    assert!(record.executed);
    assert_eq!(record.failures, 1);
}

#[test]
fn execute_needs_the_threshold_and_an_owner() {
    let (mut chain, token, multisig) = setup();
    let id = propose_transfer(&mut chain, &multisig, &token, "dave", 1);
    approve(&mut chain, &multisig, id, "ann").assert_ok();
    let before = (
        chain.state(&token).unwrap(),
        chain.state(&multisig).unwrap(),
    );
    let early = chain.call(&multisig, "execute", &(id,)).from("ann").run();
    early.assert_host_trap("not enough approvals");
    assert!(early.calls().is_empty());
    chain
        .call(&multisig, "execute", &(id,))
        .from("mallory")
        .run()
        .assert_host_trap("not an owner");
    assert_eq!(
        (
            chain.state(&token).unwrap(),
            chain.state(&multisig).unwrap()
        ),
        before
    );
}

#[test]
fn a_refused_call_is_recorded_as_a_failure() {
    let (mut chain, _token, multisig) = setup();
    let m = multisig.as_str();
    // A call back into the multisig: it is not reentrant.
    let id: u64 = propose(&mut chain, &multisig, "ann", m, "owners", vec![], 0).returned();
    approve(&mut chain, &multisig, id, "ann").assert_ok();
    let refused = approve(&mut chain, &multisig, id, "ben");
    assert_eq!(refused.returned::<Option<bool>>(), Some(false));
    let call = refused.assert_call(0, m, "owners", "refused");
    assert_eq!((call.gas_limit, call.gas_used), (0, 0));
    let record = proposal(&chain, &multisig, id);
    assert!(
        record
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("refused (reentrancy): ")),
        "{:?}",
        record.last_error
    );
}

#[test]
fn proposals_attach_native_tokens() {
    let (mut chain, _token, multisig) = setup();
    let m = multisig.as_str();
    let escrow = chain.deploy_example("escrow").unwrap();
    let e = escrow.as_str();
    // Fund the multisig by attaching tokens to a call of it.
    chain.set_balance("alice", 1_000).unwrap();
    chain
        .call(&multisig, "owners", &())
        .amount(700)
        .run()
        .assert_ok();
    assert_eq!(chain.balance(m).unwrap(), 700);

    let args = borsh::to_vec(&(s("dave"), s("ann"))).unwrap();
    // More than it holds: refused, nothing moves.
    let id: u64 = propose(
        &mut chain,
        &multisig,
        "ann",
        e,
        "create_native",
        args.clone(),
        701,
    )
    .returned();
    approve(&mut chain, &multisig, id, "ann").assert_ok();
    let refused = approve(&mut chain, &multisig, id, "cat");
    assert_eq!(refused.returned::<Option<bool>>(), Some(false));
    refused.assert_call(0, e, "create_native", "refused");
    assert_eq!(chain.balance(m).unwrap(), 700);
    assert!(
        proposal(&chain, &multisig, id)
            .last_error
            .is_some_and(|e| e.starts_with("refused (insufficient_balance)"))
    );

    let id: u64 = propose(&mut chain, &multisig, "ann", e, "create_native", args, 600).returned();
    approve(&mut chain, &multisig, id, "ann").assert_ok();
    let paid = approve(&mut chain, &multisig, id, "cat");
    assert_eq!(paid.returned::<Option<bool>>(), Some(true));
    let call = paid.assert_call(0, e, "create_native", "returned");
    assert_eq!(call.amount, 600);
    paid.assert_event(
        e,
        &[topic("Created"), topic(m), topic("dave")],
        &(0u64, None::<String>, 600u128),
    );
    assert_eq!(chain.balance(m).unwrap(), 100);
    assert_eq!(chain.balance(e).unwrap(), 600);
    // The escrow's id came back as the call's result.
    assert_eq!(
        proposal(&chain, &multisig, id).result,
        Some(borsh::to_vec(&0u64).unwrap())
    );
}

// ---- through the node's executor ---------------------------------------------

#[test]
fn multisig_on_a_devnet() {
    let mut net = Devnet::new();
    let ids: Vec<String> = (0..3).map(|i| net.account(i).id).collect();
    let outsider = net.account(3).id;
    let token = net.deploy_example("token").send().unwrap().contract_id();
    let multisig = net.deploy_example("multisig").send().unwrap().contract_id();
    let (t, m) = (token.to_string(), multisig.to_string());
    net.call(&multisig, "init", &(ids.clone(), 2u32))
        .send()
        .unwrap()
        .assert_ok();
    net.call(&token, "init", &(s("TOK"),))
        .send()
        .unwrap()
        .assert_ok();
    net.call(&token, "mint", &(m.clone(), 50u128))
        .send()
        .unwrap()
        .assert_ok();
    let token_balance = |net: &Devnet, id: &str| -> u128 {
        net.view(&token, "balance_of", &(id.to_owned(),))
            .run()
            .unwrap()
            .returned()
    };
    let propose = |net: &mut Devnet, amount: u128| -> u64 {
        let args = borsh::to_vec(&(outsider.clone(), amount)).unwrap();
        net.call(
            &multisig,
            "propose",
            &(t.clone(), s("transfer"), args, 0u128),
        )
        .from(1)
        .send()
        .unwrap()
        .returned()
    };

    // Outsiders are refused.
    net.call(&multisig, "approve", &(0u64,))
        .from(3)
        .send()
        .unwrap()
        .assert_trap(TrapKind::Host);

    // Too much: the second approval's call traps in the token, and the
    // multisig records it.
    let id = propose(&mut net, 80);
    let first = net.call(&multisig, "approve", &(id,)).send().unwrap();
    assert_eq!(first.returned::<Option<bool>>(), None);
    assert!(first.calls().is_empty());
    let failed = net
        .call(&multisig, "approve", &(id,))
        .from(2)
        .send()
        .unwrap();
    assert_eq!(failed.returned::<Option<bool>>(), Some(false));
    let call = failed.assert_call(0, &t, "transfer", "trapped");
    assert!(call.gas_used > 0 && call.gas_used <= call.gas_limit);
    let names: Vec<[u8; 32]> = failed.events().iter().map(|e| e.topics[0]).collect();
    assert_eq!(names, [topic("Approved"), topic("ExecutionFailed")]);
    assert_eq!(token_balance(&net, &m), 50);
    assert_eq!(token_balance(&net, &outsider), 0);

    // Within its means: the call goes through.
    let id = propose(&mut net, 30);
    net.call(&multisig, "approve", &(id,))
        .from(1)
        .send()
        .unwrap()
        .assert_ok();
    let done = net.call(&multisig, "approve", &(id,)).send().unwrap();
    assert_eq!(done.returned::<Option<bool>>(), Some(true));
    done.assert_call(0, &t, "transfer", "returned");
    done.assert_event(
        &t,
        &[topic("Transfer"), topic(&m), topic(&outsider)],
        &(m.clone(), outsider.clone(), 30u128),
    )
    .assert_event(&m, &[topic("Executed")], &(id, Vec::<u8>::new()));
    assert_eq!(token_balance(&net, &m), 20);
    assert_eq!(token_balance(&net, &outsider), 30);
    // The stored receipt has the same tree and events.
    let stored = net.receipts(done.height).unwrap();
    assert_eq!(stored[0].calls, done.receipt.calls);
    assert_eq!(stored[0].all_events(), done.events());
}
