//! The `attacks` example contract (`contracts/attacks`): two instances of
//! the same code, one the victim and one the attacker, on a test chain and
//! on a devnet (the node's executor, with fees and prefunded accounts).
//! Each attack must end the way `docs/host-api.md` says, with balances and
//! state exactly as its rules leave them.

use std::sync::Arc;

use detvm_host::{
    Account, CallContext, CallNode, CallOutcome, Chain, MemoryStorage, Receipt, Storage,
    account_key,
};
use detvm_testkit::{ContractId, DEFAULT_GAS, DevChain, Devnet, TestChain};

/// A test chain over a store the test can fund accounts in.
fn funded_chain(accounts: &[(&str, u128)]) -> TestChain {
    let storage = Arc::new(MemoryStorage::new());
    for (id, balance) in accounts {
        let account = Account {
            balance: *balance,
            ..Account::default()
        };
        storage
            .apply(&[(account_key(id), Some(borsh::to_vec(&account).unwrap()))])
            .unwrap();
    }
    TestChain::from_chain(Chain::with_storage(storage).unwrap())
}

/// Calls with `amount` attached (the test kit's call builder attaches
/// nothing).
fn call_with_amount(
    chain: &mut TestChain,
    contract: &ContractId,
    method: &str,
    args: &impl borsh::BorshSerialize,
    amount: u128,
) -> Receipt {
    let ctx = CallContext {
        caller: "alice".into(),
        gas: DEFAULT_GAS,
        block_height: 1,
        block_timestamp: 1_000_000_000,
        amount,
    };
    chain
        .chain_mut()
        .call(contract, method, &borsh::to_vec(args).unwrap(), &ctx)
        .unwrap()
}

fn returned<T: borsh::BorshDeserialize>(receipt: &Receipt) -> T {
    let bytes = receipt
        .return_value()
        .unwrap_or_else(|| panic!("expected a return: {receipt:?}"));
    borsh::from_slice(bytes).unwrap()
}

