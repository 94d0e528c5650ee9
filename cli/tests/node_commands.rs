//! `detvm node` as a process: the commands that talk to it, `kill -9`
//! during a stream of transactions, restart, and `detvm replay`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{detvm, json_of, rpc, rpc_url_of};
use detvm_chain::{Action, Keypair, Transaction};
use detvm_host::hex;
use serde_json::Value;

/// A node process, killed when dropped so no test leaves one behind.
struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(state: Option<&Path>) -> Node {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detvm"));
    cmd.args(["node", "--dev", "--rpc", "127.0.0.1:0"]);
    if let Some(dir) = state {
        cmd.arg("--state").arg(dir);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the node starts");
    let url = rpc_url_of(&mut child);
    Node { url, child }
}

fn transfer(key: &Keypair, nonce: u64, to: &str) -> String {
    let tx = Transaction {
        chain_id: "detvm-dev".into(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit: 1_000_000,
        action: Action::Transfer {
            to: to.into(),
            amount: 1,
        },
    }
    .sign(key);
    hex(&tx.encode())
}

#[test]
fn commands_drive_a_node_and_replay_checks_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("chain");
    let keys = dir.path().join("keys");
    let keys_dir = keys.to_str().unwrap();
    let node = start_node(Some(&state));
    let url = node.url.clone();

    let alice = Keypair::dev(0);
    let imported = detvm(&[
        "keys",
        "import",
        &hex(&alice.seed()),
        "--name",
        "alice",
        "--keys-dir",
        keys_dir,
        "--json",
    ]);
    assert!(imported.status.success());
    assert_eq!(json_of(&imported)["account_id"], alice.implicit_id());
    let shown = detvm(&["keys", "show", "alice", "--keys-dir", keys_dir, "--json"]);
    assert_eq!(json_of(&shown)["account_id"], alice.implicit_id());
    assert!(
        !String::from_utf8_lossy(&shown.stdout).contains(&hex(&alice.seed())),
        "show never prints the secret"
    );
    let new = detvm(&[
        "keys",
        "new",
        "--name",
        "fresh",
        "--keys-dir",
        keys_dir,
        "--json",
    ]);
    let fresh = json_of(&new)["account_id"].as_str().unwrap().to_owned();
    let listed = json_of(&detvm(&["keys", "list", "--keys-dir", keys_dir, "--json"]));
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);

    let wat = dir.path().join("store.wat");
    std::fs::write(
        &wat,
        r#"(module
          (import "env" "input" (func $input (param i64)))
          (import "env" "register_len" (func $len (param i64) (result i64)))
          (import "env" "read_register" (func $read (param i64 i32)))
          (import "env" "value_return" (func $ret (param i32 i32)))
          (memory 1)
          (func (export "echo")
            (call $input (i64.const 0))
            (call $read (i64.const 0) (i32.const 0))
            (call $ret (i32.const 0) (i32.wrap_i64 (call $len (i64.const 0))))))"#,
    )
    .unwrap();
    let tx = |args: &[&str]| {
        let mut all = vec!["tx"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--key",
            "alice",
            "--keys-dir",
            keys_dir,
            "--rpc",
            &url,
            "--json",
        ]);
        detvm(&all)
    };
    let deployed = tx(&["deploy", wat.to_str().unwrap()]);
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    let receipt = json_of(&deployed);
    let contract = receipt["outcome"]["contract"].as_str().unwrap().to_owned();
    let called = tx(&["call", &contract, "echo", "u8:7"]);
    assert_eq!(json_of(&called)["outcome"]["value"], "07");
    let sent = tx(&["transfer", "--to", &fresh, "--amount", "5"]);
    assert!(sent.status.success());
    let receipt_hash = json_of(&sent)["tx_hash"].as_str().unwrap().to_owned();
    let shown = detvm(&["receipt", &receipt_hash, "--rpc", &url, "--json"]);
    assert_eq!(json_of(&shown)["outcome"]["status"], "transferred");
    let view = detvm(&["view", &contract, "echo", "u8:9", "--rpc", &url, "--json"]);
    assert_eq!(json_of(&view)["outcome"]["value"], "09");
    let block = json_of(&detvm(&["block", "latest", "--rpc", &url, "--json"]));
    assert_eq!(block["height"], 3);
    // Refused and failing transactions exit 1 with a JSON error or receipt.
    let poor = tx(&[
        "transfer",
        "--to",
        &fresh,
        "--amount",
        &u128::MAX.to_string(),
    ]);
    assert_eq!(poor.status.code(), Some(1));
    assert_eq!(json_of(&poor)["error"]["kind"], "insufficient_balance");
    let missing = tx(&["call", &contract, "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    // No node there: exit 2, not a hang.
    let down = detvm(&["block", "--rpc", "http://127.0.0.1:9", "--json"]);
    assert_eq!(down.status.code(), Some(2));

    // Replay needs the node stopped (its database is locked while it runs).
    drop(node);
    let replay = detvm(&["replay", "--state", state.to_str().unwrap(), "--json"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert_eq!(
        json_of(&replay)["blocks"],
        block["height"].as_u64().unwrap() + 1
    );

    // The reproducibility check replays the same blocks: one case per
    // block, and a second run compares equal case by case.
    let state_arg = state.to_str().unwrap();
    let only_replay = [
        "reproduce",
        "--skip",
        "spec",
        "--skip",
        "generated",
        "--skip",
        "determinism",
        "--skip",
        "contracts",
        "--state",
        state_arg,
        "--json",
    ];
    let first = detvm(&only_replay);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let first = json_of(&first);
    let sections = first["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0]["name"], "replay");
    // One case per block `replay` re-executed.
    assert_eq!(
        sections[0]["cases"].as_array().unwrap().len() as u64,
        json_of(&replay)["blocks"].as_u64().unwrap()
    );
    let file = state.join("reproduce.json");
    std::fs::write(&file, first.to_string()).unwrap();
    let mut again = only_replay.to_vec();
    again.extend(["--expect-file", file.to_str().unwrap()]);
    let again = detvm(&again);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(json_of(&again)["same"], true);
    assert_eq!(
        detvm_reproduce::replay::NODE_DB_FILE,
        detvm_node::NODE_DB_FILE,
        "the reproducibility check reads the node's database"
    );
}

#[test]
fn kill_9_during_a_transaction_stream_loses_no_committed_block() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("chain");
    let sender = Keypair::dev(0);
    let to = Keypair::dev(1).implicit_id();
    // Every transaction the node acknowledged (instant seal: committed).
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..5u64 {
        let node = start_node(Some(&state));
        let url = node.url.clone();
        rpc(&url, "status", vec![]).expect("the restarted node answers");
        // Everything acknowledged before is still there.
        for hash in &acknowledged {
            let r = rpc(&url, "get_receipt", vec![Value::from(hash.clone())]);
            assert!(r.is_ok(), "round {round}: lost {hash}");
        }
        let nonce =
            rpc(&url, "get_account", vec![Value::from(sender.implicit_id())]).unwrap()["nonce"]
                .as_u64()
                .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stream = {
            let (url, stop, sender, to) = (url.clone(), stop.clone(), sender.clone(), to.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut nonce = nonce;
                while !stop.load(Ordering::Relaxed) {
                    match rpc(
                        &url,
                        "send_transaction",
                        vec![Value::from(transfer(&sender, nonce, &to))],
                    ) {
                        Ok(hash) => {
                            acked.push(hash.as_str().unwrap().to_owned());
                            nonce += 1;
                        }
                        Err(_) => break,
                    }
                }
                acked
            })
        };
        // Kill at a different moment each round, mid-stream.
        std::thread::sleep(std::time::Duration::from_millis(150 + 70 * round));
        let mut node = node;
        node.child.kill().expect("SIGKILL");
        node.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let acked = stream.join().unwrap();
        assert!(!acked.is_empty(), "round {round}: the stream sent nothing");
        acknowledged.extend(acked);
    }
    let node = start_node(Some(&state));
    let status = rpc(&node.url, "status", vec![]).unwrap();
    let height = status["height"].as_u64().unwrap();
    assert!(height as usize >= acknowledged.len());
    for hash in &acknowledged {
        rpc(&node.url, "get_receipt", vec![Value::from(hash.clone())])
            .expect("every acknowledged transaction survived");
    }
    drop(node);
    let replay = detvm(&["replay", "--state", state.to_str().unwrap(), "--json"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert_eq!(json_of(&replay)["blocks"], height);
}

/// `put`: the input's first byte is the key, the rest the value; `del`
/// removes the key in the first input byte; `clock` stores the block's
/// height and timestamp under key `t`. Nothing traps.
const KV: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $len (param i64) (result i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "storage_write" (func $write (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "storage_remove" (func $remove (param i32 i32 i64) (result i32)))
  (import "env" "block_height" (func $height (result i64)))
  (import "env" "block_timestamp" (func $time (result i64)))
  (memory 1)
  (data (i32.const 0) "t")
  (func $load (result i32)
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 64))
    (i32.wrap_i64 (call $len (i64.const 0))))
  (func (export "put") (local $n i32)
    (local.set $n (call $load))
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then (drop (call $write (i32.const 64) (i32.const 1) (i32.const 65)
        (i32.sub (local.get $n) (i32.const 1)) (i64.const 1))))))
  (func (export "del")
    (if (i32.gt_u (call $load) (i32.const 0))
      (then (drop (call $remove (i32.const 64) (i32.const 1) (i64.const 1))))))
  (func (export "clock")
    (i64.store (i32.const 8) (call $height))
    (i64.store (i32.const 16) (call $time))
    (drop (call $write (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 16) (i64.const 1)))))"#;

/// One call of a random history: caller, method, input.
fn kv_step() -> impl proptest::strategy::Strategy<Value = (usize, &'static str, Vec<u8>)> {
    use proptest::prelude::*;
    (
        0..2usize,
        prop_oneof![Just("put"), Just("put"), Just("del"), Just("clock")],
        prop::collection::vec(0u8..4, 1..6),
    )
}

/// An unsigned transaction as `detvm deploy` / `call` make them: a
/// deploy may use the whole block, a call has the default `--gas`.
fn unsigned(signer: &str, nonce: u64, action: Action) -> detvm_chain::SignedTransaction {
    let gas_limit = match action {
        Action::Deploy { .. } => detvm_chain::GenesisParams::default().block_gas_limit,
        _ => 1_000_000_000,
    };
    detvm_chain::SignedTransaction {
        transaction: Transaction {
            chain_id: "detvm-local".into(),
            signer: signer.into(),
            public_key: [0; 32],
            nonce,
            gas_limit,
            action,
        },
        signature: [0; 64],
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4))]

    /// The same calls through `detvm call --state DIR`, a test kit devnet
    /// and a node over JSON-RPC, all on the local genesis: the same
    /// receipts and the same state root after every block.
    #[test]
    fn the_cli_the_test_kit_and_the_node_agree(steps in proptest::collection::vec(kv_step(), 1..8)) {
        let callers = ["alice", "bob"];
        let dir = tempfile::tempdir().unwrap();
        let cli_state = dir.path().join("cli");
        // The same bytes everywhere, so the contract id is the same.
        let wat = dir.path().join("kv.wasm");
        std::fs::write(&wat, wat_bytes()).unwrap();
        let genesis = dir.path().join("local.json");
        std::fs::write(&genesis, detvm_chain::Genesis::local().to_json()).unwrap();
        let state_arg = cli_state.to_str().unwrap();

        // 1. The command line.
        let deployed = detvm(&["deploy", wat.to_str().unwrap(), "--from", "alice", "--state", state_arg, "--json"]);
        proptest::prop_assert!(deployed.status.success());
        let contract = json_of(&deployed)["contract"].as_str().unwrap().to_owned();
        for (who, method, input) in &steps {
            let arg = format!("0x{}", hex(input));
            let out = detvm(&["call", &contract, method, &arg, "--from", callers[*who], "--state", state_arg]);
            proptest::prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let cli = {
            let db = detvm_state::StateDb::open(&cli_state.join("state.redb")).unwrap();
            detvm_chain::Ledger::open(std::sync::Arc::new(db), &detvm_chain::Genesis::local()).unwrap()
        };

        // 2. The same transactions on a node started with the local genesis.
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_detvm"));
        cmd.args(["node", "--dev", "--genesis", genesis.to_str().unwrap(), "--rpc", "127.0.0.1:0"]);
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let url = rpc_url_of(&mut child);
        let node = Node { child, url };
        let mut nonces = [0u64; 2];
        let mut txs = vec![unsigned("alice", 0, Action::Deploy { code: wat_bytes() })];
        nonces[0] = 1;
        for (who, method, input) in &steps {
            txs.push(unsigned(callers[*who], nonces[*who], Action::Call {
                contract: contract.clone(),
                method: (*method).into(),
                args: input.clone(),
                amount: 0,
            }));
            nonces[*who] += 1;
        }
        for (i, tx) in txs.iter().enumerate() {
            let height = i as u64 + 1;
            rpc(&node.url, "dev_set_next_timestamp", vec![Value::from(height * 1_000_000_000)]).unwrap();
            let hash = rpc(&node.url, "send_transaction", vec![Value::from(hex(&tx.encode()))]).unwrap();
            let receipt = rpc(&node.url, "get_receipt", vec![hash]).unwrap();
            let block = rpc(&node.url, "get_block", vec![Value::from(height)]).unwrap();
            let mine = cli.block(height).unwrap().unwrap();
            proptest::prop_assert_eq!(block["state_root"].as_str().unwrap(), hex(&mine.header.state_root));
            proptest::prop_assert_eq!(block["receipts_root"].as_str().unwrap(), hex(&mine.header.receipts_root));
            let stored = &cli.receipts(height).unwrap().unwrap()[0];
            proptest::prop_assert_eq!(receipt["gas_used"].as_u64().unwrap(), stored.gas_used);
        }
        drop(node);

        // 3. The test kit's devnet (block h at h seconds by default).
        let mut devnet = detvm_testkit::Devnet::with_genesis(&detvm_chain::Genesis::local()).unwrap();
        for (i, tx) in txs.into_iter().enumerate() {
            let height = i as u64 + 1;
            let result = devnet.send_signed(tx).unwrap();
            proptest::prop_assert_eq!(result.height, height);
            proptest::prop_assert_eq!(devnet.head().state_root, cli.block(height).unwrap().unwrap().header.state_root);
            proptest::prop_assert_eq!(&result.receipt, &cli.receipts(height).unwrap().unwrap()[0]);
        }
    }
}

fn wat_bytes() -> Vec<u8> {
    wast::parser::parse::<wast::Wat>(&wast::parser::ParseBuffer::new(KV).unwrap())
        .unwrap()
        .encode()
        .unwrap()
}
