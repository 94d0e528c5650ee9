//! [`RemoteDevnet`]: the [`DevChain`] operations against a running
//! `detvm node --dev`, over JSON-RPC (`docs/rpc.md`).
//!
//! Transactions are signed here (dev keys, or any key) and sent with
//! `send_transaction`; receipts, headers and accounts come back as the
//! node renders them and are rebuilt into the chain's own types, checked
//! where the answer allows it (a header against its hash, a receipt
//! against its transaction's hash).

use detvm_chain::{Account, BlockHeader, SignedTransaction, TxOutcome, TxReceipt};
use detvm_host::{ContractId, hex};
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
        let receipt = TxReceipt {
            tx_hash: self.hash("tx_hash")?,
            outcome: self.at("outcome").outcome()?,
            gas_used: self.u64("gas_used")?,
            fee: self.u128("fee")?,
            logs: self.strings("logs")?,
            state_changes,
            events: Vec::new(),
            calls: Vec::new(),
        };
        let index = u32::try_from(self.u64("index")?)
            .map_err(|_| self.bad("a transaction index above u32".into()))?;
        Ok((receipt, self.u64("block_height")?, index))
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
