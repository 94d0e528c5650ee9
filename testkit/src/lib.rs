//! Test kit for contract developers: deploy `.wasm` contracts and call them
//! through the real VM, in-process, from ordinary Rust tests.
//!
//! ```no_run
//! use detvm_testkit::{TestChain, TrapKind};
//!
//! let mut chain = TestChain::new();
//! let token = chain.deploy_example("token").unwrap();
//! chain.call(&token, "init", &("TOK".to_string(),)).from("alice").run().assert_ok();
//! chain.call(&token, "mint", &("bob".to_string(), 100u128)).from("alice").run().assert_ok();
//!
//! let transfer = chain
//!     .call(&token, "transfer", &("carol".to_string(), 500u128))
//!     .from("bob")
//!     .gas(10_000_000)
//!     .run();
//! transfer.assert_host_trap("insufficient balance");
//! assert!(transfer.state_changes().is_empty());
//!
//! let balance: u128 = chain.view(&token, "balance_of", &("bob".to_string(),)).run().returned();
//! assert_eq!(balance, 100);
//! # let _ = TrapKind::OutOfGas;
//! ```
//!
//! * [`TestChain`] wraps an in-memory [`detvm_host::Chain`]: deploy code from
//!   bytes, a file or the repository's example contracts ([`contracts`]),
//!   and read a contract's committed state.
//! * [`TestChain::call`] and [`TestChain::view`] build a call: arguments are
//!   any borsh-encodable value (a method's arguments are the borsh tuple of
//!   its parameters), then the caller, gas and block are chosen, then
//!   [`Call::run`] executes it.
//! * [`Devnet`] is the chain as the node runs it, in memory: the node's
//!   own executor (`detvm_chain::Ledger`), signed transactions from
//!   prefunded dev accounts ([`DevAccount`]), the validity rules and fees,
//!   one block per transaction with its state root, snapshots and time
//!   travel; its blocks and receipts are the node's. [`RemoteDevnet`] does
//!   the same against a running `detvm node --dev` over JSON-RPC. Both are
//!   a [`DevChain`], whose builders ([`DevChain::deploy`],
//!   [`DevChain::call`], [`DevChain::transfer`], [`DevChain::view`]) give
//!   a [`TxResult`] or a [`ViewResult`], so a test written once runs on
//!   either (bring the trait into scope). Their failures, refused
//!   transactions included, are a [`DevnetError`].
//! * [`CallResult`] holds the receipt, or the error if the runtime refused
//!   the call, with accessors (return value, gas, logs, state changes,
//!   receipt hash) and assertion helpers.
//! * Cross-contract calls and events: [`CallResult::calls`] lists the call
//!   tree depth first and [`CallResult::assert_call`] checks one call's
//!   callee, method and outcome; [`CallResult::events`] lists every kept
//!   event in emission order and [`CallResult::assert_event`] looks for
//!   one, its topics made with [`topic`] (what the SDK's
//!   `events::topic` computes). [`TxResult`] has the same for a devnet.
//! * Native tokens: [`TestChain::set_balance`] funds an account (the
//!   host-only chain has no genesis), [`Call::amount`] attaches tokens to a
//!   call, [`TestChain::balance`] reads a balance.
//!
//! Nothing here panics except the assertion helpers (`assert_*`, the
//! `returned` of [`CallResult`], [`TxResult`] and [`ViewResult`],
//! [`TxResult::contract_id`], [`TestChain::new`], [`Devnet::new`]), which
//! panic with a message that says what was expected and what happened, as
//! test helpers should; every other failure is an [`Error`] (a
//! [`DevnetError`] for the chain-level kit).

#![deny(missing_docs)]

mod chain;
pub mod contracts;
mod devnet;
mod error;
mod ports;
mod remote;
mod result;

pub use chain::{Call, TestChain};
pub use detvm_chain::{BlockHeader, DEV_ACCOUNTS, Genesis, Keypair, TxOutcome, TxReceipt};
pub use detvm_host::{
    self as host, CallNode, CallOutcome, ContractId, DeployReceipt, Event, Receipt, ReceiptOutcome,
    TrapKind,
};
pub use devnet::{
    BLOCK_INTERVAL_NS, DEFAULT_GAS_LIMIT, DevAccount, DevChain, Devnet, DevnetError, PROPOSER,
    Snapshot, Tx, TxResult, View, ViewResult,
};
pub use error::Error;
pub use ports::free_loopback_port;
pub use remote::RemoteDevnet;
pub use result::{CallResult, keccak256, topic};

/// The caller of calls and deploys that do not choose one.
pub const DEFAULT_ACCOUNT: &str = "alice";

/// The gas of calls that do not choose it: enough for any example method,
/// low enough that a runaway contract stops quickly.
pub const DEFAULT_GAS: u64 = 100_000_000;
