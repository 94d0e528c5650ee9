//! Chain parameters and the genesis file (`docs/chain.md`, section 2).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::keys::{AccountKind, Keypair, account_kind, implicit_key, parse_key_hex};
use crate::state::Account;

/// The parameters every node of a chain agrees on, stored at
/// `chain/params`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainParams {
    /// The chain's name, signed into every transaction.
    pub chain_id: String,
    /// Tokens per unit of gas.
    pub gas_price: u128,
    /// Gas every transaction pays first.
    pub tx_base_gas: u64,
    /// Gas per byte of the encoded signed transaction.
    pub tx_byte_gas: u64,
    /// Gas of a transfer beyond the intrinsic gas.
    pub transfer_gas: u64,
    /// Largest encoded signed transaction.
    pub max_tx_bytes: u32,
    /// Most gas (sum of gas limits) in one block.
    pub block_gas_limit: u64,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// A development chain: blocks may carry direct state changes (dev
    /// cheats) and unsigned transactions are accepted from any account
    /// (`docs/chain.md`, section 8). Never set on a real network.
    pub dev: bool,
    /// `ConsensusConfig::hash()` of the configuration contracts run under
    /// (gas schedule, host fees, size limits, stack configuration).
    pub consensus_config_hash: [u8; 32],
}

/// The tunable part of [`ChainParams`] as written in a genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenesisParams {
    /// Tokens per unit of gas (decimal string).
    pub gas_price: String,
    /// See [`ChainParams::tx_base_gas`].
    pub tx_base_gas: u64,
    /// See [`ChainParams::tx_byte_gas`].
    pub tx_byte_gas: u64,
    /// See [`ChainParams::transfer_gas`].
    pub transfer_gas: u64,
    /// See [`ChainParams::max_tx_bytes`].
    pub max_tx_bytes: u32,
    /// See [`ChainParams::block_gas_limit`].
    pub block_gas_limit: u64,
    /// See [`ChainParams::max_block_txs`].
    pub max_block_txs: u32,
    /// See [`ChainParams::dev`].
    pub dev: bool,
}

impl Default for GenesisParams {
    fn default() -> Self {
        Self {
            gas_price: "1".into(),
            tx_base_gas: 20_000,
            tx_byte_gas: 10,
            transfer_gas: 5_000,
            max_tx_bytes: 4_300_000,
            block_gas_limit: 10_000_000_000_000,
            max_block_txs: 10_000,
            dev: false,
        }
    }
}

/// One genesis allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account id.
    pub id: String,
    /// Its balance (decimal string).
    pub balance: String,
    /// Its ed25519 public key, 64 hex digits (implicit accounts may omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// A genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id.
    pub chain_id: String,
    /// Timestamp of block 0, nanoseconds.
    #[serde(default)]
    pub timestamp_ns: u64,
    /// Chain parameters.
    #[serde(default)]
    pub params: GenesisParams,
    /// Allocations.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// The validators of a network (`docs/network.md`); empty for a chain
    /// run by a single node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<GenesisValidator>,
}

/// One validator of a network's genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Its voting power, at least 1.
    pub power: u64,
}

/// Number of development accounts of [`Genesis::dev`].
pub const DEV_ACCOUNTS: u32 = 10;
/// Balance of each development account: 10⁹ tokens of 10²⁴ base units.
pub const DEV_BALANCE: u128 = 1_000_000_000 * 10u128.pow(24);

fn parse_amount(text: &str, what: &str) -> Result<u128, Error> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Genesis(format!(
            "{what} `{text}` is not a decimal amount"
        )));
    }
    text.parse::<u128>()
        .map_err(|_| Error::Genesis(format!("{what} `{text}` does not fit in u128")))
}

impl Genesis {
    /// The development chain: chain id `detvm-dev`, [`DEV_ACCOUNTS`]
    /// implicit accounts of [`Keypair::dev`] keys with [`DEV_BALANCE`] each.
    pub fn dev() -> Self {
        Self {
            chain_id: "detvm-dev".into(),
            timestamp_ns: 0,
            params: GenesisParams {
                dev: true,
                ..GenesisParams::default()
            },
            accounts: (0..DEV_ACCOUNTS)
                .map(|i| GenesisAccount {
                    id: Keypair::dev(i).implicit_id(),
                    balance: DEV_BALANCE.to_string(),
                    public_key: None,
                })
                .collect(),
            validators: Vec::new(),
        }
    }

