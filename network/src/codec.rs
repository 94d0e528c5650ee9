//! The wire and write-ahead-log encoding of every consensus message
//! (`docs/network.md`, section 5): borsh, canonical and length-prefixed,
//! through the encodings Malachite's types carry under its `borsh`
//! feature. Decoding is strict: trailing bytes, bad lengths, an invalid
//! curve point or an unknown variant are errors, never a panic.

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use malachitebft_codec::{Codec, HasEncodedLen};
use malachitebft_core_consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, SignedMessage,
    ValidatorProof,
};
use malachitebft_engine::util::streaming::StreamMessage;
use malachitebft_sync as sync;

use crate::context::{Address, BlockId, DetvmContext, Height, ProposalPart, Signature};

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode a {what}: {source}")]
pub struct DecodeError {
    what: &'static str,
    #[source]
    source: std::io::Error,
}

/// The codec of every message detvm's validators exchange or log.
#[derive(Debug, Clone, Copy, Default)]
pub struct BorshCodec;

fn encode<T: BorshSerialize>(what: &'static str, value: &T) -> Result<Bytes, DecodeError> {
    borsh::to_vec(value)
        .map(Bytes::from)
        .map_err(|source| DecodeError { what, source })
}

fn decode<T: BorshDeserialize>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    borsh::from_slice(bytes).map_err(|source| DecodeError { what, source })
}

macro_rules! borsh_codec {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl Codec<$ty> for BorshCodec {
            type Error = DecodeError;

            fn decode(&self, bytes: Bytes) -> Result<$ty, DecodeError> {
                decode($what, &bytes)
            }

            fn encode(&self, msg: &$ty) -> Result<Bytes, DecodeError> {
                encode($what, msg)
            }
        }
    )*};
}

borsh_codec! {
    ProposalPart => "proposal part",
    SignedConsensusMsg<DetvmContext> => "consensus message",
    LivenessMsg<DetvmContext> => "liveness message",
    StreamMessage<ProposalPart> => "proposal stream message",
    ProposedValue<DetvmContext> => "proposed value",
    PolkaCertificate<DetvmContext> => "polka certificate",
    sync::Status<DetvmContext> => "sync status",
    sync::Request<DetvmContext> => "sync request",
}

/// The encoded form of a sync response. Malachite 0.8.2 gives the
/// certificate inside it no borsh encoding, so it is written out here:
/// per decided block its bytes and the commit certificate, each commit
/// signature with its (always empty here) vote extension's signature.
#[derive(BorshSerialize, BorshDeserialize)]
struct ResponseWire {
    start_height: Height,
    values: Vec<DecidedWire>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct DecidedWire {
    value_bytes: Vec<u8>,
    height: Height,
    round: Round,
    value_id: BlockId,
    signatures: Vec<(Address, Signature, Option<Signature>)>,
}

fn response_wire(msg: &sync::Response<DetvmContext>) -> ResponseWire {
    let sync::Response::ValueResponse(response) = msg;
    ResponseWire {
        start_height: response.start_height,
        values: response
            .values
            .iter()
            .map(|value| DecidedWire {
                value_bytes: value.value_bytes.to_vec(),
                height: value.certificate.height,
                round: value.certificate.round,
                value_id: value.certificate.value_id,
                signatures: value
                    .certificate
                    .commit_signatures
                    .iter()
                    .map(|s| {
                        (
                            s.address,
                            s.signature,
                            s.extension.as_ref().map(|e| e.signature),
                        )
                    })
                    .collect(),
            })
            .collect(),
    }
}

impl Codec<sync::Response<DetvmContext>> for BorshCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<sync::Response<DetvmContext>, DecodeError> {
        let wire: ResponseWire = decode("sync response", &bytes)?;
        let values = wire
            .values
            .into_iter()
            .map(|value| sync::RawDecidedValue {
                value_bytes: Bytes::from(value.value_bytes),
                certificate: ExtendedCommitCertificate {
                    height: value.height,
                    round: value.round,
                    value_id: value.value_id,
                    commit_signatures: value
                        .signatures
                        .into_iter()
                        .map(|(address, signature, extension)| ExtendedCommitSignature {
                            address,
                            signature,
                            extension: extension.map(|signature| SignedMessage {
                                message: (),
                                signature,
                            }),
                        })
                        .collect(),
                },
            })
            .collect();
        Ok(sync::Response::ValueResponse(sync::ValueResponse {
            start_height: wire.start_height,
            values,
        }))
    }

    fn encode(&self, msg: &sync::Response<DetvmContext>) -> Result<Bytes, DecodeError> {
        encode("sync response", &response_wire(msg))
    }
}

impl HasEncodedLen<sync::Response<DetvmContext>> for BorshCodec {
    fn encoded_len(&self, msg: &sync::Response<DetvmContext>) -> Result<usize, DecodeError> {
        borsh::object_length(&response_wire(msg)).map_err(|source| DecodeError {
            what: "sync response",
            source,
        })
    }
}

