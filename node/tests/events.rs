//! Events and cross-contract calls over JSON-RPC: receipts carry every
//! event and the call tree, `get_events` filters them by contract, topic
//! position and height, `subscribe_events` streams them, and bad filters
//! are refused (`docs/rpc.md`).

use detvm_chain::{Action, Keypair, SignedTransaction, Transaction};
use detvm_host::hex;
use detvm_node::{NodeConfig, RunningNode};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

/// A 32-byte topic: `name` padded with dots (printable, so it fits in a
/// WAT string as is).
fn topic(name: &str) -> [u8; 32] {
    let mut t = [b'.'; 32];
    t[..name.len()].copy_from_slice(name.as_bytes());
    t
}

fn text(t: &[u8; 32]) -> &str {
    std::str::from_utf8(t).unwrap()
}

const T_B: &str = "topic/b";
const T_A1: &str = "topic/a1";
const T_A2: &str = "topic/a2";
const X: &str = "topic/x";

/// The callee. `emit` logs `b-log`, emits `[T_B, input]` with data
/// `from-b` (the input is a 32-byte topic) and returns `ok`;
/// `emit_then_trap` emits `[T_B]` and traps.
fn emitter() -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (import "env" "log_utf8" (func $log (param i32 i32)))
  (import "env" "value_return" (func $ret (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "{t_b}")
  (data (i32.const 64) "from-b")
  (data (i32.const 80) "b-log")
  (data (i32.const 96) "ok")
  (func (export "emit")
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 32))
    (call $log (i32.const 80) (i32.const 5))
    (call $emit (i32.const 0) (i32.const 2) (i32.const 64) (i32.const 6))
    (call $ret (i32.const 96) (i32.const 2)))
  (func (export "emit_then_trap")
    (call $emit (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 6))
    unreachable))"#,
        t_b = text(&topic(T_B)),
    ))
    .unwrap()
}

/// The caller; its input is the callee's id. `go` emits `[T_A1]` "a1",
/// calls the callee's `emit` with `X` and 7 tokens attached, emits
/// `[T_A2]` "a2", calls `emit_then_trap` (which traps) and `nope` (which
/// is refused). `go_then_trap` calls `emit` and then traps itself.
fn caller() -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (import "env" "call_contract"
    (func $call (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (memory 1)
  (data (i32.const 64) "emit")
  (data (i32.const 80) "emit_then_trap")
  (data (i32.const 100) "nope")
  (data (i32.const 128) "{x}")
  (data (i32.const 160) "\07")
  (data (i32.const 192) "{t_a1}")
  (data (i32.const 224) "{t_a2}")
  (data (i32.const 256) "a1a2")
  (func $callee
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 0)))
  (func $call_emit
    (drop (call $call (i32.const 0) (i32.const 40) (i32.const 64) (i32.const 4)
      (i32.const 128) (i32.const 32) (i32.const 160) (i64.const 2000000) (i64.const 1))))
  (func (export "go")
    (call $callee)
    (call $emit (i32.const 192) (i32.const 1) (i32.const 256) (i32.const 2))
    (call $call_emit)
    (call $emit (i32.const 224) (i32.const 1) (i32.const 258) (i32.const 2))
    (drop (call $call (i32.const 0) (i32.const 40) (i32.const 80) (i32.const 14)
      (i32.const 0) (i32.const 0) (i32.const 176) (i64.const 2000000) (i64.const 1)))
    (drop (call $call (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 4)
      (i32.const 0) (i32.const 0) (i32.const 176) (i64.const 2000000) (i64.const 1))))
  (func (export "go_then_trap")
    (call $callee)
    (call $call_emit)
    unreachable))"#,
        x = text(&topic(X)),
        t_a1 = text(&topic(T_A1)),
        t_a2 = text(&topic(T_A2)),
    ))
    .unwrap()
}

/// A node with the two contracts deployed.
struct Chain {
    node: Option<RunningNode>,
    client: HttpClient,
    key: Keypair,
    nonce: u64,
    a: String,
    b: String,
}

