//! The application side of consensus (`docs/network.md`, sections 3 and
//! 6): answers Malachite's requests by building, verifying and committing
//! blocks on the node's executor, streams this validator's proposals, and
//! reassembles and checks everyone else's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use detvm_chain::Block;
use detvm_node::{Executor, NodeError};
use malachitebft_app_channel::app::config::NodeConfig;
use malachitebft_app_channel::app::consensus::VoteExtensionError;
use malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, HeightParams,
    LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{Keypair, LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkMsg,
    RequestContext, SyncContext, WalContext,
};
use malachitebft_config::{ConsensusConfig, P2pConfig, ValueSyncConfig};
use malachitebft_signing::Signer as _;
use tracing::{debug, warn};

use crate::codec::BorshCodec;
use crate::context::{
    Address, BlockId, DetvmContext, Height, PrivateKey, ProposalPart, ValidatorSet, proposer_index,
};
use crate::signing::{ChainVerifier, ValidatorSigner, part_digest};
use crate::store::CertificateStore;

/// Bytes of a block per proposal part.
pub const PART_BYTES: usize = 128 << 10;
/// Most proposal streams reassembled at once; the oldest is dropped.
pub const MAX_STREAMS: usize = 64;
/// Most bytes one stream may buffer before it is dropped.
pub const MAX_STREAM_BYTES: usize = 64 << 20;
/// Most decided blocks served in one sync response.
pub const MAX_SYNC_BATCH: u64 = 100;
/// Most transactions passed on in one message.
pub const MAX_GOSSIP_TXS: usize = 1_000;
/// Most bytes of transactions passed on in one message.
pub const MAX_GOSSIP_BYTES: usize = 1 << 20;

/// Why the network could not start or went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The certificate store failed.
    #[error("certificate store: {0}")]
    Store(String),
    /// The consensus engine failed to start.
    #[error("consensus engine: {0}")]
    Engine(String),
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The address to listen for peers on cannot be listened on (another
    /// process listens there, or it is not this machine's).
    #[error("cannot listen for peers on {address}: {source}")]
    Listen {
        /// The configured address.
        address: String,
        /// Why binding it failed.
        source: std::io::Error,
    },
}

/// How one node takes part in the network.
#[derive(Clone)]
pub struct NetworkConfig {
    /// A name in logs.
    pub moniker: String,
    /// The validator key; `None` for a full node, which follows without
    /// voting.
    pub key: Option<PrivateKey>,
    /// The network key of a full node (validators use their validator key).
    pub node_key: [u8; 32],
    /// The validators.
    pub validators: ValidatorSet,
    /// The chain's genesis hash (signatures are bound to it).
    pub genesis_hash: [u8; 32],
    /// Where this node listens for peers, a libp2p address such as
    /// `/ip4/127.0.0.1/tcp/26656`.
    pub listen: String,
    /// Peers to keep connected to.
    pub peers: Vec<String>,
    /// Directory of the engine's write-ahead log and the certificates.
    pub home: PathBuf,
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
    /// The least time a height takes, so an idle chain makes a block per
    /// this interval instead of as fast as the network allows; `None`:
    /// as fast as possible.
    pub block_time: Option<Duration>,
    /// Test only: this validator proposes invalid blocks (a Byzantine
    /// proposer), signed as its own.
    pub fault: Option<Fault>,
}

/// How a Byzantine proposer (tests only) spoils the blocks it proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A state root other than the one its transactions lead to.
    WrongStateRoot,
    /// An extra transaction with a forged signature, the transaction root
    /// recomputed to include it, so only executing the block finds it.
    InvalidTransaction,
}

/// Malachite's node configuration, from ours.
#[derive(Clone)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn multiaddr(text: &str) -> Result<malachitebft_app_channel::app::net::Multiaddr, NetworkError> {
    text.parse()
        .map_err(|e| NetworkError::Config(format!("`{text}` is not a peer address: {e}")))
}

