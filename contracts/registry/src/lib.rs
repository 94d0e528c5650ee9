//! A name registry with ownership: whoever registers a free name owns it,
//! and only the owner may change it.
//!
//! Methods (arguments are the borsh tuple of the parameters; results borsh):
//!
//! | method | arguments | result | |
//! | --- | --- | --- | --- |
//! | `register` | `name: String, value: String` | — | the caller owns `name`; fails with `name is taken` |
//! | `lookup` | `name: String` | `Option<Entry>` | the owner and value, or `None` if free |
//! | `update` | `name: String, value: String` | — | owner only: sets a new value |
//! | `transfer` | `name: String, new_owner: String` | — | owner only: gives the name away |
//! | `release` | `name: String` | — | owner only: frees the name |
//! | `names_of` | `owner: String` | `u32` | how many names `owner` holds |
//!
//! Owner-only methods fail with `not the owner` when called by anyone else,
//! and with `name is not registered` for a free name. Names are 1 to 64
//! bytes (`invalid name` otherwise); values at most 1,024 bytes (`value too
//! long`). A failed call changes nothing. Every change logs one line.
//!
//! State: `name:<name>` holds an [`Entry`]; `count:<owner>` a `u32`.

#![no_std]

extern crate alloc;

use alloc::string::String;

use borsh::{BorshDeserialize, BorshSerialize};
use detvm_sdk::{abort, env, methods, require, storage};

/// What the registry holds for a name.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct Entry {
    /// The account that may change the name.
    pub owner: String,
    /// The name's value, set by its owner.
    pub value: String,
}

const NAME: &[u8] = b"name:";
const COUNT: &[u8] = b"count:";
const MAX_NAME: usize = 64;
const MAX_VALUE: usize = 1_024;

methods! {
    /// Registers the free `name` for the caller, with `value`.
    fn register(name: String, value: String) {
        check_name(&name);
        check_value(&value);
        require(!storage::has(&name_key(&name)), "name is taken");
        let owner = env::caller();
        add_count(&owner, 1);
        env::log(&[&owner, " registered ", &name].concat());
        storage::write(&name_key(&name), &Entry { owner, value });
    }

    /// The entry for `name`, if registered.
    fn lookup(name: String) -> Option<Entry> {
        storage::read(&name_key(&name))
    }

    /// Sets the value of `name`. Owner only.
    fn update(name: String, value: String) {
        check_value(&value);
        let mut entry = owned(&name);
        entry.value = value;
        storage::write(&name_key(&name), &entry);
        env::log(&[&entry.owner, " updated ", &name].concat());
    }

    /// Gives `name` to `new_owner`. Owner only.
    fn transfer(name: String, new_owner: String) {
        let mut entry = owned(&name);
        add_count(&entry.owner, -1);
        add_count(&new_owner, 1);
        env::log(&[&entry.owner, " transferred ", &name, " to ", &new_owner].concat());
        entry.owner = new_owner;
        storage::write(&name_key(&name), &entry);
    }

    /// Frees `name`. Owner only.
    fn release(name: String) {
        let entry = owned(&name);
        add_count(&entry.owner, -1);
        storage::remove(&name_key(&name));
        env::log(&[&entry.owner, " released ", &name].concat());
    }

    /// How many names `owner` holds.
    fn names_of(owner: String) -> u32 {
        storage::read(&storage::key(COUNT, owner.as_bytes())).unwrap_or(0)
    }
}

fn name_key(name: &str) -> alloc::vec::Vec<u8> {
    storage::key(NAME, name.as_bytes())
}

fn check_name(name: &str) {
    require(!name.is_empty() && name.len() <= MAX_NAME, "invalid name");
}

fn check_value(value: &str) {
    require(value.len() <= MAX_VALUE, "value too long");
}

/// The entry of `name`, if the caller owns it; ends the call otherwise.
fn owned(name: &str) -> Entry {
    let Some(entry) = storage::read::<Entry>(&name_key(name)) else {
        abort("name is not registered")
    };
    require(entry.owner == env::caller(), "not the owner");
    entry
}

/// Adds `delta` (±1) to the number of names `owner` holds, removing the
/// entry at zero.
fn add_count(owner: &str, delta: i8) {
    let key = storage::key(COUNT, owner.as_bytes());
    let count: u32 = storage::read(&key).unwrap_or(0);
    // A count never goes below zero (a release follows a register) nor
    // reaches u32::MAX (each name costs a storage entry and gas).
    let count = if delta < 0 {
        count.saturating_sub(1)
    } else {
        count.saturating_add(1)
    };
    if count == 0 {
        storage::remove(&key);
    } else {
        storage::write(&key, &count);
    }
}
