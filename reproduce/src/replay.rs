//! A node's blocks re-executed from genesis on a fresh state in memory:
//! one case per block with its state root, receipts root, transaction root
//! and gas, as this machine computes them. Another machine replaying the
//! same state directory must get the same section digest; a block that
//! does not reproduce the roots its header commits to is an error here.

use std::path::Path;
use std::sync::Arc;

use detvm_chain::{Genesis, Ledger};
use detvm_state::StateDb;

use crate::{Case, Error, hex};

/// The node database file inside a state directory: `detvm_node`'s
/// `NODE_DB_FILE`, written out so this crate (built for every target CI
/// emulates) does not pull in the node's network stack; the command line
/// checks the two agree.
pub const NODE_DB_FILE: &str = "chain.redb";

/// One case per block of the node whose state directory is `dir`.
pub fn cases(dir: &Path, genesis: Option<&Path>) -> Result<Vec<Case>, Error> {
    let fail = |e: &dyn std::fmt::Display| Error::Replay(e.to_string());
    let genesis = match genesis {
        None => Genesis::dev(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Replay(format!("{}: {e}", path.display())))?;
            Genesis::from_json(&text).map_err(|e| fail(&e))?
        }
    };
    let path = dir.join(NODE_DB_FILE);
    if !path.is_file() {
        return Err(Error::Replay(format!(
            "no node database at {}",
            path.display()
        )));
    }
    let stored = StateDb::open(&path)
        .map_err(detvm_chain::Error::from)
        .and_then(|db| Ledger::open(Arc::new(db), &genesis))
        .map_err(|e| fail(&e))?;
    let mut fresh = StateDb::in_memory()
        .map_err(detvm_chain::Error::from)
        .and_then(|db| Ledger::open(Arc::new(db), &genesis))
        .map_err(|e| fail(&e))?;
    let mut cases = Vec::new();
    for height in 1..=stored.head().height {
        let block = stored
            .block(height)
            .map_err(|e| fail(&e))?
            .ok_or_else(|| Error::Replay(format!("block {height} is missing")))?;
        let receipts = fresh.apply_block(&block).map_err(|e| fail(&e))?;
        let header = fresh.head();
        let transcript = format!(
            "txs {} gas {} state_root {} receipts_root {} tx_root {} receipts {}\n",
            receipts.len(),
            header.gas_used,
            hex(&header.state_root),
            hex(&header.receipts_root),
            hex(&header.tx_root),
            receipts
                .iter()
                .map(|r| hex(&r.hash()))
                .collect::<Vec<_>>()
                .join(","),
        );
        cases.push(Case::new(format!("block {height}"), transcript));
    }
    Ok(cases)
}
