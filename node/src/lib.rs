//! detvm's node. This crate owns the long-running process around the
//! chain model of `detvm-chain`: the mempool and its admission rules,
//! block production behind the [`BlockProducer`] seam ([`InstantSeal`]
//! for a single node; a consensus engine plugs in here) at times set by
//! [`Mining`] (as transactions arrive, an interval, or on demand),
//! persistence of committed blocks through `detvm-state`'s redb database,
//! and the JSON-RPC 2.0 server (HTTP and WebSocket on one port) with its
//! dev methods. All chain state is owned by one executor thread;
//! RPC handlers send it jobs. `docs/rpc.md` describes the methods.

#![deny(missing_docs)]

mod core;
mod json;
mod mempool;
mod producer;
pub mod rpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use detvm_chain::{Genesis, Ledger, TxError};
use detvm_state::StateDb;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};

pub use crate::core::{Committed, Executor, InclusionSender, MAX_CANDIDATES, Mining, NodeState};
pub use crate::mempool::{Mempool, PoolLimits};
pub use crate::producer::{BlockProducer, InstantSeal, Proposal};

/// The database file inside a node's state directory.
pub const NODE_DB_FILE: &str = "chain.redb";
/// The compiled contracts' directory in the state directory
/// (`docs/vm.md`, "Compiled code on disk").
pub const CODE_CACHE_DIR: &str = "code-cache";
/// The default bound of the code cache, in MiB: room for a few thousand
/// typical contracts' code.
pub const DEFAULT_CODE_CACHE_MB: u64 = 256;
/// Largest JSON-RPC request body: a maximal transaction in hex plus room.
pub const MAX_REQUEST_BYTES: u32 = 10 << 20;
/// Largest JSON-RPC response body.
pub const MAX_RESPONSE_BYTES: u32 = 32 << 20;
/// Most calls in one batch request.
pub const MAX_BATCH: u32 = 100;

/// Why the node failed or refused something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A transaction was refused.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] detvm_chain::Error),
    /// The node could not start.
    #[error("cannot start the node: {0}")]
    Start(String),
    /// The node is shutting down.
    #[error("the node has stopped")]
    Stopped,
}

impl From<detvm_state::StateError> for NodeError {
    fn from(e: detvm_state::StateError) -> Self {
        Self::Chain(e.into())
    }
}

/// How to run a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Enable the dev methods.
    pub dev: bool,
    /// State directory; `None` keeps the chain in memory.
    pub state_dir: Option<PathBuf>,
    /// Where the RPC server listens (port 0: any free port).
    pub rpc_addr: SocketAddr,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// How blocks are made.
    pub mining: Mining,
    /// Mempool bounds.
    pub pool: PoolLimits,
    /// Name in block headers.
    pub proposer: String,
    /// Bound of the compiled code cache in `state_dir` ([`CODE_CACHE_DIR`]),
    /// in MiB; 0 turns it off. Without a state directory nothing is cached.
    pub code_cache_mb: u64,
}

impl NodeConfig {
    /// A dev node in memory on a loopback port chosen by the system.
    pub fn dev() -> Self {
        Self {
            dev: true,
            state_dir: None,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            genesis: Genesis::dev(),
            mining: Mining::Instant,
            pool: PoolLimits::default(),
            proposer: "dev".into(),
            code_cache_mb: DEFAULT_CODE_CACHE_MB,
        }
    }
}

/// A running node.
pub struct RunningNode {
    /// Where the RPC server listens.
    pub addr: SocketAddr,
    /// The executor, for in-process use (tests, tools).
    pub executor: Executor,
    handle: ServerHandle,
    miner: Option<tokio::task::JoinHandle<()>>,
}

impl RunningNode {
    /// Stops the server and the miner, waits for the server, then ends
    /// the executor (closing the database).
    pub async fn stop(self) {
        if let Some(miner) = self.miner {
            miner.abort();
        }
        let _ = self.handle.stop();
        self.handle.stopped().await;
        let executor = self.executor;
        let _ = tokio::task::spawn_blocking(move || executor.shutdown()).await;
    }

    /// Resolves when the server stops.
    pub async fn stopped(&self) {
        self.handle.clone().stopped().await;
    }
}

/// The code cache of state directory `dir` bounded to `mb` MiB, if there
/// is a directory and a non-zero bound.
pub fn code_cache(dir: Option<&std::path::Path>, mb: u64) -> Option<Arc<detvm_host::CodeCache>> {
    let dir = dir?;
    (mb > 0).then(|| {
        Arc::new(detvm_host::CodeCache::open(
            dir.join(CODE_CACHE_DIR),
            mb.saturating_mul(1 << 20),
        ))
    })
}

/// Opens the chain and starts the node (call inside a tokio runtime).
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    let (events, _) = tokio::sync::broadcast::channel(1_024);
    let db = match &config.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| NodeError::Start(format!("cannot create {}: {e}", dir.display())))?;
            StateDb::open(&dir.join(NODE_DB_FILE))?
        }
        None => StateDb::in_memory()?,
    };
    let db = Arc::new(db);
    let genesis = config.genesis.clone();
    let state_events = events.clone();
    let (dev, mining, pool, proposer) = (
        config.dev,
        config.mining,
        config.pool,
        config.proposer.clone(),
    );
    let code_cache = code_cache(config.state_dir.as_deref(), config.code_cache_mb);
    let executor = Executor::start(move || {
        let mut ledger = Ledger::open(db, &genesis)?;
        if let Some(cache) = code_cache {
            ledger.set_code_cache(cache);
        }
        Ok(NodeState {
            ledger,
            pool: Mempool::new(pool),
            dev,
            mining,
            next_timestamp: None,
            time_offset_ns: 0,
            snapshots: Vec::new(),
            producer: Box::new(InstantSeal {
                proposer: proposer.clone(),
            }),
            proposer,
            events: state_events,
            waiters: Vec::new(),
            dev_changes: Vec::new(),
            candidates: Default::default(),
            announce: None,
        })
    })?;
    let module = rpc::module(rpc::Context {
        executor: executor.clone(),
        events,
        dev: config.dev,
    })
    .map_err(|e| NodeError::Start(e.to_string()))?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(config.rpc_addr)
        .await
        .map_err(|e| NodeError::Start(format!("cannot listen on {}: {e}", config.rpc_addr)))?;
    let addr = server
        .local_addr()
        .map_err(|e| NodeError::Start(e.to_string()))?;
    let handle = server.start(module);
    let miner = match config.mining {
        Mining::Interval(ms) => {
            let executor = executor.clone();
            Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(ms.max(1)));
                loop {
                    tick.tick().await;
                    if executor.run(|s| s.produce().map(|_| ())).await.is_err() {
                        break;
                    }
                }
            }))
        }
        _ => None,
    };
    Ok(RunningNode {
        addr,
        executor,
        handle,
        miner,
    })
}
