//! `detvm tx`, `detvm block`, `detvm receipt`: talking to a running node.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use detvm_chain::{Action, Keypair, SignedTransaction, Transaction};
use detvm_host::hex;
use serde_json::{Value, json};

use super::keys::{DirArg, key_path, load};
use crate::Status;
use crate::borsh_values::encode_args;
use crate::report::print_json;
use crate::rpc_client::{DEFAULT_RPC, RpcError, request};

/// Gas limit used to estimate when `--gas-limit` is not given.
const ESTIMATE_GAS_LIMIT: u64 = 1_000_000_000_000;

/// Sign a transaction with a key file, send it to a node and wait for its
/// receipt.
///
/// Without `--gas-limit` the node's `estimate_gas` runs the transaction
/// first and its exact gas becomes the limit. Exits 0 when the
/// transaction did what it asked, 1 when it was refused, trapped or
/// failed, 2 on a usage error or an unreachable node.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: TxAction,
    #[command(flatten)]
    pub common: TxCommon,
}

/// What the transaction does.
#[derive(Debug, clap::Subcommand)]
pub enum TxAction {
    /// Deploy a contract (`.wasm` or `.wat`).
    Deploy {
        /// The contract file.
        file: PathBuf,
    },
    /// Call a contract method.
    Call {
        /// The contract id.
        contract: String,
        /// The method.
        method: String,
        /// The input, written as for `detvm call`.
        #[arg(value_name = "ARGS")]
        args: Vec<String>,
        /// Tokens to attach.
        #[arg(long, default_value_t = 0)]
        amount: u128,
    },
    /// Move native tokens.
    Transfer {
        /// The receiving account.
        #[arg(long)]
        to: String,
        /// How much.
        #[arg(long)]
        amount: u128,
    },
}

