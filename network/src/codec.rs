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
