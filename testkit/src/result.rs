//! [`CallResult`]: what a call produced, with accessors and assertions;
//! the same assertions on the call tree and events for a devnet's
//! [`TxResult`]; [`topic`], the topics contracts give their events.

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_host::{CallNode, Event, Receipt, ReceiptOutcome, TrapKind};

use crate::TxResult;
use crate::chain::show_key;
use crate::error::{Error, decode};

/// The result of [`crate::Call::run`]: the receipt, or the error if the
/// runtime refused the call (unknown method, invalid account, …).
///
/// The accessors never panic: for a refused call they report what a call
/// that never ran has (no gas, no logs, no state changes). The `assert_*`
/// helpers and [`CallResult::returned`] panic with a message naming the
/// call and what happened instead.
#[derive(Debug)]
pub struct CallResult {
    label: String,
    outcome: Result<Receipt, Error>,
}

impl CallResult {
    pub(crate) fn new(label: String, outcome: Result<Receipt, Error>) -> Self {
        Self { label, outcome }
    }

    /// The receipt, if the runtime ran the call.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.outcome.as_ref().ok()
    }

    /// The error, if the runtime refused the call.
    pub fn error(&self) -> Option<&Error> {
        self.outcome.as_ref().err()
    }

    /// The receipt, or why there is none.
    pub fn into_result(self) -> Result<Receipt, Error> {
        self.outcome
    }

    /// Whether the method returned (did not trap and was not refused).
    pub fn is_ok(&self) -> bool {
        self.receipt().is_some_and(Receipt::is_success)
    }

    /// The returned bytes, if the method returned.
    pub fn return_bytes(&self) -> Option<&[u8]> {
        self.receipt().and_then(Receipt::return_value)
    }

    /// The return value decoded from borsh, or why there is none.
    pub fn try_returned<T: BorshDeserialize>(&self) -> Result<T, Error> {
        let bytes = self
            .return_bytes()
            .ok_or_else(|| Error::NoReturnValue(self.describe()))?;
        decode(bytes, &format!("the return value of {}", self.label))
    }

    /// The trap kind, if the method trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        self.receipt().and_then(Receipt::trap_kind)
    }

    /// The trap message (a `host` trap's: the contract's panic message or
    /// the host's description of the violation), if any.
    pub fn trap_message(&self) -> Option<&str> {
        match &self.receipt()?.outcome {
            ReceiptOutcome::Trapped { message, .. } => message.as_deref(),
            ReceiptOutcome::Returned(_) => None,
        }
    }

    /// Gas used, host fees included; 0 for a call the runtime refused.
    pub fn gas_used(&self) -> u64 {
        self.receipt().map_or(0, |r| r.gas_used)
    }

    /// The call's log lines, in order.
    pub fn logs(&self) -> &[String] {
        self.receipt().map_or(&[], |r| r.logs.as_slice())
    }

    /// Every key the call wrote (`Some(value)`) or removed (`None`), in key
    /// order; empty unless the method returned.
    pub fn state_changes(&self) -> &[(Vec<u8>, Option<Vec<u8>>)] {
        self.receipt().map_or(&[], |r| r.state_changes.as_slice())
    }

    /// The receipt's canonical hash, what nodes compare.
    pub fn receipt_hash(&self) -> Option<[u8; 32]> {
        self.receipt().map(Receipt::hash)
    }

    /// Every event the call and its nested calls emitted and kept, in
    /// emission order ([`Receipt::all_events`]); empty unless it returned.
    pub fn events(&self) -> Vec<Event> {
        self.receipt().map_or_else(Vec::new, Receipt::all_events)
    }

    /// Every call in the call tree, depth first in call order, with its
    /// depth (1 for the calls this call made): [`Receipt::all_calls`].
    /// Position `i` here is the index [`CallResult::assert_call`] takes.
    pub fn calls(&self) -> Vec<(usize, &CallNode)> {
        self.receipt().map_or_else(Vec::new, Receipt::all_calls)
    }

    /// Asserts one of [`CallResult::events`] was emitted by `contract`
    /// with exactly `topics` and the borsh encoding of `data` as its data.
    ///
    /// # Panics
    ///
    /// If there is no such event, listing the events there are.
    #[track_caller]
    pub fn assert_event<D: BorshSerialize + ?Sized>(
        &self,
        contract: &str,
        topics: &[[u8; 32]],
        data: &D,
    ) -> &Self {
        assert_event(&self.label, &self.events(), contract, topics, &encode(data));
        self
    }

    /// [`CallResult::assert_event`] with raw data bytes.
    ///
    /// # Panics
    ///
    /// If there is no such event.
    #[track_caller]
    pub fn assert_event_bytes(&self, contract: &str, topics: &[[u8; 32]], data: &[u8]) -> &Self {
        assert_event(&self.label, &self.events(), contract, topics, data);
        self
    }

    /// Asserts the call has no events (kept ones: a trapped call, or one
    /// under a trapped frame, has none).
    ///
    /// # Panics
    ///
    /// If it has any, listing them.
    #[track_caller]
    pub fn assert_no_events(&self) -> &Self {
        assert_no_events(&self.label, &self.events());
        self
    }

    /// Asserts the `index`-th call of [`CallResult::calls`] (depth first)
    /// went to `contract`'s `method` and ended as `outcome` (`returned`,
    /// `trapped` or `refused`: [`detvm_host::CallOutcome::name`]), and
    /// returns it for closer checks.
    ///
    /// # Panics
    ///
    /// If there is no such call or it differs, showing the call tree.
    #[track_caller]
    pub fn assert_call(
        &self,
        index: usize,
        contract: &str,
        method: &str,
        outcome: &str,
    ) -> &CallNode {
        assert_call(&self.label, self.calls(), index, contract, method, outcome)
    }

    /// Asserts the method returned.
    ///
    /// # Panics
    ///
    /// If it trapped or the runtime refused it, with the trap or error.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        if !self.is_ok() {
            panic!(
                "expected {} to succeed, but {}",
                self.label,
                self.describe()
            );
        }
        self
    }

    /// Asserts the method returned, and decodes its return value.
    ///
    /// # Panics
    ///
    /// If it did not return, or the value does not decode as `T`.
    #[track_caller]
    pub fn returned<T: BorshDeserialize>(&self) -> T {
        self.assert_ok();
        match self.try_returned() {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// Asserts the method trapped with `kind`.
    ///
    /// # Panics
    ///
    /// If it returned, trapped otherwise, or the runtime refused it.
    #[track_caller]
    pub fn assert_trap(&self, kind: TrapKind) -> &Self {
        if self.trap_kind() != Some(kind) {
            panic!(
                "expected {} to trap with `{kind}`, but {}",
                self.label,
                self.describe()
            );
        }
        self
    }

    /// Asserts the method ended in a `host` trap whose message contains
    /// `text` (how `abort`, `require` and panics in SDK contracts end).
    ///
    /// # Panics
    ///
    /// If it did not trap with `host`, or the message lacks `text`.
    #[track_caller]
    pub fn assert_host_trap(&self, text: &str) -> &Self {
        self.assert_trap(TrapKind::Host);
        let message = self.trap_message().unwrap_or_default();
        if !message.contains(text) {
            panic!(
                "expected the trap message of {} to contain {text:?}, but it is {message:?}",
                self.label
            );
        }
        self
    }

    /// Asserts the runtime refused the call with an error of kind `kind`
    /// ([`detvm_host::Error::kind`], e.g. `"unknown_method"`).
    ///
    /// # Panics
    ///
    /// If the call ran, or failed with another kind of error.
    #[track_caller]
    pub fn assert_error(&self, kind: &str) -> &Self {
        match self.error() {
            Some(Error::Chain(e)) if e.kind() == kind => self,
            _ => panic!(
                "expected {} to be refused with `{kind}`, but {}",
                self.label,
                self.describe()
            ),
        }
    }

    /// Asserts the call changed no state (it may still have returned).
    ///
    /// # Panics
    ///
    /// If it has state changes, listing their keys.
    #[track_caller]
    pub fn assert_no_state_changes(&self) -> &Self {
        let changes = self.state_changes();
        if !changes.is_empty() {
            let keys: Vec<String> = changes.iter().map(|(k, _)| show_key(k)).collect();
            panic!(
                "expected {} to change no state, but it changed {}",
                self.label,
                keys.join(", ")
            );
        }
        self
    }

    /// Asserts the call used less than `gas`.
    ///
    /// # Panics
    ///
    /// If it used `gas` or more.
    #[track_caller]
    pub fn assert_gas_below(&self, gas: u64) -> &Self {
        if self.gas_used() >= gas {
            panic!(
                "expected {} to use less than {gas} gas, but it used {}",
                self.label,
                self.gas_used()
            );
        }
        self
    }

    /// One line saying how the call ended, for messages.
    fn describe(&self) -> String {
        match &self.outcome {
            Err(e) => format!("the runtime refused it: {e}"),
            Ok(receipt) => match &receipt.outcome {
                ReceiptOutcome::Returned(bytes) => {
                    format!(
                        "it returned {} bytes (gas {})",
                        bytes.len(),
                        receipt.gas_used
                    )
                }
                ReceiptOutcome::Trapped { kind, message } => match message {
                    Some(message) => format!(
                        "it trapped with `{kind}`: {message:?} (gas {})",
                        receipt.gas_used
                    ),
                    None => format!("it trapped with `{kind}` (gas {})", receipt.gas_used),
                },
            },
        }
    }
}

impl TxResult {
    /// Every event the transaction's call and its nested calls emitted and
    /// kept, in emission order ([`detvm_chain::TxReceipt::all_events`]).
    pub fn events(&self) -> Vec<Event> {
        self.receipt.all_events()
    }

    /// Every call in the transaction's call tree, depth first in call
    /// order, with its depth (1 for the calls the called contract made).
    pub fn calls(&self) -> Vec<(usize, &CallNode)> {
        let mut out = Vec::new();
        walk_calls(&self.receipt.calls, 1, &mut out);
        out
    }

    /// Asserts one of [`TxResult::events`] was emitted by `contract` with
    /// exactly `topics` and the borsh encoding of `data`.
    ///
    /// # Panics
    ///
    /// If there is no such event, listing the events there are.
    #[track_caller]
    pub fn assert_event<D: BorshSerialize + ?Sized>(
        &self,
        contract: &str,
        topics: &[[u8; 32]],
        data: &D,
    ) -> &Self {
        assert_event(
            &self.label(),
            &self.events(),
            contract,
            topics,
            &encode(data),
        );
        self
    }

    /// Asserts the transaction has no events.
    ///
    /// # Panics
    ///
    /// If it has any, listing them.
    #[track_caller]
    pub fn assert_no_events(&self) -> &Self {
        assert_no_events(&self.label(), &self.events());
        self
    }

    /// Asserts the `index`-th call of [`TxResult::calls`] went to
    /// `contract`'s `method` and ended as `outcome` (`returned`, `trapped`
    /// or `refused`), and returns it.
    ///
    /// # Panics
    ///
    /// If there is no such call or it differs, showing the call tree.
    #[track_caller]
    pub fn assert_call(
        &self,
        index: usize,
        contract: &str,
        method: &str,
        outcome: &str,
    ) -> &CallNode {
        assert_call(
            &self.label(),
            self.calls(),
            index,
            contract,
            method,
            outcome,
        )
    }

    fn label(&self) -> String {
        format!("transaction {}", detvm_host::hex(&self.hash))
    }
}

fn walk_calls<'a>(calls: &'a [CallNode], depth: usize, out: &mut Vec<(usize, &'a CallNode)>) {
    for call in calls {
        out.push((depth, call));
        walk_calls(&call.calls, depth + 1, out);
    }
}

fn encode<D: BorshSerialize + ?Sized>(data: &D) -> Vec<u8> {
    match borsh::to_vec(data) {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot borsh-encode the expected event data: {e}"),
    }
}

fn show_event(event: &Event) -> String {
    let topics: Vec<String> = event
        .topics
        .iter()
        .map(|t| detvm_host::hex(&t[..4]))
        .collect();
    format!(
        "{} [{}…] {} data bytes 0x{}",
        event.contract,
        topics.join("…, "),
        event.data.len(),
        detvm_host::hex(&event.data)
    )
}

#[track_caller]
fn assert_event(label: &str, events: &[Event], contract: &str, topics: &[[u8; 32]], data: &[u8]) {
    let found = events
        .iter()
        .any(|e| e.contract == contract && e.topics == topics && e.data == data);
    if !found {
        let expected = show_event(&Event {
            contract: contract.to_owned(),
            topics: topics.to_vec(),
            data: data.to_vec(),
        });
        let there: Vec<String> = events.iter().map(show_event).collect();
        panic!(
            "expected {label} to emit {expected}, but its events are [{}]",
            there.join("; ")
        );
    }
}

#[track_caller]
fn assert_no_events(label: &str, events: &[Event]) {
    if !events.is_empty() {
        let there: Vec<String> = events.iter().map(show_event).collect();
        panic!(
            "expected {label} to have no events, but it has [{}]",
            there.join("; ")
        );
    }
}

#[track_caller]
fn assert_call<'a>(
    label: &str,
    calls: Vec<(usize, &'a CallNode)>,
    index: usize,
    contract: &str,
    method: &str,
    outcome: &str,
) -> &'a CallNode {
    let tree = || {
        let lines: Vec<String> = calls
            .iter()
            .enumerate()
            .map(|(i, (depth, c))| {
                format!(
                    "#{i} {}{}.{} {:?}",
                    "  ".repeat(depth - 1),
                    c.contract,
                    c.method,
                    c.outcome
                )
            })
            .collect();
        lines.join("\n")
    };
    match calls.get(index) {
        Some((_, call))
            if call.contract == contract
                && call.method == method
                && call.outcome.name() == outcome =>
        {
            call
        }
        _ => panic!(
            "expected call #{index} of {label} to be {contract}.{method} ({outcome}), but the calls are:\n{}",
            tree()
        ),
    }
}

/// The topic contracts built with the SDK give a name or account:
/// Keccak-256 of its UTF-8 bytes (`detvm_sdk::events::topic`), the same as
/// the host's `keccak256` function computes.
pub fn topic(name: &str) -> [u8; 32] {
    keccak256(name.as_bytes())
}

/// Keccak-256 with the original padding (as Ethereum and the host's
/// `keccak256` use it).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    use sha3::Digest as _;
    sha3::Keccak256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak256_matches_known_digests() {
        let hex = |d: [u8; 32]| detvm_host::hex(&d);
        assert_eq!(
            hex(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            hex(keccak256(b"abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        // 135 bytes fill one block with the padding; 136 need a second.
        assert_ne!(keccak256(&[0u8; 135]), keccak256(&[0u8; 136]));
    }
}
