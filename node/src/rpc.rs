//! The JSON-RPC 2.0 methods (`docs/rpc.md`).

use std::sync::Arc;

use detvm_chain::{SignedTransaction, TxError};
use detvm_host::{ContractId, ReceiptOutcome, hex};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use serde_json::{Value, json};

use crate::core::{Committed, Executor, NodeState};
use crate::{NodeError, json as render};

/// Stable error codes (`docs/rpc.md`, "Errors"). JSON-RPC's own codes
/// (-32700 parse error, -32600 invalid request, -32601 unknown method,
/// -32602 invalid params, -32603 internal) are used as the standard says.
pub mod codes {
    /// The transaction is not valid; `data.kind` says which rule.
    pub const INVALID_TRANSACTION: i32 = 1000;
    /// No such block.
    pub const UNKNOWN_BLOCK: i32 = 1001;
    /// No such transaction.
    pub const UNKNOWN_TRANSACTION: i32 = 1002;
    /// No such account or contract.
    pub const UNKNOWN_ACCOUNT: i32 = 1003;
    /// The view could not run (unknown method, not a method, input too long).
    pub const VIEW_FAILED: i32 = 1004;
    /// A dev method on a node started without `--dev`.
    pub const DEV_ONLY: i32 = 1005;
    /// No such snapshot.
    pub const UNKNOWN_SNAPSHOT: i32 = 1006;
    /// A timestamp that does not move forward.
    pub const BAD_TIMESTAMP: i32 = 1007;
    /// Code refused by the deploy rules (`dev_set_code`); `data.kind` says why.
    pub const CODE_REJECTED: i32 = 1008;
    /// A query matched more results than one answer holds; narrow it.
    pub const TOO_MANY_RESULTS: i32 = 1009;
    /// The node failed (storage, engine).
    pub const NODE_ERROR: i32 = -32603;
    /// Parameters that do not decode.
    pub const INVALID_PARAMS: i32 = -32602;
}

/// The machine-readable description of these methods (OpenRPC 1.2),
/// served by `rpc.discover`.
pub const OPENRPC: &str = include_str!("../../docs/openrpc.json");

type RpcResult = Result<Value, ErrorObjectOwned>;

/// The `format` of a state dump (`dev_dump_state`).
pub const DUMP_FORMAT: &str = "detvm-state-dump";
/// The newest dump version this node writes; it reads every version up to
/// it.
pub const DUMP_VERSION: u64 = 1;
/// Most blocks one `get_logs` filter spans.
pub const MAX_LOG_BLOCKS: u64 = 10_000;

/// Makes the block of a dev cheat and answers with its header.
fn cheat(s: &mut NodeState, changes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> RpcResult {
    let committed = s.cheat(changes).map_err(ErrorObjectOwned::from)?;
    Ok(render::header(&committed.block.header))
}

/// Every key and value of the committed state, in key order.
fn whole_state(s: &NodeState) -> Result<Vec<detvm_host::Entry>, ErrorObjectOwned> {
    s.ledger
        .db()
        .scan_prefix(b"", None, usize::MAX)
        .map_err(|e| node_err(detvm_chain::Error::State(e)))
}

/// A receipt with the host calls that produced it.
fn trace_json(
    receipt: &detvm_chain::TxReceipt,
    calls: &[detvm_host::HostCallTrace],
    height: u64,
    index: u32,
) -> Value {
    let mut v = render::receipt(receipt, height, index);
    v["host_calls"] = calls
        .iter()
        .map(|c| json!({ "name": c.name, "gas": c.gas, "trapped": c.trapped }))
        .collect();
    v
}

/// The log entries of a block's calls, optionally of one contract: one
/// per call frame with log lines, the transaction's call (`depth` 0) and
/// then every nested call depth first in call order (`depth` 1 and up),
/// trapped frames included (logs are kept when a call traps).
fn block_logs(
    block: &detvm_chain::Block,
    receipts: &[detvm_chain::TxReceipt],
    contract: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (index, (tx, r)) in block.transactions.iter().zip(receipts).enumerate() {
        let detvm_chain::Action::Call {
            contract: called, ..
        } = &tx.transaction.action
        else {
            continue;
        };
        let mut frames = vec![(0, called.as_str(), &r.logs)];
        nested_frames(&r.calls, 1, &mut frames);
        for (depth, frame_contract, logs) in frames {
            if contract.is_some_and(|c| c != frame_contract) || logs.is_empty() {
                continue;
            }
            out.push(json!({
                "block_height": block.header.height,
                "tx_hash": hex(&r.tx_hash),
                "index": index,
                "contract": frame_contract,
                "depth": depth,
                "logs": logs,
            }));
        }
    }
    out
}

/// Every call of a tree, depth first in call order, with its depth, its
/// callee and its log lines.
fn nested_frames<'a>(
    calls: &'a [detvm_host::CallNode],
    depth: usize,
    out: &mut Vec<(usize, &'a str, &'a Vec<String>)>,
) {
    for call in calls {
        out.push((depth, call.contract.as_str(), &call.logs));
        nested_frames(&call.calls, depth + 1, out);
    }
}

