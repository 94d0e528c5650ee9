//! A fungible token. The account that calls `init` owns the token and is the
//! only one who may mint.
//!
//! Methods (arguments are the borsh tuple of the parameters; results borsh):
//!
//! | method | arguments | result | |
//! | --- | --- | --- | --- |
//! | `init` | `symbol: String` | — | makes the caller the owner; fails with `already initialized` the second time |
//! | `mint` | `to: String, amount: u128` | — | owner only (`only the owner can mint`); fails with `total supply overflow` |
//! | `transfer` | `to: String, amount: u128` | — | from the caller; fails with `insufficient balance` |
//! | `approve` | `spender: String, amount: u128` | — | lets `spender` move up to `amount` of the caller's tokens (replaces any earlier allowance; 0 revokes it) |
//! | `allowance` | `owner: String, spender: String` | `u128` | what `spender` may still move for `owner` |
//! | `transfer_from` | `from: String, to: String, amount: u128` | — | the caller, as spender, moves `amount` of `from`'s tokens to `to` and uses up that much allowance; fails with `insufficient allowance` or `insufficient balance` |
//! | `balance_of` | `account: String` | `u128` | 0 for unknown accounts |
//! | `total_supply` | — | `u128` | the sum of all balances |
//! | `owner` | — | `Option<String>` | `None` before `init` |
//! | `symbol` | — | `Option<String>` | `None` before `init` |
//!
//! Every method but `init` fails with `not initialized` before `init`.
//! A failed call changes nothing. `mint`, `transfer` and `transfer_from` log
//! one line each.
//!
//! Events (topics are `detvm_sdk::events::topic` of the text, data borsh):
//!
//! | event | topics | data |
//! | --- | --- | --- |
//! | `Mint` | `Mint`, `to` | `(to: String, amount: u128)` |
//! | `Transfer` | `Transfer`, `from`, `to` | `(from: String, to: String, amount: u128)`, by `transfer` and `transfer_from` |
//! | `Approval` | `Approval`, `owner`, `spender` | `(owner: String, spender: String, amount: u128)` |
//!
//! State: `owner`, `symbol`, `supply` (`u128`), `balance:<account>`
//! (`u128`, absent for a zero balance, so transfers that empty an account
//! free its entry), and `allowance:<owner>:<spender>` (`u128`, absent for
//! zero; account ids contain no `:`, so the key is unambiguous).

#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};

use detvm_sdk::events::{emit, topic};
use detvm_sdk::{abort, env, methods, require, storage};

const OWNER: &[u8] = b"owner";
const SYMBOL: &[u8] = b"symbol";
const SUPPLY: &[u8] = b"supply";
const BALANCE: &[u8] = b"balance:";
const ALLOWANCE: &[u8] = b"allowance:";

methods! {
    /// Makes the caller the owner of a token named `symbol`.
    fn init(symbol: String) {
        require(!storage::has(OWNER), "already initialized");
        storage::write(OWNER, &env::caller());
        storage::write(SYMBOL, &symbol);
        storage::write(SUPPLY, &0u128);
    }

    /// Creates `amount` new tokens for `to`. Owner only.
    fn mint(to: String, amount: u128) {
        require(env::caller() == initialized_owner(), "only the owner can mint");
        let Some(supply) = supply().checked_add(amount) else {
            abort("total supply overflow")
        };
        // Cannot overflow: a balance is at most the supply, which just fit.
        let balance = balance(&to) + amount;
        storage::write(SUPPLY, &supply);
        set_balance(&to, balance);
        env::log(&line(&["mint ", &amount.to_string(), " to ", &to]));
        emit(&[topic("Mint"), topic(&to)], &(&to, amount));
    }

    /// Moves `amount` from the caller to `to`.
    fn transfer(to: String, amount: u128) {
        initialized_owner();
        move_tokens(&env::caller(), &to, amount);
    }

    /// Lets `spender` move up to `amount` of the caller's tokens with
    /// `transfer_from`, replacing any earlier allowance.
    fn approve(spender: String, amount: u128) {
        initialized_owner();
        let owner = env::caller();
        let key = allowance_key(&owner, &spender);
        if amount == 0 {
            storage::remove(&key);
        } else {
            storage::write(&key, &amount);
        }
        emit(
            &[topic("Approval"), topic(&owner), topic(&spender)],
            &(&owner, &spender, amount),
        );
    }

    /// What `spender` may still move for `owner`.
    fn allowance(owner: String, spender: String) -> u128 {
        initialized_owner();
        storage::read(&allowance_key(&owner, &spender)).unwrap_or(0)
    }

    /// Moves `amount` of `from`'s tokens to `to`, spending the caller's
    /// allowance from `from`.
    fn transfer_from(from: String, to: String, amount: u128) {
        initialized_owner();
        let spender = env::caller();
        let key = allowance_key(&from, &spender);
        let allowed: u128 = storage::read(&key).unwrap_or(0);
        if allowed < amount {
            abort(&line(&[
                "insufficient allowance: ",
                &spender,
                " may move ",
                &allowed.to_string(),
                " of ",
                &from,
                "'s tokens, needs ",
                &amount.to_string(),
            ]));
        }
        if allowed == amount {
            storage::remove(&key);
        } else {
            storage::write(&key, &(allowed - amount));
        }
        move_tokens(&from, &to, amount);
    }

    /// The balance of `account`.
    fn balance_of(account: String) -> u128 {
        initialized_owner();
        balance(&account)
    }

    /// The sum of all balances.
    fn total_supply() -> u128 {
        initialized_owner();
        supply()
    }

    /// The owner, if initialized.
    fn owner() -> Option<String> {
        storage::read(OWNER)
    }

    /// The token's symbol, if initialized.
    fn symbol() -> Option<String> {
        storage::read(SYMBOL)
    }
}

/// The owner; ends the call if the token is not initialized.
fn initialized_owner() -> String {
    match storage::read(OWNER) {
        Some(owner) => owner,
        None => abort("not initialized"),
    }
}

fn supply() -> u128 {
    storage::read(SUPPLY).unwrap_or(0)
}

fn balance(account: &str) -> u128 {
    storage::read(&storage::key(BALANCE, account.as_bytes())).unwrap_or(0)
}

fn set_balance(account: &str, amount: u128) {
    let key = storage::key(BALANCE, account.as_bytes());
    if amount == 0 {
        storage::remove(&key);
    } else {
        storage::write(&key, &amount);
    }
}

/// Moves `amount` from `from` to `to`, with its log line and event; ends
/// the call if `from` has less.
fn move_tokens(from: &str, to: &str, amount: u128) {
    let from_balance = balance(from);
    if from_balance < amount {
        abort(&line(&[
            "insufficient balance: ",
            from,
            " has ",
            &from_balance.to_string(),
            ", needs ",
            &amount.to_string(),
        ]));
    }
    set_balance(from, from_balance - amount);
    // Read after the debit, so a transfer to oneself changes nothing.
    // Cannot overflow: the sum of balances is the supply, a u128.
    let to_balance = balance(to) + amount;
    set_balance(to, to_balance);
    env::log(&line(&[
        "transfer ",
        &amount.to_string(),
        " from ",
        from,
        " to ",
        to,
    ]));
    emit(
        &[topic("Transfer"), topic(from), topic(to)],
        &(from, to, amount),
    );
}

fn allowance_key(owner: &str, spender: &str) -> alloc::vec::Vec<u8> {
    [ALLOWANCE, owner.as_bytes(), b":", spender.as_bytes()].concat()
}

fn line(parts: &[&str]) -> String {
    parts.concat()
}