    /// The chain of the command line's state directories (`detvm deploy`,
    /// `call`, `view` with `--state`): chain id `detvm-local`, a dev chain
    /// (unsigned transactions from any account) with no fees and no
    /// intrinsic gas, so a transaction's gas is its action's alone.
    pub fn local() -> Self {
        Self {
            chain_id: "detvm-local".into(),
            timestamp_ns: 0,
            params: GenesisParams {
                gas_price: "0".into(),
                tx_base_gas: 0,
                tx_byte_gas: 0,
                dev: true,
                ..GenesisParams::default()
            },
            accounts: Vec::new(),
            validators: Vec::new(),
        }
    }

    /// Parses a genesis file.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::Genesis(e.to_string()))
    }

    /// The file's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the file and returns its parameters and accounts, in id
    /// order.
    pub fn resolve(&self) -> Result<(ChainParams, Vec<(String, Account)>), Error> {
        let chain_id_ok = !self.chain_id.is_empty()
            && self.chain_id.len() <= 64
            && detvm_host::check_account(&self.chain_id).is_ok();
        if !chain_id_ok {
            return Err(Error::Genesis(format!(
                "chain id `{}`: 1 to 64 characters of A-Z a-z 0-9 . _ -",
                self.chain_id
            )));
        }
        let p = &self.params;
        let params = ChainParams {
            chain_id: self.chain_id.clone(),
            gas_price: parse_amount(&p.gas_price, "gas_price")?,
            tx_base_gas: p.tx_base_gas,
            tx_byte_gas: p.tx_byte_gas,
            transfer_gas: p.transfer_gas,
            max_tx_bytes: p.max_tx_bytes,
            block_gas_limit: p.block_gas_limit,
            max_block_txs: p.max_block_txs,
            dev: p.dev,
            consensus_config_hash: detvm_host::ConsensusConfig::default().hash(),
        };
        let mut accounts = std::collections::BTreeMap::new();
        let mut total: u128 = 0;
        for a in &self.accounts {
            let kind = account_kind(&a.id).map_err(|e| Error::Genesis(e.to_string()))?;
            let given = match &a.public_key {
                None => None,
                Some(hex) => Some(parse_key_hex(hex).ok_or_else(|| {
                    Error::Genesis(format!(
                        "account `{}`: public key is not 64 hex digits",
                        a.id
                    ))
                })?),
            };
            let public_key = match kind {
                AccountKind::Contract => {
                    return Err(Error::Genesis(format!(
                        "account `{}` has the form of a contract id",
                        a.id
                    )));
                }
                AccountKind::Implicit => {
                    let own = implicit_key(&a.id);
                    if given.is_some() && given != own {
                        return Err(Error::Genesis(format!(
                            "implicit account `{}` given another key",
                            a.id
                        )));
                    }
                    own
                }
                AccountKind::Named => given,
            };
            let balance = parse_amount(&a.balance, &format!("balance of `{}`", a.id))?;
            total = total
                .checked_add(balance)
                .ok_or_else(|| Error::Genesis("the balances add up to more than u128".into()))?;
            let account = Account {
                balance,
                nonce: 0,
                public_key,
            };
            if accounts.insert(a.id.clone(), account).is_some() {
                return Err(Error::Genesis(format!("account `{}` listed twice", a.id)));
            }
        }
        Ok((params, accounts.into_iter().collect()))
    }

    /// The validator set: public keys and voting powers, in key order.
    /// Keys must be valid ed25519 points, listed once, with power at
    /// least 1 and a total that fits in `u64`.
    pub fn validator_set(&self) -> Result<Vec<([u8; 32], u64)>, Error> {
        let mut set = std::collections::BTreeMap::new();
        let mut total: u64 = 0;
        for v in &self.validators {
            let key = parse_key_hex(&v.public_key)
                .filter(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
                .ok_or_else(|| {
                    Error::Genesis(format!(
                        "validator key `{}` is not an ed25519 public key in 64 hex digits",
                        v.public_key
                    ))
                })?;
            if v.power == 0 {
                return Err(Error::Genesis(format!(
                    "validator `{}` has no voting power",
                    v.public_key
                )));
            }
            total = total.checked_add(v.power).ok_or_else(|| {
                Error::Genesis("the voting powers add up to more than u64".into())
            })?;
            if set.insert(key, v.power).is_some() {
                return Err(Error::Genesis(format!(
                    "validator `{}` listed twice",
                    v.public_key
                )));
            }
        }
        Ok(set.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_commit_to_the_consensus_configuration() {
        let (params, _) = Genesis::dev().resolve().expect("the dev genesis resolves");
        assert_eq!(
            params.consensus_config_hash,
            detvm_host::ConsensusConfig::default().hash()
        );
        // docs/chain.md lists the hash as the last field of the encoding.
        let bytes = borsh::to_vec(&params).expect("encodes");
        assert!(bytes.ends_with(&params.consensus_config_hash));
        assert_eq!(
            ChainParams::try_from_slice(&bytes).expect("decodes"),
            params
        );
    }
}
