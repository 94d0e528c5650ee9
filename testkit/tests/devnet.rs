//! The devnet runs the node's executor: fees, traps, snapshots, time, and
//! the same blocks as a real `detvm node --dev` for the same transactions.

use detvm_chain::{Keypair, SignedTransaction, TxOutcome};
use detvm_host::hex;
use detvm_testkit::{Devnet, Error, contracts};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use proptest::prelude::*;
use serde_json::Value;

fn total(devnet: &Devnet, ids: &[String]) -> u128 {
    ids.iter().map(|id| devnet.balance(id).unwrap()).sum()
}

#[test]
fn the_token_with_fees_traps_and_balances() {
    let mut devnet = Devnet::new();
    let ids: Vec<String> = (0..3).map(|i| devnet.id(i)).collect();
    let before = total(&devnet, &ids);
    let code = contracts::wasm("token").expect("the token is built");
    let token = devnet
        .deploy(&code)
        .send()
        .unwrap()
        .assert_ok()
        .contract_id();
    let mut fees = devnet.receipts(1).unwrap()[0].fee;
    let mut paid = |r: detvm_testkit::TxResult| {
        fees += r.receipt.fee;
        r
    };
    let r = devnet
        .call(&token, "init", &("TOK".to_string(),))
        .send()
        .unwrap();
    paid(r).assert_ok();
    let r = devnet
        .call(&token, "mint", &(ids[0].clone(), 100u128))
        .send()
        .unwrap();
    paid(r).assert_ok();
    let r = devnet
        .call(&token, "transfer", &(ids[1].clone(), 30u128))
        .send()
        .unwrap();
    paid(r).assert_ok();
    // Account 1 cannot spend 50: the call traps, pays, and changes nothing else.
    let root = devnet.head().state_root;
    let r = devnet
        .call(&token, "transfer", &(ids[2].clone(), 50u128))
        .from(1)
        .send()
        .unwrap();
    let r = paid(r);
    r.assert_trap("host");
    assert!(r.receipt.fee > 0);
    assert_ne!(devnet.head().state_root, root, "the fee and nonce changed");
    let keys: Vec<Vec<u8>> = r
        .receipt
        .state_changes
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys, vec![detvm_chain::account_key(&ids[1])]);
    let balance: u128 = {
        let v = devnet
            .view(&token, "balance_of", &(ids[1].clone(),), None)
            .unwrap();
        borsh::from_slice(v.return_value().unwrap()).unwrap()
    };
    assert_eq!(balance, 30);
    assert_eq!(
        total(&devnet, &ids),
        before - fees,
        "fees are burnt, nothing else moves"
    );
    // A refused transaction is an error and makes no block.
    let height = devnet.head().height;
    let too_much = devnet.transfer(&ids[2], u128::MAX / 2).from(1).send();
    assert!(matches!(too_much, Err(Error::Refused(e)) if e.kind() == "insufficient_balance"));
    assert_eq!(devnet.head().height, height);
}

