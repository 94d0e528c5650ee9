//! Calls to other contracts.
//!
//! A call runs the callee synchronously and comes back with its result:
//! the callee's return value, or a [`CallError`] saying it trapped or was
//! refused. Either way this contract keeps running, so it decides what a
//! failure means. Whatever the callee did (storage, native moves, events,
//! its own calls) is kept if it returned and undone if it failed, and is
//! undone as well if this call fails later.
//!
//! ```ignore
//! use detvm_sdk::call::{Call, OrAbort};
//! let balance: u128 = Call::new(&token, "balance_of")
//!     .args(&(account,))
//!     .invoke()
//!     .or_abort("token balance_of");
//! ```
//!
//! The callee may not be a contract already running in this transaction
//! (the call is refused with `reentrancy`) unless it declared itself
//! reentrant with [`reentrant!`](crate::reentrant).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::{abort, encode, ptr_len, register, sys};

/// A call being set up: the callee, its method, arguments, attached native
/// tokens and gas. [`Call::invoke`] or [`Call::invoke_bytes`] runs it.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is invoked"]
pub struct Call<'a> {
    contract: &'a str,
    method: &'a str,
    args: Vec<u8>,
    amount: u128,
    gas: u64,
}

impl<'a> Call<'a> {
    /// A call of `method` on `contract` (its id) with no arguments, no
    /// tokens attached and all the gas the host lets it have.
    pub fn new(contract: &'a str, method: &'a str) -> Self {
        Self {
            contract,
            method,
            args: Vec::new(),
            amount: 0,
            gas: u64::MAX,
        }
    }

    /// The borsh encoding of `args` as the arguments: for a method with
    /// parameters `(a: A, b: B)`, pass `&(a, b)`; with one, `&(a,)`.
    pub fn args<T: BorshSerialize + ?Sized>(mut self, args: &T) -> Self {
        self.args = encode(args);
        self
    }

    /// Raw argument bytes, for a callee that does not take borsh.
    pub fn args_bytes(mut self, args: Vec<u8>) -> Self {
        self.args = args;
        self
    }

    /// Attaches `amount` native tokens, moved from this contract's balance
    /// to the callee before it runs (and back if it fails). The call is
    /// refused (`insufficient_balance`) if the balance does not cover it.
    pub fn amount(mut self, amount: u128) -> Self {
        self.amount = amount;
        self
    }

    /// The most gas the callee may use. By default it gets all the host
    /// allows: what this call has left, less a 64th the host keeps back so
    /// this call can still act on the result.
    pub fn gas(mut self, gas: u64) -> Self {
        self.gas = gas;
        self
    }

    /// Runs the call and decodes the callee's return value from borsh.
    pub fn invoke<R: BorshDeserialize>(self) -> Result<R, CallError> {
        let bytes = self.invoke_bytes()?;
        R::try_from_slice(&bytes).map_err(|_| CallError::InvalidReturn { value: bytes })
    }

    /// Runs the call and returns the callee's raw return bytes.
    pub fn invoke_bytes(self) -> Result<Vec<u8>, CallError> {
        let (contract_ptr, contract_len) = ptr_len(self.contract.as_bytes());
        let (method_ptr, method_len) = ptr_len(self.method.as_bytes());
        let (args_ptr, args_len) = ptr_len(&self.args);
        let amount = self.amount.to_le_bytes();
        // SAFETY: the host only reads the four byte strings, all live here,
        // and writes a host register.
        let status = unsafe {
            sys::call_contract(
                contract_ptr,
                contract_len,
                method_ptr,
                method_len,
                args_ptr,
                args_len,
                amount.as_ptr() as usize as u32,
                self.gas,
                register::SCRATCH,
            )
        };
        let bytes = register::read(register::SCRATCH).unwrap_or_default();
        match status {
            0 => Ok(bytes),
            1 => {
                let (kind, message) = split(bytes);
                Err(CallError::Trapped { kind, message })
            }
            2 => {
                let (kind, message) = split(bytes);
                Err(CallError::Refused {
                    kind,
                    message: message.unwrap_or_default(),
                })
            }
            _ => abort("call_contract: the host returned an unknown status"),
        }
    }
}

/// The host's failure text, `kind` or `kind: message`, as its two parts.
/// Kinds are stable names without `": "`, so the first one separates them.
fn split(bytes: Vec<u8>) -> (String, Option<String>) {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    match text.split_once(": ") {
        Some((kind, message)) => (kind.to_owned(), Some(message.to_owned())),
        None => (text, None),
    }
}

/// Why a call to another contract did not give a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The callee ran and trapped; everything it did was undone.
    Trapped {
        /// The trap kind's stable name (`host`, `out_of_gas`,
        /// `unreachable`, …).
        kind: String,
        /// A `host` trap's message: the callee's `abort` or panic text, or
        /// the host's description of the violation.
        message: Option<String>,
    },
    /// The host refused the call before the callee ran.
    Refused {
        /// A stable kind: `unknown_contract`, `unknown_method`,
        /// `not_a_method`, `reentrancy`, `insufficient_balance`, …
        kind: String,
        /// Why.
        message: String,
    },
    /// The callee returned, but its value does not decode as the type
    /// asked for. What the callee did is kept: decide with the caller's own
    /// `abort` whether to undo it.
    InvalidReturn {
        /// The bytes it returned.
        value: Vec<u8>,
    },
}

impl CallError {
    /// The failure's stable kind: the trap kind, the refusal kind, or
    /// `invalid_return`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Trapped { kind, .. } | Self::Refused { kind, .. } => kind,
            Self::InvalidReturn { .. } => "invalid_return",
        }
    }

    /// The host's or the callee's message, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Trapped { message, .. } => message.as_deref(),
            Self::Refused { message, .. } => Some(message),
            Self::InvalidReturn { .. } => None,
        }
    }

    /// One line saying what went wrong: `trapped (kind): message`,
    /// `refused (kind): message` or `invalid return value`. Built without
    /// `core::fmt`, which would add its formatting code to the contract.
    pub fn describe(&self) -> String {
        let (what, kind) = match self {
            Self::Trapped { kind, .. } => ("trapped (", kind.as_str()),
            Self::Refused { kind, .. } => ("refused (", kind.as_str()),
            Self::InvalidReturn { .. } => return "invalid return value".to_owned(),
        };
        let mut line = [what, kind, ")"].concat();
        if let Some(message) = self.message() {
            line.push_str(": ");
            line.push_str(message);
        }
        line
    }

    /// Ends this call (`host` trap) with `context: ` and
    /// [`CallError::describe`], undoing everything this call did, the
    /// callee's work included.
    pub fn abort(&self, context: &str) -> ! {
        abort(&[context, ": ", &self.describe()].concat())
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Turns a failed call into the end of this one: for contracts that cannot
/// go on without the callee's result.
pub trait OrAbort<T> {
    /// The value, or (on a failure) ends the call with
    /// [`CallError::abort`]`(context)`.
    fn or_abort(self, context: &str) -> T;
}

impl<T> OrAbort<T> for Result<T, CallError> {
    fn or_abort(self, context: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => e.abort(context),
        }
    }
}