/// The heights a `get_logs` / `get_events` filter scans: `to` defaults to
/// the head, `from` to the `MAX_LOG_BLOCKS`-th block before `to`. The span
/// asked for is checked before it is cut at the head.
fn scan_range(
    from: Option<u64>,
    to: Option<u64>,
    head: u64,
) -> Result<std::ops::RangeInclusive<u64>, ErrorObjectOwned> {
    let to = to.unwrap_or(head);
    let from = from.unwrap_or(to.saturating_sub(MAX_LOG_BLOCKS - 1));
    if from > to || to - from >= MAX_LOG_BLOCKS {
        return Err(invalid_params(format!(
            "a filter spans 1 to {MAX_LOG_BLOCKS} blocks (from_height <= to_height)"
        )));
    }
    Ok(from.max(1)..=to.min(head))
}

/// An event filter (`get_events`, `subscribe_events`; `docs/rpc.md`).
#[derive(Debug, Default, Clone)]
struct EventFilter {
    /// Only events this contract emitted.
    contract: Option<String>,
    /// Per topic position: `None` matches anything, else one of these.
    topics: Vec<Option<Vec<[u8; 32]>>>,
    from_height: Option<u64>,
    to_height: Option<u64>,
}

impl EventFilter {
    /// Parses a filter object (`null` or absent: every event); anything
    /// malformed is an invalid-params error.
    fn parse(value: Option<Value>) -> Result<Self, ErrorObjectOwned> {
        let map = match value {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(invalid_params(format!(
                    "an event filter is an object, not {other}"
                )));
            }
        };
        let mut filter = Self::default();
        for (name, field) in map {
            match (name.as_str(), field) {
                (_, Value::Null) => {}
                ("contract", Value::String(text)) => {
                    let id = ContractId::parse(&text).ok_or_else(|| {
                        invalid_params(format!(
                            "filter contract `{text}`: a contract id is 40 lowercase hex digits"
                        ))
                    })?;
                    filter.contract = Some(id.as_str().to_owned());
                }
                ("topics", Value::Array(positions)) => {
                    if positions.len() > MAX_FILTER_TOPICS {
                        return Err(invalid_params(format!(
                            "filter topics: an event has at most {MAX_FILTER_TOPICS} topics, {} given",
                            positions.len()
                        )));
                    }
                    filter.topics = positions
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| parse_topic_position(i, p))
                        .collect::<Result<_, _>>()?;
                }
                (h @ ("from_height" | "to_height"), Value::Number(n)) => {
                    let n = n.as_u64().ok_or_else(|| {
                        invalid_params(format!("filter {h}: a non-negative integer"))
                    })?;
                    if h == "from_height" {
                        filter.from_height = Some(n);
                    } else {
                        filter.to_height = Some(n);
                    }
                }
                (known @ ("contract" | "topics" | "from_height" | "to_height"), other) => {
                    return Err(invalid_params(format!(
                        "filter {known}: unexpected {other}"
                    )));
                }
                (unknown, _) => {
                    return Err(invalid_params(format!(
                        "unknown filter field `{unknown}` (contract, topics, from_height, to_height)"
                    )));
                }
            }
        }
        if let (Some(from), Some(to)) = (filter.from_height, filter.to_height)
            && from > to
        {
            return Err(invalid_params(format!(
                "filter from_height {from} is above to_height {to}"
            )));
        }
        Ok(filter)
    }

    /// Whether `event`, in a block at `height`, passes.
    fn matches(&self, height: u64, event: &detvm_host::Event) -> bool {
        self.from_height.is_none_or(|h| height >= h)
            && self.to_height.is_none_or(|h| height <= h)
            && self.contract.as_deref().is_none_or(|c| c == event.contract)
            && self
                .topics
                .iter()
                .enumerate()
                .all(|(i, wanted)| match wanted {
                    None => true,
                    Some(any) => event.topics.get(i).is_some_and(|t| any.contains(t)),
                })
    }
}

/// Most topics an event has (`max_event_topics` of the host fees), so the
/// most positions a filter may constrain.
pub const MAX_FILTER_TOPICS: usize = 4;
/// Most alternatives one topic position of a filter may list.
pub const MAX_TOPIC_ALTERNATIVES: usize = 16;
/// Most events one `get_events` answer holds.
pub const MAX_EVENT_RESULTS: usize = 10_000;

/// One position of a filter's `topics`: `null` (any), a topic, or a list
/// of topics (any of them).
fn parse_topic_position(i: usize, p: Value) -> Result<Option<Vec<[u8; 32]>>, ErrorObjectOwned> {
    let topic = |v: &Value| -> Result<[u8; 32], ErrorObjectOwned> {
        let text = v.as_str().ok_or_else(|| {
            invalid_params(format!(
                "filter topic {i}: a topic is a hex string, not {v}"
            ))
        })?;
        parse_hex(text, &format!("filter topic {i}"))?
            .try_into()
            .map_err(|_| {
                invalid_params(format!(
                    "filter topic {i}: a topic is 32 bytes (64 hex digits)"
                ))
            })
    };
    match &p {
        Value::Null => Ok(None),
        Value::String(_) => Ok(Some(vec![topic(&p)?])),
        Value::Array(any) if !any.is_empty() && any.len() <= MAX_TOPIC_ALTERNATIVES => {
            Ok(Some(any.iter().map(topic).collect::<Result<_, _>>()?))
        }
        Value::Array(_) => Err(invalid_params(format!(
            "filter topic {i}: a list of 1 to {MAX_TOPIC_ALTERNATIVES} topics"
        ))),
        other => Err(invalid_params(format!(
            "filter topic {i}: null, a topic or a list of topics, not {other}"
        ))),
    }
}

