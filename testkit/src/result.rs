//! [`CallResult`]: what a call produced, with accessors and assertions.

use borsh::BorshDeserialize;
use detvm_host::{Receipt, ReceiptOutcome, TrapKind};

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