impl Chain {
    async fn start() -> Self {
        let node = detvm_node::start(NodeConfig::dev())
            .await
            .expect("node starts");
        assert!(node.addr.ip().is_loopback());
        let client = HttpClientBuilder::default()
            .build(format!("http://{}", node.addr))
            .unwrap();
        let mut chain = Self {
            node: Some(node),
            client,
            key: Keypair::dev(0),
            nonce: 0,
            a: String::new(),
            b: String::new(),
        };
        chain.b = chain.deploy(emitter()).await;
        chain.a = chain.deploy(caller()).await;
        chain
    }

    fn sign(&mut self, action: Action) -> SignedTransaction {
        let tx = Transaction {
            chain_id: "detvm-dev".into(),
            signer: self.key.implicit_id(),
            public_key: self.key.public_key(),
            nonce: self.nonce,
            gas_limit: 50_000_000,
            action,
        }
        .sign(&self.key);
        self.nonce += 1;
        tx
    }

    async fn send(&mut self, action: Action) -> Value {
        let tx = self.sign(action);
        let hash: String = self
            .client
            .request("send_transaction", rpc_params![hex(&tx.encode())])
            .await
            .unwrap();
        self.client
            .request("get_receipt", rpc_params![hash])
            .await
            .unwrap()
    }

    async fn deploy(&mut self, code: Vec<u8>) -> String {
        let r = self.send(Action::Deploy { code }).await;
        assert_eq!(r["outcome"]["status"], "deployed", "{r}");
        r["outcome"]["contract"].as_str().unwrap().to_owned()
    }

    /// Calls `method` of the caller contract with the callee's id, with
    /// 10 tokens attached (it hands 7 on).
    async fn call_a(&mut self, method: &str) -> Value {
        let action = Action::Call {
            contract: self.a.clone(),
            method: method.into(),
            args: self.b.as_bytes().to_vec(),
            amount: 10,
        };
        self.send(action).await
    }

    async fn call_b(&mut self, method: &str, args: &[u8]) -> Value {
        let action = Action::Call {
            contract: self.b.clone(),
            method: method.into(),
            args: args.to_vec(),
            amount: 0,
        };
        self.send(action).await
    }

    async fn events(&self, filter: Value) -> Result<Value, jsonrpsee::core::ClientError> {
        self.client.request("get_events", rpc_params![filter]).await
    }

    async fn stop(mut self) {
        if let Some(node) = self.node.take() {
            node.stop().await;
        }
    }
}

fn event(contract: &str, topics: &[&str], data: &[u8]) -> Value {
    json!({
        "contract": contract,
        "topics": topics.iter().map(|t| hex(&topic(t))).collect::<Vec<_>>(),
        "data": hex(data),
    })
}

fn code_of(e: jsonrpsee::core::ClientError) -> i32 {
    match e {
        jsonrpsee::core::ClientError::Call(obj) => obj.code(),
        other => panic!("not a call error: {other}"),
    }
}