/// Refuses a TCP listen address that another socket already listens on.
/// The engine binds its listener with port reuse and, when binding fails
/// anyway, only logs it: either way the node would run without hearing
/// its peers. The probe binds as a plain listener would (address reuse,
/// so a restart on the same port is not refused for connections still
/// closing) and lets go at once; addresses of other transports are left
/// to the engine.
fn check_listen(listen: &str) -> Result<(), NetworkError> {
    let parts: Vec<&str> = listen.split('/').collect();
    let find = |name: &str| {
        parts
            .windows(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1])
    };
    let ip = find("ip4").or_else(|| find("ip6"));
    let (Some(ip), Some(port)) = (ip, find("tcp")) else {
        return Ok(());
    };
    let (Ok(ip), Ok(port)) = (ip.parse::<std::net::IpAddr>(), port.parse::<u16>()) else {
        return Ok(());
    };
    std::net::TcpListener::bind((ip, port))
        .map(drop)
        .map_err(|source| NetworkError::Listen {
            address: listen.to_string(),
            source,
        })
}

/// A running consensus participant.
pub struct NetworkHandle {
    engine: EngineHandle,
    app: tokio::task::JoinHandle<()>,
    store: Arc<CertificateStore>,
    misbehaviour: Arc<std::sync::atomic::AtomicU64>,
}

impl NetworkHandle {
    /// Heights at which this node saw evidence of a validator signing two
    /// conflicting proposals or votes (equivocation).
    pub fn misbehaviour_seen(&self) -> u64 {
        self.misbehaviour.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The commit certificate of the block at `height`, once decided.
    pub fn certificate(
        &self,
        height: u64,
    ) -> Result<Option<CommitCertificate<DetvmContext>>, NetworkError> {
        self.store.get(height)
    }

    /// Stops the application loop and the engine.
    pub async fn stop(self) {
        self.app.abort();
        self.engine.actor.stop(None);
        let _ = self.engine.handle.await;
    }
}

/// Starts the engine and the application loop for the node whose
/// executor is `executor` (call inside a tokio runtime).
pub async fn start(
    config: NetworkConfig,
    executor: Executor,
) -> Result<NetworkHandle, NetworkError> {
    if config.validators.validators().is_empty() {
        return Err(NetworkError::Config("the genesis has no validators".into()));
    }
    std::fs::create_dir_all(&config.home).map_err(|e| {
        NetworkError::Config(format!("cannot create {}: {e}", config.home.display()))
    })?;
    let store = Arc::new(CertificateStore::open(
        &config.home.join("certificates.redb"),
    )?);
    check_listen(&config.listen)?;
    let mut p2p = P2pConfig {
        listen_addr: multiaddr(&config.listen)?,
        persistent_peers: config
            .peers
            .iter()
            .map(|p| multiaddr(p))
            .collect::<Result<_, _>>()?,
        ..P2pConfig::default()
    };
    p2p.discovery.enabled = false;
    let engine_config = EngineConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p,
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..ValueSyncConfig::default()
        },
    };
    let verifier = ChainVerifier::new(config.genesis_hash);
    let codec = BorshCodec;
    let (channels, engine) = match &config.key {
        Some(key) => {
            let signer = ValidatorSigner::new(key.clone(), config.genesis_hash);
            let address = signer.address();
            let keypair = Keypair::ed25519_from_bytes(key.0.to_bytes())
                .map_err(|e| NetworkError::Config(format!("network key: {e}")))?;
            let peer_id = keypair.public().to_peer_id().to_bytes();
            let proof = signer
                .sign_validator_proof(address.0.to_vec(), peer_id)
                .await
                .map_err(|e| NetworkError::Engine(e.to_string()))?;
            let proof_bytes = malachitebft_codec::Codec::encode(&codec, &proof)
                .map_err(|e| NetworkError::Engine(e.to_string()))?;
            let identity = NetworkIdentity::new_validator(
                config.moniker.clone(),
                keypair,
                address.to_string(),
                proof_bytes,
            );
            malachitebft_app_channel::start_engine(
                DetvmContext,
                engine_config,
                WalContext::new(config.home.join("wal"), codec),
                NetworkContext::new(identity, codec),
                ConsensusContext::new_validator(address, Box::new(verifier), Box::new(signer)),
                SyncContext::new(codec),
                RequestContext::new(100),
            )
            .await
        }
        None => {
            let keypair = Keypair::ed25519_from_bytes(config.node_key)
                .map_err(|e| NetworkError::Config(format!("network key: {e}")))?;
            let identity = NetworkIdentity::new(config.moniker.clone(), keypair, None);
            malachitebft_app_channel::start_engine(
                DetvmContext,
                engine_config,
                WalContext::new(config.home.join("wal"), codec),
                NetworkContext::new(identity, codec),
                ConsensusContext::new_full_node(Address([0; 32]), Box::new(verifier)),
                SyncContext::new(codec),
                RequestContext::new(100),
            )
            .await
        }
    }
    .map_err(|e| NetworkError::Engine(e.to_string()))?;
    let misbehaviour = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let state = App {
        misbehaviour: misbehaviour.clone(),
        signer: config
            .key
            .clone()
            .map(|key| ValidatorSigner::new(key, config.genesis_hash)),
        verifier: ChainVerifier::new(config.genesis_hash),
        config,
        executor,
        store: store.clone(),
        blocks: BTreeMap::new(),
        proposed: BTreeMap::new(),
        streams: BTreeMap::new(),
    };
    let (announce, announced) = tokio::sync::mpsc::unbounded_channel();
    state
        .executor
        .run(move |s| s.announce = Some(announce))
        .await?;
    let app = tokio::spawn(state.run(channels, announced));
    Ok(NetworkHandle {
        engine,
        app,
        store,
        misbehaviour,
    })
}