/// Most index entries read for one selective part of a filter before the
/// part is judged too broad to narrow the search.
const MAX_INDEX_CANDIDATES: usize = 10 * MAX_EVENT_RESULTS;

/// The heights in `range` that can hold an event passing `filter`, from
/// the event index (`docs/chain.md` §6): of the filter's selective parts
/// (its contract; each topic position it constrains, as the union of its
/// alternatives), the one with the fewest index entries decides. `None`:
/// no part is selective (or each has more than [`MAX_INDEX_CANDIDATES`]
/// entries), so every block in the range must be read.
fn candidate_heights(
    ledger: &detvm_chain::Ledger,
    filter: &EventFilter,
    range: &std::ops::RangeInclusive<u64>,
) -> Result<Option<std::collections::BTreeSet<u64>>, ErrorObjectOwned> {
    use detvm_chain::EventSelector;
    let mut parts: Vec<Vec<EventSelector>> = Vec::new();
    if let Some(contract) = &filter.contract {
        parts.push(vec![EventSelector::Contract(contract.clone())]);
    }
    for (position, wanted) in filter.topics.iter().enumerate() {
        if let Some(any) = wanted {
            parts.push(
                any.iter()
                    .map(|topic| EventSelector::Topic {
                        // At most MAX_FILTER_TOPICS positions: fits a byte.
                        position: position as u8,
                        topic: *topic,
                    })
                    .collect(),
            );
        }
    }
    let mut best: Option<std::collections::BTreeSet<u64>> = None;
    let mut best_entries = usize::MAX;
    'parts: for part in parts {
        let mut heights = std::collections::BTreeSet::new();
        let mut entries = 0;
        for selector in &part {
            let found = ledger
                .event_locations(
                    selector,
                    *range.start(),
                    *range.end(),
                    MAX_INDEX_CANDIDATES + 1,
                )
                .map_err(node_err)?;
            entries += found.len();
            if entries > MAX_INDEX_CANDIDATES || entries >= best_entries {
                continue 'parts;
            }
            heights.extend(found.iter().map(|at| at.height));
        }
        best_entries = entries;
        best = Some(heights);
    }
    Ok(best)
}

/// The events of a block's transactions that pass `filter`, in block
/// order and, within a transaction, in emission order.
fn block_events(
    block: &detvm_chain::Block,
    receipts: &[detvm_chain::TxReceipt],
    filter: &EventFilter,
) -> Vec<Value> {
    let height = block.header.height;
    let mut out = Vec::new();
    for (tx_index, r) in receipts.iter().enumerate() {
        for (event_index, e) in r.all_events().iter().enumerate() {
            if !filter.matches(height, e) {
                continue;
            }
            let mut item = json!({
                "block_height": height,
                "tx_hash": hex(&r.tx_hash),
                "tx_index": tx_index,
                "event_index": event_index,
            });
            if let (Value::Object(item), Value::Object(fields)) = (&mut item, render::event(e)) {
                item.extend(fields);
            }
            out.push(item);
        }
    }
    out
}

/// Shared by every method.
pub struct Context {
    /// The executor.
    pub executor: Executor,
    /// Committed blocks.
    pub events: tokio::sync::broadcast::Sender<Committed>,
    /// Whether dev methods are enabled.
    pub dev: bool,
}

fn error(code: i32, message: impl Into<String>, data: Option<Value>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), data)
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message, None)
}

impl From<NodeError> for ErrorObjectOwned {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Tx(tx) => error(
                codes::INVALID_TRANSACTION,
                tx.to_string(),
                Some(json!({ "kind": tx.kind() })),
            ),
            NodeError::Chain(detvm_chain::Error::UnknownHeight(h)) => error(
                codes::UNKNOWN_BLOCK,
                format!("no block at height {h}"),
                None,
            ),
            other => error(codes::NODE_ERROR, other.to_string(), None),
        }
    }
}

fn parse_hex(text: &str, what: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    detvm_host::from_hex(text.strip_prefix("0x").unwrap_or(text))
        .ok_or_else(|| invalid_params(format!("{what}: not hex (an even number of hex digits)")))
}

fn parse_hash(text: &str, what: &str) -> Result<[u8; 32], ErrorObjectOwned> {
    parse_hex(text, what)?
        .try_into()
        .map_err(|_| invalid_params(format!("{what}: a hash is 32 bytes (64 hex digits)")))
}

fn parse_tx(text: &str) -> Result<SignedTransaction, ErrorObjectOwned> {
    let bytes = parse_hex(text, "transaction")?;
    SignedTransaction::decode(&bytes)
        .map_err(|e| NodeError::Tx(TxError::Malformed(e.to_string())).into())
}