/// Options of every `tx` command.
#[derive(Debug, clap::Args)]
pub struct TxCommon {
    /// The node.
    #[arg(long, global = true, value_name = "URL", default_value = DEFAULT_RPC)]
    pub rpc: String,
    /// The signing key: a key name in the keys directory or a file.
    #[arg(long, global = true, value_name = "KEY")]
    pub key: Option<String>,
    #[command(flatten)]
    pub dir: DirArg,
    /// Gas limit (default: the node's exact estimate).
    #[arg(long, global = true, value_name = "N")]
    pub gas_limit: Option<u64>,
    /// Seconds to wait for the receipt (0: do not wait).
    #[arg(long, global = true, value_name = "S", default_value_t = 30)]
    pub wait: u64,
    /// Print one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

fn fail(json: bool, kind: &str, message: &str, status: Status) -> Status {
    if json {
        print_json(&json!({ "error": { "kind": kind, "message": message } }));
    } else {
        eprintln!("error: {message}");
    }
    status
}

fn rpc_fail(json: bool, e: &RpcError) -> Status {
    let status = match e {
        RpcError::Node { code: 1000, .. } => Status::Rejected,
        _ => Status::Usage,
    };
    fail(json, &e.kind(), &e.to_string(), status)
}

fn action(a: &TxAction) -> Result<Action, String> {
    Ok(match a {
        TxAction::Deploy { file } => {
            let code = crate::input::load_module(file).map_err(|e| e.to_string())?;
            Action::Deploy { code }
        }
        TxAction::Call {
            contract,
            method,
            args,
            amount,
        } => Action::Call {
            contract: contract.clone(),
            method: method.clone(),
            args: encode_args(args).map_err(|e| e.to_string())?,
            amount: *amount,
        },
        TxAction::Transfer { to, amount } => Action::Transfer {
            to: to.clone(),
            amount: *amount,
        },
    })
}

fn build(
    key: &Keypair,
    chain_id: &str,
    nonce: u64,
    gas_limit: u64,
    action: Action,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id.to_owned(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit,
        action,
    }
    .sign(key)
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let c = &args.common;
    let Some(key_arg) = &c.key else {
        return fail(
            c.json,
            "usage",
            "--key KEY is required (see `detvm keys new`)",
            Status::Usage,
        );
    };
    let key = match load(&key_path(key_arg, &c.dir.dir)) {
        Ok(k) => k,
        Err(e) => return fail(c.json, "key", &e.to_string(), Status::Usage),
    };
    let action = match action(&args.action) {
        Ok(a) => a,
        Err(e) => return fail(c.json, "usage", &e, Status::Usage),
    };
    let status = match request(&c.rpc, "status", vec![]) {
        Ok(s) => s,
        Err(e) => return rpc_fail(c.json, &e),
    };
    let chain_id = status["chain_id"].as_str().unwrap_or_default().to_owned();
    let nonce = match request(&c.rpc, "get_account", vec![json!(key.implicit_id())]) {
        Ok(a) => a["nonce"].as_u64().unwrap_or(0),
        Err(e) => return rpc_fail(c.json, &e),
    };
    let gas_limit = match c.gas_limit {
        Some(g) => g,
        None => {
            let probe = build(&key, &chain_id, nonce, ESTIMATE_GAS_LIMIT, action.clone());
            match request(&c.rpc, "estimate_gas", vec![json!(hex(&probe.encode()))]) {
                Ok(e) => e["gas_used"].as_u64().unwrap_or(ESTIMATE_GAS_LIMIT),
                Err(e) => return rpc_fail(c.json, &e),
            }
        }
    };
    let tx = build(&key, &chain_id, nonce, gas_limit, action);
    let hash = match request(&c.rpc, "send_transaction", vec![json!(hex(&tx.encode()))]) {
        Ok(h) => h.as_str().unwrap_or_default().to_owned(),
        Err(e) => return rpc_fail(c.json, &e),
    };
    if c.wait == 0 {
        if c.json {
            print_json(&json!({ "tx_hash": hash }));
        } else {
            println!("{hash}");
        }
        return Status::Success;
    }
    let deadline = Instant::now() + Duration::from_secs(c.wait);
    loop {
        match request(&c.rpc, "get_receipt", vec![json!(hash)]) {
            Ok(receipt) => return print_receipt(&receipt, c.json),
            Err(RpcError::Node { code: 1002, .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(RpcError::Node { code: 1002, .. }) => {
                return fail(
                    c.json,
                    "timeout",
                    &format!("{hash} not included after {} s", c.wait),
                    Status::Rejected,
                );
            }
            Err(e) => return rpc_fail(c.json, &e),
        }
    }
}

/// Prints a receipt (the node's JSON) and returns the exit status.
pub fn print_receipt(receipt: &Value, json: bool) -> Status {
    let outcome = &receipt["outcome"];
    let status_name = outcome["status"].as_str().unwrap_or("");
    let ok = matches!(status_name, "returned" | "deployed" | "transferred");
    if json {
        print_json(receipt);
    } else {
        for log in receipt["logs"].as_array().into_iter().flatten() {
            eprintln!("log: {}", log.as_str().unwrap_or(""));
        }
        match status_name {
            "deployed" => println!("{}", outcome["contract"].as_str().unwrap_or("")),
            "returned" => println!("0x{}", outcome["value"].as_str().unwrap_or("")),
            "transferred" => println!("transferred"),
            _ => eprintln!(
                "{status_name}: {} {}",
                outcome["kind"].as_str().unwrap_or(""),
                outcome["message"].as_str().unwrap_or("")
            ),
        }
        eprintln!(
            "tx {} in block {}, gas {}, fee {}",
            receipt["tx_hash"].as_str().unwrap_or(""),
            receipt["block_height"],
            receipt["gas_used"],
            receipt["fee"].as_str().unwrap_or("")
        );
    }
    if ok {
        Status::Success
    } else {
        Status::Rejected
    }
}

/// Show a block of a running node.
#[derive(Debug, clap::Args)]
pub struct BlockArgs {
    /// A height, a block hash, or `latest`.
    #[arg(default_value = "latest")]
    pub block: String,
    /// The node.
    #[arg(long, value_name = "URL", default_value = DEFAULT_RPC)]
    pub rpc: String,
    /// Print JSON (the default output is JSON too, indented).
    #[arg(long)]
    pub json: bool,
}

/// Runs `detvm block`.
pub fn run_block(args: &BlockArgs) -> Status {
    let id = match args.block.parse::<u64>() {
        Ok(h) => json!(h),
        Err(_) => json!(args.block),
    };
    match request(&args.rpc, "get_block", vec![id]) {
        Ok(block) => {
            if args.json {
                print_json(&block);
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&block).unwrap_or_default()
                );
            }
            Status::Success
        }
        Err(e) => rpc_fail(args.json, &e),
    }
}

/// Show a transaction's receipt from a running node.
#[derive(Debug, clap::Args)]
pub struct ReceiptArgs {
    /// The transaction hash.
    pub hash: String,
    /// The node.
    #[arg(long, value_name = "URL", default_value = DEFAULT_RPC)]
    pub rpc: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `detvm receipt`.
pub fn run_receipt(args: &ReceiptArgs) -> Status {
    match request(&args.rpc, "get_receipt", vec![json!(args.hash)]) {
        Ok(receipt) => print_receipt(&receipt, args.json),
        Err(e) => rpc_fail(args.json, &e),
    }
}
