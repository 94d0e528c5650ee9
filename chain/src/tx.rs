//! Transactions: what they say, how they are signed and hashed
//! (`docs/chain.md`, section 3).

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::keys::{Keypair, verify_signature};

/// The domain tag in front of every signed transaction encoding.
pub const TX_DOMAIN: &[u8] = b"detvm/tx/v1\0";

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Action {
    /// Deploys a contract; the signer is its deployer.
    Deploy {
        /// Binary Wasm.
        code: Vec<u8>,
    },
    /// Calls a contract's method.
    Call {
        /// The contract id.
        contract: String,
        /// The method (an export of type `[] -> []`).
        method: String,
        /// The call's input (borsh, by convention).
        args: Vec<u8>,
        /// Moved from the signer to the contract if the call returns.
        amount: u128,
    },
    /// Moves native tokens.
    Transfer {
        /// The receiving account.
        to: String,
        /// How much.
        amount: u128,
    },
}

impl Action {
    /// The tokens the action moves out of the signer's balance.
    pub fn amount(&self) -> u128 {
        match self {
            Self::Deploy { .. } => 0,
            Self::Call { amount, .. } | Self::Transfer { amount, .. } => *amount,
        }
    }

    /// A stable name: `deploy`, `call`, `transfer`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Deploy { .. } => "deploy",
            Self::Call { .. } => "call",
            Self::Transfer { .. } => "transfer",
        }
    }
}

/// An unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The chain it is meant for.
    pub chain_id: String,
    /// The sending account.
    pub signer: String,
    /// The signer's public key.
    pub public_key: [u8; 32],
    /// Must equal the signer's account nonce.
    pub nonce: u64,
    /// Most gas the transaction may use, intrinsic gas included.
    pub gas_limit: u64,
    /// What it does.
    pub action: Action,
}

impl Transaction {
    /// The bytes that are signed: the domain tag, then the borsh encoding.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = TX_DOMAIN.to_vec();
        // Writing borsh into a Vec cannot fail.
        let _ = BorshSerialize::serialize(self, &mut bytes);
        bytes
    }

    /// SHA-256 of the signing bytes: the transaction hash.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.signing_bytes()).into()
    }

    /// Signs with `key` (which should be the signer's key).
    pub fn sign(self, key: &Keypair) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction {
            transaction: self,
            signature,
        }
    }
}

/// A transaction and its signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub transaction: Transaction,
    /// ed25519 over [`Transaction::signing_bytes`].
    pub signature: [u8; 64],
}

/// Why bytes are not a signed transaction.
#[derive(Debug, thiserror::Error)]
#[error("not a signed transaction: {0}")]
pub struct DecodeError(String);

impl SignedTransaction {
    /// The borsh encoding, as sent to a node.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes [`Self::encode`]'s output; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::try_from_slice(bytes).map_err(|e| DecodeError(e.to_string()))
    }

    /// The transaction hash.
    pub fn hash(&self) -> [u8; 32] {
        self.transaction.hash()
    }

    /// Encoded size in bytes.
    pub fn size(&self) -> usize {
        self.encode().len()
    }

    /// Whether the signature is the public key's over the signing bytes.
    pub fn signature_valid(&self) -> bool {
        verify_signature(
            &self.transaction.public_key,
            &self.transaction.signing_bytes(),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(key: &Keypair) -> Transaction {
        Transaction {
            chain_id: "test".into(),
            signer: key.implicit_id(),
            public_key: key.public_key(),
            nonce: 0,
            gas_limit: 100_000,
            action: Action::Transfer {
                to: "bob".into(),
                amount: 5,
            },
        }
    }

    #[test]
    fn encoding_round_trips_and_hash_ignores_the_signature() {
        let key = Keypair::dev(0);
        let signed = transfer(&key).sign(&key);
        let bytes = signed.encode();
        assert_eq!(SignedTransaction::decode(&bytes).unwrap(), signed);
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SignedTransaction::decode(&extra).is_err());
        assert!(SignedTransaction::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut forged = signed.clone();
        forged.signature[0] ^= 1;
        assert_eq!(forged.hash(), signed.hash());
        assert!(signed.signature_valid());
        assert!(!forged.signature_valid());
    }

    #[test]
    fn the_chain_id_and_every_field_are_signed() {
        let key = Keypair::dev(0);
        let signed = transfer(&key).sign(&key);
        let mut other_chain = signed.clone();
        other_chain.transaction.chain_id = "other".into();
        assert!(!other_chain.signature_valid());
        let mut other_nonce = signed.clone();
        other_nonce.transaction.nonce = 1;
        assert!(!other_nonce.signature_valid());
        assert_ne!(other_nonce.hash(), signed.hash());
    }
}
