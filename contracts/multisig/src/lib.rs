//! A k-of-n multisig: a fixed set of owners, any of whom proposes a call to
//! another contract; once `threshold` owners approve it, the multisig makes
//! the call itself (it is the callee's caller, and attaches native tokens
//! from its own balance).
//!
//! Methods (arguments are the borsh tuple of the parameters; results borsh):
//!
//! | method | arguments | result | |
//! | --- | --- | --- | --- |
//! | `init` | `owners: Vec<String>, threshold: u32` | — | once; 1 ≤ `threshold` ≤ number of owners, owners distinct (`invalid owners or threshold`) |
//! | `propose` | `contract: String, method: String, args: Vec<u8>, amount: u128` | `u64`, the proposal's id | owner only; `args` are the callee's raw input (for an SDK contract, the borsh tuple of its parameters); records no approval |
//! | `approve` | `id: u64` | `Option<bool>` | owner only, once per owner (`already approved`); an approval that reaches the threshold (or comes after a failed attempt) executes the call: `Some(true)` it returned, `Some(false)` it failed, `None` not executed yet |
//! | `execute` | `id: u64` | `bool` | owner only: runs an approved proposal whose call failed before (`not enough approvals` below the threshold); whether it returned |
//! | `proposal` | `id: u64` | `Option<Proposal>` | the proposal and its outcome |
//! | `owners` | — | `Vec<String>` | |
//! | `threshold` | — | `u32` | |
//!
//! Owner-only methods fail with `not an owner`; methods on an unknown
//! proposal with `unknown proposal`, and on one already executed with
//! `already executed`. Every method but `init` and the views fails with
//! `not initialized` before `init`. Native tokens sent to the multisig
//! (attached to any call of it) are its balance, which proposals spend.
//!
//! **A failed call.** When the proposed call traps or is refused, the
//! multisig's own call still returns: the approval is kept, the proposal
//! stays approved and not executed, with `failures` counted and the
//! callee's failure in `last_error`, and an `ExecutionFailed` event. Nothing
//! the callee did is kept. Any owner may try again with `execute`, e.g.
//! once the multisig holds the tokens the call needed. A proposed call to
//! the multisig itself is refused by the host (`reentrancy`): the multisig
//! is not reentrant, so proposals cannot change its owners.
//!
//! Events (topics are `detvm_sdk::events::topic` of the text, data borsh):
//!
//! | event | topics | data |
//! | --- | --- | --- |
//! | `Proposed` | `Proposed`, `proposer` | `(id: u64, contract: String, method: String, amount: u128)` |
//! | `Approved` | `Approved`, `owner` | `(id: u64, approvals: u32)` |
//! | `Executed` | `Executed` | `(id: u64, value: Vec<u8>)`, the callee's return bytes; after the callee's own events |
//! | `ExecutionFailed` | `ExecutionFailed` | `(id: u64, error: String)`, e.g. `trapped (host): insufficient balance: …` |
//!
//! State: `owners` (`Vec<String>`), `threshold` (`u32`), `next` (`u64`)
//! and `proposal:<id as 8 bytes big endian>` holding a [`Proposal`].

#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_sdk::call::Call;
use detvm_sdk::events::{emit, topic};
use detvm_sdk::{abort, env, methods, require, storage};

/// A proposed call and what became of it.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// The owner who proposed it.
    pub proposer: String,
    /// The contract to call.
    pub contract: String,
    /// Its method.
    pub method: String,
    /// The raw input.
    pub args: Vec<u8>,
    /// Native tokens to attach, from the multisig's balance.
    pub amount: u128,
    /// The owners who approved, in order.
    pub approvals: Vec<String>,
    /// Whether the call was made and returned.
    pub executed: bool,
    /// What it returned, once executed.
    pub result: Option<Vec<u8>>,
    /// How many times the call failed.
    pub failures: u32,
    /// How the last failed attempt failed (`CallError::describe`).
    pub last_error: Option<String>,
}

const OWNERS: &[u8] = b"owners";
const THRESHOLD: &[u8] = b"threshold";
const NEXT: &[u8] = b"next";
const PROPOSAL: &[u8] = b"proposal:";