/// The encoded form of a validator proof (Malachite gives it no borsh
/// encoding of its own).
#[derive(BorshSerialize, BorshDeserialize)]
struct ProofWire {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

impl Codec<ValidatorProof<DetvmContext>> for BorshCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<DetvmContext>, DecodeError> {
        let wire: ProofWire = decode("validator proof", &bytes)?;
        Ok(ValidatorProof::new(
            wire.public_key,
            wire.peer_id,
            wire.signature,
        ))
    }

    fn encode(&self, msg: &ValidatorProof<DetvmContext>) -> Result<Bytes, DecodeError> {
        encode(
            "validator proof",
            &ProofWire {
                public_key: msg.public_key.clone(),
                peer_id: msg.peer_id.clone(),
                signature: msg.signature,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use malachitebft_core_types::{
        CommitCertificate, CommitSignature, NilOrVal, SignedMessage, VoteType,
    };
    use malachitebft_sync::{RawDecidedValue, ValueResponse};

    use super::*;
    use crate::context::Vote;

    fn vote() -> SignedConsensusMsg<DetvmContext> {
        SignedConsensusMsg::Vote(SignedMessage::new(
            Vote {
                vote_type: VoteType::Precommit,
                height: Height(7),
                round: Round::new(2),
                value: NilOrVal::Val(BlockId([3; 32])),
                validator: Address([9; 32]),
            },
            Signature([5; 64]),
        ))
    }

    fn response() -> sync::Response<DetvmContext> {
        sync::Response::ValueResponse(ValueResponse::new(
            Height(4),
            vec![RawDecidedValue::new(
                Bytes::from_static(b"block"),
                ExtendedCommitCertificate {
                    height: Height(4),
                    round: Round::new(0),
                    value_id: BlockId([1; 32]),
                    commit_signatures: vec![ExtendedCommitSignature {
                        address: Address([2; 32]),
                        signature: Signature([4; 64]),
                        extension: None,
                    }],
                },
            )],
        ))
    }

    #[test]
    fn messages_round_trip() {
        let codec = BorshCodec;
        let bytes = codec.encode(&vote()).unwrap();
        assert_eq!(
            Codec::<SignedConsensusMsg<_>>::decode(&codec, bytes).unwrap(),
            vote()
        );
        let bytes = codec.encode(&response()).unwrap();
        assert_eq!(
            codec.encoded_len(&response()).unwrap(),
            bytes.len(),
            "the announced length is the encoding's"
        );
        assert_eq!(
            Codec::<sync::Response<_>>::decode(&codec, bytes).unwrap(),
            response()
        );
        let part = ProposalPart::Data(vec![1, 2, 3]);
        let bytes = codec.encode(&part).unwrap();
        assert_eq!(Codec::<ProposalPart>::decode(&codec, bytes).unwrap(), part);
        let certificate = CommitCertificate::<DetvmContext> {
            height: Height(1),
            round: Round::new(0),
            value_id: BlockId([8; 32]),
            commit_signatures: vec![CommitSignature::new(Address([1; 32]), Signature([2; 64]))],
        };
        let bytes = borsh::to_vec(&certificate).unwrap();
        assert_eq!(
            borsh::from_slice::<CommitCertificate<DetvmContext>>(&bytes).unwrap(),
            certificate
        );
    }

    #[test]
    fn bad_bytes_are_an_error_never_a_panic() {
        let codec = BorshCodec;
        let good = codec.encode(&vote()).unwrap();
        // Every truncation, and one trailing byte, is refused.
        for len in 0..good.len() {
            assert!(Codec::<SignedConsensusMsg<_>>::decode(&codec, good.slice(..len)).is_err());
        }
        let mut longer = good.to_vec();
        longer.push(0);
        assert!(Codec::<SignedConsensusMsg<_>>::decode(&codec, Bytes::from(longer)).is_err());
        // Arbitrary bytes (a fixed pseudo-random sequence) for every type.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2_000 {
            let bytes: Vec<u8> = (0..(round % 300))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let bytes = Bytes::from(bytes);
            let _ = Codec::<SignedConsensusMsg<DetvmContext>>::decode(&codec, bytes.clone());
            let _ = Codec::<LivenessMsg<DetvmContext>>::decode(&codec, bytes.clone());
            let _ = Codec::<StreamMessage<ProposalPart>>::decode(&codec, bytes.clone());
            let _ = Codec::<ProposedValue<DetvmContext>>::decode(&codec, bytes.clone());
            let _ = Codec::<sync::Request<DetvmContext>>::decode(&codec, bytes.clone());
            let _ = Codec::<sync::Response<DetvmContext>>::decode(&codec, bytes.clone());
            let _ = Codec::<ValidatorProof<DetvmContext>>::decode(&codec, bytes);
        }
        // A length prefix claiming 4 GiB of parts does not allocate them.
        let huge = Bytes::from(vec![2, 0xff, 0xff, 0xff, 0xff]);
        assert!(Codec::<ProposalPart>::decode(&codec, huge).is_err());
    }
}
