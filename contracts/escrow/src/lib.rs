//! An escrow: a depositor locks tokens for a payee, and an arbiter decides
//! whether they go to the payee (`release`) or back to the depositor
//! (`refund`). It holds either tokens of a fungible token contract (the
//! `token` example, through cross-contract calls) or native tokens attached
//! to the call.
//!
//! Methods (arguments are the borsh tuple of the parameters; results borsh):
//!
//! | method | arguments | result | |
//! | --- | --- | --- | --- |
//! | `create` | `token: String, payee: String, arbiter: String, amount: u128` | `u64`, the escrow's id | takes `amount` of the caller's tokens with `token`'s `transfer_from` (approve the escrow contract first); fails with `cannot take the tokens: …` if the token call fails |
//! | `create_native` | `payee: String, arbiter: String` | `u64` | locks the native tokens attached to the call; fails with `attach the amount to escrow` if none |
//! | `release` | `id: u64` | — | arbiter only: pays the payee (token `transfer`, or a native transfer); fails with `cannot pay: …` if the token call fails |
//! | `refund` | `id: u64` | — | arbiter or payee: pays the depositor back, likewise |
//! | `get` | `id: u64` | `Option<Escrow>` | the escrow, settled or not |
//!
//! `release` and `refund` fail with `unknown escrow` for an id never
//! created, `escrow already settled` for one released or refunded, and
//! `only the arbiter can release` / `only the arbiter or the payee can
//! refund`. Amounts must be above 0 (`nothing to escrow`). A failed call
//! changes nothing, in this contract or in the token: when the token
//! refuses (no allowance, not enough tokens), the escrow ends its own call
//! with the token's reason, which undoes everything.
//!
//! Events (topics are `detvm_sdk::events::topic` of the text, data borsh):
//!
//! | event | topics | data |
//! | --- | --- | --- |
//! | `Created` | `Created`, `depositor`, `payee` | `(id: u64, token: Option<String>, amount: u128)`; after the token's own `Transfer` |
//! | `Released` | `Released`, `payee` | `(id: u64, amount: u128)`; after the token's `Transfer` |
//! | `Refunded` | `Refunded`, `depositor` | `(id: u64, amount: u128)`; after the token's `Transfer` |
//!
//! State: `next` (`u64`, the next id) and `escrow:<id as 8 bytes big
//! endian>` holding an [`Escrow`]. The escrow marks itself settled before
//! it calls the token, so a token that called back could not settle it
//! twice (the host refuses such a call anyway: the escrow is not
//! reentrant).

#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_sdk::call::{Call, OrAbort};
use detvm_sdk::events::{emit, topic};
use detvm_sdk::{abort, env, methods, require, storage};

/// One escrow.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Escrow {
    /// The token contract, or `None` for native tokens.
    pub token: Option<String>,
    /// Who locked the tokens, and gets them back on `refund`.
    pub depositor: String,
    /// Who gets them on `release`.
    pub payee: String,
    /// Who decides.
    pub arbiter: String,
    /// How many.
    pub amount: u128,
    /// Where it stands.
    pub status: Status,
}

/// Where an escrow stands.
#[derive(BorshSerialize, BorshDeserialize, PartialEq, Eq)]
pub enum Status {
    /// The tokens are locked.
    Open,
    /// Paid to the payee.
    Released,
    /// Paid back to the depositor.
    Refunded,
}

const NEXT: &[u8] = b"next";
const ESCROW: &[u8] = b"escrow:";

methods! {
    /// Locks `amount` of `token` from the caller for `payee`, decided by
    /// `arbiter`.
    fn create(token: String, payee: String, arbiter: String, amount: u128) -> u64 {
        require(amount > 0, "nothing to escrow");
        let depositor = env::caller();
        let id = open(Escrow {
            token: Some(token.clone()),
            depositor: depositor.clone(),
            payee: payee.clone(),
            arbiter,
            amount,
            status: Status::Open,
        });
        Call::new(&token, "transfer_from")
            .args(&(&depositor, env::current_contract(), amount))
            .invoke::<()>()
            .or_abort("cannot take the tokens");
        emit(
            &[topic("Created"), topic(&depositor), topic(&payee)],
            &(id, Some(&token), amount),
        );
        id
    }

    /// Locks the native tokens attached to the call for `payee`, decided
    /// by `arbiter`.
    fn create_native(payee: String, arbiter: String) -> u64 {
        let amount = env::attached_amount();
        require(amount > 0, "attach the amount to escrow");
        let depositor = env::caller();
        let id = open(Escrow {
            token: None,
            depositor: depositor.clone(),
            payee: payee.clone(),
            arbiter,
            amount,
            status: Status::Open,
        });
        emit(
            &[topic("Created"), topic(&depositor), topic(&payee)],
            &(id, None::<String>, amount),
        );
        id
    }

    /// Pays escrow `id` to its payee. Arbiter only.
    fn release(id: u64) {
        let escrow = settle(id, Status::Released, |e, caller| {
            require(caller == e.arbiter, "only the arbiter can release")
        });
        pay(&escrow, &escrow.payee);
        emit(&[topic("Released"), topic(&escrow.payee)], &(id, escrow.amount));
    }

    /// Pays escrow `id` back to its depositor. Arbiter or payee.
    fn refund(id: u64) {
        let escrow = settle(id, Status::Refunded, |e, caller| {
            require(
                caller == e.arbiter || caller == e.payee,
                "only the arbiter or the payee can refund",
            )
        });
        pay(&escrow, &escrow.depositor);
        emit(&[topic("Refunded"), topic(&escrow.depositor)], &(id, escrow.amount));
    }

    /// Escrow `id`, if created.
    fn get(id: u64) -> Option<Escrow> {
        storage::read(&key(id))
    }
}

/// Stores a new escrow under the next id and returns the id.
fn open(escrow: Escrow) -> u64 {
    let id: u64 = storage::read(NEXT).unwrap_or(0);
    let Some(next) = id.checked_add(1) else {
        abort("no escrow ids left")
    };
    storage::write(NEXT, &next);
    storage::write(&key(id), &escrow);
    id
}

/// Marks open escrow `id` as `status` once `allowed` accepts the caller;
/// returns it.
fn settle(id: u64, status: Status, allowed: impl Fn(&Escrow, &str)) -> Escrow {
    let Some(mut escrow) = storage::read::<Escrow>(&key(id)) else {
        abort("unknown escrow")
    };
    allowed(&escrow, &env::caller());
    require(escrow.status == Status::Open, "escrow already settled");
    escrow.status = status;
    storage::write(&key(id), &escrow);
    escrow
}

/// Pays the escrowed amount to `to`, in the escrow's kind of token.
fn pay(escrow: &Escrow, to: &str) {
    match &escrow.token {
        Some(token) => Call::new(token, "transfer")
            .args(&(to, escrow.amount))
            .invoke::<()>()
            .or_abort("cannot pay"),
        None => env::transfer(to, escrow.amount),
    }
}

fn key(id: u64) -> Vec<u8> {
    storage::key(ESCROW, &id.to_be_bytes())
}
