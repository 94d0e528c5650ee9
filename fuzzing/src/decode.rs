//! What a node decodes from strangers: signed transactions (borsh, from
//! RPC or peers), blocks, and JSON-RPC requests. Arbitrary bytes must never
//! panic and must end in a typed error; what does decode must re-encode to
//! the very same bytes (one encoding per value, so hashes agree); a
//! JSON-RPC request always gets a well-formed JSON-RPC answer, and never
//! the node's internal-error code for a mistake of the caller's.

use std::sync::OnceLock;

use borsh::BorshDeserialize;
use detvm_chain::{Block, SignedTransaction};
use detvm_node::rpc::{Context, codes};
use jsonrpsee::RpcModule;
use serde_json::{Value, json};

/// A broken promise of a decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFinding {
    /// A decoded value encodes to other bytes than it came from.
    #[error("{what} decodes but re-encodes differently")]
    NotCanonical {
        /// Which type.
        what: &'static str,
    },
    /// A JSON-RPC answer that is not JSON-RPC.
    #[error("malformed answer to {request}: {answer}")]
    Malformed {
        /// The request.
        request: String,
        /// The answer.
        answer: String,
    },
    /// The node's internal-error code for a request.
    #[error("internal error for {request}: {answer}")]
    Internal {
        /// The request.
        request: String,
        /// The answer.
        answer: String,
    },
}

/// Decodes `data` as a signed transaction and as a block.
pub fn check_bytes(data: &[u8]) -> Result<(), DecodeFinding> {
    if let Ok(tx) = SignedTransaction::decode(data) {
        if tx.encode() != data {
            return Err(DecodeFinding::NotCanonical {
                what: "a signed transaction",
            });
        }
        // Checked on every admission: must not panic on any key or
        // signature bytes.
        let _ = tx.signature_valid();
        let _ = tx.hash();
    }
    if let Ok(block) = Block::try_from_slice(data)
        && borsh::to_vec(&block).ok().as_deref() != Some(data)
    {
        return Err(DecodeFinding::NotCanonical { what: "a block" });
    }
    Ok(())
}

/// How many blocks the shared node may hold beyond those it started with
/// before it returns to its start. Requests may mine up to 10,000 blocks
/// each; without the rewind its history, and the fuzzing process, would
/// grow for as long as the run (1.4 GB after five minutes), until the
/// memory limit stopped the run with a finding that is none.
pub const MAX_NEW_BLOCKS: u64 = 1_000;

/// A dev node in memory with its RPC methods, shared by every request of
/// the process (starting one per input would dominate the time).
struct Node {
    runtime: tokio::runtime::Runtime,
    methods: RpcModule<Context>,
    executor: detvm_node::Executor,
    /// The height when the node started.
    start: u64,
}

impl Node {
    fn height(&self) -> Option<u64> {
        self.executor.run_blocking(|s| s.ledger.head().height).ok()
    }

    /// Past [`MAX_NEW_BLOCKS`] new blocks, reverts the node to where it
    /// started: through `dev_revert` to a snapshot of the start put first
    /// (inputs take and use up snapshots of their own), which clears every
    /// snapshot and the pool as a revert does.
    fn rewind_if_grown(&self) {
        let start = self.start;
        let grown = self.executor.run_blocking(move |s| {
            let grown = s.ledger.head().height > start.saturating_add(MAX_NEW_BLOCKS);
            if grown {
                // A fresh dev node's clock offset is zero.
                s.snapshots.insert(0, (start, 0));
            }
            grown
        });
        if matches!(grown, Ok(true)) {
            let request = r#"{"jsonrpc":"2.0","id":0,"method":"dev_revert","params":[0]}"#;
            let _ = self
                .runtime
                .block_on(self.methods.raw_json_request(request, 1));
        }
    }
}

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (methods, executor) = runtime.block_on(async {
            let node = detvm_node::start(detvm_node::NodeConfig::dev())
                .await
                .expect("a dev node starts");
            let executor = node.executor.clone();
            let methods = detvm_node::rpc::module(Context {
                executor: node.executor.clone(),
                events: tokio::sync::broadcast::channel(16).0,
                dev: true,
            })
            .expect("the methods register");
            // The node serves for the life of the process.
            std::mem::forget(node);
            (methods, executor)
        });
        let mut node = Node {
            runtime,
            methods,
            executor,
            start: 0,
        };
        node.start = node.height().expect("the dev node has a height");
        node
    })
}

/// Words requests are built from: method names and values of the shapes
/// the methods expect, so most requests get past the first check.
const STRINGS: &[&str] = &[
    "latest",
    "0x",
    "0x00",
    "00",
    "zz",
    "alice",
    "0000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0x0000000000000000000000000000000000000000000000000000000000000000",
    "ffffffffffffffffffffffffffffffffffffffff",
    "run",
    "u64:5",
    "-1",
    "340282366920938463463374607431768211456",
    "",
];

