//! [`RemoteDevnet`]: the [`crate::Devnet`] operations against a running
//! `detvm node --dev`, over JSON-RPC (`docs/rpc.md`).

use borsh::BorshSerialize;
use detvm_chain::{Keypair, SignedTransaction, TxOutcome, TxReceipt};
use detvm_host::hex;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;

use crate::Error;
use crate::devnet::{DevChain, Tx, TxResult, call_action, deploy_action, transfer_action};

/// A running dev node, driven over JSON-RPC. Transactions are signed here
/// with the dev keys (or any key) and sent with `send_transaction`; with
/// instant mining each one is committed before [`Tx::send`] returns.
pub struct RemoteDevnet {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    chain_id: String,
}

impl std::fmt::Debug for RemoteDevnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDevnet")
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

fn transport(e: impl std::fmt::Display) -> Error {
    Error::Rpc {
        code: 0,
        kind: None,
        message: e.to_string(),
    }
}

fn unhex(text: &str) -> Result<Vec<u8>, Error> {
    if !text.len().is_multiple_of(2) {
        return Err(transport(format!("`{text}` is not hex")));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| transport(format!("`{text}` is not hex")))
        })
        .collect()
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, Error> {
    v[name]
        .as_str()
        .ok_or_else(|| transport(format!("the node's answer has no `{name}`: {v}")))
}

