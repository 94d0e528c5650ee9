//! The chain-level test kit: a [`Devnet`] runs the node's executor, and a
//! [`RemoteDevnet`] drives a real dev node; scenarios are written once
//! against [`DevChain`] and run on both, and a property test finds the
//! same receipts, headers and state roots on a devnet, on a node, and
//! when the node's stored blocks are replayed into a fresh ledger.

use std::sync::Arc;

use detvm_chain::{Action, Ledger, SignedTransaction, Transaction, account_key};
use detvm_node::{NodeConfig, RunningNode};
use detvm_state::StateDb;
use detvm_testkit::{
    BlockHeader, ContractId, DEV_ACCOUNTS, DevChain, Devnet, DevnetError, Genesis, Keypair,
    RemoteDevnet, TrapKind, TxOutcome, TxResult,
};
use proptest::prelude::*;

const SECOND: u64 = 1_000_000_000;

// ---- running a node ---------------------------------------------------------

/// A node started in-process on 127.0.0.1:0, on a runtime of its own; it
/// is stopped when this is dropped, even when a test fails.
struct TestNode {
    runtime: tokio::runtime::Runtime,
    node: Option<RunningNode>,
}

impl TestNode {
    fn start(config: NodeConfig) -> (Self, RemoteDevnet) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let node = runtime
            .block_on(detvm_node::start(config))
            .expect("the node starts");
        assert!(node.addr.ip().is_loopback());
        let url = format!("http://{}", node.addr);
        let test_node = Self {
            runtime,
            node: Some(node),
        };
        let remote = RemoteDevnet::connect(&url).expect("the node answers");
        (test_node, remote)
    }

    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(node) = self.node.take() {
            self.runtime.block_on(node.stop());
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `scenario` on a fresh dev node and stops it.
fn on_node<R>(scenario: impl FnOnce(&mut RemoteDevnet) -> R) -> R {
    let (node, mut remote) = TestNode::start(NodeConfig::dev());
    let out = scenario(&mut remote);
    drop(remote);
    node.stop();
    out
}

// ---- helpers ----------------------------------------------------------------

fn dev_ids<C: DevChain>(chain: &C) -> Vec<String> {
    (0..DEV_ACCOUNTS).map(|i| chain.account(i).id).collect()
}

fn total<C: DevChain>(chain: &C, ids: &[String]) -> u128 {
    ids.iter().map(|id| chain.balance(id).unwrap()).sum()
}

fn token_balance<C: DevChain>(chain: &C, token: &ContractId, id: &str) -> u128 {
    chain
        .view(token, "balance_of", &(id.to_owned(),))
        .run()
        .unwrap()
        .returned()
}

fn fresh_key(n: u8) -> Keypair {
    Keypair::from_seed([0xf0 | n; 32])
}

// ---- the token, with fees and traps -----------------------------------------

/// Deploys the token and runs mints, transfers, a trap, a failed action
/// and an out-of-gas transfer, checking fees and balances as it goes.
fn token_scenario<C: DevChain>(chain: &mut C) -> Vec<TxResult> {
    let ids = dev_ids(chain);
    let (a0, a1, a2) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let newcomer = fresh_key(7).implicit_id();
    let before = total(chain, &ids);
    let mut results = Vec::new();

    let deploy = chain.deploy_example("token").send().unwrap();
    deploy.assert_ok();
    let token = deploy.contract_id();
    assert_eq!(
        chain.balance(token.as_str()).unwrap(),
        0,
        "a contract account"
    );
    let mut all = ids.clone();
    all.extend([token.to_string(), newcomer.clone()]);
    results.push(deploy);

    let init = chain.call(&token, "init", &("TOK".to_string(),)).send();
    results.push(init.unwrap().assert_ok().clone());
    // A call can carry tokens: they move to the contract if it returns.
    let mint = chain
        .call(&token, "mint", &(a1.clone(), 500u128))
        .amount(1_000)
        .send()
        .unwrap();
    mint.assert_ok();
    assert_eq!(mint.receipt.logs, vec![format!("mint 500 to {a1}")]);
    assert_eq!(chain.balance(token.as_str()).unwrap(), 1_000);
    let minted_at = mint.height;
    results.push(mint);
    let transfer = chain
        .call(&token, "transfer", &(a2.clone(), 200u128))
        .from(1)
        .send()
        .unwrap();
    results.push(transfer.assert_ok().clone());
    let not_owner = chain
        .call(&token, "mint", &(a1.clone(), 1u128))
        .from(1)
        .send()
        .unwrap();
    not_owner.assert_trap(TrapKind::Host);
    results.push(not_owner);

    // Account 2 holds 200 and tries to send 900 with 5 native tokens
    // attached: the call traps, the fee is paid, nothing else changes.
    let head = chain.head().unwrap();
    let natives: Vec<u128> = all.iter().map(|id| chain.balance(id).unwrap()).collect();
    let a2_nonce = chain.nonce(&a2).unwrap();
    let trapped = chain
        .call(&token, "transfer", &(a0.clone(), 900u128))
        .from(2)
        .amount(5)
        .send()
        .unwrap();
    trapped.assert_trap(TrapKind::Host);
    let TxOutcome::Trapped { message, .. } = &trapped.receipt.outcome else {
        unreachable!()
    };
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("insufficient balance")),
        "{message:?}"
    );
    assert!(trapped.fee() > 0);
    let changed: Vec<&[u8]> = trapped
        .receipt
        .state_changes
        .iter()
        .map(|(k, _)| k.as_slice())
        .collect();
    assert_eq!(
        changed,
        vec![account_key(&a2).as_slice()],
        "only its account"
    );
    for (id, was) in all.iter().zip(&natives) {
        let expect = if *id == a2 { was - trapped.fee() } else { *was };
        assert_eq!(chain.balance(id).unwrap(), expect, "native balance of {id}");
    }
    assert_eq!(chain.nonce(&a2).unwrap(), a2_nonce + 1);
    assert_eq!(token_balance(chain, &token, &a1), 300);
    assert_eq!(token_balance(chain, &token, &a2), 200);
    assert_eq!(token_balance(chain, &token, &a0), 0);
    let after = chain.head().unwrap();
    assert_eq!(after.height, head.height + 1);
    assert_ne!(after.state_root, head.state_root, "the fee and nonce");
    results.push(trapped);

    // A native transfer creates an implicit account; an unknown method
    // fails and pays its intrinsic gas; a transfer short of gas fails and
    // pays its whole limit.
    let to_newcomer = chain.transfer(&newcomer, 77).from(1).send().unwrap();
    assert_eq!(to_newcomer.receipt.outcome, TxOutcome::Transferred);
    assert_eq!(chain.balance(&newcomer).unwrap(), 77);
    results.push(to_newcomer);
    let unknown = chain.call(&token, "nope", &()).send().unwrap();
    unknown.assert_failed("unknown_method");
    results.push(unknown);
    let short = chain.transfer(&a1, 1).gas_limit(25_000).send().unwrap();
    short.assert_failed("out_of_gas");
    assert_eq!((short.gas_used(), short.fee()), (25_000, 25_000));
    results.push(short);

    // Views: now, and as of the mint's block.
    let supply: u128 = chain
        .view(&token, "total_supply", &())
        .run()
        .unwrap()
        .returned();
    assert_eq!(supply, 500);
    let then: u128 = chain
        .view(&token, "balance_of", &(a2.clone(),))
        .at(minted_at)
        .run()
        .unwrap()
        .returned();
    assert_eq!(then, 0, "account 2 had nothing before the transfer");

    // One block per transaction; the fees are burnt, nothing else moves.
    for (i, r) in results.iter().enumerate() {
        assert_eq!((r.height, r.index), (i as u64 + 1, 0));
        assert_eq!(chain.receipts(r.height).unwrap(), vec![r.receipt.clone()]);
    }
    let fees: u128 = results.iter().map(TxResult::fee).sum();
    assert_eq!(total(chain, &all), before - fees);
    assert_eq!(chain.nonce(&a0).unwrap(), 5);
    results
}