/// Appends a transfer whose signature is not its signer's and recomputes
/// the transaction root over it.
fn spoil_with_forged_transaction(block: &mut Block) {
    let victim = detvm_chain::Keypair::dev(0);
    let mut forged = detvm_chain::Transaction {
        chain_id: String::new(),
        signer: victim.implicit_id(),
        public_key: victim.public_key(),
        nonce: 0,
        gas_limit: 100_000,
        action: detvm_chain::Action::Transfer {
            to: detvm_chain::Keypair::dev(1).implicit_id(),
            amount: 1,
        },
    }
    .sign(&detvm_chain::Keypair::dev(1));
    forged.transaction.public_key = victim.public_key();
    block.transactions.push(forged);
    let hashes: Vec<[u8; 32]> = block.transactions.iter().map(|t| t.hash()).collect();
    block.header.tx_root = detvm_chain::merkle_root(&hashes);
}

/// A proposal stream being reassembled.
#[derive(Default)]
struct PartialStream {
    parts: BTreeMap<u64, StreamContent<ProposalPart>>,
    bytes: usize,
}

struct App {
    config: NetworkConfig,
    misbehaviour: Arc<std::sync::atomic::AtomicU64>,
    signer: Option<ValidatorSigner>,
    verifier: ChainVerifier,
    executor: Executor,
    store: Arc<CertificateStore>,
    /// Encoded blocks seen (proposed, received or synced) and not yet
    /// decided, by id, with their height.
    blocks: BTreeMap<BlockId, (Height, Vec<u8>)>,
    /// Values proposed at a height and round (for `StartedRound` replays).
    proposed: BTreeMap<(Height, Round), Vec<ProposedValue<DetvmContext>>>,
    /// Streams being reassembled, by publisher and stream id.
    streams: BTreeMap<(Vec<u8>, StreamId), PartialStream>,
}

impl App {
    fn params(&self) -> HeightParams<DetvmContext> {
        HeightParams::new(
            self.config.validators.clone(),
            self.config.timeouts,
            self.config.block_time,
        )
    }

    async fn head(&self) -> Result<u64, NodeError> {
        self.executor.run_urgent(|s| s.ledger.head().height).await
    }

