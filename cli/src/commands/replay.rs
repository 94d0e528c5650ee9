//! `detvm replay`: re-execute a node's blocks and check every root.

use std::path::PathBuf;
use std::sync::Arc;

use detvm_chain::{Genesis, Ledger};
use detvm_host::hex;
use detvm_state::StateDb;
use serde_json::json;

use crate::Status;
use crate::report::print_json;

/// Re-execute every block a node stored, from genesis, on a fresh state in
/// memory, and check each block's state root, receipts root and
/// transaction root, and each stored receipt. Prints the first mismatch and
/// exits 1; exits 0 when every block reproduces. The node must be stopped
/// (its database is locked while it runs).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's state directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The chain's genesis file (default: the dev genesis).
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn fail(json: bool, kind: &str, message: &str, status: Status) -> Status {
    if json {
        print_json(&json!({ "ok": false, "error": { "kind": kind, "message": message } }));
    } else {
        eprintln!("error: {message}");
    }
    status
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let genesis = match &args.genesis {
        None => Genesis::dev(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| Genesis::from_json(&t).map_err(|e| e.to_string()))
        {
            Ok(g) => g,
            Err(e) => {
                return fail(
                    args.json,
                    "usage",
                    &format!("{}: {e}", path.display()),
                    Status::Usage,
                );
            }
        },
    };
    let path = args.state.join(detvm_node::NODE_DB_FILE);
    if !path.is_file() {
        return fail(
            args.json,
            "usage",
            &format!("no node database at {}", path.display()),
            Status::Usage,
        );
    }
    let stored = match StateDb::open(&path)
        .map_err(detvm_chain::Error::from)
        .and_then(|db| Ledger::open(Arc::new(db), &genesis))
    {
        Ok(l) => l,
        Err(e) => return fail(args.json, "open", &e.to_string(), Status::Usage),
    };
    let mut fresh = match StateDb::in_memory()
        .map_err(detvm_chain::Error::from)
        .and_then(|db| Ledger::open(Arc::new(db), &genesis))
    {
        Ok(l) => l,
        Err(e) => return fail(args.json, "open", &e.to_string(), Status::Usage),
    };
    let head = stored.head().height;
    let mut transactions = 0usize;
    for height in 1..=head {
        let block = match stored.block(height) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return fail(
                    args.json,
                    "missing_block",
                    &format!("block {height} is missing"),
                    Status::Rejected,
                );
            }
            Err(e) => return fail(args.json, "corrupt", &e.to_string(), Status::Rejected),
        };
        let receipts = match fresh.apply_block(&block) {
            Ok(r) => r,
            Err(e) => {
                return fail(
                    args.json,
                    "mismatch",
                    &format!("block {height}: {e}"),
                    Status::Rejected,
                );
            }
        };
        match stored.receipts(height) {
            Ok(Some(stored_receipts)) if stored_receipts == receipts => {}
            Ok(_) => {
                return fail(
                    args.json,
                    "mismatch",
                    &format!("block {height}: stored receipts differ from re-execution"),
                    Status::Rejected,
                );
            }
            Err(e) => return fail(args.json, "corrupt", &e.to_string(), Status::Rejected),
        }
        transactions += block.transactions.len();
    }
    let root = hex(&fresh.head().state_root);
    if args.json {
        print_json(
            &json!({ "ok": true, "blocks": head, "transactions": transactions, "state_root": root }),
        );
    } else {
        println!("replayed {head} blocks ({transactions} transactions): every root matches");
        println!("state root {root}");
    }
    Status::Success
}
