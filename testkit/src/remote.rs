//! [`RemoteDevnet`]: the [`DevChain`] operations against a running
//! `detvm node --dev`, over JSON-RPC (`docs/rpc.md`).
//!
//! Transactions are signed here (dev keys, or any key) and sent with
//! `send_transaction`; receipts, headers and accounts come back as the
//! node renders them and are rebuilt into the chain's own types, checked
//! where the answer allows it (a header against its hash, a receipt
//! against its transaction's hash).

use detvm_chain::{Account, BlockHeader, SignedTransaction, TxOutcome, TxReceipt};
use detvm_host::{CallNode, CallOutcome, ContractId, Event, events_in_order, hex};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;

use crate::devnet::{DevChain, DevnetError, Snapshot, TxResult, ViewResult};

/// Node error codes this client gives variants of their own
/// (`docs/rpc.md`, "Errors").
mod codes {
    pub const REFUSED: i32 = 1000;
    pub const UNKNOWN_BLOCK: i32 = 1001;
    pub const UNKNOWN_TRANSACTION: i32 = 1002;
    pub const UNKNOWN_ACCOUNT: i32 = 1003;
    pub const VIEW_FAILED: i32 = 1004;
    pub const UNKNOWN_SNAPSHOT: i32 = 1006;
    pub const BAD_TIMESTAMP: i32 = 1007;
}

/// A running dev node (`detvm node --dev`, or `detvm_node::start` with
/// `NodeConfig::dev()`), driven over JSON-RPC with blocking calls.
///
/// With instant mining (the dev default) every transaction is in its own
/// block, committed before [`crate::Tx::send`] returns, so a test reads
/// the same receipts, headers and state roots as on a [`crate::Devnet`]
/// (the node's timestamps come from its clock unless set with
/// [`DevChain::set_next_timestamp`]). The node keeps a transaction with a
/// future nonce pending: that is [`DevnetError::Pending`].
///
/// It owns a small tokio runtime and blocks on it, so it is used from
/// synchronous code (a plain `#[test]`); inside an async runtime its
/// calls fail with [`DevnetError::Transport`] rather than block it. A node
/// started in the same process runs on a runtime of its own.
pub struct RemoteDevnet {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    url: String,
    chain_id: String,
    genesis_hash: [u8; 32],
}

impl std::fmt::Debug for RemoteDevnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDevnet")
            .field("url", &self.url)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl RemoteDevnet {
    /// Connects to the node at `url` (e.g. `http://127.0.0.1:8545`) and
    /// reads its chain id and genesis hash (`status`).
    pub fn connect(url: &str) -> Result<Self, DevnetError> {
        let transport = |message: String| DevnetError::Transport {
            method: "connect".into(),
            message,
        };
        not_in_runtime("connect")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| transport(format!("cannot start a runtime: {e}")))?;
        let client = {
            let _entered = runtime.enter();
            HttpClientBuilder::default()
                .build(url)
                .map_err(|e| transport(e.to_string()))?
        };
        let mut remote = Self {
            runtime,
            client,
            url: url.to_owned(),
            chain_id: String::new(),
            genesis_hash: [0; 32],
        };
        let status = remote.request("status", Vec::new())?;
        let answer = Answer::new("status", &status);
        remote.chain_id = answer.str("chain_id")?.to_owned();
        remote.genesis_hash = answer.hash("genesis_hash")?;
        Ok(remote)
    }

    /// The node's address, as given to [`RemoteDevnet::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls any JSON-RPC `method` with positional `params` and returns
    /// the raw answer (for methods this type does not wrap).
    pub fn request(&self, method: &str, params: Vec<Value>) -> Result<Value, DevnetError> {
        not_in_runtime(method)?;
        let mut array = ArrayParams::new();
        for p in params {
            array.insert(p).map_err(|e| DevnetError::Transport {
                method: method.to_owned(),
                message: e.to_string(),
            })?;
        }
        self.runtime
            .block_on(self.client.request::<Value, _>(method, array))
            .map_err(|e| rpc_error(method, e))
    }

    fn block_json(&self, height: u64) -> Result<Value, DevnetError> {
        self.request("get_block", vec![Value::from(height)])
            .map_err(|e| match e {
                DevnetError::Rpc {
                    code: codes::UNKNOWN_BLOCK,
                    ..
                } => DevnetError::UnknownHeight(height),
                other => other,
            })
    }
}

