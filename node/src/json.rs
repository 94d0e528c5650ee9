//! How chain data looks in JSON-RPC answers (`docs/rpc.md`): bytes and
//! hashes as lowercase hex, `u128` amounts as decimal strings (JSON numbers
//! lose precision above 2^53), `u64` as numbers.

use detvm_chain::{Account, Action, Block, BlockHeader, SignedTransaction, TxOutcome, TxReceipt};
use detvm_host::{CallNode, CallOutcome, Event, events_in_order, hex};
use serde_json::{Value, json};

/// A block header.
pub fn header(h: &BlockHeader) -> Value {
    json!({
        "height": h.height,
        "hash": hex(&h.hash()),
        "parent_hash": hex(&h.parent_hash),
        "timestamp_ns": h.timestamp_ns,
        "proposer": h.proposer,
        "tx_root": hex(&h.tx_root),
        "receipts_root": hex(&h.receipts_root),
        "state_root": hex(&h.state_root),
        "gas_used": h.gas_used,
    })
}

/// A block: its header's fields and its transaction hashes.
pub fn block(b: &Block) -> Value {
    let mut v = header(&b.header);
    v["transactions"] = b
        .transactions
        .iter()
        .map(|t| Value::String(hex(&t.hash())))
        .collect();
    v
}

/// A signed transaction.
pub fn transaction(tx: &SignedTransaction) -> Value {
    let t = &tx.transaction;
    let action = match &t.action {
        Action::Deploy { code } => json!({
            "type": "deploy",
            "code_len": code.len(),
            "code_hash": hex(&sha256(code)),
        }),
        Action::Call {
            contract,
            method,
            args,
            amount,
        } => json!({
            "type": "call",
            "contract": contract,
            "method": method,
            "args": hex(args),
            "amount": amount.to_string(),
        }),
        Action::Transfer { to, amount } => json!({
            "type": "transfer",
            "to": to,
            "amount": amount.to_string(),
        }),
    };
    json!({
        "hash": hex(&tx.hash()),
        "chain_id": t.chain_id,
        "signer": t.signer,
        "public_key": hex(&t.public_key),
        "nonce": t.nonce,
        "gas_limit": t.gas_limit,
        "action": action,
        "signature": hex(&tx.signature),
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A receipt, with where its transaction was included.
pub fn receipt(r: &TxReceipt, height: u64, index: u32) -> Value {
    let mut outcome = json!({ "status": r.outcome.name() });
    match &r.outcome {
        TxOutcome::Returned { value } => outcome["value"] = Value::String(hex(value)),
        TxOutcome::Trapped { kind, message } => {
            outcome["kind"] = json!(kind);
            outcome["message"] = json!(message);
        }
        TxOutcome::Deployed {
            contract,
            code_hash,
        } => {
            outcome["contract"] = json!(contract);
            outcome["code_hash"] = json!(hex(code_hash));
        }
        TxOutcome::Transferred => {}
        TxOutcome::Failed { kind, message } => {
            outcome["kind"] = json!(kind);
            outcome["message"] = json!(message);
        }
    }
    let mut v = json!({
        "tx_hash": hex(&r.tx_hash),
        "block_height": height,
        "index": index,
        "outcome": outcome,
        "gas_used": r.gas_used,
        "fee": r.fee.to_string(),
        "logs": r.logs,
        "state_changes": r.state_changes.iter().map(|(k, v)| json!({
            "key": hex(k),
            "value": v.as_ref().map(|v| hex(v)),
        })).collect::<Vec<_>>(),
    });
    call_effects(&mut v, &r.events, &r.calls);
    v
}

/// The event fields of a call's answer (a transaction's receipt or a
/// view): `events`, every event in emission order; `own_events`, the
/// called contract's own; `calls`, the tree of calls it made.
pub fn call_effects(v: &mut Value, own: &[Event], tree: &[CallNode]) {
    v["events"] = events(&events_in_order(own, tree));
    v["own_events"] = events(own);
    v["calls"] = calls(tree);
}

/// One event: `{contract, topics: [hex], data: hex}`.
pub fn event(e: &Event) -> Value {
    json!({
        "contract": e.contract,
        "topics": e.topics.iter().map(|t| hex(t)).collect::<Vec<_>>(),
        "data": hex(&e.data),
    })
}

/// A list of events.
pub fn events(list: &[Event]) -> Value {
    list.iter().map(event).collect()
}

/// A call tree: per call its callee, method, amount, gas, outcome, logs,
/// own events, `events_before` and the calls it made.
pub fn calls(tree: &[CallNode]) -> Value {
    tree.iter()
        .map(|c| {
            json!({
                "contract": c.contract,
                "method": c.method,
                "amount": c.amount.to_string(),
                "gas_limit": c.gas_limit,
                "gas_used": c.gas_used,
                "outcome": call_outcome(&c.outcome),
                "logs": c.logs,
                "events": events(&c.events),
                "events_before": c.events_before,
                "calls": calls(&c.calls),
            })
        })
        .collect()
}

/// How a nested call ended: `{status: returned, value}`,
/// `{status: trapped, kind, message}` or `{status: refused, kind, message}`.
pub fn call_outcome(o: &CallOutcome) -> Value {
    let mut v = json!({ "status": o.name() });
    match o {
        CallOutcome::Returned { value } => v["value"] = json!(hex(value)),
        CallOutcome::Trapped { kind, message } => {
            v["kind"] = json!(kind);
            v["message"] = json!(message);
        }
        CallOutcome::Refused { kind, message } => {
            v["kind"] = json!(kind);
            v["message"] = json!(message);
        }
    }
    v
}

/// An account record.
pub fn account(id: &str, a: &Account) -> Value {
    json!({
        "id": id,
        "balance": a.balance.to_string(),
        "nonce": a.nonce,
        "public_key": a.public_key.map(|k| hex(&k)),
    })
}