#[test]
fn the_token_on_a_devnet_and_on_a_node_gives_the_same_receipts() {
    let local = token_scenario(&mut Devnet::new());
    let remote = on_node(token_scenario);
    assert_eq!(
        local, remote,
        "receipts, heights and hashes, field by field"
    );
}

// ---- cross-contract calls: the escrow over the token ------------------------

/// The escrow takes tokens with the token's `transfer_from` (refused
/// without an allowance, then accepted), and pays them out on `release`:
/// nested calls, their events and call trees, through the executor.
fn escrow_scenario<C: DevChain>(chain: &mut C) -> Vec<TxResult> {
    let ids = dev_ids(chain);
    let (a0, a1, a2) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let mut results = Vec::new();
    let token = chain.deploy_example("token").send().unwrap().contract_id();
    let escrow = chain.deploy_example("escrow").send().unwrap().contract_id();
    let (t, e) = (token.to_string(), escrow.to_string());
    let init = chain.call(&token, "init", &("TOK".to_string(),)).send();
    results.push(init.unwrap().assert_ok().clone());
    let mint = chain.call(&token, "mint", &(a0.clone(), 100u128)).send();
    results.push(mint.unwrap().assert_ok().clone());
    let create = (t.clone(), a2.clone(), a1.clone(), 60u128);
    let refused = chain.call(&escrow, "create", &create).send().unwrap();
    refused.assert_trap(TrapKind::Host).assert_no_events();
    refused.assert_call(0, &t, "transfer_from", "trapped");
    results.push(refused);
    let approve = chain.call(&token, "approve", &(e.clone(), 60u128)).send();
    results.push(approve.unwrap().assert_ok().clone());
    let created = chain.call(&escrow, "create", &create).send().unwrap();
    created
        .assert_ok()
        .assert_call(0, &t, "transfer_from", "returned");
    assert_eq!(
        created.receipt.all_events().len(),
        2,
        "Transfer, then Created"
    );
    results.push(created);
    let released = chain
        .call(&escrow, "release", &(0u64,))
        .from(1)
        .send()
        .unwrap();
    released
        .assert_ok()
        .assert_call(0, &t, "transfer", "returned");
    results.push(released);
    assert_eq!(token_balance(chain, &token, &a2), 60);
    assert_eq!(token_balance(chain, &token, &a0), 40);
    assert_eq!(token_balance(chain, &token, &e), 0);
    results
}