fn parse_contract(text: &str) -> Result<ContractId, ErrorObjectOwned> {
    ContractId::parse(text).ok_or_else(|| {
        error(
            codes::UNKNOWN_ACCOUNT,
            format!("`{text}` is not a contract id (40 lowercase hex digits)"),
            None,
        )
    })
}

async fn on<R: Send + 'static>(
    ctx: &Context,
    f: impl FnOnce(&mut NodeState) -> Result<R, ErrorObjectOwned> + Send + 'static,
) -> Result<R, ErrorObjectOwned> {
    ctx.executor.run(f).await.map_err(ErrorObjectOwned::from)?
}

fn node_err(e: impl Into<NodeError>) -> ErrorObjectOwned {
    e.into().into()
}

/// Refuses a height a request names past the head: the state there is
/// not committed (yet), so reading it is the caller's mistake.
fn committed_height(s: &NodeState, height: Option<u64>) -> Result<(), ErrorObjectOwned> {
    match height {
        Some(h) if h > s.ledger.head().height => Err(error(
            codes::UNKNOWN_BLOCK,
            format!("no block at height {h}"),
            None,
        )),
        _ => Ok(()),
    }
}

fn dev_only(ctx: &Context) -> Result<(), ErrorObjectOwned> {
    if ctx.dev {
        Ok(())
    } else {
        Err(error(
            codes::DEV_ONLY,
            "dev methods need a node started with --dev",
            None,
        ))
    }
}

/// Height of a block named by its height (number) or hash (hex string).
fn block_height(state: &NodeState, id: &Value) -> Result<u64, ErrorObjectOwned> {
    match id {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| invalid_params("a block height is a non-negative integer")),
        Value::String(s) if s == "latest" => Ok(state.ledger.head().height),
        Value::String(s) => {
            let hash = parse_hash(s, "block hash")?;
            state
                .ledger
                .height_of(&hash)
                .map_err(node_err)?
                .ok_or_else(|| {
                    error(
                        codes::UNKNOWN_BLOCK,
                        format!("no block with hash {s}"),
                        None,
                    )
                })
        }
        _ => Err(invalid_params("a block is a height, a hash or \"latest\"")),
    }
}

fn found_receipt(state: &NodeState, hash: &[u8; 32]) -> Result<Option<Value>, ErrorObjectOwned> {
    let Some(at) = state.ledger.tx_location(hash).map_err(node_err)? else {
        return Ok(None);
    };
    let receipts = state
        .ledger
        .receipts(at.height)
        .map_err(node_err)?
        .unwrap_or_default();
    Ok(receipts
        .get(at.index as usize)
        .map(|r| render::receipt(r, at.height, at.index)))
}

