//! Native-token accounts as the host sees them: the record stored under
//! `account/` ++ id, and the kinds of ids (`docs/chain.md` §1). The chain
//! crate builds transactions and fees on the same records; contracts move
//! balances through the host functions of `docs/host-api.md`.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::chain::{Corruption, Error, check_account};

/// Prefix of account records.
pub const ACCOUNT_PREFIX: &[u8] = b"account/";
/// Length of an implicit account id: the public key in lowercase hex.
pub const IMPLICIT_ID_LEN: usize = 64;
/// Length of a contract id ([`crate::ContractId::LEN`]).
pub const CONTRACT_ID_LEN: usize = 40;

/// An account record (`docs/chain.md`, section 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// Native tokens.
    pub balance: u128,
    /// Transactions included so far.
    pub nonce: u64,
    /// The key that signs for it, if any.
    pub public_key: Option<[u8; 32]>,
}

/// The state key of account `id`.
pub fn account_key(id: &str) -> Vec<u8> {
    [ACCOUNT_PREFIX, id.as_bytes()].concat()
}

/// Decodes a stored account record.
pub fn decode_account(id: &str, bytes: &[u8]) -> Result<Account, Error> {
    Account::try_from_slice(bytes)
        .map_err(|e| Error::Corrupt(Corruption::decode(format!("account {id}"), e)))
}

/// What kind of account an id names, decided by the id alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// 64 lowercase hex digits: the account of that ed25519 public key.
    Implicit,
    /// 40 lowercase hex digits: a contract.
    Contract,
    /// Any other valid id: created at genesis only.
    Named,
}

fn is_lower_hex(id: &str, len: usize) -> bool {
    id.len() == len && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The kind of a valid account id, or an error if the id is invalid.
pub fn account_kind(id: &str) -> Result<AccountKind, Error> {
    check_account(id)?;
    Ok(if is_lower_hex(id, IMPLICIT_ID_LEN) {
        AccountKind::Implicit
    } else if is_lower_hex(id, CONTRACT_ID_LEN) {
        AccountKind::Contract
    } else {
        AccountKind::Named
    })
}

/// The public key an implicit id stands for.
pub fn implicit_key(id: &str) -> Option<[u8; 32]> {
    if !is_lower_hex(id, IMPLICIT_ID_LEN) {
        return None;
    }
    crate::from_hex(id)?.try_into().ok()
}

/// The record `id` receives tokens into, given its stored record:
/// the stored one, or a new one for an implicit id (whose key is the id).
/// `None`: the receiver does not exist and cannot be created by a
/// transfer (a named account or a contract without a record, or an
/// invalid id). One rule for transfer transactions and contracts'
/// `transfer` (`docs/chain.md` §3.2).
pub fn receiving_account(id: &str, stored: Option<Account>) -> Option<Account> {
    match (account_kind(id).ok()?, stored) {
        (_, Some(account)) => Some(account),
        (AccountKind::Implicit, None) => Some(Account {
            public_key: implicit_key(id),
            ..Account::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_receivers() {
        let implicit = "ab".repeat(32);
        let contract = "cd".repeat(20);
        assert_eq!(account_kind(&implicit).unwrap(), AccountKind::Implicit);
        assert_eq!(account_kind(&contract).unwrap(), AccountKind::Contract);
        assert_eq!(account_kind("alice").unwrap(), AccountKind::Named);
        assert!(account_kind("no spaces").is_err());
        assert_eq!(implicit_key(&implicit), Some([0xab; 32]));
        let created = receiving_account(&implicit, None).unwrap();
        assert_eq!(created.public_key, Some([0xab; 32]));
        assert_eq!(receiving_account("alice", None), None);
        assert_eq!(receiving_account(&contract, None), None);
        let stored = Account {
            balance: 5,
            ..Account::default()
        };
        assert_eq!(
            receiving_account("alice", Some(stored.clone())),
            Some(stored)
        );
        assert_eq!(receiving_account("bad id", None), None);
    }
}
