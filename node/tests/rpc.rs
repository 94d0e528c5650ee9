//! The node end to end over real HTTP and WebSocket on loopback: every
//! method, the dev methods, and the error codes (`docs/rpc.md`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use std::sync::Arc;

use detvm_chain::{Action, Keypair, SignedTransaction, Transaction};
use detvm_host::hex;
use detvm_node::{Mining, NodeConfig, RunningNode};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

/// `set` stores the input under `k`; `get` returns it; `fail` traps.
const STORE: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "value_return" (func $value_return (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i64) (result i32)))
  (memory 1)
  (data (i32.const 0) "k")
  (func (export "set")
    (call $input (i64.const 1))
    (call $read_register (i64.const 1) (i32.const 16))
    (drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16)
      (i32.wrap_i64 (call $register_len (i64.const 1))) (i64.const 2))))
  (func (export "fail") unreachable)
  (func (export "get")
    (if (call $storage_read (i32.const 0) (i32.const 1) (i64.const 3))
      (then
        (call $read_register (i64.const 3) (i32.const 16))
        (call $value_return (i32.const 16)
          (i32.wrap_i64 (call $register_len (i64.const 3))))))))"#;

async fn start(config: NodeConfig) -> (RunningNode, HttpClient) {
    let node = detvm_node::start(config).await.expect("node starts");
    let client = HttpClientBuilder::default()
        .build(format!("http://{}", node.addr))
        .expect("client");
    (node, client)
}

fn sign(key: &Keypair, nonce: u64, gas_limit: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id: "detvm-dev".into(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit,
        action,
    }
    .sign(key)
}

async fn send(
    client: &HttpClient,
    tx: &SignedTransaction,
) -> Result<String, jsonrpsee::core::ClientError> {
    client
        .request("send_transaction", rpc_params![hex(&tx.encode())])
        .await
}

