//! Events: results for indexers and clients, with topics to filter on.
//!
//! A topic is 32 bytes. By convention the first topic names the event and
//! the others are the values a client filters on (accounts, ids), each the
//! [`topic`] of its text; the data carries the event's fields, borsh-encoded.
//!
//! ```ignore
//! use detvm_sdk::events::{emit, topic};
//! emit(&[topic("Transfer"), topic(&from), topic(&to)], &(from, to, amount));
//! ```

use borsh::BorshSerialize;

use crate::{crypto, encode, env};

/// The topic of `name`: its Keccak-256 digest. Used both for event names
/// (`topic("Transfer")`) and for the values a client filters on
/// (`topic(&account)`), so a client computes the same topic from the same
/// text.
pub fn topic(name: &str) -> [u8; 32] {
    crypto::keccak256(name.as_bytes())
}

/// Emits an event with `topics` and the borsh encoding of `data`
/// ([`env::emit_event`] with typed data).
pub fn emit<T: BorshSerialize + ?Sized>(topics: &[[u8; 32]], data: &T) {
    env::emit_event(topics, &encode(data));
}