/// `(contract, data)` of each item of a `get_events` answer.
fn found(answer: &Value) -> Vec<(String, String)> {
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["contract"].as_str().unwrap().to_owned(),
                String::from_utf8(detvm_host::from_hex(e["data"].as_str().unwrap()).unwrap())
                    .unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_shows_every_event_and_the_call_tree() {
    let mut chain = Chain::start().await;
    let (a, b) = (chain.a.clone(), chain.b.clone());
    let r = chain.call_a("go").await;
    assert_eq!(r["outcome"]["status"], "returned", "{r}");

    let e1 = event(&a, &[T_A1], b"a1");
    let eb = event(&b, &[T_B, X], b"from-b");
    let e2 = event(&a, &[T_A2], b"a2");
    // Emission order: the callee's event between the caller's two.
    assert_eq!(r["events"], json!([e1, eb, e2]));
    assert_eq!(r["own_events"], json!([e1, e2]));

    let calls = r["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3);
    let emit = &calls[0];
    assert_eq!(emit["contract"], b.as_str());
    assert_eq!(emit["method"], "emit");
    assert_eq!(emit["amount"], "7", "u128 as a decimal string");
    assert_eq!(
        emit["outcome"],
        json!({ "status": "returned", "value": hex(b"ok") })
    );
    assert_eq!(emit["logs"], json!(["b-log"]));
    assert_eq!(emit["events"], json!([eb]));
    assert_eq!(emit["events_before"], 1);
    assert_eq!(emit["calls"], json!([]));
    let (limit, used) = (
        emit["gas_limit"].as_u64().unwrap(),
        emit["gas_used"].as_u64().unwrap(),
    );
    assert!(limit <= 2_000_000 && used > 0 && used <= limit);

    let trapped = &calls[1];
    assert_eq!(trapped["method"], "emit_then_trap");
    assert_eq!(trapped["amount"], "0");
    assert_eq!(trapped["outcome"]["status"], "trapped");
    assert_eq!(trapped["outcome"]["kind"], "unreachable");
    assert_eq!(trapped["outcome"]["message"], Value::Null);
    assert_eq!(trapped["events"], json!([]), "a trapped frame keeps none");
    assert_eq!(trapped["events_before"], 2);

    let refused = &calls[2];
    assert_eq!(refused["method"], "nope");
    assert_eq!(refused["outcome"]["status"], "refused");
    assert_eq!(refused["outcome"]["kind"], "unknown_method");
    assert!(refused["outcome"]["message"].is_string());
    assert_eq!(refused["gas_limit"], 0);
    assert_eq!(refused["gas_used"], 0);

    // The JSON is the stored receipt's.
    let height = r["block_height"].as_u64().unwrap();
    let stored = chain
        .node
        .as_ref()
        .unwrap()
        .executor
        .run(move |s| s.ledger.receipts(height).unwrap().unwrap())
        .await
        .unwrap();
    let stored = &stored[0];
    assert_eq!(stored.all_events().len(), 3);
    assert_eq!(stored.events.len(), 2);
    assert_eq!(stored.calls[0].amount, 7);
    assert_eq!(r["tx_hash"], hex(&stored.tx_hash));

    // The trace returns the same receipt; the host calls of nested calls
    // are in it, in time order: the callee's `emit_event` before the
    // caller's `call_contract` that ran it.
    let hash = r["tx_hash"].as_str().unwrap();
    let trace: Value = chain
        .client
        .request("trace_transaction", rpc_params![hash])
        .await
        .unwrap();
    for field in ["events", "own_events", "calls", "outcome", "gas_used"] {
        assert_eq!(trace[field], r[field], "{field}");
    }
    let names: Vec<&str> = trace["host_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "input",
            "read_register",
            "emit_event", // A's first
            "input",      // B.emit runs
            "read_register",
            "log_utf8",
            "emit_event",
            "value_return",
            "call_contract", // ... inside this call
            "emit_event",    // A's second
            "emit_event",    // B.emit_then_trap
            "call_contract",
            "call_contract", // refused: nothing ran
        ]
    );
    let traced = trace["host_calls"].as_array().unwrap();
    let call_gas = traced[8]["gas"].as_u64().unwrap();
    assert!(
        call_gas > used,
        "a call_contract entry counts its callee's gas"
    );

    // The callee's log lines are found under the callee, at depth 1.
    let logs: Value = chain
        .client
        .request("get_logs", rpc_params![json!({ "contract": b })])
        .await
        .unwrap();
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs[0]["depth"], 1);
    assert_eq!(logs[0]["logs"], json!(["b-log"]));
    assert_eq!(logs[0]["tx_hash"], hash);

    // A view renders its events and calls the same way.
    let view: Value = chain
        .client
        .request("view", rpc_params![&b, "emit", hex(&topic(X))])
        .await
        .unwrap();
    assert_eq!(view["events"], json!([eb]));
    assert_eq!(view["own_events"], json!([eb]));
    assert_eq!(view["calls"], json!([]));
    chain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_filters_by_contract_topic_position_and_height() {
    let mut chain = Chain::start().await;
    let (a, b) = (chain.a.clone(), chain.b.clone());
    let first = chain.call_a("go").await;
    let second = chain.call_a("go").await;
    let direct = chain.call_b("emit", &topic("topic/y")).await;
    let h1 = first["block_height"].as_u64().unwrap();
    let h2 = second["block_height"].as_u64().unwrap();
    let h3 = direct["block_height"].as_u64().unwrap();
    assert!(h1 < h2 && h2 < h3);

    // Everything, oldest first, with where each event is.
    let all = chain.events(Value::Null).await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 7);
    assert_eq!(all[0]["block_height"], h1);
    assert_eq!(all[0]["tx_hash"], first["tx_hash"]);
    assert_eq!(all[0]["tx_index"], 0);
    assert_eq!(all[0]["event_index"], 0);
    assert_eq!(all[1]["event_index"], 1);
    assert_eq!(all[1]["contract"], b.as_str());
    assert_eq!(all[1]["topics"], json!([hex(&topic(T_B)), hex(&topic(X))]));
    assert_eq!(all[1]["data"], hex(b"from-b"));
    assert_eq!(all[6]["block_height"], h3);
    let no_filter: Value = chain
        .client
        .request("get_events", rpc_params![])
        .await
        .unwrap();
    assert_eq!(no_filter, all);

    // By contract: the callee's events, nested or not.
    let by_b = chain.events(json!({ "contract": b })).await.unwrap();
    assert_eq!(found(&by_b), vec![(b.clone(), "from-b".to_owned()); 3]);
    let by_a = chain.events(json!({ "contract": a })).await.unwrap();
    assert_eq!(
        found(&by_a),
        [(&a, "a1"), (&a, "a2"), (&a, "a1"), (&a, "a2")].map(|(c, d)| (c.clone(), d.to_owned()))
    );

    // By topic position: X is the second topic of B's nested events only.
    let x = hex(&topic(X));
    let at_1 = chain
        .events(json!({ "topics": [null, x.clone()] }))
        .await
        .unwrap();
    assert_eq!(at_1.as_array().unwrap().len(), 2);
    assert!(at_1.as_array().unwrap().iter().all(|e| e["contract"] == b));
    let at_0 = chain
        .events(json!({ "topics": [x.clone()] }))
        .await
        .unwrap();
    assert_eq!(at_0, json!([]), "position matters");
    let either = chain
        .events(json!({ "topics": [[hex(&topic(T_A1)), hex(&topic(T_A2))]] }))
        .await
        .unwrap();
    assert_eq!(either.as_array().unwrap().len(), 4);
    let uppercase_0x = format!("0x{}", hex(&topic(T_A2)).to_uppercase());
    let a2 = chain
        .events(json!({ "contract": a, "topics": [uppercase_0x] }))
        .await
        .unwrap();
    assert_eq!(found(&a2), vec![(a.clone(), "a2".to_owned()); 2]);
    // An event with fewer topics than the filter constrains never matches.
    let too_deep = chain
        .events(json!({ "topics": [hex(&topic(T_A1)), null] }))
        .await
        .unwrap();
    assert_eq!(
        too_deep.as_array().unwrap().len(),
        2,
        "null matches absence"
    );
    let absent = chain
        .events(json!({ "topics": [hex(&topic(T_A1)), x] }))
        .await
        .unwrap();
    assert_eq!(absent, json!([]));

    // By height.
    let only_second = chain
        .events(json!({ "from_height": h2, "to_height": h2 }))
        .await
        .unwrap();
    assert_eq!(only_second.as_array().unwrap().len(), 3);
    assert!(
        only_second
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tx_hash"] == second["tx_hash"])
    );
    let from_second = chain
        .events(json!({ "contract": b, "from_height": h2 }))
        .await
        .unwrap();
    assert_eq!(from_second.as_array().unwrap().len(), 2);
    let until_first = chain.events(json!({ "to_height": h1 })).await.unwrap();
    assert_eq!(until_first.as_array().unwrap().len(), 3);
    let beyond = chain
        .events(json!({ "from_height": h3 + 1, "to_height": h3 + 100 }))
        .await
        .unwrap();
    assert_eq!(beyond, json!([]));
    chain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_trapped_frames_are_never_indexed() {
    let mut chain = Chain::start().await;
    let b = chain.b.clone();
    // The callee returns but its caller traps: nothing is kept.
    let r = chain.call_a("go_then_trap").await;
    assert_eq!(r["outcome"]["status"], "trapped");
    assert_eq!(r["events"], json!([]));
    assert_eq!(r["own_events"], json!([]));
    let call = &r["calls"][0];
    assert_eq!(call["outcome"]["status"], "returned");
    assert_eq!(call["events"], json!([]));
    assert_eq!(call["logs"], json!(["b-log"]), "logs are kept");
    // The callee itself traps.
    let direct = chain.call_b("emit_then_trap", b"").await;
    assert_eq!(direct["outcome"]["status"], "trapped");
    assert_eq!(direct["events"], json!([]));
    let all = chain.events(json!({})).await.unwrap();
    assert_eq!(all, json!([]));
    // In `go`, the trapped nested call's event is missing and the rest are
    // there.
    chain.call_a("go").await;
    let by_b = chain.events(json!({ "contract": b })).await.unwrap();
    assert_eq!(found(&by_b), vec![(b.clone(), "from-b".to_owned())]);
    assert_eq!(by_b[0]["topics"].as_array().unwrap().len(), 2, "from emit");
    chain.stop().await;
}

/// The next notification, within 10 s.
async fn next(s: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(std::time::Duration::from_secs(10), s.next())
        .await
        .expect("a notification")
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_the_matching_events_of_new_blocks() {
    let mut chain = Chain::start().await;
    let (a, b) = (chain.a.clone(), chain.b.clone());
    chain.call_a("go").await; // before subscribing: not delivered
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{}", chain.node.as_ref().unwrap().addr))
        .await
        .unwrap();
    let mut of_b: Subscription<Value> = ws
        .subscribe(
            "subscribe_events",
            rpc_params![json!({ "contract": b })],
            "unsubscribe_events",
        )
        .await
        .unwrap();
    let mut a2: Subscription<Value> = ws
        .subscribe(
            "subscribe_events",
            rpc_params![json!({ "topics": [hex(&topic(T_A2))] })],
            "unsubscribe_events",
        )
        .await
        .unwrap();
    let mut everything: Subscription<Value> = ws
        .subscribe("subscribe_events", rpc_params![], "unsubscribe_events")
        .await
        .unwrap();

    let trapped = chain.call_a("go_then_trap").await; // no events at all
    let r = chain.call_a("go").await;
    let direct = chain.call_b("emit", &topic("topic/y")).await;

    let first = next(&mut of_b).await;
    assert_eq!(first["tx_hash"], r["tx_hash"], "not the trapped one's");
    assert_ne!(first["tx_hash"], trapped["tx_hash"]);
    assert_eq!(first["contract"], b.as_str());
    assert_eq!(first["event_index"], 1);
    let second = next(&mut of_b).await;
    assert_eq!(second["tx_hash"], direct["tx_hash"]);
    assert_eq!(second["topics"][1], hex(&topic("topic/y")));

    let only = next(&mut a2).await;
    assert_eq!(only["contract"], a.as_str());
    assert_eq!(only["data"], hex(b"a2"));
    assert_eq!(only["block_height"], r["block_height"]);

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut everything).await);
    }
    assert_eq!(
        found(&Value::Array(seen.clone())),
        [(&a, "a1"), (&b, "from-b"), (&a, "a2"), (&b, "from-b")]
            .map(|(c, d)| (c.clone(), d.to_owned()))
    );
    // What a subscriber saw is what get_events finds for those blocks.
    let queried = chain
        .events(json!({ "from_height": r["block_height"] }))
        .await
        .unwrap();
    assert_eq!(queried, Value::Array(seen));

    // Nothing else arrives for the topic subscription: a block whose events
    // do not match sends nothing.
    chain.call_b("emit", &topic("topic/z")).await;
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), a2.next()).await;
    assert!(quiet.is_err(), "no notification for other events");
    of_b.unsubscribe().await.unwrap();
    chain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_event_filters_are_invalid_params() {
    let chain = Chain::start().await;
    let good_topic = hex(&topic(T_A1));
    let bad = [
        json!("everything"),
        json!({ "contract": "not-a-contract" }),
        json!({ "contract": chain.a.to_uppercase() }),
        json!({ "contract": 5 }),
        json!({ "topics": ["zz"] }),
        json!({ "topics": ["abcd"] }),
        json!({ "topics": [format!("{good_topic}00")] }),
        json!({ "topics": [null, null, null, null, null] }),
        json!({ "topics": [[]] }),
        json!({ "topics": [7] }),
        json!({ "topics": "abcd" }),
        json!({ "from_height": 5, "to_height": 4 }),
        json!({ "from_height": -1 }),
        json!({ "from_height": "1" }),
        json!({ "from_height": 0, "to_height": 50_000 }),
        json!({ "topic": [good_topic] }),
    ];
    for filter in &bad {
        let r = chain.events(filter.clone()).await;
        assert_eq!(code_of(r.unwrap_err()), -32602, "{filter}");
    }
    // Four topic positions are allowed, null ones included.
    let ok = chain
        .events(json!({ "topics": [good_topic, null, null, null] }))
        .await
        .unwrap();
    assert_eq!(ok, json!([]));

    // A subscription with a bad filter is refused the same way.
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{}", chain.node.as_ref().unwrap().addr))
        .await
        .unwrap();
    for filter in [
        json!({ "topics": ["abcd"] }),
        json!({ "from_height": 9, "to_height": 1 }),
    ] {
        let r: Result<Subscription<Value>, _> = ws
            .subscribe(
                "subscribe_events",
                rpc_params![filter.clone()],
                "unsubscribe_events",
            )
            .await;
        assert_eq!(code_of(r.unwrap_err()), -32602, "{filter}");
    }
    // The node is still fine.
    let status: Value = chain.client.request("status", rpc_params![]).await.unwrap();
    assert_eq!(status["chain_id"], "detvm-dev");
    chain.stop().await;
}