#[test]
fn the_escrow_on_a_devnet_and_on_a_node_gives_the_same_receipts() {
    let local = escrow_scenario(&mut Devnet::new());
    let remote = on_node(escrow_scenario);
    assert_eq!(
        local, remote,
        "receipts with their call trees and events, field by field"
    );
}

// ---- refused transactions ---------------------------------------------------

fn refused<T: std::fmt::Debug>(result: Result<T, DevnetError>) -> String {
    match result {
        Err(e) => e
            .refusal_kind()
            .unwrap_or_else(|| panic!("not a refusal: {e}"))
            .to_owned(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// Invalid transactions are errors that make no block and change nothing.
fn refusals_scenario<C: DevChain>(chain: &mut C) {
    let ids = dev_ids(chain);
    let first = chain.transfer(&ids[1], 10).signed().unwrap();
    chain.send_signed(first.clone()).unwrap().assert_ok();
    let head = chain.head().unwrap();
    let balances: Vec<u128> = ids.iter().map(|id| chain.balance(id).unwrap()).collect();

    assert_eq!(
        refused(chain.send_signed(first.clone())),
        "already_included"
    );
    assert_eq!(
        refused(chain.transfer(&ids[1], 11).nonce(0).send()),
        "stale_nonce"
    );
    assert_eq!(
        refused(chain.transfer(&ids[1], 1).signer(&fresh_key(1)).send()),
        "unknown_signer"
    );
    assert_eq!(
        refused(chain.transfer(&ids[1], u128::MAX / 2).send()),
        "insufficient_balance"
    );
    assert_eq!(
        refused(chain.transfer(&ids[1], 1).gas_limit(1_000).send()),
        "gas_limit_too_low"
    );
    let other_chain = Transaction {
        chain_id: "elsewhere".into(),
        ..first.transaction.clone()
    };
    let key = Keypair::dev(0);
    assert_eq!(
        refused(chain.send_signed(other_chain.sign(&key))),
        "wrong_chain_id"
    );
    let wrong_key = Transaction {
        public_key: Keypair::dev(1).public_key(),
        nonce: 1,
        ..first.transaction.clone()
    };
    assert_eq!(
        refused(chain.send_signed(wrong_key.sign(&Keypair::dev(1)))),
        "wrong_key"
    );
    let mut forged = chain.transfer(&ids[1], 3).signed().unwrap();
    forged.signature[0] ^= 1;
    assert_eq!(refused(chain.send_signed(forged)), "bad_signature");

    assert_eq!(chain.head().unwrap(), head, "no block was made");
    let now: Vec<u128> = ids.iter().map(|id| chain.balance(id).unwrap()).collect();
    assert_eq!(now, balances);
    assert_eq!(chain.nonce(&ids[0]).unwrap(), 1);
}

#[test]
fn refused_transactions_are_errors_on_a_devnet_and_on_a_node() {
    let mut devnet = Devnet::new();
    refusals_scenario(&mut devnet);
    on_node(refusals_scenario);

    // A devnet has no mempool: where a node would keep a future nonce
    // pending, it refuses it; a limit no block can hold is refused too.
    let head = devnet.head().clone();
    let id = devnet.account(1).id;
    assert_eq!(
        refused(devnet.transfer(&id, 1).nonce(5).send()),
        "future_nonce"
    );
    let too_big = devnet.transfer(&id, 1).gas_limit(u64::MAX / 2).send();
    assert!(matches!(
        too_big,
        Err(DevnetError::AboveBlockGasLimit { .. })
    ));
    assert_eq!(devnet.head(), &head);
}

// ---- views ------------------------------------------------------------------

fn views_scenario<C: DevChain>(chain: &mut C) {
    let token = chain.deploy_example("token").send().unwrap().contract_id();
    // Before init, methods fail with `not initialized`; `owner` works.
    chain
        .view(&token, "total_supply", &())
        .run()
        .unwrap()
        .assert_trap(TrapKind::Host);
    let owner: Option<String> = chain.view(&token, "owner", &()).run().unwrap().returned();
    assert_eq!(owner, None);
    // A write in a view traps and keeps nothing.
    let init = chain
        .view(&token, "init", &("T".to_string(),))
        .run()
        .unwrap();
    init.assert_trap(TrapKind::Host);
    let owner: Option<String> = chain.view(&token, "owner", &()).run().unwrap().returned();
    assert_eq!(owner, None);

    let unknown = chain.view(&token, "nope", &()).run();
    assert!(
        matches!(&unknown, Err(DevnetError::ViewFailed { kind, .. }) if kind == "unknown_method"),
        "{unknown:?}"
    );
    let nowhere = ContractId::derive("nobody", 0, &[0; 32]);
    assert!(matches!(
        chain.view(&nowhere, "owner", &()).run(),
        Err(DevnetError::UnknownContract(c)) if c == nowhere.as_str()
    ));
    let future = chain.head().unwrap().height + 5;
    assert!(matches!(
        chain.view(&token, "owner", &()).at(future).run(),
        Err(DevnetError::UnknownHeight(h)) if h == future
    ));
    assert!(matches!(
        chain.header(future),
        Err(DevnetError::UnknownHeight(h)) if h == future
    ));
}

#[test]
fn views_and_their_errors_on_a_devnet_and_on_a_node() {
    views_scenario(&mut Devnet::new());
    on_node(views_scenario);
}

// ---- snapshots --------------------------------------------------------------

/// Everything a revert must restore.
#[derive(Debug, PartialEq)]
struct Picture {
    head: BlockHeader,
    balances: Vec<u128>,
    nonces: Vec<u64>,
    tokens: Vec<u128>,
    supply: u128,
}

fn picture<C: DevChain>(chain: &C, token: &ContractId, ids: &[String]) -> Picture {
    Picture {
        head: chain.head().unwrap(),
        balances: ids.iter().map(|id| chain.balance(id).unwrap()).collect(),
        nonces: ids.iter().map(|id| chain.nonce(id).unwrap()).collect(),
        tokens: ids
            .iter()
            .map(|id| token_balance(chain, token, id))
            .collect(),
        supply: chain
            .view(token, "total_supply", &())
            .run()
            .unwrap()
            .returned(),
    }
}

fn snapshot_scenario<C: DevChain>(chain: &mut C) {
    let mut ids = dev_ids(chain);
    ids.truncate(3);
    ids.push(fresh_key(2).implicit_id());
    let token = chain.deploy_example("token").send().unwrap().contract_id();
    ids.push(token.to_string());
    chain
        .call(&token, "init", &("T".to_string(),))
        .send()
        .unwrap()
        .assert_ok();
    chain
        .call(&token, "mint", &(ids[0].clone(), 1_000u128))
        .send()
        .unwrap()
        .assert_ok();

    let snapshot = chain.snapshot().unwrap();
    let before = picture(chain, &token, &ids);
    let first = chain.transfer(&ids[3], 5_000).send().unwrap();
    chain
        .call(&token, "transfer", &(ids[1].clone(), 300u128))
        .send()
        .unwrap()
        .assert_ok();
    chain
        .call(&token, "transfer", &(ids[2].clone(), 1u128))
        .from(1)
        .amount(9)
        .send()
        .unwrap()
        .assert_ok();
    chain.deploy_example("counter").send().unwrap().assert_ok();
    let inner = chain.snapshot().unwrap();
    chain.mine().unwrap();
    chain.advance_time(3_600 * SECOND).unwrap();
    chain.transfer(&ids[1], 1).from(2).send().unwrap();
    let changed = picture(chain, &token, &ids);
    assert_ne!(changed.head.state_root, before.head.state_root);
    assert_ne!(changed.balances, before.balances);
    assert_ne!(changed.nonces, before.nonces);
    assert_ne!(changed.tokens, before.tokens);

    let restored = chain.revert(snapshot).unwrap();
    assert_eq!(restored, before.head);
    assert_eq!(picture(chain, &token, &ids), before);
    assert!(matches!(
        chain.header(before.head.height + 1),
        Err(DevnetError::UnknownHeight(_))
    ));
    // A revert uses up its snapshot and every later one.
    for used in [inner, snapshot] {
        assert!(matches!(
            chain.revert(used),
            Err(DevnetError::UnknownSnapshot(id)) if id == used.0
        ));
    }
    // The chain goes on from the snapshot: the same transaction is new
    // again, at the same height, with the same receipt.
    let again = chain.transfer(&ids[3], 5_000).send().unwrap();
    assert_eq!(again, first);
}

#[test]
fn revert_restores_balances_nonces_contract_state_and_the_root() {
    snapshot_scenario(&mut Devnet::new());
    on_node(snapshot_scenario);
}

// ---- time -------------------------------------------------------------------

/// `context` returns (caller, contract, block height, block timestamp).
type Context = (String, String, u64, u64);

fn time_scenario<C: DevChain>(chain: &mut C) {
    let counter = chain
        .deploy_example("counter")
        .send()
        .unwrap()
        .contract_id();
    let t1 = chain.head().unwrap().timestamp_ns + 3_600 * SECOND;
    chain.set_next_timestamp(t1).unwrap();
    let r = chain.call(&counter, "context", &()).from(3).send().unwrap();
    let (caller, contract, height, ts): Context = r.returned();
    assert_eq!(
        (caller, contract, height, ts),
        (chain.account(3).id, counter.to_string(), r.height, t1)
    );
    assert_eq!(chain.header(r.height).unwrap().timestamp_ns, t1);
    let view = |chain: &C| -> Context {
        chain
            .view(&counter, "context", &())
            .run()
            .unwrap()
            .returned()
    };
    let (caller, _, height, ts) = view(chain);
    assert_eq!((caller.as_str(), height, ts), ("view", r.height, t1));

    // A chosen timestamp is seen only once its block is made.
    let t2 = t1 + 86_400 * SECOND;
    chain.set_next_timestamp(t2).unwrap();
    assert_eq!(view(chain).3, t1, "views run on the head");
    let mined = chain.mine().unwrap();
    assert_eq!((mined.height, mined.timestamp_ns), (r.height + 1, t2));
    assert_eq!(view(chain).3, t2);
    let past: Context = chain
        .view(&counter, "context", &())
        .at(r.height)
        .run()
        .unwrap()
        .returned();
    assert_eq!((past.2, past.3), (r.height, t1));

    // Time never goes back.
    for not_forward in [t2, t2 - 1] {
        assert!(matches!(
            chain.set_next_timestamp(not_forward),
            Err(DevnetError::TimestampNotForward { timestamp, head })
                if timestamp == not_forward && head == t2
        ));
    }
    // A refused transaction makes no block, so the choice waits.
    let t3 = t2 + SECOND;
    chain.set_next_timestamp(t3).unwrap();
    let too_much = chain.transfer(&chain.account(1).id, u128::MAX / 2).send();
    assert_eq!(refused(too_much), "insufficient_balance");
    assert_eq!(chain.mine().unwrap().timestamp_ns, t3);
}

#[test]
fn time_travel_is_seen_by_block_timestamp_on_a_devnet_and_on_a_node() {
    time_scenario(&mut Devnet::new());
    on_node(|node| {
        // The node's clock is the wall clock: an offset puts every later
        // block at least that far after one made before it.
        let before = node.mine().unwrap().timestamp_ns;
        let year = 365 * 86_400 * SECOND;
        assert_eq!(node.advance_time(year).unwrap(), year);
        assert!(node.mine().unwrap().timestamp_ns >= before + year);
        time_scenario(node);
    });
}

#[test]
fn a_devnet_clock_moves_one_second_per_block_plus_the_offset() {
    let mut devnet = Devnet::new();
    assert_eq!(devnet.next_block_timestamp(), SECOND);
    assert_eq!(devnet.mine().unwrap().timestamp_ns, SECOND);
    let hour = 3_600 * SECOND;
    assert_eq!(devnet.advance_time(hour).unwrap(), hour);
    assert_eq!(devnet.mine().unwrap().timestamp_ns, 2 * SECOND + hour);
    let snapshot = devnet.snapshot().unwrap();
    devnet.advance_time(24 * hour).unwrap();
    assert_eq!(devnet.mine().unwrap().timestamp_ns, 3 * SECOND + 25 * hour);
    // Far ahead, then the clock is behind the head: one nanosecond later.
    let far = 1_000_000 * hour;
    devnet.set_next_timestamp(far).unwrap();
    assert_eq!(devnet.mine().unwrap().timestamp_ns, far);
    assert_eq!(devnet.mine().unwrap().timestamp_ns, far + 1);
    // A revert restores the offset the snapshot had.
    devnet.revert(snapshot).unwrap();
    assert_eq!(devnet.time_offset(), hour);
    assert_eq!(devnet.mine().unwrap().timestamp_ns, 3 * SECOND + hour);
    // Timestamps are data: a second devnet makes the same block.
    let mut twin = Devnet::new();
    twin.mine().unwrap();
    twin.advance_time(hour).unwrap();
    twin.mine().unwrap();
    twin.mine().unwrap();
    assert_eq!(twin.head(), devnet.head());
}

// ---- the devnet, the node and a replay agree ----------------------------------

/// An account of a random history: a funded dev account or a key that
/// starts with nothing.
#[derive(Debug, Clone, Copy)]
enum Who {
    Dev(u32),
    Fresh(u8),
}

impl Who {
    fn key(self) -> Keypair {
        match self {
            Who::Dev(i) => Keypair::dev(i),
            Who::Fresh(n) => fresh_key(n),
        }
    }

    fn id(self) -> String {
        self.key().implicit_id()
    }
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    Transfer {
        from: Who,
        to: Who,
        amount: u128,
        gas: Option<u64>,
    },
    Mint {
        from: u32,
        to: Who,
        amount: u128,
    },
    TokenTransfer {
        from: Who,
        to: Who,
        amount: u128,
        gas: Option<u64>,
    },
    StaleNonce {
        from: u32,
    },
    Resend,
    Mine,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => (0..3u32).prop_map(Who::Dev),
        2 => (0..3u8).prop_map(Who::Fresh),
    ]
}

fn gas() -> impl Strategy<Value = Option<u64>> {
    // Default; below intrinsic (refused); short of a transfer (out of
    // gas); short of a token call; plenty.
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(1_000)),
        1 => Just(Some(25_000)),
        1 => Just(Some(60_000)),
        1 => Just(Some(5_000_000)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let amount = prop_oneof![
        1u128..1_000,
        1_000_000_000u128..20_000_000_000,
        Just(u128::MAX / 3),
    ];
    prop_oneof![
        4 => (who(), who(), amount, gas())
            .prop_map(|(from, to, amount, gas)| Step::Transfer { from, to, amount, gas }),
        2 => (prop_oneof![2 => Just(0u32), 1 => 1..3u32], who(), 1u128..500)
            .prop_map(|(from, to, amount)| Step::Mint { from, to, amount }),
        3 => (who(), who(), 1u128..400, gas())
            .prop_map(|(from, to, amount, gas)| Step::TokenTransfer { from, to, amount, gas }),
        1 => (0..3u32).prop_map(|from| Step::StaleNonce { from }),
        1 => Just(Step::Resend),
        1 => Just(Step::Mine),
    ]
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
enum Record {
    Included(TxResult),
    Refused(String),
    Mined(BlockHeader),
}

/// Runs a history, choosing every block's timestamp (second `i` for
/// step `i`) so a devnet and a node make the very same headers.
fn run_history<C: DevChain>(chain: &mut C, steps: &[Step]) -> (ContractId, Vec<Record>) {
    let mut clock = 0;
    let mut tick = |chain: &mut C| {
        clock += SECOND;
        chain.set_next_timestamp(clock).unwrap();
    };
    tick(chain);
    let token = chain.deploy_example("token").send().unwrap().contract_id();
    tick(chain);
    chain
        .call(&token, "init", &("T".to_string(),))
        .send()
        .unwrap()
        .assert_ok();
    let mut records = Vec::new();
    let mut last: Option<SignedTransaction> = None;
    for step in steps {
        tick(chain);
        let with_gas = |gas: Option<u64>| gas.unwrap_or(detvm_testkit::DEFAULT_GAS_LIMIT);
        let tx = match *step {
            Step::Transfer {
                from,
                to,
                amount,
                gas,
            } => chain
                .transfer(&to.id(), amount)
                .signer(&from.key())
                .gas_limit(with_gas(gas))
                .signed(),
            Step::Mint { from, to, amount } => chain
                .call(&token, "mint", &(to.id(), amount))
                .from(from)
                .signed(),
            Step::TokenTransfer {
                from,
                to,
                amount,
                gas,
            } => chain
                .call(&token, "transfer", &(to.id(), amount))
                .signer(&from.key())
                .gas_limit(with_gas(gas))
                .signed(),
            Step::StaleNonce { from } => {
                let nonce = chain.nonce(&Who::Dev(from).id()).unwrap();
                chain
                    .transfer(&Who::Dev(0).id(), 1)
                    .from(from)
                    .nonce(nonce.saturating_sub(1))
                    .signed()
            }
            Step::Resend => match &last {
                Some(tx) => Ok(tx.clone()),
                None => continue,
            },
            Step::Mine => {
                records.push(Record::Mined(chain.mine().unwrap()));
                continue;
            }
        };
        let tx = tx.unwrap();
        last = Some(tx.clone());
        records.push(match chain.send_signed(tx) {
            Ok(r) => Record::Included(r),
            Err(e) => match e.refusal_kind() {
                Some(kind) => Record::Refused(kind.to_owned()),
                None => panic!("step {step:?} failed: {e}"),
            },
        });
    }
    (token, records)
}

fn history_agrees(steps: &[Step]) -> Result<(), TestCaseError> {
    // (a) A devnet.
    let mut devnet = Devnet::new();
    let mut everyone: Vec<String> = dev_ids(&devnet);
    everyone.extend((0..3).map(|n| Who::Fresh(n).id()));
    let before = total(&devnet, &everyone);
    let (token, local) = run_history(&mut devnet, steps);
    everyone.push(token.to_string());
    let head = devnet.head().clone();
    let fees: u128 = (1..=head.height)
        .flat_map(|h| devnet.receipts(h).unwrap())
        .map(|r| r.fee)
        .sum();
    prop_assert_eq!(total(&devnet, &everyone), before - fees, "only fees leave");

    // (b) A node with instant mining, storing its chain on disk.
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..NodeConfig::dev()
    };
    let (node, mut remote) = TestNode::start(config);
    prop_assert_eq!(remote.genesis_hash(), devnet.genesis_hash());
    let (remote_token, over_rpc) = run_history(&mut remote, steps);
    prop_assert_eq!(&remote_token, &token);
    prop_assert_eq!(&over_rpc, &local, "the same receipts and refusals");
    prop_assert_eq!(remote.head().unwrap(), head.clone());
    for h in 0..=head.height {
        prop_assert_eq!(remote.header(h).unwrap(), devnet.header(h).unwrap());
        prop_assert_eq!(remote.receipts(h).unwrap(), devnet.receipts(h).unwrap());
    }
    drop(remote);
    node.stop();

    // (c) The node's stored blocks, replayed into a fresh ledger.
    let stored_db = StateDb::open(&dir.path().join(detvm_node::NODE_DB_FILE)).unwrap();
    let stored = Ledger::open(Arc::new(stored_db), &Genesis::dev()).unwrap();
    prop_assert_eq!(stored.head(), &head);
    let fresh_db = StateDb::in_memory().unwrap();
    let mut replay = Ledger::open(Arc::new(fresh_db), &Genesis::dev()).unwrap();
    for h in 1..=head.height {
        let block = stored.block(h).unwrap().unwrap();
        prop_assert_eq!(&block, &devnet.block(h).unwrap(), "block {}", h);
        let receipts = replay.apply_block(&block).unwrap();
        prop_assert_eq!(&receipts, &stored.receipts(h).unwrap().unwrap());
        prop_assert_eq!(replay.head(), &block.header);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20))]

    /// Random histories (transfers among dev accounts and to new implicit
    /// ids, token calls that trap or run out of gas, refused transactions:
    /// stale nonces, resent transactions, unfunded signers, limits below
    /// the intrinsic gas, amounts above the balance) give the same
    /// receipts and headers, block by block, on a devnet and on a node,
    /// and the node's blocks replay to the same roots.
    #[test]
    fn a_devnet_a_node_and_a_replay_agree(steps in prop::collection::vec(step(), 1..16)) {
        history_agrees(&steps)?;
    }
}

/// The same history through the in-memory path only: `send_signed` of a
/// transaction built elsewhere, and the executor underneath.
#[test]
fn signed_transactions_built_elsewhere_run_the_same() {
    let mut devnet = Devnet::new();
    let to = fresh_key(0).implicit_id();
    let tx = Transaction {
        chain_id: devnet.chain_id().to_owned(),
        signer: devnet.account(4).id,
        public_key: Keypair::dev(4).public_key(),
        nonce: 0,
        gas_limit: 50_000,
        action: Action::Transfer {
            to: to.clone(),
            amount: 9,
        },
    }
    .sign(&Keypair::dev(4));
    let r = devnet.send_signed(tx.clone()).unwrap();
    assert_eq!(r.hash, tx.hash());
    assert_eq!(devnet.block(r.height).unwrap().transactions, vec![tx]);
    assert_eq!(devnet.balance(&to).unwrap(), 9);
    assert_eq!(
        devnet.ledger().head().state_root,
        devnet.header(r.height).unwrap().state_root
    );
}
