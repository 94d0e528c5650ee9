//! Receipts: what a call produced, in the encoding nodes hash and compare.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_vm::TrapKind;
use sha2::{Digest, Sha256};

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The method returned; the bytes of its last `value_return` (empty if
    /// it never called it).
    Returned(Vec<u8>),
    /// The method trapped; nothing it wrote was kept.
    Trapped {
        /// Why.
        kind: TrapKind,
        /// The message of a `host` trap (a violation, or the contract's
        /// `panic_utf8` text).
        message: Option<String>,
    },
}

/// Borsh layout (`docs/host-api.md`, "Receipts"): a one-byte tag, then
/// `Returned`: the bytes as `Vec<u8>`; `Trapped`: the trap kind's stable
/// name as `String`, then the message as `Option<String>`.
impl BorshSerialize for ReceiptOutcome {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        match self {
            Self::Returned(bytes) => {
                0u8.serialize(writer)?;
                bytes.serialize(writer)
            }
            Self::Trapped { kind, message } => {
                1u8.serialize(writer)?;
                kind.name().serialize(writer)?;
                message.serialize(writer)
            }
        }
    }
}

/// The result of one call: what nodes agree on.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
pub struct Receipt {
    /// Returned bytes, or the trap.
    pub outcome: ReceiptOutcome,
    /// Gas used by the call, host fees included.
    pub gas_used: u64,
    /// Lines logged with `log_utf8`, in order (kept for trapped calls too:
    /// they are not state).
    pub logs: Vec<String>,
    /// Every contract key the call wrote or removed, in ascending key
    /// order, with its final value (`None`: removed). Empty if the call
    /// trapped.
    pub state_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Events the called contract emitted itself (empty if it trapped).
    pub events: Vec<Event>,
    /// The calls it made to other contracts, in order, each with its own
    /// subtree.
    pub calls: Vec<CallNode>,
}

/// An event a contract emitted with `emit_event`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Event {
    /// The emitting contract.
    pub contract: String,
    /// Up to `max_event_topics` 32-byte topics, for filtering.
    pub topics: Vec<[u8; 32]>,
    /// The event's data.
    pub data: Vec<u8>,
}

/// How a nested call ended.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CallOutcome {
    /// The callee returned these bytes.
    Returned {
        /// Its return value.
        value: Vec<u8>,
    },
    /// The callee trapped; everything it did was undone.
    Trapped {
        /// The trap kind's stable name.
        kind: String,
        /// The message of a `host` trap.
        message: Option<String>,
    },
    /// The call was refused before the callee ran (unknown contract or
    /// method, reentrancy, insufficient balance).
    Refused {
        /// A stable kind.
        kind: String,
        /// Why.
        message: String,
    },
}

impl CallOutcome {
    /// A stable name: `returned`, `trapped`, `refused`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Returned { .. } => "returned",
            Self::Trapped { .. } => "trapped",
            Self::Refused { .. } => "refused",
        }
    }
}

/// One call a contract made to another (`docs/host-api.md`, "Receipts").
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CallNode {
    /// The callee.
    pub contract: String,
    /// Its method.
    pub method: String,
    /// Native tokens attached.
    pub amount: u128,
    /// Gas the callee was given (0 if refused).
    pub gas_limit: u64,
    /// Gas it used, its instantiation included (0 if refused).
    pub gas_used: u64,
    /// How it ended.
    pub outcome: CallOutcome,
    /// Its log lines (kept when it trapped).
    pub logs: Vec<String>,
    /// Its own events (empty unless it and every caller returned).
    pub events: Vec<Event>,
    /// How many of the caller's own events came before this call.
    pub events_before: u32,
    /// The calls it made.
    pub calls: Vec<CallNode>,
}

impl CallNode {
    /// Removes the events of this call and everything below it (its
    /// frame, or one below it, trapped).
    pub(crate) fn drop_events(&mut self) {
        self.events.clear();
        drop_events(&mut self.calls);
    }

    /// This call's and its subtree's events in emission order.
    pub fn all_events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        collect_events(&self.events, &self.calls, &mut out);
        out
    }
}