fn code_of(e: jsonrpsee::core::ClientError) -> (i32, Option<String>) {
    match e {
        jsonrpsee::core::ClientError::Call(obj) => {
            let kind = obj
                .data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .and_then(|d| d["kind"].as_str().map(str::to_owned));
            (obj.code(), kind)
        }
        other => panic!("not a call error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_call_view_and_query_over_http() {
    let (node, client) = start(NodeConfig::dev()).await;
    let status: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["chain_id"], "detvm-dev");
    assert_eq!(status["height"], 0);

    let a = Keypair::dev(0);
    let code = wat::parse_str(STORE).unwrap();
    let deploy = sign(&a, 0, 100_000_000, Action::Deploy { code });
    let hash = send(&client, &deploy).await.unwrap();
    assert_eq!(hash, hex(&deploy.hash()));
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    assert_eq!(receipt["outcome"]["status"], "deployed");
    assert_eq!(
        receipt["block_height"], 1,
        "instant seal: one block per transaction"
    );
    let contract = receipt["outcome"]["contract"].as_str().unwrap().to_owned();

    let info: Value = client
        .request("get_contract", rpc_params![&contract])
        .await
        .unwrap();
    assert_eq!(info["deployer"], a.implicit_id());

    let call = |nonce: u64, method: &str, args: &[u8]| {
        sign(
            &a,
            nonce,
            10_000_000,
            Action::Call {
                contract: contract.clone(),
                method: method.into(),
                args: args.to_vec(),
                amount: 0,
            },
        )
    };
    // estimate_gas is exactly what execution then uses.
    let set = call(1, "set", b"hello");
    let estimate: Value = client
        .request("estimate_gas", rpc_params![hex(&set.encode())])
        .await
        .unwrap();
    let hash = send(&client, &set).await.unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    assert_eq!(receipt["outcome"]["status"], "returned");
    assert_eq!(receipt["gas_used"], estimate["gas_used"]);
    assert_eq!(receipt["fee"], estimate["fee"]);

    let view: Value = client
        .request("view", rpc_params![&contract, "get"])
        .await
        .unwrap();
    assert_eq!(view["outcome"]["value"], hex(b"hello"));
    // At height 1 the value was not there yet.
    let old: Value = client
        .request("view", rpc_params![&contract, "get", "", 1])
        .await
        .unwrap();
    assert_eq!(old["outcome"]["status"], "returned");
    assert_eq!(old["outcome"]["value"], "");

    let r: Result<Value, _> = client.request("view", rpc_params![&contract, "nope"]).await;
    assert_eq!(
        code_of(r.unwrap_err()),
        (1004, Some("unknown_method".into()))
    );
    let paged: Value = client
        .request("get_state", rpc_params![&contract, "", 1, Value::Null, 10])
        .await
        .unwrap();
    assert_eq!(
        paged["entries"],
        serde_json::json!([]),
        "nothing stored at height 1"
    );

    let hash = send(&client, &call(2, "fail", b"")).await.unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    assert_eq!(receipt["outcome"]["status"], "trapped");
    assert_eq!(receipt["outcome"]["kind"], "unreachable");

    let tx: Value = client
        .request("get_transaction", rpc_params![&hash])
        .await
        .unwrap();
    assert_eq!(tx["nonce"], 2);
    assert_eq!(tx["block_height"], 3);
    let block: Value = client.request("get_block", rpc_params![3]).await.unwrap();
    assert_eq!(block["transactions"][0], hash);
    let by_hash: Value = client
        .request("get_block", rpc_params![block["hash"].as_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(by_hash, block);

    let account: Value = client
        .request("get_account", rpc_params![a.implicit_id()])
        .await
        .unwrap();
    assert_eq!(account["nonce"], 3);

    let state: Value = client
        .request("get_state", rpc_params![&contract])
        .await
        .unwrap();
    assert_eq!(state["entries"][0]["key"], hex(b"k"));
    assert_eq!(state["entries"][0]["value"], hex(b"hello"));

    let key = [b"account/".as_slice(), a.implicit_id().as_bytes()].concat();
    let proof: Value = client
        .request("get_proof", rpc_params![hex(&key)])
        .await
        .unwrap();
    let root: [u8; 32] = parse_hex(proof["state_root"].as_str().unwrap())
        .try_into()
        .unwrap();
    let value = parse_hex(proof["value"].as_str().unwrap());
    let proof =
        detvm_state::Proof::from_bytes(&parse_hex(proof["proof"].as_str().unwrap())).unwrap();
    detvm_state::verify(&root, &key, Some(&value), &proof).expect("the proof verifies");
    node.stop().await;
}

fn parse_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_transactions_get_stable_codes_and_change_nothing() {
    let (node, client) = start(NodeConfig::dev()).await;
    let a = Keypair::dev(0);
    let to = Keypair::dev(1).implicit_id();
    let transfer = |nonce, amount| {
        sign(
            &a,
            nonce,
            1_000_000,
            Action::Transfer {
                to: to.clone(),
                amount,
            },
        )
    };
    let ok = transfer(0, 1);
    send(&client, &ok).await.unwrap();
    let cases: Vec<(SignedTransaction, &str)> = vec![
        (ok.clone(), "already_included"),
        (transfer(0, 2), "stale_nonce"),
        (transfer(1, u128::MAX / 2), "insufficient_balance"),
        (
            {
                let mut t = transfer(1, 1);
                t.signature[0] ^= 1;
                t
            },
            "bad_signature",
        ),
        (
            {
                let mut t = transfer(1, 1).transaction;
                t.chain_id = "other".into();
                t.sign(&a)
            },
            "wrong_chain_id",
        ),
        (
            sign(
                &a,
                1,
                5,
                Action::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            ),
            "gas_limit_too_low",
        ),
        (
            sign(
                &Keypair::from_seed([5; 32]),
                0,
                1_000_000,
                Action::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            ),
            "unknown_signer",
        ),
    ];
    let before: Value = client.request("status", rpc_params![]).await.unwrap();
    for (tx, kind) in cases {
        let err = send(&client, &tx).await.expect_err(kind);
        assert_eq!(code_of(err), (1000, Some(kind.to_owned())), "{kind}");
    }
    let garbage: Result<String, _> = client
        .request("send_transaction", rpc_params!["00ff"])
        .await;
    assert_eq!(
        code_of(garbage.unwrap_err()),
        (1000, Some("malformed".into()))
    );
    let not_hex: Result<String, _> = client.request("send_transaction", rpc_params!["xyz"]).await;
    assert_eq!(code_of(not_hex.unwrap_err()).0, -32602);
    let after: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(before["head"], after["head"], "nothing was mined");

    // A future nonce waits in the pool until the gap is filled.
    let later = transfer(2, 1);
    let height_before: Value = client.request("status", rpc_params![]).await.unwrap();
    send(&client, &later).await.unwrap();
    let height_after: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(
        height_before["height"], height_after["height"],
        "a future nonce alone makes no block"
    );
    let pending: Value = client
        .request("get_transaction", rpc_params![hex(&later.hash())])
        .await
        .unwrap();
    assert_eq!(pending["pending"], true);
    send(&client, &later)
        .await
        .map(|_| ())
        .map_err(code_of)
        .expect_err("duplicate");
    send(&client, &transfer(1, 1)).await.unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![hex(&later.hash())])
        .await
        .unwrap();
    assert_eq!(receipt["outcome"]["status"], "transferred");

    for (method, params, code) in [
        ("get_block", rpc_params![999], 1001),
        ("get_state", rpc_params!["ab".repeat(20), "", 999], 1001),
        (
            "get_state",
            rpc_params!["ab".repeat(20), "", u64::MAX],
            1001,
        ),
        ("get_proof", rpc_params!["ab", 999], 1001),
        ("get_block", rpc_params!["ab"], -32602),
        ("get_receipt", rpc_params![hex(&[7; 32])], 1002),
        ("get_transaction", rpc_params![hex(&[7; 32])], 1002),
        ("get_account", rpc_params!["nobody"], 1003),
        ("get_contract", rpc_params!["ab".repeat(20)], 1003),
        ("view", rpc_params!["ab".repeat(20), "get"], 1003),
        ("no_such_method", rpc_params![], -32601),
        ("get_block", rpc_params![], -32602),
        ("dev_revert", rpc_params![42], 1006),
        ("dev_set_next_timestamp", rpc_params![0], 1007),
    ] {
        let r: Result<Value, _> = client.request(method, params).await;
        assert_eq!(code_of(r.unwrap_err()).0, code, "{method}");
    }
    node.stop().await;
}

/// Sends raw bytes as an HTTP POST and returns the status line and body.
fn raw_post(addr: SocketAddr, body: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer before reading all of an oversized body.
    let _ = stream.write_all(body);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.lines().next().unwrap_or("").to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_rpc_errors() {
    let (node, client) = start(NodeConfig::dev()).await;
    let addr = node.addr;
    let answers = tokio::task::spawn_blocking(move || {
        vec![
            raw_post(addr, b"{not json"),
            raw_post(addr, br#"{"jsonrpc":"2.0","id":1}"#),
            raw_post(
                addr,
                &vec![b' '; (detvm_node::MAX_REQUEST_BYTES + 10) as usize],
            ),
            raw_post(
                addr,
                format!(
                    "[{}]",
                    vec![r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#; 101].join(",")
                )
                .as_bytes(),
            ),
        ]
    })
    .await
    .unwrap();
    assert!(answers[0].1.contains("-32700"), "{:?}", answers[0]);
    assert!(answers[1].1.contains("-32600"), "{:?}", answers[1]);
    assert!(answers[2].0.contains("413"), "{:?}", answers[2].0);
    assert!(
        answers[3].1.contains("-32010") || answers[3].1.contains("batch"),
        "{:?}",
        answers[3]
    );
    // Still serving.
    let status: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["height"], 0);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_methods_mine_snapshot_revert_and_move_time() {
    let mut config = NodeConfig::dev();
    config.mining = Mining::Manual;
    let (node, client) = start(config).await;
    let a = Keypair::dev(0);
    let to = Keypair::dev(1).implicit_id();
    let snap: u64 = client.request("dev_snapshot", rpc_params![]).await.unwrap();
    let tx = sign(
        &a,
        0,
        1_000_000,
        Action::Transfer {
            to: to.clone(),
            amount: 9,
        },
    );
    send(&client, &tx).await.unwrap();
    let status: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["height"], 0, "manual mining waits");
    assert_eq!(status["pending"], 1);
    let t = 5_000_000_000_000_000_000u64;
    let _: Value = client
        .request("dev_set_next_timestamp", rpc_params![t])
        .await
        .unwrap();
    let header: Value = client.request("dev_mine", rpc_params![3]).await.unwrap();
    assert_eq!(header["height"], 3);
    let first: Value = client.request("get_block", rpc_params![1]).await.unwrap();
    assert_eq!(first["timestamp_ns"], t);
    assert_eq!(first["transactions"].as_array().unwrap().len(), 1);
    let receipt: Value = client
        .request("get_receipt", rpc_params![hex(&tx.hash())])
        .await
        .unwrap();
    assert_eq!(receipt["block_height"], 1);
    // Time moves by the offset.
    let _: Value = client
        .request("dev_increase_time", rpc_params![t])
        .await
        .unwrap();
    let header: Value = client.request("dev_mine", rpc_params![]).await.unwrap();
    assert!(header["timestamp_ns"].as_u64().unwrap() > t);
    // Revert undoes the blocks and the transfer.
    let head: Value = client
        .request("dev_revert", rpc_params![snap])
        .await
        .unwrap();
    assert_eq!(head["height"], 0);
    let r: Result<Value, _> = client
        .request("get_receipt", rpc_params![hex(&tx.hash())])
        .await;
    assert_eq!(code_of(r.unwrap_err()).0, 1002);
    let account: Value = client
        .request("get_account", rpc_params![a.implicit_id()])
        .await
        .unwrap();
    assert_eq!(account["nonce"], 0);
    // The same transaction can be sent again after the revert.
    send(&client, &tx).await.unwrap();
    let header: Value = client.request("dev_mine", rpc_params![]).await.unwrap();
    assert_eq!(header["height"], 1);
    node.stop().await;

    // Without --dev the dev methods are refused.
    let mut config = NodeConfig::dev();
    config.dev = false;
    let (node, client) = start(config).await;
    let r: Result<Value, _> = client.request("dev_mine", rpc_params![]).await;
    assert_eq!(code_of(r.unwrap_err()).0, 1005);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_see_every_block() {
    let (node, client) = start(NodeConfig::dev()).await;
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{}", node.addr))
        .await
        .unwrap();
    let mut blocks: jsonrpsee::core::client::Subscription<Value> = ws
        .subscribe("subscribe_blocks", rpc_params![], "unsubscribe_blocks")
        .await
        .unwrap();
    let a = Keypair::dev(0);
    for nonce in 0..3 {
        let tx = sign(
            &a,
            nonce,
            1_000_000,
            Action::Transfer {
                to: Keypair::dev(2).implicit_id(),
                amount: 1,
            },
        );
        send(&client, &tx).await.unwrap();
    }
    for height in 1..=3 {
        let block = blocks.next().await.unwrap().unwrap();
        assert_eq!(block["height"], height);
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_continues_from_its_last_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::dev();
    config.state_dir = Some(dir.path().to_owned());
    let a = Keypair::dev(0);
    let head = {
        let (node, client) = start(config.clone()).await;
        for nonce in 0..3 {
            let tx = sign(
                &a,
                nonce,
                1_000_000,
                Action::Transfer {
                    to: Keypair::dev(3).implicit_id(),
                    amount: 1,
                },
            );
            send(&client, &tx).await.unwrap();
        }
        let status: Value = client.request("status", rpc_params![]).await.unwrap();
        node.stop().await;
        status["head"].clone()
    };
    let (node, client) = start(config).await;
    let status: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["head"], head);
    let tx = sign(
        &a,
        3,
        1_000_000,
        Action::Transfer {
            to: Keypair::dev(3).implicit_id(),
            amount: 1,
        },
    );
    send(&client, &tx).await.unwrap();
    let status: Value = client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["height"], 4);
    node.stop().await;
}

/// The OpenRPC document and the server agree: every documented method is
/// served (wrong parameters give -32602, never -32601), every served method
/// is documented, and required parameters are enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_matches_its_openrpc_document() {
    let doc: Value = serde_json::from_str(detvm_node::rpc::OPENRPC).expect("valid JSON");
    assert_eq!(doc["openrpc"], "1.2.6");
    let documented: std::collections::BTreeSet<String> = doc["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    let (node, client) = start(NodeConfig::dev()).await;
    let served = detvm_node::rpc::module(detvm_node::rpc::Context {
        executor: node.executor.clone(),
        events: tokio::sync::broadcast::channel(1).0,
        dev: true,
    })
    .unwrap();
    let served: std::collections::BTreeSet<String> =
        served.method_names().map(str::to_owned).collect();
    assert_eq!(documented, served);
    let discovered: Value = client.request("rpc.discover", rpc_params![]).await.unwrap();
    assert_eq!(discovered, doc);
    for method in doc["methods"].as_array().unwrap() {
        let name = method["name"].as_str().unwrap();
        let required = method["params"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["required"] == true)
            .count();
        if required == 0 || name.contains("subscribe") {
            continue;
        }
        // Too few parameters: the method exists and says so.
        let r: Result<Value, _> = client.request(name, rpc_params![]).await;
        assert_eq!(code_of(r.unwrap_err()).0, -32602, "{name}");
    }
    node.stop().await;
}

/// A contract that logs its input.
const LOGGER: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $len (param i64) (result i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "log_utf8" (func $log (param i32 i32)))
  (memory 1)
  (func (export "say")
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 0))
    (call $log (i32.const 0) (i32.wrap_i64 (call $len (i64.const 0))))))"#;

fn unsigned(signer: &str, nonce: u64, action: Action) -> SignedTransaction {
    SignedTransaction {
        transaction: Transaction {
            chain_id: "detvm-dev".into(),
            signer: signer.into(),
            public_key: [0; 32],
            nonce,
            gas_limit: 100_000_000,
            action,
        },
        signature: [0; 64],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheats_impersonation_dumps_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::dev();
    config.state_dir = Some(dir.path().to_owned());
    let (node, client) = start(config).await;

    // Impersonation: an unfunded named account cannot pay, then can.
    let who = "whale.example";
    let t = unsigned(
        who,
        0,
        Action::Transfer {
            to: Keypair::dev(3).implicit_id(),
            amount: 5,
        },
    );
    let r = send(&client, &t).await.unwrap_err();
    assert_eq!(code_of(r), (1000, Some("insufficient_balance".into())));
    let _: Value = client
        .request("dev_set_balance", rpc_params![who, "1000000000000000"])
        .await
        .unwrap();
    let account: Value = client
        .request("get_account", rpc_params![who])
        .await
        .unwrap();
    assert_eq!(account["balance"], "1000000000000000");
    let hash = send(&client, &t).await.unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    assert_eq!(receipt["outcome"]["status"], "transferred");
    // A wrong (non-zero) signature is still refused.
    let mut forged = unsigned(
        who,
        1,
        Action::Transfer {
            to: Keypair::dev(3).implicit_id(),
            amount: 5,
        },
    );
    forged.signature[0] = 1;
    assert_eq!(code_of(send(&client, &forged).await.unwrap_err()).0, 1000);

    // Logs, by query and by subscription.
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{}", node.addr))
        .await
        .unwrap();
    let a = Keypair::dev(0);
    let hash = send(
        &client,
        &sign(
            &a,
            0,
            100_000_000,
            Action::Deploy {
                code: wat::parse_str(LOGGER).unwrap(),
            },
        ),
    )
    .await
    .unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    let logger = receipt["outcome"]["contract"].as_str().unwrap().to_owned();
    let mut logs: jsonrpsee::core::client::Subscription<Value> = ws
        .subscribe(
            "subscribe_logs",
            rpc_params![serde_json::json!({ "contract": logger })],
            "unsubscribe_logs",
        )
        .await
        .unwrap();
    let call = |nonce, text: &str| {
        sign(
            &a,
            nonce,
            10_000_000,
            Action::Call {
                contract: logger.clone(),
                method: "say".into(),
                args: text.as_bytes().to_vec(),
                amount: 0,
            },
        )
    };
    send(&client, &call(1, "hello")).await.unwrap();
    send(&client, &call(2, "world")).await.unwrap();
    let first = logs.next().await.unwrap().unwrap();
    assert_eq!(first["logs"][0], "hello");
    let second = logs.next().await.unwrap().unwrap();
    assert_eq!(second["logs"][0], "world");
    let found: Value = client
        .request(
            "get_logs",
            rpc_params![serde_json::json!({ "contract": logger })],
        )
        .await
        .unwrap();
    let lines: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["logs"][0].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["hello", "world"]);
    let other: Value = client
        .request(
            "get_logs",
            rpc_params![serde_json::json!({ "contract": "ab".repeat(20) })],
        )
        .await
        .unwrap();
    assert_eq!(other, serde_json::json!([]));
    let bad: Result<Value, _> = client
        .request(
            "get_logs",
            rpc_params![serde_json::json!({ "from_height": 0, "to_height": 50_000 })],
        )
        .await;
    assert_eq!(code_of(bad.unwrap_err()).0, -32602);

    // Storage and code cheats.
    let _: Value = client
        .request(
            "dev_set_storage",
            rpc_params![&logger, hex(b"k"), hex(b"v")],
        )
        .await
        .unwrap();
    let state: Value = client
        .request("get_state", rpc_params![&logger])
        .await
        .unwrap();
    assert_eq!(state["entries"][0]["value"], hex(b"v"));
    let store = wat::parse_str(STORE).unwrap();
    let _: Value = client
        .request("dev_set_code", rpc_params![&logger, hex(&store)])
        .await
        .unwrap();
    let view: Value = client
        .request("view", rpc_params![&logger, "get"])
        .await
        .unwrap();
    assert_eq!(
        view["outcome"]["value"],
        hex(b"v"),
        "new code, same storage"
    );
    let rejected: Result<Value, _> = client
        .request("dev_set_code", rpc_params![&logger, "0061736d"])
        .await;
    assert_eq!(code_of(rejected.unwrap_err()).0, 1008);

    // Dump, change, load: the state and its root come back.
    let dump: Value = client
        .request("dev_dump_state", rpc_params![])
        .await
        .unwrap();
    assert_eq!(dump["format"], "detvm-state-dump");
    let _: Value = client
        .request("dev_set_balance", rpc_params![who, "1"])
        .await
        .unwrap();
    let loaded: Value = client
        .request("dev_load_state", rpc_params![dump.clone()])
        .await
        .unwrap();
    assert_eq!(loaded["state_root"], dump["state_root"]);
    let mut future = dump.clone();
    future["version"] = serde_json::json!(99);
    let r: Result<Value, _> = client.request("dev_load_state", rpc_params![future]).await;
    assert_eq!(code_of(r.unwrap_err()).0, -32602);
    let r: Result<Value, _> = client
        .request(
            "dev_load_state",
            rpc_params![serde_json::json!({"format": "x"})],
        )
        .await;
    assert_eq!(code_of(r.unwrap_err()).0, -32602);
    node.stop().await;

    // The cheats are blocks: a fresh ledger replays the chain to the same roots.
    let db =
        Arc::new(detvm_state::StateDb::open(&dir.path().join(detvm_node::NODE_DB_FILE)).unwrap());
    let stored = detvm_chain::Ledger::open(db, &detvm_chain::Genesis::dev()).unwrap();
    let mut fresh = detvm_chain::Ledger::open(
        Arc::new(detvm_state::StateDb::in_memory().unwrap()),
        &detvm_chain::Genesis::dev(),
    )
    .unwrap();
    for h in 1..=stored.head().height {
        fresh
            .apply_block(&stored.block(h).unwrap().unwrap())
            .expect("replays");
    }
    assert_eq!(fresh.head(), stored.head());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_show_every_host_call_of_real_transactions() {
    let (node, client) = start(NodeConfig::dev()).await;
    let a = Keypair::dev(0);
    let hash = send(
        &client,
        &sign(
            &a,
            0,
            100_000_000,
            Action::Deploy {
                code: wat::parse_str(STORE).unwrap(),
            },
        ),
    )
    .await
    .unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    let contract = receipt["outcome"]["contract"].as_str().unwrap().to_owned();
    let set = sign(
        &a,
        1,
        10_000_000,
        Action::Call {
            contract: contract.clone(),
            method: "set".into(),
            args: b"abc".to_vec(),
            amount: 0,
        },
    );
    // A dry run first, then the real transaction, then its trace.
    let dry: Value = client
        .request("trace_call", rpc_params![hex(&set.encode())])
        .await
        .unwrap();
    let hash = send(&client, &set).await.unwrap();
    let receipt: Value = client
        .request("get_receipt", rpc_params![&hash])
        .await
        .unwrap();
    let trace: Value = client
        .request("trace_transaction", rpc_params![&hash])
        .await
        .unwrap();
    for field in [
        "outcome",
        "gas_used",
        "fee",
        "logs",
        "state_changes",
        "block_height",
        "index",
    ] {
        assert_eq!(trace[field], receipt[field], "{field}");
    }
    assert_eq!(dry["gas_used"], receipt["gas_used"]);
    let names: Vec<&str> = trace["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["input", "read_register", "register_len", "storage_write"]
    );
    let host_gas: u64 = trace["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["gas"].as_u64().unwrap())
        .sum();
    assert!(host_gas > 0 && host_gas < receipt["gas_used"].as_u64().unwrap());
    assert_eq!(dry["host_calls"], trace["host_calls"]);
    let r: Result<Value, _> = client
        .request("trace_transaction", rpc_params![hex(&[1; 32])])
        .await;
    assert_eq!(code_of(r.unwrap_err()).0, 1002);
    node.stop().await;
}