fn refused_kind(node: &CallNode) -> &str {
    match &node.outcome {
        CallOutcome::Refused { kind, .. } => kind,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn u32_le(status: u32) -> Vec<u8> {
    status.to_le_bytes().to_vec()
}

/// The vault's call tree after `attack(vault, amount)`: a deposit that
/// returned the attacker's new `credit`, then a withdraw whose payment
/// back into the attacker was refused.
fn assert_attack_tree(
    calls: &[CallNode],
    vault: &ContractId,
    attacker: &ContractId,
    amount: u128,
    credit: u128,
) {
    let [deposit, withdraw] = calls else {
        panic!("{calls:?}")
    };
    assert_eq!(
        (deposit.contract.as_str(), deposit.method.as_str()),
        (vault.as_str(), "deposit")
    );
    assert_eq!(deposit.amount, amount);
    assert_eq!(
        deposit.outcome,
        CallOutcome::Returned {
            value: borsh::to_vec(&credit).unwrap()
        }
    );
    assert_eq!(withdraw.method, "withdraw");
    assert_eq!(withdraw.amount, 0);
    // The vault returned the status of its payment call: 2, refused.
    assert_eq!(withdraw.outcome, CallOutcome::Returned { value: u32_le(2) });
    let [payment] = withdraw.calls.as_slice() else {
        panic!("{withdraw:?}")
    };
    assert_eq!(
        (payment.contract.as_str(), payment.method.as_str()),
        (attacker.as_str(), "on_payment")
    );
    assert_eq!(payment.amount, amount);
    assert_eq!(refused_kind(payment), "reentrancy");
    assert_eq!((payment.gas_limit, payment.gas_used), (0, 0));
    assert!(payment.calls.is_empty());
    // The vault logged why it did not pay.
    assert_eq!(withdraw.logs.len(), 1);
    assert!(
        withdraw.logs[0].starts_with("reentrancy: "),
        "{:?}",
        withdraw.logs
    );
}

#[test]
fn the_vault_keeps_its_tokens_when_the_payment_callback_is_a_reentry() {
    let mut chain = funded_chain(&[("alice", 1_000)]);
    let vault = chain.deploy_example("attacks").unwrap();
    let attacker = chain.deploy_example("attacks").unwrap();
    assert_ne!(vault, attacker);

    let receipt = call_with_amount(
        &mut chain,
        &attacker,
        "attack",
        &(vault.to_string(), 100u128),
        100,
    );
    let (deposited, withdrawn, out): (u32, u32, Vec<u8>) = returned(&receipt);
    assert_eq!((deposited, withdrawn, out), (0, 0, u32_le(2)));
    assert_attack_tree(&receipt.calls, &vault, &attacker, 100, 100);

    // The payment never happened: the vault holds the tokens and still
    // owes them; the attacker's `on_payment` never ran.
    let balance = |chain: &TestChain, id: &str| chain.chain().balance(id).unwrap();
    assert_eq!(balance(&chain, "alice"), 900);
    assert_eq!(balance(&chain, vault.as_str()), 100);
    assert_eq!(balance(&chain, attacker.as_str()), 0);
    let credit: u128 = chain
        .view(&vault, "deposited", &(attacker.to_string(),))
        .run()
        .returned();
    assert_eq!(credit, 100);
    let reentry: Option<(u32, String)> =
        chain.view(&attacker, "last_reentry", &()).run().returned();
    assert_eq!(reentry, None);

    // A second attempt ends the same way and moves nothing.
    let receipt = call_with_amount(
        &mut chain,
        &attacker,
        "attack",
        &(vault.to_string(), 50u128),
        50,
    );
    assert_attack_tree(&receipt.calls, &vault, &attacker, 50, 150);
    assert_eq!(balance(&chain, vault.as_str()), 150);
    assert_eq!(balance(&chain, "alice"), 850);

    // Withdrawing more than the credit aborts, and the attached amount
    // goes back.
    let receipt = call_with_amount(
        &mut chain,
        &attacker,
        "attack",
        &(vault.to_string(), 10u128),
        5,
    );
    assert!(!receipt.is_success());
    assert_eq!(balance(&chain, "alice"), 850);
    assert_eq!(balance(&chain, attacker.as_str()), 0);
}

#[test]
fn a_depth_bomb_between_two_instances_ends_at_the_first_reentry() {
    let mut chain = TestChain::new();
    let a = chain.deploy_example("attacks").unwrap();
    let b = chain.deploy_example("attacks").unwrap();
    let result = chain.call(&a, "bomb", &(b.to_string(), 1u32)).run();
    let (status, _): (u32, String) = result.returned();
    assert_eq!(status, 0, "B returned");
    let receipt = result.receipt().unwrap();
    let [to_b] = receipt.calls.as_slice() else {
        panic!("{receipt:?}")
    };
    assert_eq!(to_b.contract, b.as_str());
    let CallOutcome::Returned { value } = &to_b.outcome else {
        panic!("{to_b:?}")
    };
    let (inner, why): (u32, String) = borsh::from_slice(value).unwrap();
    assert_eq!(inner, 2);
    assert!(why.starts_with("reentrancy: "), "{why}");
    let [back_to_a] = to_b.calls.as_slice() else {
        panic!("{to_b:?}")
    };
    assert_eq!(back_to_a.contract, a.as_str());
    assert_eq!(refused_kind(back_to_a), "reentrancy");
    assert_eq!(receipt.all_calls().len(), 2);

    // Both frames that ran kept their writes.
    let key = |depth: u32| [&b"bomb/"[..], &depth.to_be_bytes()].concat();
    assert_eq!(chain.state_value::<bool>(&a, &key(1)).unwrap(), Some(true));
    assert_eq!(chain.state_value::<bool>(&b, &key(2)).unwrap(), Some(true));
    assert_eq!(chain.state(&a).unwrap().len(), 1);
    assert_eq!(chain.state(&b).unwrap().len(), 1);
}

#[test]
fn a_griefing_callee_costs_its_caller_exactly_the_bound() {
    let mut chain = TestChain::new();
    let caller = chain.deploy_example("attacks").unwrap();
    let victim = chain.deploy_example("attacks").unwrap();
    let grief = |chain: &mut TestChain, gas: u64| {
        let result = chain
            .call(&caller, "grief", &(victim.to_string(), gas))
            .run();
        let out: (u32, String) = result.returned();
        assert_eq!(out, (1, "out_of_gas".to_string()));
        result.into_result().unwrap()
    };
    // Twice first, so the measured runs both overwrite `survived`.
    grief(&mut chain, 0);
    let none = grief(&mut chain, 0);
    let bounded = grief(&mut chain, 1_000_000);
    let node = &bounded.calls[0];
    assert_eq!((node.gas_limit, node.gas_used), (1_000_000, 1_000_000));
    assert_eq!(
        node.outcome,
        CallOutcome::Trapped {
            kind: "out_of_gas".into(),
            message: None
        }
    );
    // A zero limit is below the callee's instantiation fee: it used none.
    assert_eq!((none.calls[0].gas_limit, none.calls[0].gas_used), (0, 0));
    assert_eq!(bounded.gas_used - none.gas_used, 1_000_000);
    assert_eq!(
        chain.state_value::<bool>(&caller, b"survived").unwrap(),
        Some(true)
    );

    // Passing everything: the callee gets all but a 64th, the caller
    // still finishes.
    let all = grief(&mut chain, u64::MAX);
    let node = &all.calls[0];
    assert_eq!(node.gas_used, node.gas_limit);
    assert!(node.gas_limit > DEFAULT_GAS / 64 * 62, "{}", node.gas_limit);
    assert!(all.gas_used < DEFAULT_GAS);
}

#[test]
fn a_huge_return_value_is_paid_per_byte_by_the_receiver() {
    let mut chain = TestChain::new();
    let caller = chain.deploy_example("attacks").unwrap();
    let peer = chain.deploy_example("attacks").unwrap();
    let max = chain.chain().fees().max_return_len;
    let per_byte = chain.chain().fees().register_write_per_byte;
    let fetch = |chain: &mut TestChain, len: u64| {
        chain
            .call(&caller, "fetch_huge", &(peer.to_string(), len as u32))
            .run()
            .into_result()
            .unwrap()
    };
    let empty = fetch(&mut chain, 0);
    let full = fetch(&mut chain, max);
    assert_eq!(returned::<(u32, u64)>(&empty), (0, 0));
    assert_eq!(returned::<(u32, u64)>(&full), (0, max));
    let CallOutcome::Returned { value } = &full.calls[0].outcome else {
        panic!("{:?}", full.calls[0].outcome)
    };
    assert_eq!(value.len() as u64, max);
    // The caller paid the callee's gas and every byte it received.
    assert_eq!(
        full.gas_used - empty.gas_used,
        full.calls[0].gas_used - empty.calls[0].gas_used + per_byte * max
    );

    // One byte more: the callee traps, the caller is told and returns.
    let over = fetch(&mut chain, max + 1);
    let (status, len): (u32, u64) = returned(&over);
    assert_eq!(status, 1);
    let CallOutcome::Trapped { kind, message } = &over.calls[0].outcome else {
        panic!("{:?}", over.calls[0].outcome)
    };
    assert_eq!(kind, "host");
    let message = message.as_deref().unwrap();
    assert!(message.contains("value_return"), "{message}");
    assert_eq!(len, format!("host: {message}").len() as u64);
}

#[test]
fn on_a_devnet_the_attack_moves_only_the_deposit_and_the_fees() {
    let mut net = Devnet::new();
    let me = net.account(0).id;
    let vault = net.deploy_example("attacks").send().unwrap().contract_id();
    let attacker = net.deploy_example("attacks").send().unwrap().contract_id();
    let before = net.balance(&me).unwrap();

    let tx = net
        .call(&attacker, "attack", &(vault.to_string(), 100u128))
        .amount(100)
        .send()
        .unwrap();
    tx.assert_ok();
    let (deposited, withdrawn, out): (u32, u32, Vec<u8>) = tx.returned();
    assert_eq!((deposited, withdrawn, out), (0, 0, u32_le(2)));
    assert_attack_tree(&tx.receipt.calls, &vault, &attacker, 100, 100);

    assert_eq!(net.balance(&me).unwrap(), before - 100 - tx.fee());
    assert_eq!(net.balance(vault.as_str()).unwrap(), 100);
    assert_eq!(net.balance(attacker.as_str()).unwrap(), 0);
    let credit: u128 = net
        .view(&vault, "deposited", &(attacker.to_string(),))
        .run()
        .unwrap()
        .returned();
    assert_eq!(credit, 100);

    // An attack that traps moves nothing but the fee.
    let before = net.balance(&me).unwrap();
    let tx = net
        .call(&attacker, "attack", &(vault.to_string(), 500u128))
        .amount(100)
        .send()
        .unwrap();
    assert!(!tx.is_success());
    assert_eq!(net.balance(&me).unwrap(), before - tx.fee());
    assert_eq!(net.balance(vault.as_str()).unwrap(), 100);

    // The depth bomb, through the node: refused at the first re-entry.
    let tx = net
        .call(&attacker, "bomb", &(vault.to_string(), 1u32))
        .send()
        .unwrap();
    tx.assert_ok();
    let calls = &tx.receipt.calls;
    assert_eq!(calls.len(), 1);
    assert_eq!(refused_kind(&calls[0].calls[0]), "reentrancy");
}