#[test]
fn snapshots_and_time() {
    let mut devnet = Devnet::new();
    let to = Keypair::from_seed([3; 32]).implicit_id();
    let snap = devnet.snapshot();
    let root = devnet.head().state_root;
    devnet.transfer(&to, 7).send().unwrap().assert_ok();
    assert_eq!(devnet.balance(&to).unwrap(), 7);
    devnet.revert(snap).unwrap();
    assert_eq!(devnet.balance(&to).unwrap(), 0);
    assert_eq!(devnet.head().state_root, root);
    assert_eq!(devnet.nonce(&devnet.id(0)).unwrap(), 0);
    // Block h is at h seconds; time moves forward on request.
    devnet.mine().unwrap();
    assert_eq!(devnet.head().timestamp_ns, 1_000_000_000);
    devnet.advance_time(3_600_000_000_000);
    devnet.mine().unwrap();
    assert_eq!(
        devnet.head().timestamp_ns,
        2_000_000_000 + 3_600_000_000_000
    );
    devnet.set_next_timestamp(9_000_000_000_000);
    devnet.mine().unwrap();
    assert_eq!(devnet.head().timestamp_ns, 9_000_000_000_000);
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Step {
    Transfer { from: u32, to: u8, amount: u128 },
    TokenMint { from: u32, amount: u128 },
    TokenTransfer { from: u32, to: u32, amount: u128 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..3u32,
            0..6u8,
            prop_oneof![1u128..1_000, Just(u128::MAX / 3)]
        )
            .prop_map(|(from, to, amount)| Step::Transfer { from, to, amount }),
        (0..3u32, 1u128..500).prop_map(|(from, amount)| Step::TokenMint { from, amount }),
        (0..3u32, 0..3u32, 1u128..400).prop_map(|(from, to, amount)| Step::TokenTransfer {
            from,
            to,
            amount
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// The same transactions at the same timestamps give the same blocks
    /// (hence the same transactions, receipts and state roots) on a
    /// devnet and on a real dev node over JSON-RPC.
    #[test]
    fn a_devnet_and_a_node_make_the_same_blocks(steps in prop::collection::vec(step(), 1..12)) {
        // Run on the devnet first, keeping each transaction, its
        // timestamp and whether it made a block.
        let mut devnet = Devnet::new();
        let code = contracts::wasm("token").expect("the token is built");
        let mut history: Vec<(SignedTransaction, u64, Option<u64>)> = Vec::new();
        let mut run = |devnet: &mut Devnet, tx: SignedTransaction| {
            let ts = (devnet.head().height + 1) * 1_000_000_000;
            devnet.set_next_timestamp(ts);
            let height = devnet.send_signed(tx.clone()).ok().map(|r| r.height);
            history.push((tx, ts, height));
        };
        let deploy = devnet.deploy(&code).signed().unwrap();
        run(&mut devnet, deploy);
        let token = match &devnet.receipts(1).unwrap()[0].outcome {
            TxOutcome::Deployed { contract, .. } => contract.clone(),
            other => panic!("deploy: {other:?}"),
        };
        let init = devnet.call(&token, "init", &("T".to_string(),)).signed().unwrap();
        run(&mut devnet, init);
        for s in steps {
            let tx = match s {
                Step::Transfer { from, to, amount } => {
                    let to = if to < 3 {
                        devnet.id(u32::from(to))
                    } else {
                        Keypair::from_seed([to; 32]).implicit_id()
                    };
                    devnet.transfer(&to, amount).from(from).signed().unwrap()
                }
                Step::TokenMint { from, amount } => {
                    let to = devnet.id(from);
                    devnet.call(&token, "mint", &(to, amount)).from(from).signed().unwrap()
                }
                Step::TokenTransfer { from, to, amount } => {
                    let to = devnet.id(to);
                    devnet.call(&token, "transfer", &(to, amount)).from(from).signed().unwrap()
                }
            };
            run(&mut devnet, tx);
        }
        // The same on a node.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let node_blocks: Vec<(Option<String>, Option<String>)> = runtime.block_on(async {
            let node = detvm_node::start(detvm_node::NodeConfig::dev()).await.unwrap();
            let client = HttpClientBuilder::default()
                .build(format!("http://{}", node.addr))
                .unwrap();
            let mut out = Vec::new();
            for (tx, ts, _) in &history {
                let _: Value = client.request("dev_set_next_timestamp", rpc_params![*ts]).await.unwrap();
                let sent: Result<String, _> =
                    client.request("send_transaction", rpc_params![hex(&tx.encode())]).await;
                let status: Value = client.request("status", rpc_params![]).await.unwrap();
                let head = &status["head"];
                out.push((
                    sent.ok(),
                    head["hash"].as_str().map(str::to_owned),
                ));
            }
            node.stop().await;
            out
        });
        for ((_, _, height), (sent, head_hash)) in history.iter().zip(node_blocks) {
            prop_assert_eq!(height.is_some(), sent.is_some(), "one refused what the other took");
            if let Some(h) = height {
                let mine = devnet.ledger().block(*h).unwrap().unwrap();
                prop_assert_eq!(head_hash, Some(hex(&mine.hash())));
            }
        }
    }
}

/// The token scenario, written once against [`DevChain`].
fn token_scenario(
    chain: &mut dyn detvm_testkit::DevChain,
    code: &[u8],
) -> Vec<detvm_chain::TxReceipt> {
    use detvm_testkit::Tx;
    let alice = Keypair::dev(0).implicit_id();
    let bob = Keypair::dev(1).implicit_id();
    let deploy = Tx::new(
        chain,
        detvm_chain::Action::Deploy {
            code: code.to_vec(),
        },
    )
    .send()
    .unwrap();
    let token = deploy.contract_id();
    let call = |method: &str, args: Vec<u8>| detvm_chain::Action::Call {
        contract: token.clone(),
        method: method.into(),
        args,
        amount: 0,
    };
    let mut receipts = vec![deploy.receipt.clone()];
    for (from, action) in [
        (
            0,
            call("init", borsh::to_vec(&("TOK".to_string(),)).unwrap()),
        ),
        (
            0,
            call("mint", borsh::to_vec(&(alice.clone(), 500u128)).unwrap()),
        ),
        (
            0,
            call("transfer", borsh::to_vec(&(bob.clone(), 200u128)).unwrap()),
        ),
        (
            1,
            call(
                "transfer",
                borsh::to_vec(&(alice.clone(), 900u128)).unwrap(),
            ),
        ),
        (
            1,
            detvm_chain::Action::Transfer {
                to: alice.clone(),
                amount: 77,
            },
        ),
    ] {
        receipts.push(Tx::new(chain, action).from(from).send().unwrap().receipt);
    }
    receipts
}

#[test]
fn the_test_kit_drives_a_devnet_and_a_running_node_alike() {
    let code = contracts::wasm("token").expect("the token is built");
    let mut devnet = Devnet::new();
    let local = token_scenario(&mut devnet, &code);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let node = runtime
        .block_on(detvm_node::start(detvm_node::NodeConfig::dev()))
        .unwrap();
    let mut remote =
        detvm_testkit::RemoteDevnet::connect(&format!("http://{}", node.addr)).unwrap();
    let snapshot = remote.snapshot().unwrap();
    let over_rpc = token_scenario(&mut remote, &code);
    assert_eq!(local, over_rpc, "the same receipts, field by field");
    assert!(matches!(&over_rpc[4].outcome, TxOutcome::Trapped { kind, .. } if kind == "host"));
    let balance: u128 = borsh::from_slice(
        &remote
            .view(
                local[0].outcome_contract(),
                "balance_of",
                &(Keypair::dev(1).implicit_id(),),
                None,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(balance, 200);
    assert_eq!(
        remote.balance(&Keypair::dev(0).implicit_id()).unwrap(),
        devnet.balance(&Keypair::dev(0).implicit_id()).unwrap()
    );
    // Revert over RPC: the node is back at genesis.
    remote.revert(snapshot).unwrap();
    assert_eq!(remote.head().unwrap()["height"], 0);
    let refused = remote
        .transfer(&Keypair::dev(2).implicit_id(), u128::MAX / 2)
        .send();
    assert!(
        matches!(refused, Err(Error::Rpc { code: 1000, kind: Some(k), .. }) if k == "insufficient_balance")
    );
    drop(remote);
    runtime.block_on(node.stop());
}

/// The contract a deploy receipt names.
trait DeployedContract {
    fn outcome_contract(&self) -> &str;
}

impl DeployedContract for detvm_chain::TxReceipt {
    fn outcome_contract(&self) -> &str {
        match &self.outcome {
            TxOutcome::Deployed { contract, .. } => contract,
            other => panic!("not a deploy: {other:?}"),
        }
    }
}