/// Every method, on a module over `ctx`.
pub fn module(ctx: Context) -> Result<RpcModule<Context>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);

    m.register_async_method("status", |_, ctx, _| async move {
        on(&ctx, |s| {
            Ok(json!({
                "chain_id": s.ledger.params().chain_id,
                "genesis_hash": hex(&s.ledger.genesis_hash()),
                "height": s.ledger.head().height,
                "head": render::header(s.ledger.head()),
                "pending": s.pool.len(),
                "version": env!("CARGO_PKG_VERSION"),
                "dev": s.dev,
            }))
        })
        .await
    })?;

    m.register_async_method(
        "send_transaction",
        |params: Params<'static>, ctx, _| async move {
            let text: String = params.one()?;
            let tx = parse_tx(&text)?;
            let (hash, included) = on(&ctx, move |s| {
                let hash = s.submit(tx).map_err(ErrorObjectOwned::from)?;
                Ok((hash, s.wait_for_block(hash)))
            })
            .await?;
            // Instant mining answers once the block is committed.
            if let Some(included) = included {
                included
                    .await
                    .map_err(|_| ErrorObjectOwned::from(NodeError::Stopped))?
                    .map_err(|e| ErrorObjectOwned::from(NodeError::Tx(e)))?;
            }
            Ok::<Value, ErrorObjectOwned>(json!(hex(&hash)))
        },
    )?;

    m.register_async_method(
        "get_transaction",
        |params: Params<'static>, ctx, _| async move {
            let text: String = params.one()?;
            let hash = parse_hash(&text, "transaction hash")?;
            on(&ctx, move |s| {
                if let Some(at) = s.ledger.tx_location(&hash).map_err(node_err)? {
                    let block = s.ledger.block(at.height).map_err(node_err)?;
                    if let Some(tx) =
                        block.and_then(|b| b.transactions.get(at.index as usize).cloned())
                    {
                        let mut v = render::transaction(&tx);
                        v["block_height"] = json!(at.height);
                        v["index"] = json!(at.index);
                        v["receipt"] = found_receipt(s, &hash)?.unwrap_or(Value::Null);
                        return Ok(v);
                    }
                }
                if let Some(tx) = s.pool.find(&hash) {
                    let mut v = render::transaction(tx);
                    v["pending"] = json!(true);
                    return Ok(v);
                }
                Err(error(
                    codes::UNKNOWN_TRANSACTION,
                    format!("no transaction {text}"),
                    None,
                ))
            })
            .await
        },
    )?;

    m.register_async_method(
        "get_receipt",
        |params: Params<'static>, ctx, _| async move {
            let text: String = params.one()?;
            let hash = parse_hash(&text, "transaction hash")?;
            on(&ctx, move |s| {
                found_receipt(s, &hash)?.ok_or_else(|| {
                    error(
                        codes::UNKNOWN_TRANSACTION,
                        format!("no included transaction {text}"),
                        None,
                    )
                })
            })
            .await
        },
    )?;

    m.register_async_method("get_block", |params: Params<'static>, ctx, _| async move {
        let id: Value = params.one()?;
        on(&ctx, move |s| {
            let height = block_height(s, &id)?;
            let block = s.ledger.block(height).map_err(node_err)?.ok_or_else(|| {
                error(
                    codes::UNKNOWN_BLOCK,
                    format!("no block at height {height}"),
                    None,
                )
            })?;
            Ok(render::block(&block))
        })
        .await
    })?;

    m.register_async_method(
        "get_account",
        |params: Params<'static>, ctx, _| async move {
            let mut seq = params.sequence();
            let id: String = seq.next()?;
            let height: Option<u64> = seq.optional_next()?;
            on(&ctx, move |s| {
                committed_height(s, height)?;
                let account = s.ledger.account(&id, height).map_err(node_err)?;
                account.map(|a| render::account(&id, &a)).ok_or_else(|| {
                    error(codes::UNKNOWN_ACCOUNT, format!("no account `{id}`"), None)
                })
            })
            .await
        },
    )?;

    m.register_async_method(
        "get_contract",
        |params: Params<'static>, ctx, _| async move {
            let text: String = params.one()?;
            let id = parse_contract(&text)?;
            on(&ctx, move |s| {
                let info = s.ledger.host().contract_info(&id).map_err(|e| match e {
                    detvm_host::Error::UnknownContract(_) => error(
                        codes::UNKNOWN_ACCOUNT,
                        format!("no contract `{text}`"),
                        None,
                    ),
                    other => node_err(detvm_chain::Error::Host(other)),
                })?;
                Ok(json!({
                    "id": text,
                    "code_hash": hex(&info.code_hash),
                    "deployer": info.deployer,
                }))
            })
            .await
        },
    )?;

    m.register_async_method("view", |params: Params<'static>, ctx, _| async move {
        let mut seq = params.sequence();
        let contract: String = seq.next()?;
        let method: String = seq.next()?;
        let args: Option<String> = seq.optional_next()?;
        let height: Option<u64> = seq.optional_next()?;
        let id = parse_contract(&contract)?;
        let args = parse_hex(args.as_deref().unwrap_or(""), "args")?;
        on(&ctx, move |s| {
            let receipt = s
                .ledger
                .view(&id, &method, &args, height)
                .map_err(|e| match e {
                    detvm_chain::Error::Host(
                        e @ (detvm_host::Error::UnknownMethod { .. }
                        | detvm_host::Error::NotAMethod { .. }
                        | detvm_host::Error::InputTooLong { .. }),
                    ) => error(
                        codes::VIEW_FAILED,
                        e.to_string(),
                        Some(json!({ "kind": e.kind() })),
                    ),
                    detvm_chain::Error::Host(detvm_host::Error::UnknownContract(c)) => {
                        error(codes::UNKNOWN_ACCOUNT, format!("no contract `{c}`"), None)
                    }
                    other => node_err(other),
                })?;
            let outcome = match &receipt.outcome {
                ReceiptOutcome::Returned(v) => json!({ "status": "returned", "value": hex(v) }),
                ReceiptOutcome::Trapped { kind, message } => {
                    json!({ "status": "trapped", "kind": kind.name(), "message": message })
                }
            };
            let mut v =
                json!({ "outcome": outcome, "gas_used": receipt.gas_used, "logs": receipt.logs });
            render::call_effects(&mut v, &receipt.events, &receipt.calls);
            Ok(v)
        })
        .await
    })?;

    m.register_async_method("estimate_gas", |params: Params<'static>, ctx, _| async move {
        let text: String = params.one()?;
        let tx = parse_tx(&text)?;
        on(&ctx, move |s| {
            // The very execution a block would do, on the head, then
            // dropped: the estimate is the gas the transaction uses if it
            // is the next one included.
            let ts = s.ledger.head().timestamp_ns.saturating_add(1);
            let built = s.ledger.build_block(vec![tx], ts, &s.proposer).map_err(node_err)?;
            if let Some((_, e)) = built.rejected.into_iter().next() {
                return Err(NodeError::Tx(e).into());
            }
            let r = built
                .receipts
                .first()
                .ok_or_else(|| error(codes::NODE_ERROR, "no receipt", None))?;
            Ok(json!({ "gas_used": r.gas_used, "fee": r.fee.to_string(), "outcome": r.outcome.name() }))
        })
        .await
    })?;

    m.register_async_method(
        "trace_transaction",
        |params: Params<'static>, ctx, _| async move {
            let text: String = params.one()?;
            let hash = parse_hash(&text, "transaction hash")?;
            on(&ctx, move |s| {
                let at = s.ledger.tx_location(&hash).map_err(node_err)?;
                let traced = s.ledger.trace_transaction(&hash).map_err(node_err)?;
                match (traced, at) {
                    (Some((receipt, calls)), Some(at)) => {
                        Ok(trace_json(&receipt, &calls, at.height, at.index))
                    }
                    _ => Err(error(
                        codes::UNKNOWN_TRANSACTION,
                        format!("no included transaction {text}"),
                        None,
                    )),
                }
            })
            .await
        },
    )?;

    m.register_async_method("trace_call", |params: Params<'static>, ctx, _| async move {
        let text: String = params.one()?;
        let tx = parse_tx(&text)?;
        on(&ctx, move |s| {
            let height = s.ledger.head().height + 1;
            match s.ledger.trace_candidate(tx).map_err(node_err)? {
                Ok((receipt, calls)) => Ok(trace_json(&receipt, &calls, height, 0)),
                Err(e) => Err(NodeError::Tx(e).into()),
            }
        })
        .await
    })?;

    m.register_async_method("get_state", |params: Params<'static>, ctx, _| async move {
        let mut seq = params.sequence();
        let contract: String = seq.next()?;
        let prefix: Option<String> = seq.optional_next()?;
        let height: Option<u64> = seq.optional_next()?;
        let start_after: Option<String> = seq.optional_next()?;
        let limit: Option<usize> = seq.optional_next()?;
        let id = parse_contract(&contract)?;
        let prefix = parse_hex(prefix.as_deref().unwrap_or(""), "prefix")?;
        let start_after = start_after
            .map(|s| parse_hex(&s, "start_after"))
            .transpose()?;
        let limit = limit.unwrap_or(100).min(1_000);
        on(&ctx, move |s| {
            let namespace = format!("state/{contract}/").into_bytes();
            let full_prefix = [&namespace[..], &prefix].concat();
            let after = start_after.map(|k| [&namespace[..], &k].concat());
            committed_height(s, height)?;
            let db = s.ledger.db();
            let entries = match height {
                None => db.scan_prefix(&full_prefix, after.as_deref(), limit + 1),
                Some(h) => db.scan_prefix_at(&full_prefix, h, after.as_deref(), limit + 1),
            }
            .map_err(|e| node_err(detvm_chain::Error::State(e)))?;
            let more = entries.len() > limit;
            let items: Vec<Value> = entries
                .iter()
                .take(limit)
                .map(|(k, v)| json!({ "key": hex(&k[namespace.len()..]), "value": hex(v) }))
                .collect();
            let _ = id;
            Ok(json!({ "entries": items, "more": more }))
        })
        .await
    })?;

    m.register_async_method("get_proof", |params: Params<'static>, ctx, _| async move {
        let mut seq = params.sequence();
        let key: String = seq.next()?;
        let height: Option<u64> = seq.optional_next()?;
        let key = parse_hex(&key, "key")?;
        on(&ctx, move |s| {
            let head = s.ledger.head().height;
            let height = height.unwrap_or(head);
            let block = s.ledger.block(height).map_err(node_err)?.ok_or_else(|| {
                error(
                    codes::UNKNOWN_BLOCK,
                    format!("no block at height {height}"),
                    None,
                )
            })?;
            let (value, proof) = s
                .ledger
                .db()
                .prove(&key, height)
                .map_err(|e| node_err(detvm_chain::Error::State(e)))?;
            Ok(json!({
                "height": height,
                "state_root": hex(&block.header.state_root),
                "key": hex(&key),
                "value": value.map(|v| hex(&v)),
                "proof": hex(&proof.to_bytes()),
            }))
        })
        .await
    })?;

    m.register_method("rpc.discover", |_, _, _| -> RpcResult {
        serde_json::from_str(OPENRPC).map_err(|e| {
            error(
                codes::NODE_ERROR,
                format!("the bundled OpenRPC document: {e}"),
                None,
            )
        })
    })?;

    // ---- dev methods ----------------------------------------------------

    m.register_async_method("dev_mine", |params: Params<'static>, ctx, _| async move {
        dev_only(&ctx)?;
        let n: Option<u64> = params.sequence().optional_next()?;
        let n = n.unwrap_or(1);
        if n == 0 || n > 10_000 {
            return Err(invalid_params("mine 1 to 10000 blocks"));
        }
        on(&ctx, move |s| {
            let mut last = None;
            for _ in 0..n {
                last = Some(s.produce().map_err(ErrorObjectOwned::from)?);
            }
            Ok(last.map_or(Value::Null, |c| render::header(&c.block.header)))
        })
        .await
    })?;

    m.register_async_method("dev_snapshot", |_, ctx, _| async move {
        dev_only(&ctx)?;
        on(&ctx, |s| {
            s.snapshots.push((s.ledger.head().height, s.time_offset_ns));
            Ok(json!(s.snapshots.len() - 1))
        })
        .await
    })?;

    m.register_async_method("dev_revert", |params: Params<'static>, ctx, _| async move {
        dev_only(&ctx)?;
        let id: usize = params.one()?;
        on(&ctx, move |s| {
            let Some(&(height, offset)) = s.snapshots.get(id) else {
                return Err(error(
                    codes::UNKNOWN_SNAPSHOT,
                    format!("no snapshot {id}"),
                    None,
                ));
            };
            s.ledger.rewind(height).map_err(node_err)?;
            // A snapshot is used up by reverting to it, with every later one.
            s.snapshots.truncate(id);
            s.time_offset_ns = offset;
            s.next_timestamp = None;
            s.pool.clear();
            Ok(render::header(s.ledger.head()))
        })
        .await
    })?;

    m.register_async_method(
        "dev_set_next_timestamp",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let ts: u64 = params.one()?;
            on(&ctx, move |s| {
                let head = s.ledger.head().timestamp_ns;
                if ts <= head {
                    return Err(error(
                        codes::BAD_TIMESTAMP,
                        format!("timestamp {ts} is not after the head's {head}"),
                        None,
                    ));
                }
                s.next_timestamp = Some(ts);
                Ok(json!(ts))
            })
            .await
        },
    )?;

    m.register_async_method(
        "dev_increase_time",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let by: u64 = params.one()?;
            on(&ctx, move |s| {
                s.time_offset_ns = s.time_offset_ns.saturating_add(by);
                Ok(json!(s.time_offset_ns))
            })
            .await
        },
    )?;

    m.register_async_method(
        "dev_set_balance",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let mut seq = params.sequence();
            let id: String = seq.next()?;
            let amount: String = seq.next()?;
            let amount: u128 = amount
                .parse()
                .map_err(|_| invalid_params("an amount is a decimal string"))?;
            detvm_chain::account_kind(&id).map_err(|e| invalid_params(e.to_string()))?;
            on(&ctx, move |s| {
                let mut account = s
                    .ledger
                    .account(&id, None)
                    .map_err(node_err)?
                    .unwrap_or_else(|| detvm_chain::Account {
                        public_key: detvm_chain::implicit_key(&id),
                        ..Default::default()
                    });
                account.balance = amount;
                let value = borsh::to_vec(&account).unwrap_or_default();
                cheat(s, vec![(detvm_chain::account_key(&id), Some(value))])
            })
            .await
        },
    )?;

    m.register_async_method(
        "dev_set_storage",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let mut seq = params.sequence();
            let contract: String = seq.next()?;
            let key: String = seq.next()?;
            let value: Option<String> = seq.next()?;
            let id = parse_contract(&contract)?;
            let key = parse_hex(&key, "key")?;
            let value = value.map(|v| parse_hex(&v, "value")).transpose()?;
            on(&ctx, move |s| {
                if !s
                    .ledger
                    .host()
                    .contains(&id)
                    .map_err(|e| node_err(detvm_chain::Error::Host(e)))?
                {
                    return Err(error(
                        codes::UNKNOWN_ACCOUNT,
                        format!("no contract `{contract}`"),
                        None,
                    ));
                }
                let full = [format!("state/{contract}/").as_bytes(), &key].concat();
                cheat(s, vec![(full, value)])
            })
            .await
        },
    )?;

    m.register_async_method(
        "dev_set_code",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let mut seq = params.sequence();
            let contract: String = seq.next()?;
            let code: String = seq.next()?;
            let id = parse_contract(&contract)?;
            let code = parse_hex(&code, "code")?;
            on(&ctx, move |s| {
                let changes =
                    s.ledger
                        .host()
                        .replace_code_changes(&id, &code)
                        .map_err(|e| match e {
                            detvm_host::Error::UnknownContract(_) => error(
                                codes::UNKNOWN_ACCOUNT,
                                format!("no contract `{contract}`"),
                                None,
                            ),
                            detvm_host::Error::Rejected(rejection) => error(
                                codes::CODE_REJECTED,
                                format!("code rejected: {rejection}"),
                                Some(json!({ "kind": rejection.kind() })),
                            ),
                            other => node_err(detvm_chain::Error::Host(other)),
                        })?;
                cheat(s, changes)
            })
            .await
        },
    )?;

    m.register_async_method("dev_dump_state", |_, ctx, _| async move {
        dev_only(&ctx)?;
        on(&ctx, |s| {
            let entries = whole_state(s)?;
            let head = s.ledger.head();
            Ok(json!({
                "format": DUMP_FORMAT,
                "version": DUMP_VERSION,
                "chain_id": s.ledger.params().chain_id,
                "genesis_hash": hex(&s.ledger.genesis_hash()),
                "height": head.height,
                "state_root": hex(&head.state_root),
                "entries": entries.iter().map(|(k, v)| json!([hex(k), hex(v)])).collect::<Vec<_>>(),
            }))
        })
        .await
    })?;

    m.register_async_method(
        "dev_load_state",
        |params: Params<'static>, ctx, _| async move {
            dev_only(&ctx)?;
            let dump: Value = params.one()?;
            if dump["format"] != DUMP_FORMAT {
                return Err(invalid_params(format!(
                    "not a state dump: `format` must be \"{DUMP_FORMAT}\""
                )));
            }
            let version = dump["version"].as_u64().unwrap_or(0);
            if version == 0 || version > DUMP_VERSION {
                return Err(invalid_params(format!(
                    "state dump version {version}: this node reads versions 1 to {DUMP_VERSION}"
                )));
            }
            let mut wanted = std::collections::BTreeMap::new();
            for entry in dump["entries"]
                .as_array()
                .ok_or_else(|| invalid_params("`entries` must be an array"))?
            {
                let (Some(k), Some(v)) = (entry[0].as_str(), entry[1].as_str()) else {
                    return Err(invalid_params("each entry is [key hex, value hex]"));
                };
                wanted.insert(parse_hex(k, "entry key")?, parse_hex(v, "entry value")?);
            }
            on(&ctx, move |s| {
                let current = whole_state(s)?;
                let mut changes: Vec<(Vec<u8>, Option<Vec<u8>>)> = current
                    .into_iter()
                    .filter(|(k, _)| !wanted.contains_key(k))
                    .map(|(k, _)| (k, None))
                    .collect();
                changes.extend(wanted.into_iter().map(|(k, v)| (k, Some(v))));
                // The chain's own parameters stay this node's.
                changes.retain(|(k, _)| k.as_slice() != detvm_chain::PARAMS_KEY);
                cheat(s, changes)
            })
            .await
        },
    )?;

    m.register_async_method("get_logs", |params: Params<'static>, ctx, _| async move {
        let filter: Option<Value> = params.sequence().optional_next()?;
        let filter = filter.unwrap_or(Value::Null);
        let contract = filter["contract"].as_str().map(str::to_owned);
        let from = filter["from_height"].as_u64();
        let to = filter["to_height"].as_u64();
        on(&ctx, move |s| {
            let mut out = Vec::new();
            for height in scan_range(from, to, s.ledger.head().height)? {
                let Some(block) = s.ledger.block(height).map_err(node_err)? else {
                    continue;
                };
                let receipts = s
                    .ledger
                    .receipts(height)
                    .map_err(node_err)?
                    .unwrap_or_default();
                out.extend(block_logs(&block, &receipts, contract.as_deref()));
            }
            Ok(Value::Array(out))
        })
        .await
    })?;

    m.register_subscription(
        "subscribe_logs",
        "logs",
        "unsubscribe_logs",
        |params: Params<'static>, pending: PendingSubscriptionSink, ctx: Arc<Context>, _| async move {
            let filter: Option<Value> = params.sequence().optional_next().unwrap_or(None);
            let contract = filter.as_ref().and_then(|f| f["contract"].as_str().map(str::to_owned));
            let mut blocks = ctx.events.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => break,
                    next = blocks.recv() => match next {
                        Ok(c) => {
                            for item in block_logs(&c.block, &c.receipts, contract.as_deref()) {
                                let raw = serde_json::value::to_raw_value(&item)?;
                                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                                    return Ok(());
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                }
            }
            Ok(())
        },
    )?;

    m.register_async_method("get_events", |params: Params<'static>, ctx, _| async move {
        let filter = EventFilter::parse(params.sequence().optional_next()?)?;
        on(&ctx, move |s| {
            let mut out = Vec::new();
            let range = scan_range(filter.from_height, filter.to_height, s.ledger.head().height)?;
            let heights: Vec<u64> = match candidate_heights(&s.ledger, &filter, &range)? {
                Some(heights) => heights.into_iter().collect(),
                None => range.collect(),
            };
            for height in heights {
                let Some(block) = s.ledger.block(height).map_err(node_err)? else {
                    continue;
                };
                let receipts = s
                    .ledger
                    .receipts(height)
                    .map_err(node_err)?
                    .unwrap_or_default();
                out.extend(block_events(&block, &receipts, &filter));
                if out.len() > MAX_EVENT_RESULTS {
                    return Err(error(
                        codes::TOO_MANY_RESULTS,
                        format!(
                            "more than {MAX_EVENT_RESULTS} events match by height {height}; \
                             narrow the filter or the height range"
                        ),
                        Some(json!({ "height": height })),
                    ));
                }
            }
            Ok(Value::Array(out))
        })
        .await
    })?;

    m.register_subscription(
        "subscribe_events",
        "event",
        "unsubscribe_events",
        |params: Params<'static>, pending: PendingSubscriptionSink, ctx: Arc<Context>, _| async move {
            let filter = match params
                .sequence()
                .optional_next::<Value>()
                .and_then(EventFilter::parse)
            {
                Ok(filter) => filter,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            let mut blocks = ctx.events.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => break,
                    next = blocks.recv() => match next {
                        Ok(c) => {
                            for item in block_events(&c.block, &c.receipts, &filter) {
                                let raw = serde_json::value::to_raw_value(&item)?;
                                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                                    return Ok(());
                                }
                            }
                        }
                        // A slow subscriber misses blocks; `get_events` finds them.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                }
            }
            Ok(())
        },
    )?;

    m.register_subscription(
        "subscribe_blocks",
        "block",
        "unsubscribe_blocks",
        |_, pending: PendingSubscriptionSink, ctx: Arc<Context>, _| async move {
            let mut blocks = ctx.events.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => break,
                    next = blocks.recv() => match next {
                        Ok(c) => {
                            let raw = serde_json::value::to_raw_value(&render::block(&c.block))?;
                            if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                                break;
                            }
                        }
                        // A slow subscriber misses blocks; it can fetch them.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                }
            }
            Ok(())
        },
    )?;

    Ok(m)
}