fn json_value(u: &mut arbitrary::Unstructured<'_>, depth: u32) -> Value {
    let choice: u8 = u.int_in_range(0..=9).unwrap_or(0);
    match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary().unwrap_or(false)),
        2 => json!(u.int_in_range(0..=20u64).unwrap_or(0)),
        3 => json!(u.arbitrary::<i64>().unwrap_or(0)),
        4 => json!(
            u.arbitrary::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .unwrap_or(0.5)
        ),
        5 | 6 => json!(u.choose(STRINGS).copied().unwrap_or("")),
        7 => {
            let len = u.int_in_range(0..=80).unwrap_or(0);
            let hex: String = (0..len)
                .map(|_| char::from(*u.choose(b"0123456789abcdefABx").unwrap_or(&b'0')))
                .collect();
            json!(hex)
        }
        8 if depth < 3 => {
            let len = u.int_in_range(0..=4).unwrap_or(0);
            Value::Array((0..len).map(|_| json_value(u, depth + 1)).collect())
        }
        _ if depth < 3 => {
            const KEYS: &[&str] = &[
                "from", "to", "contract", "topics", "height", "key", "value", "limit",
            ];
            let len = u.int_in_range(0..=3).unwrap_or(0);
            Value::Object(
                (0..len)
                    .map(|_| {
                        let key = u.choose(KEYS).copied().unwrap_or("from").to_owned();
                        (key, json_value(u, depth + 1))
                    })
                    .collect(),
            )
        }
        _ => Value::Null,
    }
}

/// The JSON-RPC request `data` stands for: its first byte chooses the
/// bytes as text, or a method the node serves with generated parameters.
pub fn request_from(data: &[u8]) -> String {
    let Some((&mode, rest)) = data.split_first() else {
        return String::new();
    };
    if mode < 64 {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let mut u = arbitrary::Unstructured::new(rest);
    let names: Vec<&str> = node().methods.method_names().collect();
    let method = u.choose(&names).copied().unwrap_or("status");
    let params = match u.int_in_range(0..=2).unwrap_or(0) {
        0 => Value::Array(
            (0..u.int_in_range(0..=4).unwrap_or(0))
                .map(|_| json_value(&mut u, 1))
                .collect(),
        ),
        1 => json_value(&mut u, 0),
        _ => Value::Null,
    };
    let id = json_value(&mut u, 3);
    let mut request = json!({ "jsonrpc": "2.0", "id": id, "method": method });
    if !params.is_null() {
        request["params"] = params;
    }
    request.to_string()
}

/// Sends the request `data` stands for ([`request_from`]) to the dev
/// node's methods and checks the answer.
pub fn check_rpc(data: &[u8]) -> Result<(), DecodeFinding> {
    let request = request_from(data);
    let node = node();
    // Text that is no JSON-RPC request is refused as such (a typed serde
    // error); the server answers it with -32700 or -32600.
    let answer = node
        .runtime
        .block_on(node.methods.raw_json_request(&request, 16));
    node.rewind_if_grown();
    let Ok((answer, _subscription)) = answer else {
        return Ok(());
    };
    let text = answer.get();
    let malformed = || DecodeFinding::Malformed {
        request: request.clone(),
        answer: text.to_owned(),
    };
    let value: Value = serde_json::from_str(text).map_err(|_| malformed())?;
    let (result, error) = (value.get("result"), value.get("error"));
    if value["jsonrpc"] != "2.0" || result.is_some() == error.is_some() {
        return Err(malformed());
    }
    if let Some(error) = error {
        let code = error["code"].as_i64().ok_or_else(malformed)?;
        if code == i64::from(codes::NODE_ERROR) {
            return Err(DecodeFinding::Internal {
                request,
                answer: text.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An input that `check_rpc` sends as it is (a first byte below 64).
    fn request(method: &str, params: Value) -> Vec<u8> {
        let text = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut data = vec![0];
        data.extend_from_slice(text.to_string().as_bytes());
        data
    }

    fn mine(blocks: u64) -> Vec<u8> {
        request("dev_mine", json!([blocks]))
    }

    fn height() -> u64 {
        node().height().expect("a height")
    }

    /// The only test of this binary that sends requests.
    #[test]
    fn the_shared_node_returns_to_its_start_past_a_bound() {
        let start = height();
        check_rpc(&mine(MAX_NEW_BLOCKS - 1)).expect("a well-formed answer");
        check_rpc(&mine(1)).expect("a well-formed answer");
        assert_eq!(height(), start + MAX_NEW_BLOCKS, "at the bound: kept");
        check_rpc(&mine(1)).expect("a well-formed answer");
        assert_eq!(height(), start, "past it: back to the start");
        // Again, by one large request.
        check_rpc(&mine(3 * MAX_NEW_BLOCKS)).expect("a well-formed answer");
        assert_eq!(height(), start);
        // An input's own snapshots do not stand in the way, and are gone
        // after the rewind, as after any revert.
        check_rpc(&request("dev_snapshot", json!([]))).expect("a well-formed answer");
        check_rpc(&mine(MAX_NEW_BLOCKS + 1)).expect("a well-formed answer");
        assert_eq!(height(), start);
        check_rpc(&request("dev_revert", json!([0]))).expect("a well-formed answer");
        assert_eq!(height(), start);
    }
}
