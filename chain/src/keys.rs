//! Account keys (ed25519) and the kinds of account ids (`docs/chain.md`,
//! section 1).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Error;

pub use detvm_host::{AccountKind, CONTRACT_ID_LEN, IMPLICIT_ID_LEN, implicit_key};

/// The kind of a valid account id, or an error if the id is invalid.
pub fn account_kind(id: &str) -> Result<AccountKind, Error> {
    detvm_host::account_kind(id).map_err(|_| Error::InvalidAccount(id.to_owned()))
}

/// An ed25519 key pair.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Keypair")
            .field("public_key", &detvm_host::hex(&self.public_key()))
            .finish()
    }
}

impl Keypair {
    /// The key pair of a 32-byte secret seed (RFC 8032's secret key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The secret seed.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The implicit account id of this key.
    pub fn implicit_id(&self) -> String {
        detvm_host::hex(&self.public_key())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The `index`-th development key: derived from a fixed tag, so every
    /// `detvm node --dev` has the same prefunded accounts. Never use them
    /// for anything of value.
    pub fn dev(index: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"detvm/dev-key/v1\0");
        hasher.update(index.to_le_bytes());
        Self::from_seed(hasher.finalize().into())
    }
}

/// Checks an ed25519 signature strictly (no malleable or small-order
/// encodings, `docs/chain.md` section 1).
pub fn verify_signature(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &signature).is_ok()
}

/// Parses 64 hex digits (either case) into 32 bytes.
pub fn parse_key_hex(text: &str) -> Option<[u8; 32]> {
    implicit_key(&text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_id_shape() {
        let key = Keypair::dev(0);
        assert_eq!(
            account_kind(&key.implicit_id()).unwrap(),
            AccountKind::Implicit
        );
        assert_eq!(
            account_kind(&"ab".repeat(20)).unwrap(),
            AccountKind::Contract
        );
        assert_eq!(account_kind("alice").unwrap(), AccountKind::Named);
        // Upper-case hex is a named id, not an implicit one.
        assert_eq!(account_kind(&"AB".repeat(32)).unwrap(), AccountKind::Named);
        assert!(account_kind("").is_err());
        assert!(account_kind("a b").is_err());
        assert_eq!(implicit_key(&key.implicit_id()), Some(key.public_key()));
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let (a, b) = (Keypair::dev(1), Keypair::dev(2));
        assert_ne!(a.public_key(), b.public_key());
        let sig = a.sign(b"hello");
        assert!(verify_signature(&a.public_key(), b"hello", &sig));
        assert!(!verify_signature(&b.public_key(), b"hello", &sig));
        assert!(!verify_signature(&a.public_key(), b"hellp", &sig));
        let mut bad = sig;
        bad[3] ^= 1;
        assert!(!verify_signature(&a.public_key(), b"hello", &bad));
        // Not a curve point: refused, not a panic.
        assert!(!verify_signature(&[0xff; 32], b"hello", &sig));
    }
}