/// `burst` emits 100 events (no topics, no data): the most one frame may.
const BURST: &str = r#"(module
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (memory 1)
  (func (export "burst") (local $i i32)
    (loop $again
      (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_holds_at_most_ten_thousand_events() {
    let mut chain = Chain::start().await;
    let burst = chain.deploy(wat::parse_str(BURST).unwrap()).await;
    let mut last = Value::Null;
    for _ in 0..101 {
        last = chain
            .send(Action::Call {
                contract: burst.clone(),
                method: "burst".into(),
                args: Vec::new(),
                amount: 0,
            })
            .await;
        assert_eq!(last["events"].as_array().unwrap().len(), 100);
    }
    let r = chain.events(json!({ "contract": burst })).await;
    match r.unwrap_err() {
        jsonrpsee::core::ClientError::Call(obj) => {
            assert_eq!(obj.code(), 1009);
            let data: Value = serde_json::from_str(obj.data().unwrap().get()).unwrap();
            assert_eq!(
                data["height"], last["block_height"],
                "passed in the last block"
            );
        }
        other => panic!("not a call error: {other}"),
    }
    // A narrower range answers.
    let head = last["block_height"].as_u64().unwrap();
    let some = chain
        .events(json!({ "contract": burst, "from_height": head - 49 }))
        .await
        .unwrap();
    assert_eq!(some.as_array().unwrap().len(), 5_000);
    assert_eq!(some[4_999]["event_index"], 99);
    chain.stop().await;
}