/// A receipt as the node renders it, back into a [`TxReceipt`].
fn receipt_of(v: &Value) -> Result<TxReceipt, Error> {
    let o = &v["outcome"];
    let text = |name: &str| -> Result<String, Error> { Ok(field(o, name)?.to_owned()) };
    let outcome = match field(o, "status")? {
        "returned" => TxOutcome::Returned {
            value: unhex(field(o, "value")?)?,
        },
        "trapped" => TxOutcome::Trapped {
            kind: text("kind")?,
            message: o["message"].as_str().map(str::to_owned),
        },
        "deployed" => TxOutcome::Deployed {
            contract: text("contract")?,
            code_hash: unhex(field(o, "code_hash")?)?
                .try_into()
                .map_err(|_| transport("a code hash is 32 bytes"))?,
        },
        "transferred" => TxOutcome::Transferred,
        "failed" => TxOutcome::Failed {
            kind: text("kind")?,
            message: text("message")?,
        },
        other => return Err(transport(format!("unknown outcome `{other}`"))),
    };
    let mut state_changes = Vec::new();
    for change in v["state_changes"].as_array().into_iter().flatten() {
        let value = match change["value"].as_str() {
            Some(hex) => Some(unhex(hex)?),
            None => None,
        };
        state_changes.push((unhex(field(change, "key")?)?, value));
    }
    Ok(TxReceipt {
        tx_hash: unhex(field(v, "tx_hash")?)?
            .try_into()
            .map_err(|_| transport("a hash is 32 bytes"))?,
        outcome,
        gas_used: v["gas_used"]
            .as_u64()
            .ok_or_else(|| transport("no gas_used"))?,
        fee: field(v, "fee")?
            .parse()
            .map_err(|_| transport("a fee is a decimal string"))?,
        logs: v["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect(),
        state_changes,
    })
}

impl RemoteDevnet {
    /// Connects to the node at `url` (e.g. `http://127.0.0.1:8545`).
    pub fn connect(url: &str) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(transport)?;
        let client = HttpClientBuilder::default().build(url).map_err(transport)?;
        let mut remote = Self {
            runtime,
            client,
            chain_id: String::new(),
        };
        let status = remote.request("status", Vec::new())?;
        remote.chain_id = field(&status, "chain_id")?.to_owned();
        Ok(remote)
    }

    /// Calls `method` with positional `params`.
    pub fn request(&self, method: &str, params: Vec<Value>) -> Result<Value, Error> {
        let mut array = ArrayParams::new();
        for p in params {
            array.insert(p).map_err(transport)?;
        }
        self.runtime
            .block_on(self.client.request::<Value, _>(method, array))
            .map_err(|e| match e {
                jsonrpsee::core::ClientError::Call(obj) => Error::Rpc {
                    code: obj.code(),
                    kind: obj
                        .data()
                        .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                        .and_then(|d| d["kind"].as_str().map(str::to_owned)),
                    message: obj.message().to_owned(),
                },
                other => transport(other),
            })
    }

    /// The account id of dev account `index`.
    pub fn id(&self, index: u32) -> String {
        Keypair::dev(index).implicit_id()
    }

    /// The balance of `id` (0 if it has no account).
    pub fn balance(&self, id: &str) -> Result<u128, Error> {
        match self.request("get_account", vec![Value::from(id)]) {
            Ok(a) => field(&a, "balance")?
                .parse()
                .map_err(|_| transport("a balance is a decimal string")),
            Err(Error::Rpc { code: 1003, .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// A deploy of `code`.
    pub fn deploy(&mut self, code: &[u8]) -> Tx<'_> {
        Tx::new(self, deploy_action(code))
    }

    /// A call of `method` with `args` (the borsh tuple of its parameters).
    pub fn call<A: BorshSerialize + ?Sized>(
        &mut self,
        contract: &str,
        method: &str,
        args: &A,
    ) -> Tx<'_> {
        Tx::new(self, call_action(contract, method, args))
    }

    /// A transfer of native tokens.
    pub fn transfer(&mut self, to: &str, amount: u128) -> Tx<'_> {
        Tx::new(self, transfer_action(to, amount))
    }

    /// Runs `method` read-only on the head's state (or at `height`) and
    /// returns its return bytes, or the trap as an error.
    pub fn view<A: BorshSerialize + ?Sized>(
        &self,
        contract: &str,
        method: &str,
        args: &A,
        height: Option<u64>,
    ) -> Result<Vec<u8>, Error> {
        let args = hex(&borsh::to_vec(args).unwrap_or_default());
        let mut params = vec![
            Value::from(contract),
            Value::from(method),
            Value::from(args),
        ];
        if let Some(h) = height {
            params.push(Value::from(h));
        }
        let v = self.request("view", params)?;
        match field(&v["outcome"], "status")? {
            "returned" => unhex(field(&v["outcome"], "value")?),
            _ => Err(Error::Rpc {
                code: 0,
                kind: v["outcome"]["kind"].as_str().map(str::to_owned),
                message: format!("the view trapped: {}", v["outcome"]),
            }),
        }
    }

    /// Takes a snapshot (`dev_snapshot`).
    pub fn snapshot(&self) -> Result<u64, Error> {
        self.request("dev_snapshot", Vec::new())?
            .as_u64()
            .ok_or_else(|| transport("a snapshot id is a number"))
    }

    /// Reverts to a snapshot (`dev_revert`).
    pub fn revert(&self, snapshot: u64) -> Result<(), Error> {
        self.request("dev_revert", vec![Value::from(snapshot)])
            .map(|_| ())
    }

    /// Chooses the next block's timestamp (`dev_set_next_timestamp`).
    pub fn set_next_timestamp(&self, ns: u64) -> Result<(), Error> {
        self.request("dev_set_next_timestamp", vec![Value::from(ns)])
            .map(|_| ())
    }

    /// Moves the clock of later blocks forward (`dev_increase_time`).
    pub fn advance_time(&self, ns: u64) -> Result<(), Error> {
        self.request("dev_increase_time", vec![Value::from(ns)])
            .map(|_| ())
    }

    /// Mines one block (`dev_mine`) and returns its header as JSON.
    pub fn mine(&self) -> Result<Value, Error> {
        self.request("dev_mine", Vec::new())
    }

    /// The head block (as `get_block`).
    pub fn head(&self) -> Result<Value, Error> {
        self.request("get_block", vec![Value::from("latest")])
    }
}

impl DevChain for RemoteDevnet {
    fn chain_id(&self) -> Result<String, Error> {
        Ok(self.chain_id.clone())
    }

    fn next_nonce(&self, id: &str) -> Result<u64, Error> {
        match self.request("get_account", vec![Value::from(id)]) {
            Ok(a) => a["nonce"]
                .as_u64()
                .ok_or_else(|| transport("a nonce is a number")),
            Err(Error::Rpc { code: 1003, .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn send_signed(&mut self, tx: SignedTransaction) -> Result<TxResult, Error> {
        let hash = self.request("send_transaction", vec![Value::from(hex(&tx.encode()))])?;
        let receipt = self.request("get_receipt", vec![hash])?;
        let height = receipt["block_height"]
            .as_u64()
            .ok_or_else(|| transport("no block height"))?;
        Ok(TxResult {
            receipt: receipt_of(&receipt)?,
            height,
            hash: tx.hash(),
        })
    }
}