/// A blocking call inside an async runtime would panic (or stall it).
fn not_in_runtime(method: &str) -> Result<(), DevnetError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(DevnetError::Transport {
            method: method.to_owned(),
            message: "RemoteDevnet blocks, so it cannot be used inside an async runtime; \
                      call it from synchronous code (e.g. through spawn_blocking)"
                .into(),
        });
    }
    Ok(())
}

fn rpc_error(method: &str, e: ClientError) -> DevnetError {
    match e {
        ClientError::Call(obj) => {
            let kind = obj
                .data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .and_then(|d| d["kind"].as_str().map(str::to_owned));
            match (obj.code(), kind) {
                (codes::REFUSED, Some(kind)) => DevnetError::NodeRefused {
                    kind,
                    message: obj.message().to_owned(),
                },
                (code, kind) => DevnetError::Rpc {
                    method: method.to_owned(),
                    code,
                    message: obj.message().to_owned(),
                    kind,
                },
            }
        }
        other => DevnetError::Transport {
            method: method.to_owned(),
            message: other.to_string(),
        },
    }
}

/// Reads the fields of a JSON answer, naming the method in errors.
struct Answer<'a> {
    method: &'a str,
    value: &'a Value,
}

impl<'a> Answer<'a> {
    fn new(method: &'a str, value: &'a Value) -> Self {
        Self { method, value }
    }