methods! {
    /// Sets the owners and how many must approve a call.
    fn init(owners: Vec<String>, threshold: u32) {
        require(!storage::has(OWNERS), "already initialized");
        let distinct = owners
            .iter()
            .enumerate()
            .all(|(i, owner)| !owners[..i].contains(owner));
        require(
            threshold >= 1 && threshold as usize <= owners.len() && distinct,
            "invalid owners or threshold",
        );
        storage::write(OWNERS, &owners);
        storage::write(THRESHOLD, &threshold);
    }

    /// Proposes calling `method` of `contract` with the raw `args` and
    /// `amount` native tokens attached.
    fn propose(contract: String, method: String, args: Vec<u8>, amount: u128) -> u64 {
        let proposer = owner();
        let id: u64 = storage::read(NEXT).unwrap_or(0);
        let Some(next) = id.checked_add(1) else {
            abort("no proposal ids left")
        };
        storage::write(NEXT, &next);
        emit(
            &[topic("Proposed"), topic(&proposer)],
            &(id, &contract, &method, amount),
        );
        storage::write(
            &key(id),
            &Proposal {
                proposer,
                contract,
                method,
                args,
                amount,
                approvals: Vec::new(),
                executed: false,
                result: None,
                failures: 0,
                last_error: None,
            },
        );
        id
    }

    /// Approves proposal `id`; the approval that reaches the threshold
    /// makes the call.
    fn approve(id: u64) -> Option<bool> {
        let approver = owner();
        let mut proposal = pending(id);
        require(!proposal.approvals.contains(&approver), "already approved");
        proposal.approvals.push(approver.clone());
        let approvals = proposal.approvals.len() as u32;
        emit(&[topic("Approved"), topic(&approver)], &(id, approvals));
        // `>=`: an approval after a failed attempt tries the call again.
        if approvals >= threshold_value() {
            Some(run(id, proposal))
        } else {
            storage::write(&key(id), &proposal);
            None
        }
    }

    /// Makes the call of approved proposal `id` again after a failure.
    fn execute(id: u64) -> bool {
        owner();
        let proposal = pending(id);
        require(
            proposal.approvals.len() as u32 >= threshold_value(),
            "not enough approvals",
        );
        run(id, proposal)
    }

    /// Proposal `id`, if proposed.
    fn proposal(id: u64) -> Option<Proposal> {
        storage::read(&key(id))
    }

    /// The owners (empty before `init`).
    fn owners() -> Vec<String> {
        storage::read(OWNERS).unwrap_or_default()
    }

    /// How many owners must approve (0 before `init`).
    fn threshold() -> u32 {
        storage::read(THRESHOLD).unwrap_or(0)
    }
}

/// The caller, if it is an owner; ends the call otherwise.
fn owner() -> String {
    let Some(owners) = storage::read::<Vec<String>>(OWNERS) else {
        abort("not initialized")
    };
    let caller = env::caller();
    require(owners.contains(&caller), "not an owner");
    caller
}

fn threshold_value() -> u32 {
    storage::read(THRESHOLD).unwrap_or(u32::MAX)
}

/// Proposal `id`, which must exist and not be executed yet.
fn pending(id: u64) -> Proposal {
    let Some(proposal) = storage::read::<Proposal>(&key(id)) else {
        abort("unknown proposal")
    };
    require(!proposal.executed, "already executed");
    proposal
}

/// Makes the proposed call and records how it went; returns whether it
/// returned. Never ends the multisig's call: a failure is recorded, so the
/// approvals that led to it are kept.
fn run(id: u64, mut proposal: Proposal) -> bool {
    // Marked executed before the call, so that nothing the callee does can
    // run it twice (the host refuses calls back into the multisig anyway).
    proposal.executed = true;
    storage::write(&key(id), &proposal);
    let outcome = Call::new(&proposal.contract, &proposal.method)
        .args_bytes(proposal.args.clone())
        .amount(proposal.amount)
        .invoke_bytes();
    let returned = match outcome {
        Ok(value) => {
            emit(&[topic("Executed")], &(id, &value));
            proposal.result = Some(value);
            true
        }
        Err(e) => {
            let error = e.describe();
            emit(&[topic("ExecutionFailed")], &(id, &error));
            proposal.executed = false;
            proposal.failures = proposal.failures.saturating_add(1);
            proposal.last_error = Some(error);
            false
        }
    };
    storage::write(&key(id), &proposal);
    returned
}

fn key(id: u64) -> Vec<u8> {
    storage::key(PROPOSAL, &id.to_be_bytes())
}