pub(crate) fn drop_events(calls: &mut [CallNode]) {
    for call in calls {
        call.drop_events();
    }
}

/// The events of a frame with its own events `own` and its calls `calls`,
/// in emission order (`docs/host-api.md`, "Receipts").
pub fn events_in_order(own: &[Event], calls: &[CallNode]) -> Vec<Event> {
    let mut out = Vec::new();
    collect_events(own, calls, &mut out);
    out
}

/// Emission order: before the frame's own event `i`, the calls made after
/// `i` of its own events (`events_before == i`), each expanded alike.
fn collect_events(own: &[Event], calls: &[CallNode], out: &mut Vec<Event>) {
    let mut calls = calls.iter().peekable();
    for i in 0..=own.len() {
        while let Some(call) = calls.next_if(|c| c.events_before as usize <= i) {
            collect_events(&call.events, &call.calls, out);
        }
        if let Some(event) = own.get(i) {
            out.push(event.clone());
        }
    }
    // Counts above the frame's own events cannot be produced by the host;
    // a hand-made tree still loses nothing.
    for call in calls {
        collect_events(&call.events, &call.calls, out);
    }
}

impl Receipt {
    /// The canonical (borsh) encoding.
    pub fn encode(&self) -> Vec<u8> {
        // Writing into a `Vec` cannot fail.
        borsh::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of [`Receipt::encode`]: the value nodes compare.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// Whether the method returned.
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, ReceiptOutcome::Returned(_))
    }

    /// The returned bytes, if the method returned.
    pub fn return_value(&self) -> Option<&[u8]> {
        match &self.outcome {
            ReceiptOutcome::Returned(bytes) => Some(bytes),
            ReceiptOutcome::Trapped { .. } => None,
        }
    }

    /// Every event of the call, its nested calls' included, in emission
    /// order (`docs/host-api.md`, "Receipts").
    pub fn all_events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        collect_events(&self.events, &self.calls, &mut out);
        out
    }

    /// Every call in the tree, depth first in call order, with its depth
    /// (1 for the calls this call made).
    pub fn all_calls(&self) -> Vec<(usize, &CallNode)> {
        fn walk<'a>(calls: &'a [CallNode], depth: usize, out: &mut Vec<(usize, &'a CallNode)>) {
            for call in calls {
                out.push((depth, call));
                walk(&call.calls, depth + 1, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.calls, 1, &mut out);
        out
    }

    /// The trap kind, if the method trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match &self.outcome {
            ReceiptOutcome::Returned(_) => None,
            ReceiptOutcome::Trapped { kind, .. } => Some(*kind),
        }
    }
}

/// A contract's id: 40 lowercase hex digits (see [`ContractId::derive`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContractId(String);

impl ContractId {
    /// Length of an id in characters.
    pub const LEN: usize = 40;

    /// The id of the contract `deployer` deploys as its `nonce`-th deploy
    /// (counting from 0) with code of SHA-256 `code_hash`: the first 20
    /// bytes of SHA-256 over the borsh encoding of
    /// `("detvm/contract/v1", deployer, nonce, code_hash)`, in lowercase hex.
    pub fn derive(deployer: &str, nonce: u64, code_hash: &[u8; 32]) -> Self {
        let preimage =
            borsh::to_vec(&("detvm/contract/v1", deployer, nonce, code_hash)).unwrap_or_default();
        let digest = Sha256::digest(preimage);
        Self(hex(&digest[..Self::LEN / 2]))
    }

    /// Parses an id; `None` unless it is 40 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a deploy produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReceipt {
    /// The new contract's id.
    pub contract: ContractId,
    /// SHA-256 of the code, the key it is stored under.
    pub code_hash: [u8; 32],
    /// `deploy_base + deploy_per_byte × code length`.
    pub gas_used: u64,
}

/// The bytes of hex text (either case, no prefix, an even number of
/// digits); `None` for anything else. Strict: `from_str_radix` alone would
/// take a sign (`+f`) as a digit.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}