    async fn run(
        mut self,
        mut channels: Channels<DetvmContext>,
        mut announced: tokio::sync::mpsc::UnboundedReceiver<detvm_chain::SignedTransaction>,
    ) {
        let mut gossip_sequence = 0u64;
        loop {
            tokio::select! {
                msg = channels.consensus.recv() => {
                    let Some(msg) = msg else { break };
                    if let Err(e) = self.handle(msg, &channels).await {
                        warn!(moniker = %self.config.moniker, "consensus request failed: {e}");
                    }
                }
                Some(first) = announced.recv() => {
                    // Everything announced meanwhile goes in one message.
                    let mut batch = vec![first.encode()];
                    let mut bytes = batch[0].len();
                    while batch.len() < MAX_GOSSIP_TXS && bytes < MAX_GOSSIP_BYTES {
                        let Ok(tx) = announced.try_recv() else { break };
                        let encoded = tx.encode();
                        bytes += encoded.len();
                        batch.push(encoded);
                    }
                    gossip_sequence += 1;
                    self.gossip(batch, gossip_sequence, &channels).await;
                }
            }
        }
    }

    /// Passes transactions this node's clients sent to every other node.
    async fn gossip(&self, txs: Vec<Vec<u8>>, sequence: u64, channels: &Channels<DetvmContext>) {
        // A stream id no proposal uses: a tag, this node and a counter.
        let origin = self.signer.as_ref().map_or([0; 32], |s| s.address().0);
        let id =
            borsh::to_vec(&(u8::MAX, origin, self.config.node_key, sequence)).unwrap_or_default();
        let message = StreamMessage::new(
            StreamId::new(Bytes::from(id)),
            0,
            StreamContent::Data(ProposalPart::Transactions(txs)),
        );
        let _ = channels
            .network
            .send(NetworkMsg::PublishProposalPart(message))
            .await;
    }

    /// Admits transactions another node passed on; the invalid, the
    /// duplicate and those the pool has no room for are dropped.
    async fn admit_gossiped(&self, txs: Vec<Vec<u8>>) {
        let txs: Vec<_> = txs
            .iter()
            .take(MAX_GOSSIP_TXS)
            .filter_map(|bytes| detvm_chain::SignedTransaction::decode(bytes).ok())
            .collect();
        let _ = self
            .executor
            .run(move |s| {
                for tx in txs {
                    let _ = s.admit(tx);
                }
            })
            .await;
    }

