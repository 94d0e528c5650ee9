//! detvm's types as Malachite sees them (`docs/network.md`, section 2):
//! heights, validator addresses, the decided value (a block's hash),
//! votes, proposals and the parts that carry a block, the validator set
//! and the ed25519 signing scheme.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use malachitebft_core_types::{
    self as mt, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};

/// A block height; the genesis block is 0, so consensus starts at 1.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mt::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: its ed25519 public key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

/// The first 8 bytes in hex: enough to tell keys and blocks apart in logs.
fn short_hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    bytes[..8].iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        short_hex(&self.0, f)
    }
}

impl mt::Address for Address {}

/// What consensus decides: the hash of a block. The block itself travels
/// in proposal parts and through sync.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct BlockId(pub [u8; 32]);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        short_hex(&self.0, f)
    }
}

impl mt::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// An ed25519 signature.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Signature(pub [u8; 64]);

/// An ed25519 public key, checked to be a valid curve point when decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(pub ed25519_dalek::VerifyingKey);

/// A validator's signing key.
#[derive(Clone)]
pub struct PrivateKey(pub ed25519_dalek::SigningKey);

/// The error of decoding a key or a signature.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Ed25519 with strict verification (as for transactions, `docs/chain.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519;

impl mt::SigningScheme for Ed25519 {
    type DecodingError = KeyError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, KeyError> {
        <[u8; 64]>::try_from(bytes)
            .map(Signature)
            .map_err(|_| KeyError(format!("a signature is 64 bytes, not {}", bytes.len())))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let bytes = <[u8; 32]>::try_from(bytes)
            .map_err(|_| KeyError(format!("a public key is 32 bytes, not {}", bytes.len())))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| KeyError(e.to_string()))
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_bytes().to_vec()
    }
}

/// A prevote or precommit. Vote extensions are not used: a vote never
/// carries one, and one that does is not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The height voted at.
    pub height: Height,
    /// The round voted in.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// Who votes.
    pub validator: Address,
}

impl BorshSerialize for Vote {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        self.vote_type.serialize(writer)?;
        self.height.serialize(writer)?;
        self.round.serialize(writer)?;
        self.value.serialize(writer)?;
        self.validator.serialize(writer)
    }
}

impl BorshDeserialize for Vote {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        Ok(Vote {
            vote_type: VoteType::deserialize_reader(reader)?,
            height: Height::deserialize_reader(reader)?,
            round: Round::deserialize_reader(reader)?,
            value: NilOrVal::deserialize_reader(reader)?,
            validator: Address::deserialize_reader(reader)?,
        })
    }
}

impl mt::Vote<DetvmContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<DetvmContext>> {
        None
    }

    fn take_extension(&mut self) -> Option<SignedExtension<DetvmContext>> {
        None
    }

    fn extend(self, _extension: SignedExtension<DetvmContext>) -> Self {
        self
    }
}

/// A proposal: the proposer offers a block (by hash) at a height and
/// round; `pol_round` is the round of the proof of lock it re-proposes
/// under, or nil.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block's hash.
    pub value: BlockId,
    /// The proof-of-lock round, or nil.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mt::Proposal<DetvmContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// A piece of a proposed block as it is streamed to the other validators
/// (`docs/network.md`, section 3): the first part names the height, round
/// and proposer, the middle parts carry the encoded block in chunks, the
/// last part carries the proposer's signature over all of it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    /// Opens the stream.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The proof-of-lock round, or nil.
        pol_round: Round,
        /// The proposer.
        proposer: Address,
    },
    /// A chunk of the borsh-encoded block.
    Data(Vec<u8>),
    /// Closes the stream: the proposer's signature over
    /// [`crate::signing::part_digest`] of the stream.
    Fin(Signature),
    /// Not part of a proposal: transactions a node's clients sent, passed
    /// to every other node's mempool (`docs/network.md`, section 3), in a
    /// stream of one message.
    Transactions(Vec<Vec<u8>>),
}

impl mt::ProposalPart<DetvmContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// A validator: its key and voting power.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// Its address (the public key's bytes).
    pub address: Address,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub voting_power: VotingPower,
}

impl mt::Validator<DetvmContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validator set, sorted by address so every node indexes it alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

impl ValidatorSet {
    /// A set of `validators` (sorted by address; a duplicate address keeps
    /// only its first entry; zero voting power is left out).
    pub fn new(mut validators: Vec<Validator>) -> Self {
        validators.retain(|v| v.voting_power > 0);
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        Self { validators }
    }

    /// The validators, by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The set a genesis lists (`docs/network.md`, section 2).
    pub fn from_genesis(genesis: &detvm_chain::Genesis) -> Result<Self, detvm_chain::Error> {
        let validators = genesis
            .validator_set()?
            .into_iter()
            .map(|(key, power)| {
                // `validator_set` only returns valid curve points.
                let public_key = ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|e| detvm_chain::Error::Genesis(e.to_string()))?;
                Ok(Validator {
                    address: Address(key),
                    public_key: PublicKey(public_key),
                    voting_power: power,
                })
            })
            .collect::<Result<Vec<_>, detvm_chain::Error>>()?;
        Ok(Self::new(validators))
    }
}

impl mt::ValidatorSet<DetvmContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators
            .iter()
            .map(|v| v.voting_power)
            .fold(0, u64::saturating_add)
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The Malachite context of a detvm chain.
#[derive(Debug, Clone, Default)]
pub struct DetvmContext;

/// The proposer of `round` at `height` (`docs/network.md`, section 2):
/// round robin over the validator set sorted by address, starting at
/// `height + round`. Voting power does not weigh the choice.
pub fn proposer_index(count: usize, height: Height, round: Round) -> usize {
    let round = u64::from(round.as_u32().unwrap_or(0));
    (height.0.wrapping_add(round) % count.max(1) as u64) as usize
}

impl mt::Context for DetvmContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        // Consensus never starts a height with an empty set (the genesis
        // is refused without validators), so the index exists.
        &validator_set.validators[proposer_index(validator_set.validators.len(), height, round)]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
        }
    }
}