    fn at(&self, name: &str) -> Answer<'a> {
        Answer {
            method: self.method,
            value: &self.value[name],
        }
    }

    fn bad(&self, message: String) -> DevnetError {
        DevnetError::BadAnswer {
            method: self.method.to_owned(),
            message,
        }
    }

    fn str(&self, name: &str) -> Result<&'a str, DevnetError> {
        self.value[name]
            .as_str()
            .ok_or_else(|| self.bad(format!("no string `{name}` in {}", self.value)))
    }

    fn opt_str(&self, name: &str) -> Result<Option<&'a str>, DevnetError> {
        match &self.value[name] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(self.bad(format!("`{name}` is {other}, not a string or null"))),
        }
    }

    fn u64(&self, name: &str) -> Result<u64, DevnetError> {
        self.value[name]
            .as_u64()
            .ok_or_else(|| self.bad(format!("no number `{name}` in {}", self.value)))
    }

    fn u128(&self, name: &str) -> Result<u128, DevnetError> {
        self.str(name)?
            .parse()
            .map_err(|_| self.bad(format!("`{name}` is not a decimal string")))
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, DevnetError> {
        unhex(self.str(name)?).ok_or_else(|| self.bad(format!("`{name}` is not hex")))
    }

    fn hash(&self, name: &str) -> Result<[u8; 32], DevnetError> {
        self.bytes(name)?
            .try_into()
            .map_err(|_| self.bad(format!("`{name}` is not 32 bytes")))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, DevnetError> {
        let items = self.value[name]
            .as_array()
            .ok_or_else(|| self.bad(format!("no array `{name}` in {}", self.value)))?;
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.bad(format!("`{name}` holds {v}, not a string")))
            })
            .collect()
    }

    fn items(&self, name: &str) -> Result<Vec<Answer<'a>>, DevnetError> {
        let items = self.value[name]
            .as_array()
            .ok_or_else(|| self.bad(format!("no array `{name}` in {}", self.value)))?;
        Ok(items
            .iter()
            .map(|value| Answer {
                method: self.method,
                value,
            })
            .collect())
    }

    /// A block header (`get_block`, `dev_mine`, `dev_revert`), checked
    /// against the hash the node gives for it.
    fn header(&self) -> Result<BlockHeader, DevnetError> {
        let header = BlockHeader {
            height: self.u64("height")?,
            parent_hash: self.hash("parent_hash")?,
            timestamp_ns: self.u64("timestamp_ns")?,
            proposer: self.str("proposer")?.to_owned(),
            tx_root: self.hash("tx_root")?,
            receipts_root: self.hash("receipts_root")?,
            state_root: self.hash("state_root")?,
            gas_used: self.u64("gas_used")?,
        };
        if header.hash() != self.hash("hash")? {
            return Err(self.bad(format!(
                "the header of block {} does not hash to the hash given",
                header.height
            )));
        }
        Ok(header)
    }

    /// An outcome (`get_receipt`, `view`).
    fn outcome(&self) -> Result<TxOutcome, DevnetError> {
        Ok(match self.str("status")? {
            "returned" => TxOutcome::Returned {
                value: self.bytes("value")?,
            },
            "trapped" => TxOutcome::Trapped {
                kind: self.str("kind")?.to_owned(),
                message: self.opt_str("message")?.map(str::to_owned),
            },
            "deployed" => TxOutcome::Deployed {
                contract: self.str("contract")?.to_owned(),
                code_hash: self.hash("code_hash")?,
            },
            "transferred" => TxOutcome::Transferred,
            "failed" => TxOutcome::Failed {
                kind: self.str("kind")?.to_owned(),
                message: self.str("message")?.to_owned(),
            },
            other => return Err(self.bad(format!("unknown outcome status `{other}`"))),
        })
    }

    /// A receipt (`get_receipt`) and where it was included.
    fn receipt(&self) -> Result<(TxReceipt, u64, u32), DevnetError> {
        let mut state_changes = Vec::new();
        for change in self.items("state_changes")? {
            let value = change
                .opt_str("value")?
                .map(|v| unhex(v).ok_or_else(|| change.bad("a changed value is not hex".into())))
                .transpose()?;
            state_changes.push((change.bytes("key")?, value));
        }
        let (events, calls) = self.call_effects()?;
        let receipt = TxReceipt {
            tx_hash: self.hash("tx_hash")?,
            outcome: self.at("outcome").outcome()?,
            gas_used: self.u64("gas_used")?,
            fee: self.u128("fee")?,
            logs: self.strings("logs")?,
            state_changes,
            events,
            calls,
        };
        let index = u32::try_from(self.u64("index")?)
            .map_err(|_| self.bad("a transaction index above u32".into()))?;
        Ok((receipt, self.u64("block_height")?, index))
    }

    /// The called contract's own events (`own_events`) and its call tree
    /// (`calls`), checked against `events`, every event in emission order.
    fn call_effects(&self) -> Result<(Vec<Event>, Vec<CallNode>), DevnetError> {
        let own = self.events("own_events")?;
        let calls = self.calls("calls")?;
        if events_in_order(&own, &calls) != self.events("events")? {
            return Err(self.bad(
                "`events` is not `own_events` and the calls' events in emission order".into(),
            ));
        }
        Ok((own, calls))
    }

    /// A list of events (`{contract, topics, data}`).
    fn events(&self, name: &str) -> Result<Vec<Event>, DevnetError> {
        self.items(name)?.iter().map(Answer::event).collect()
    }

    fn event(&self) -> Result<Event, DevnetError> {
        let topics = self
            .strings("topics")?
            .iter()
            .map(|t| {
                unhex(t)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| self.bad(format!("topic `{t}` is not 32 bytes of hex")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Event {
            contract: self.str("contract")?.to_owned(),
            topics,
            data: self.bytes("data")?,
        })
    }

    /// A call tree.
    fn calls(&self, name: &str) -> Result<Vec<CallNode>, DevnetError> {
        self.items(name)?.iter().map(Answer::call).collect()
    }

    fn call(&self) -> Result<CallNode, DevnetError> {
        let outcome = self.at("outcome");
        let outcome = match outcome.str("status")? {
            "returned" => CallOutcome::Returned {
                value: outcome.bytes("value")?,
            },
            "trapped" => CallOutcome::Trapped {
                kind: outcome.str("kind")?.to_owned(),
                message: outcome.opt_str("message")?.map(str::to_owned),
            },
            "refused" => CallOutcome::Refused {
                kind: outcome.str("kind")?.to_owned(),
                message: outcome.str("message")?.to_owned(),
            },
            other => return Err(self.bad(format!("unknown call status `{other}`"))),
        };
        Ok(CallNode {
            contract: self.str("contract")?.to_owned(),
            method: self.str("method")?.to_owned(),
            amount: self.u128("amount")?,
            gas_limit: self.u64("gas_limit")?,
            gas_used: self.u64("gas_used")?,
            outcome,
            logs: self.strings("logs")?,
            events: self.events("events")?,
            events_before: u32::try_from(self.u64("events_before")?)
                .map_err(|_| self.bad("`events_before` above u32".into()))?,
            calls: self.calls("calls")?,
        })
    }

    /// An account (`get_account`).
    fn account(&self) -> Result<Account, DevnetError> {
        let public_key = match self.opt_str("public_key")? {
            None => None,
            Some(_) => Some(self.hash("public_key")?),
        };
        Ok(Account {
            balance: self.u128("balance")?,
            nonce: self.u64("nonce")?,
            public_key,
        })
    }
}

/// Lowercase or uppercase hex to bytes.
fn unhex(text: &str) -> Option<Vec<u8>> {
    detvm_host::from_hex(text)
}

impl DevChain for RemoteDevnet {
    fn chain_id(&self) -> &str {
        &self.chain_id
    }

    fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
    }

    fn head(&self) -> Result<BlockHeader, DevnetError> {
        let v = self.request("get_block", vec![Value::from("latest")])?;
        Answer::new("get_block", &v).header()
    }

    fn header(&self, height: u64) -> Result<BlockHeader, DevnetError> {
        let v = self.block_json(height)?;
        Answer::new("get_block", &v).header()
    }

    fn receipts(&self, height: u64) -> Result<Vec<TxReceipt>, DevnetError> {
        let block = self.block_json(height)?;
        let hashes = Answer::new("get_block", &block).strings("transactions")?;
        let mut receipts = Vec::with_capacity(hashes.len());
        for (position, hash) in hashes.into_iter().enumerate() {
            let v = self.request("get_receipt", vec![Value::from(hash)])?;
            let answer = Answer::new("get_receipt", &v);
            let (receipt, at, index) = answer.receipt()?;
            if at != height || index as usize != position {
                return Err(answer.bad(format!(
                    "a receipt of block {height} says it is at {at}:{index}"
                )));
            }
            receipts.push(receipt);
        }
        Ok(receipts)
    }

    fn account_state(&self, id: &str) -> Result<Option<Account>, DevnetError> {
        match self.request("get_account", vec![Value::from(id)]) {
            Ok(v) => Answer::new("get_account", &v).account().map(Some),
            Err(DevnetError::Rpc {
                code: codes::UNKNOWN_ACCOUNT,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, DevnetError> {
        let hash = tx.hash();
        self.request("send_transaction", vec![Value::from(hex(&tx.encode()))])?;
        let v = match self.request("get_receipt", vec![Value::from(hex(&hash))]) {
            Ok(v) => v,
            Err(DevnetError::Rpc {
                code: codes::UNKNOWN_TRANSACTION,
                ..
            }) => return Err(DevnetError::Pending { hash: hex(&hash) }),
            Err(e) => return Err(e),
        };
        let answer = Answer::new("get_receipt", &v);
        let (receipt, height, index) = answer.receipt()?;
        if receipt.tx_hash != hash {
            return Err(answer.bad("the receipt is of another transaction".into()));
        }
        Ok(TxResult {
            receipt,
            height,
            index,
            hash,
        })
    }

    fn view_bytes(
        &self,
        contract: &ContractId,
        method: &str,
        args: &[u8],
        height: Option<u64>,
    ) -> Result<ViewResult, DevnetError> {
        let mut params = vec![
            Value::from(contract.as_str()),
            Value::from(method),
            Value::from(hex(args)),
        ];
        if let Some(h) = height {
            params.push(Value::from(h));
        }
        let v = self.request("view", params).map_err(|e| match e {
            DevnetError::Rpc {
                code: codes::VIEW_FAILED,
                message,
                kind,
                ..
            } => DevnetError::ViewFailed {
                kind: kind.unwrap_or_default(),
                message,
            },
            DevnetError::Rpc {
                code: codes::UNKNOWN_ACCOUNT,
                ..
            } => DevnetError::UnknownContract(contract.to_string()),
            DevnetError::Rpc {
                code: codes::UNKNOWN_BLOCK,
                ..
            } => DevnetError::UnknownHeight(height.unwrap_or_default()),
            other => other,
        })?;
        let answer = Answer::new("view", &v);
        Ok(ViewResult {
            outcome: answer.at("outcome").outcome()?,
            gas_used: answer.u64("gas_used")?,
            logs: answer.strings("logs")?,
        })
    }

    fn snapshot(&mut self) -> Result<Snapshot, DevnetError> {
        let v = self.request("dev_snapshot", Vec::new())?;
        v.as_u64()
            .map(Snapshot)
            .ok_or_else(|| Answer::new("dev_snapshot", &v).bad(format!("{v} is not an id")))
    }

    fn revert(&mut self, snapshot: Snapshot) -> Result<BlockHeader, DevnetError> {
        let v = self
            .request("dev_revert", vec![Value::from(snapshot.0)])
            .map_err(|e| match e {
                DevnetError::Rpc {
                    code: codes::UNKNOWN_SNAPSHOT,
                    ..
                } => DevnetError::UnknownSnapshot(snapshot.0),
                other => other,
            })?;
        Answer::new("dev_revert", &v).header()
    }

    fn set_next_timestamp(&mut self, timestamp_ns: u64) -> Result<(), DevnetError> {
        match self.request("dev_set_next_timestamp", vec![Value::from(timestamp_ns)]) {
            Ok(_) => Ok(()),
            Err(DevnetError::Rpc {
                code: codes::BAD_TIMESTAMP,
                ..
            }) => Err(DevnetError::TimestampNotForward {
                timestamp: timestamp_ns,
                head: self.head()?.timestamp_ns,
            }),
            Err(e) => Err(e),
        }
    }

    fn advance_time(&mut self, ns: u64) -> Result<u64, DevnetError> {
        let v = self.request("dev_increase_time", vec![Value::from(ns)])?;
        v.as_u64().ok_or_else(|| {
            Answer::new("dev_increase_time", &v).bad(format!("{v} is not an offset"))
        })
    }

    fn mine(&mut self) -> Result<BlockHeader, DevnetError> {
        let v = self.request("dev_mine", Vec::new())?;
        Answer::new("dev_mine", &v).header()
    }
}

#[cfg(test)]
mod tests {
    //! Receipts with events and call trees come back from a node exactly
    //! as a [`Devnet`] makes them.

    use detvm_chain::{Action, Keypair, Transaction, merkle_root};
    use detvm_node::{NodeConfig, RunningNode};
    use serde_json::json;

    use super::*;
    use crate::devnet::Devnet;

    // The contracts of `node/tests/events.rs`, compiled from this WAT.
    //
    // EMITTER: `emit` logs "b-log", emits topics ["topic/b" padded with
    // dots to 32 bytes, its 32-byte input] with data "from-b" and returns
    // "ok"; `emit_then_trap` emits ["topic/b…"] and traps.
    //
    //   (module
    //     (import "env" "input" (func $input (param i64)))
    //     (import "env" "read_register" (func $read (param i64 i32)))
    //     (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
    //     (import "env" "log_utf8" (func $log (param i32 i32)))
    //     (import "env" "value_return" (func $ret (param i32 i32)))
    //     (memory 1)
    //     (data (i32.const 0) "topic/b.........................")
    //     (data (i32.const 64) "from-b")
    //     (data (i32.const 80) "b-log")
    //     (data (i32.const 96) "ok")
    //     (func (export "emit")
    //       (call $input (i64.const 0))
    //       (call $read (i64.const 0) (i32.const 32))
    //       (call $log (i32.const 80) (i32.const 5))
    //       (call $emit (i32.const 0) (i32.const 2) (i32.const 64) (i32.const 6))
    //       (call $ret (i32.const 96) (i32.const 2)))
    //     (func (export "emit_then_trap")
    //       (call $emit (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 6))
    //       unreachable))
    //
    // CALLER (input: the emitter's id): `go` emits ["topic/a1…"] "a1",
    // calls `emit` with "topic/x…" and 7 tokens, emits ["topic/a2…"] "a2",
    // calls `emit_then_trap` (trapped) and `nope` (refused);
    // `go_then_trap` calls `emit`, then traps.
    //
    //   (module
    //     (import "env" "input" (func $input (param i64)))
    //     (import "env" "read_register" (func $read (param i64 i32)))
    //     (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
    //     (import "env" "call_contract"
    //       (func $call (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32)))
    //     (memory 1)
    //     (data (i32.const 64) "emit")
    //     (data (i32.const 80) "emit_then_trap")
    //     (data (i32.const 100) "nope")
    //     (data (i32.const 128) "topic/x.........................")
    //     (data (i32.const 160) "\07")
    //     (data (i32.const 192) "topic/a1........................")
    //     (data (i32.const 224) "topic/a2........................")
    //     (data (i32.const 256) "a1a2")
    //     (func $callee
    //       (call $input (i64.const 0))
    //       (call $read (i64.const 0) (i32.const 0)))
    //     (func $call_emit
    //       (drop (call $call (i32.const 0) (i32.const 40) (i32.const 64) (i32.const 4)
    //         (i32.const 128) (i32.const 32) (i32.const 160) (i64.const 2000000) (i64.const 1))))
    //     (func (export "go")
    //       (call $callee)
    //       (call $emit (i32.const 192) (i32.const 1) (i32.const 256) (i32.const 2))
    //       (call $call_emit)
    //       (call $emit (i32.const 224) (i32.const 1) (i32.const 258) (i32.const 2))
    //       (drop (call $call (i32.const 0) (i32.const 40) (i32.const 80) (i32.const 14)
    //         (i32.const 0) (i32.const 0) (i32.const 176) (i64.const 2000000) (i64.const 1)))
    //       (drop (call $call (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 4)
    //         (i32.const 0) (i32.const 0) (i32.const 176) (i64.const 2000000) (i64.const 1))))
    //     (func (export "go_then_trap")
    //       (call $callee)
    //       (call $call_emit)
    //       unreachable))
    const EMITTER: &str = concat!(
        "0061736d0100000001190560017e0060027e7f0060047f7f7f7f0060027f7f006000000254050365",
        "6e7605696e707574000003656e760d726561645f7265676973746572000103656e760a656d69745f",
        "6576656e74000203656e76086c6f675f75746638000303656e760c76616c75655f72657475726e00",
        "030303020404050301000107190204656d697400050e656d69745f7468656e5f7472617000060a36",
        "0225004200100042004120100141d000410510034100410241c0004106100241e000410210040b0e",
        "004100410141c00041061002000b0b45040041000b20746f7069632f622e2e2e2e2e2e2e2e2e2e2e",
        "2e2e2e2e2e2e2e2e2e2e2e2e2e2e0041c0000b0666726f6d2d620041d0000b05622d6c6f670041e0",
        "000b026f6b0025046e616d65011e050005696e7075740104726561640204656d697403036c6f6704",
        "03726574",
    );
    const CALLER: &str = concat!(
        "0061736d0100000001210560017e0060027e7f0060047f7f7f7f0060097f7f7f7f7f7f7f7e7e017f",
        "60000002460403656e7605696e707574000003656e760d726561645f726567697374657200010365",
        "6e760a656d69745f6576656e74000203656e760d63616c6c5f636f6e747261637400030305040404",
        "0404050301000107150202676f00060c676f5f7468656e5f7472617000070a8701040c0042001000",
        "4200410010010b1d004100412841c0004104418001412041a001428089fa00420110031a0b520010",
        "0441c001410141800241021002100541e0014101418202410210024100412841d000410e41004100",
        "41b001428089fa00420110031a4100412841e40041044100410041b001428089fa00420110031a0b",
        "070010041005000b0bac01080041c0000b04656d69740041d0000b0e656d69745f7468656e5f7472",
        "61700041e4000b046e6f7065004180010b20746f7069632f782e2e2e2e2e2e2e2e2e2e2e2e2e2e2e",
        "2e2e2e2e2e2e2e2e2e2e0041a0010b01070041c0010b20746f7069632f61312e2e2e2e2e2e2e2e2e",
        "2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e0041e0010b20746f7069632f61322e2e2e2e2e2e2e2e2e2e2e",
        "2e2e2e2e2e2e2e2e2e2e2e2e2e004180020b04613161320034046e616d65012d060005696e707574",
        "0104726561640204656d6974030463616c6c040663616c6c6565050963616c6c5f656d6974",
    );

    fn topic(name: &str) -> [u8; 32] {
        let mut t = [b'.'; 32];
        t[..name.len()].copy_from_slice(name.as_bytes());
        t
    }

    fn sign(nonce: u64, action: Action) -> SignedTransaction {
        let key = Keypair::dev(0);
        Transaction {
            chain_id: "detvm-dev".into(),
            signer: key.implicit_id(),
            public_key: key.public_key(),
            nonce,
            gas_limit: 50_000_000,
            action,
        }
        .sign(&key)
    }

    fn call(
        nonce: u64,
        contract: &str,
        method: &str,
        args: &[u8],
        amount: u128,
    ) -> SignedTransaction {
        sign(
            nonce,
            Action::Call {
                contract: contract.to_owned(),
                method: method.into(),
                args: args.to_vec(),
                amount,
            },
        )
    }

    /// A dev node on a loopback port, on a runtime of its own; stopped
    /// when dropped.
    struct TestNode {
        runtime: tokio::runtime::Runtime,
        node: Option<RunningNode>,
    }

    impl Drop for TestNode {
        fn drop(&mut self) {
            if let Some(node) = self.node.take() {
                self.runtime.block_on(node.stop());
            }
        }
    }

    fn start_node() -> (TestNode, RemoteDevnet) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let node = runtime
            .block_on(detvm_node::start(NodeConfig::dev()))
            .expect("the node starts");
        assert!(node.addr.ip().is_loopback());
        let url = format!("http://{}", node.addr);
        let test_node = TestNode {
            runtime,
            node: Some(node),
        };
        let remote = RemoteDevnet::connect(&url).expect("the node answers");
        (test_node, remote)
    }

    #[test]
    fn receipts_with_events_and_calls_round_trip_exactly() {
        let emitter = unhex(EMITTER).unwrap();
        let caller = unhex(CALLER).unwrap();
        let mut devnet = Devnet::new();
        let (node, mut remote) = start_node();

        let deploy_b = sign(0, Action::Deploy { code: emitter });
        let deploy_a = sign(1, Action::Deploy { code: caller });
        let b = devnet
            .send_signed(deploy_b.clone())
            .unwrap()
            .deployed()
            .unwrap();
        let a = devnet
            .send_signed(deploy_a.clone())
            .unwrap()
            .deployed()
            .unwrap();
        remote.send_signed(deploy_b).unwrap();
        remote.send_signed(deploy_a).unwrap();
        let (a, b) = (a.as_str(), b.as_str());

        let txs = [
            call(2, a, "go", b.as_bytes(), 10),
            call(3, a, "go_then_trap", b.as_bytes(), 0),
            call(4, b, "emit_then_trap", b"", 0),
            call(5, b, "emit", &topic("topic/y"), 0),
        ];
        for tx in txs {
            let here = devnet.send_signed(tx.clone()).unwrap();
            let there = remote.send_signed(tx).unwrap();
            assert_eq!(there.receipt, here.receipt);
            assert_eq!(there.receipt.hash(), here.receipt.hash());
            // The node's header commits to the receipts as rebuilt.
            let header = remote.header(there.height).unwrap();
            let rebuilt = remote.receipts(there.height).unwrap();
            assert_eq!(rebuilt, std::slice::from_ref(&here.receipt));
            assert_eq!(
                header.receipts_root,
                merkle_root(&rebuilt.iter().map(TxReceipt::hash).collect::<Vec<_>>())
            );
        }
        // The nested call's event is really there (not two empty lists).
        let go = devnet.ledger().receipts(3).unwrap().unwrap();
        assert_eq!(go[0].all_events().len(), 3);
        assert_eq!(go[0].calls.len(), 3);
        assert_eq!(go[0].calls[0].events[0].contract, b);
        drop(remote);
        drop(node);
    }

    #[test]
    fn events_that_disagree_with_the_tree_are_a_bad_answer() {
        let e = |data: &str| json!({ "contract": "c", "topics": [hex(&[1; 32])], "data": data });
        let answer = |events: Value| {
            json!({
                "tx_hash": hex(&[0; 32]),
                "block_height": 1,
                "index": 0,
                "outcome": { "status": "returned", "value": "" },
                "gas_used": 1,
                "fee": "1",
                "logs": [],
                "state_changes": [],
                "events": events,
                "own_events": [e("aa")],
                "calls": [{
                    "contract": "d", "method": "m", "amount": "340282366920938463463374607431768211455",
                    "gas_limit": 5, "gas_used": 4,
                    "outcome": { "status": "refused", "kind": "k", "message": "why" },
                    "logs": ["l"], "events": [e("bb")], "events_before": 0, "calls": [],
                }],
            })
        };
        let good = answer(json!([e("bb"), e("aa")]));
        let (receipt, _, _) = Answer::new("get_receipt", &good).receipt().unwrap();
        assert_eq!(receipt.events.len(), 1);
        assert_eq!(receipt.calls[0].amount, u128::MAX);
        assert_eq!(
            receipt.calls[0].outcome,
            CallOutcome::Refused {
                kind: "k".into(),
                message: "why".into()
            }
        );
        assert_eq!(receipt.all_events()[0].data, [0xbb]);
        for bad in [
            answer(json!([e("aa"), e("bb")])),
            answer(json!([e("bb")])),
            answer(json!([
                e("bb"),
                json!({ "contract": "c", "topics": ["01"], "data": "aa" })
            ])),
        ] {
            let r = Answer::new("get_receipt", &bad).receipt();
            assert!(matches!(r, Err(DevnetError::BadAnswer { .. })), "{r:?}");
        }
    }
}