    async fn handle(
        &mut self,
        msg: AppMsg<DetvmContext>,
        channels: &Channels<DetvmContext>,
    ) -> Result<(), NetworkError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = Height(self.head().await? + 1);
                let _ = reply.send((next, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                let values = self
                    .proposed
                    .get(&(height, round))
                    .cloned()
                    .unwrap_or_default();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                reply,
                ..
            } => {
                let id = self.propose(height, round, Round::Nil, channels).await?;
                let _ = reply.send(LocallyProposedValue::new(height, round, id));
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // This chain uses no vote extensions (the policy is
                // disabled), so there is nothing to accept.
                let verdicts = extensions
                    .into_iter()
                    .map(|(address, _)| (address, Err(VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let ours = self.signer.as_ref().map(ValidatorSigner::address) == Some(address);
                if let (true, Some((_, bytes))) = (ours, self.blocks.get(&value_id).cloned()) {
                    self.stream(height, round, valid_round, &bytes, channels)
                        .await;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let publisher = published_by.unwrap_or(from).to_bytes();
                let value = self.receive_part(publisher, part).await;
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.commit(&certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                evidence,
                reply,
                ..
            } => {
                if !evidence.is_empty() {
                    warn!(height = %certificate.height, "equivocation seen: {evidence:?}");
                    self.misbehaviour
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let head = self.head().await?;
                let next = if head >= certificate.height.0 {
                    Next::Start(Height(head + 1), self.params())
                } else {
                    Next::Restart(Height(head + 1), self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided_values(*range.start(), *range.end()).await?;
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced(height, round, proposer, value_bytes).await;
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// Builds this validator's block for `height` (or reuses the one
    /// already built for it), streams it, and records it as proposed.
    async fn propose(
        &mut self,
        height: Height,
        round: Round,
        pol_round: Round,
        channels: &Channels<DetvmContext>,
    ) -> Result<BlockId, NetworkError> {
        let fault = self.config.fault;
        let block = self
            .executor
            .run_urgent(move |s| {
                let mut block = s.build_candidate()?;
                match fault {
                    None => {}
                    Some(Fault::WrongStateRoot) => block.header.state_root[0] ^= 1,
                    Some(Fault::InvalidTransaction) => spoil_with_forged_transaction(&mut block),
                }
                Ok::<_, NodeError>(block)
            })
            .await??;
        let id = BlockId(block.hash());
        let bytes = borsh::to_vec(&block).unwrap_or_default();
        self.blocks.insert(id, (height, bytes.clone()));
        self.stream(height, round, pol_round, &bytes, channels)
            .await;
        let proposer = self
            .signer
            .as_ref()
            .map_or(Address([0; 32]), ValidatorSigner::address);
        self.proposed
            .entry((height, round))
            .or_default()
            .push(ProposedValue {
                height,
                round,
                valid_round: pol_round,
                proposer,
                value: id,
                validity: Validity::Valid,
            });
        Ok(id)
    }

    /// Publishes `block_bytes` as this validator's proposal parts.
    async fn stream(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        block_bytes: &[u8],
        channels: &Channels<DetvmContext>,
    ) {
        let Some(signer) = &self.signer else { return };
        let proposer = signer.address();
        let mut parts = vec![ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        }];
        parts.extend(
            block_bytes
                .chunks(PART_BYTES)
                .map(|c| ProposalPart::Data(c.to_vec())),
        );
        let digest = part_digest(
            &self.config.genesis_hash,
            height,
            round,
            &proposer,
            block_bytes,
        );
        parts.push(ProposalPart::Fin(signer.sign_parts(&digest)));
        let stream_id = StreamId::new(Bytes::from(
            borsh::to_vec(&(height.0, round.as_i64())).unwrap_or_default(),
        ));
        let count = parts.len() as u64;
        let contents = parts
            .into_iter()
            .map(StreamContent::Data)
            .chain(std::iter::once(StreamContent::Fin));
        for (sequence, content) in (0..=count).zip(contents) {
            let message = StreamMessage::new(stream_id.clone(), sequence, content);
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(message))
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Adds a part to its stream; when the stream is complete, checks it
    /// and returns the proposed value with its validity.
    async fn receive_part(
        &mut self,
        publisher: Vec<u8>,
        part: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<DetvmContext>> {
        if let StreamContent::Data(ProposalPart::Transactions(txs)) = part.content {
            self.admit_gossiped(txs).await;
            return None;
        }
        let key = (publisher, part.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            self.streams.pop_first();
        }
        let stream = self.streams.entry(key.clone()).or_default();
        stream.bytes += match &part.content {
            StreamContent::Data(ProposalPart::Data(d)) => d.len(),
            _ => 0,
        };
        if stream.bytes > MAX_STREAM_BYTES {
            self.streams.remove(&key);
            return None;
        }
        stream.parts.insert(part.sequence, part.content);
        // Complete when the stream's end arrived and nothing before it is
        // missing.
        let complete = stream.parts.last_key_value().is_some_and(|(&last, c)| {
            matches!(c, StreamContent::Fin) && stream.parts.len() as u64 == last + 1
        });
        if !complete {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        let parts: Vec<ProposalPart> = stream
            .parts
            .into_values()
            .filter_map(|c| match c {
                StreamContent::Data(p) => Some(p),
                StreamContent::Fin => None,
            })
            .collect();
        self.check_stream(parts).await
    }

    /// The rules of a proposal stream (`docs/network.md`, section 3).
    async fn check_stream(
        &mut self,
        parts: Vec<ProposalPart>,
    ) -> Option<ProposedValue<DetvmContext>> {
        let (first, rest) = parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        let ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        } = *first
        else {
            return None;
        };
        let ProposalPart::Fin(signature) = *last else {
            return None;
        };
        let mut bytes = Vec::new();
        for part in middle {
            let ProposalPart::Data(chunk) = part else {
                return None;
            };
            bytes.extend_from_slice(chunk);
        }
        // Only the round's proposer may propose, and only with its own
        // signature over exactly these bytes.
        let validators = self.config.validators.validators();
        let expected = &validators[proposer_index(validators.len(), height, round)];
        if expected.address != proposer {
            debug!("a stream from {proposer} who does not lead round {round} at {height}");
            return None;
        }
        let digest = part_digest(&self.config.genesis_hash, height, round, &proposer, &bytes);
        if !self
            .verifier
            .verify_parts(&expected.public_key, &digest, &signature)
        {
            debug!("a stream with a bad signature at {height}/{round}");
            return None;
        }
        let (id, validity) = match borsh::from_slice::<Block>(&bytes) {
            Ok(block) if block.header.height == height.0 => {
                let id = BlockId(block.hash());
                let verdict = self
                    .executor
                    .run_urgent(move |s| s.verify_candidate(&block))
                    .await;
                self.blocks.insert(id, (height, bytes));
                (id, Validity::from_bool(matches!(verdict, Ok(Ok(())))))
            }
            // Undecodable or mislabelled: invalid, under the stream's digest.
            _ => (BlockId(digest), Validity::Invalid),
        };
        Some(self.record(height, round, pol_round, proposer, id, validity))
    }

    fn record(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: Address,
        value: BlockId,
        validity: Validity,
    ) -> ProposedValue<DetvmContext> {
        let proposed = ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            value,
            validity,
        };
        self.proposed
            .entry((height, round))
            .or_default()
            .push(proposed.clone());
        proposed
    }

    /// Commits the decided block and stores its certificate.
    async fn commit(
        &mut self,
        certificate: &CommitCertificate<DetvmContext>,
    ) -> Result<(), NetworkError> {
        let height = certificate.height;
        let (_, bytes) = self
            .blocks
            .get(&certificate.value_id)
            .cloned()
            .ok_or_else(|| {
                NetworkError::Engine(format!("decided block {} is unknown", certificate.value_id))
            })?;
        let block: Block = borsh::from_slice(&bytes)
            .map_err(|e| NetworkError::Engine(format!("decided block does not decode: {e}")))?;
        let head = self.head().await?;
        if head < height.0 {
            self.executor
                .run_urgent(move |s| s.commit_decided(&block))
                .await??;
        }
        self.store.put(height.0, certificate)?;
        self.blocks.retain(|_, (h, _)| *h > height);
        self.proposed.retain(|(h, _), _| *h > height);
        Ok(())
    }

    /// Decided blocks with their certificates, for a peer that syncs.
    async fn decided_values(
        &self,
        start: Height,
        end: Height,
    ) -> Result<Vec<RawDecidedValue<DetvmContext>>, NetworkError> {
        let head = self.head().await?;
        let start = start.0.max(1);
        let end = end
            .0
            .min(head)
            .min(start.saturating_add(MAX_SYNC_BATCH - 1));
        let mut values = Vec::new();
        for height in start..=end {
            let Some(certificate) = self.store.get(height)? else {
                break;
            };
            let block = self
                .executor
                .run(move |s| s.ledger.block(height))
                .await?
                .map_err(NodeError::from)?;
            let Some(block) = block else { break };
            values.push(RawDecidedValue::new(
                Bytes::from(borsh::to_vec(&block).unwrap_or_default()),
                ExtendedCommitCertificate {
                    height: certificate.height,
                    round: certificate.round,
                    value_id: certificate.value_id,
                    commit_signatures: certificate
                        .commit_signatures
                        .iter()
                        .map(|s| ExtendedCommitSignature {
                            address: s.address,
                            signature: s.signature,
                            extension: None,
                        })
                        .collect(),
                },
            ));
        }
        Ok(values)
    }

    /// Checks a block received through sync (its certificate is checked by
    /// the engine): it must decode, be for `height`, and re-execute to the
    /// state and receipts roots it claims.
    async fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        value_bytes: Bytes,
    ) -> SyncedValueOutcome<DetvmContext> {
        let Ok(block) = borsh::from_slice::<Block>(&value_bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        if block.header.height != height.0 {
            return SyncedValueOutcome::PeerFault;
        }
        match self.head().await {
            Ok(head) if head + 1 == height.0 => {}
            _ => return SyncedValueOutcome::LocalTransientError,
        }
        let id = BlockId(block.hash());
        let verdict = self
            .executor
            .run_urgent(move |s| s.verify_candidate(&block))
            .await;
        self.blocks.insert(id, (height, value_bytes.to_vec()));
        SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: id,
            validity: Validity::from_bool(matches!(verdict, Ok(Ok(())))),
        })
    }
}
