//! What validators sign (`docs/network.md`, section 4): every message is
//! signed over a domain tag, the chain's genesis hash and the message's
//! borsh encoding, so a vote can neither be replayed on another chain nor
//! taken for another kind of message.

use async_trait::async_trait;
use borsh::BorshSerialize;
use ed25519_dalek::{Signer as _, SigningKey};
use malachitebft_core_types::{
    PublicKey as PublicKeyOf, Signature as SignatureOf, SignedMessage, ValidatorProof,
    VoteExtensionScope,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use sha2::{Digest, Sha256};

use crate::context::{
    Address, DetvmContext, Height, PrivateKey, Proposal, PublicKey, Signature, Vote,
};

/// Domain tags, one per kind of signed message.
const VOTE_DOMAIN: &[u8] = b"detvm/consensus/vote/v1\0";
const PROPOSAL_DOMAIN: &[u8] = b"detvm/consensus/proposal/v1\0";
const PARTS_DOMAIN: &[u8] = b"detvm/consensus/parts/v1\0";
const EXTENSION_DOMAIN: &[u8] = b"detvm/consensus/extension/v1\0";
const PEER_DOMAIN: &[u8] = b"detvm/consensus/peer/v1\0";

/// The bytes signed for `message` of a kind (`domain`) on the chain with
/// `genesis_hash`.
fn signing_bytes(domain: &[u8], genesis_hash: &[u8; 32], message: &impl BorshSerialize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(domain.len() + 32 + 128);
    bytes.extend_from_slice(domain);
    bytes.extend_from_slice(genesis_hash);
    // Writing to a Vec cannot fail.
    let _ = message.serialize(&mut bytes);
    bytes
}

/// The digest a proposer signs in the last part of a block's stream: the
/// height, round, proposer and the encoded block, so a relayed stream
/// cannot be altered or attributed to another proposer.
pub fn part_digest(
    genesis_hash: &[u8; 32],
    height: Height,
    round: malachitebft_core_types::Round,
    proposer: &Address,
    block_bytes: &[u8],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(PARTS_DOMAIN);
    hasher.update(genesis_hash);
    hasher.update(height.0.to_le_bytes());
    hasher.update(round.as_i64().to_le_bytes());
    hasher.update(proposer.0);
    hasher.update((block_bytes.len() as u64).to_le_bytes());
    hasher.update(block_bytes);
    hasher.finalize().into()
}

fn verify(public_key: &PublicKey, message: &[u8], signature: &Signature) -> VerificationResult {
    let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
    VerificationResult::from_bool(public_key.0.verify_strict(message, &signature).is_ok())
}

/// Verifies signatures of the chain with a given genesis hash.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    genesis_hash: [u8; 32],
}

impl ChainVerifier {
    /// A verifier for the chain with `genesis_hash`.
    pub fn new(genesis_hash: [u8; 32]) -> Self {
        Self { genesis_hash }
    }

    /// Whether `signature` is `public_key`'s over the block stream digest.
    pub fn verify_parts(
        &self,
        public_key: &PublicKey,
        digest: &[u8; 32],
        signature: &Signature,
    ) -> bool {
        verify(
            public_key,
            &signing_bytes(PARTS_DOMAIN, &self.genesis_hash, digest),
            signature,
        )
        .is_valid()
    }
}

#[async_trait]
impl Verifier<DetvmContext> for ChainVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &SignatureOf<DetvmContext>,
        public_key: &PublicKeyOf<DetvmContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(
            public_key,
            &signing_bytes(VOTE_DOMAIN, &self.genesis_hash, vote),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &SignatureOf<DetvmContext>,
        public_key: &PublicKeyOf<DetvmContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(
            public_key,
            &signing_bytes(PROPOSAL_DOMAIN, &self.genesis_hash, proposal),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<DetvmContext>,
        _extension: &(),
        signature: &SignatureOf<DetvmContext>,
        public_key: &PublicKeyOf<DetvmContext>,
    ) -> Result<VerificationResult, Error> {
        Ok(verify(
            public_key,
            &signing_bytes(EXTENSION_DOMAIN, &self.genesis_hash, &scope_bytes(scope)),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<DetvmContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verify(
            &PublicKey(key),
            &signing_bytes(
                PEER_DOMAIN,
                &self.genesis_hash,
                &(proof.public_key.clone(), proof.peer_id.clone()),
            ),
            &proof.signature,
        ))
    }
}

fn scope_bytes(scope: &VoteExtensionScope<DetvmContext>) -> (u64, i64, [u8; 32], [u8; 32]) {
    (
        scope.height.0,
        scope.round.as_i64(),
        scope.value_id.0,
        scope.validator_address.0,
    )
}

/// Signs as one validator of the chain with a given genesis hash.
#[derive(Clone)]
pub struct ValidatorSigner {
    key: SigningKey,
    verifier: ChainVerifier,
}

impl ValidatorSigner {
    /// A signer with `key` for the chain with `genesis_hash`.
    pub fn new(key: PrivateKey, genesis_hash: [u8; 32]) -> Self {
        Self {
            key: key.0,
            verifier: ChainVerifier::new(genesis_hash),
        }
    }

    /// This validator's address.
    pub fn address(&self) -> Address {
        Address(self.key.verifying_key().to_bytes())
    }

    /// This validator's public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    fn sign(&self, domain: &[u8], message: &impl BorshSerialize) -> Signature {
        let bytes = signing_bytes(domain, &self.verifier.genesis_hash, message);
        Signature(self.key.sign(&bytes).to_bytes())
    }

    /// Signs the digest of a block stream ([`part_digest`]).
    pub fn sign_parts(&self, digest: &[u8; 32]) -> Signature {
        self.sign(PARTS_DOMAIN, digest)
    }
}

#[async_trait]
impl Signer<DetvmContext> for ValidatorSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<DetvmContext, Vote>, Error> {
        let signature = self.sign(VOTE_DOMAIN, &vote);
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<DetvmContext, Proposal>, Error> {
        let signature = self.sign(PROPOSAL_DOMAIN, &proposal);
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<DetvmContext>,
        extension: (),
    ) -> Result<SignedMessage<DetvmContext, ()>, Error> {
        let signature = self.sign(EXTENSION_DOMAIN, &scope_bytes(&scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<DetvmContext>, Error> {
        let signature = self.sign(PEER_DOMAIN, &(public_key.clone(), peer_id.clone()));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}
