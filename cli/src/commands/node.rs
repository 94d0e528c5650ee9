//! `detvm node`: a local testnet, a single node, or a member of a network
//! of validators.

use std::net::SocketAddr;
use std::path::PathBuf;

use detvm_chain::{DEV_ACCOUNTS, Genesis, Keypair};
use detvm_host::hex;
use detvm_node::{Mining, NodeConfig, PoolLimits};

use crate::Status;

/// Run a node: block production, persistence and JSON-RPC (HTTP and
/// WebSocket on one port; `docs/rpc.md`).
///
/// With `--dev`: the development genesis (chain id `detvm-dev`, ten
/// prefunded accounts whose keys are printed at start), dev RPC methods,
/// and a block as soon as a transaction arrives. Without `--state` the
/// chain lives in memory and ends with the process; with it, every
/// committed block survives a crash or `kill -9` and the node continues
/// from its last block.
///
/// With `--p2p`: a member of a network of validators running the Malachite
/// consensus engine (`docs/network.md`). With `--validator --key FILE` it
/// votes and proposes (its key must be one of the genesis file's
/// validators); without, it is a full node that follows the network,
/// verifies every block and serves RPC. Both need `--state`, where the
/// chain and the engine's write-ahead log live.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Development mode: dev genesis, dev methods, prefunded keys.
    #[arg(long)]
    pub dev: bool,
    /// State directory (created if missing); the chain stays in memory
    /// without it.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Address of the JSON-RPC server (port 0: any free port; the address
    /// is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8545")]
    pub rpc: SocketAddr,
    /// Genesis file (JSON, `docs/chain.md`); required without `--dev`.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Make a block every MS milliseconds instead of per transaction (in a
    /// network: the least time a height takes, default 1000).
    #[arg(long, value_name = "MS", conflicts_with = "no_mining")]
    pub block_time: Option<u64>,
    /// Make blocks only on the `dev_mine` RPC method.
    #[arg(long)]
    pub no_mining: bool,
    /// Take part in a network: listen for peers at ADDR (`IP:PORT`, or a
    /// libp2p address such as `/ip4/127.0.0.1/tcp/26656`).
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["dev", "no_mining"])]
    pub p2p: Option<String>,
    /// Peers to connect to (`IP:PORT` or libp2p addresses), comma-separated
    /// or repeated.
    #[arg(long, value_name = "ADDR", value_delimiter = ',', requires = "p2p")]
    pub peers: Vec<String>,
    /// Vote and propose as a validator (needs `--key`).
    #[arg(long, requires_all = ["p2p", "key"])]
    pub validator: bool,
    /// The validator's key file (`detvm keys`).
    #[arg(long, value_name = "FILE", requires = "validator")]
    pub key: Option<PathBuf>,
    /// Bound of the compiled contract cache in `DIR/code-cache/`, in MiB
    /// (0: off). Compiled contracts survive a restart there.
    #[arg(long, value_name = "MB", default_value_t = detvm_node::DEFAULT_CODE_CACHE_MB)]
    pub code_cache_mb: u64,
}

/// Runs the command until interrupted (Ctrl-C or SIGTERM).
pub fn run(args: &Args) -> Status {
    let genesis = match (&args.genesis, args.dev) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(text) => match Genesis::from_json(&text) {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return Status::Usage;
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return Status::Usage;
            }
        },
        (None, true) => Genesis::dev(),
        (None, false) => {
            eprintln!("error: a node needs --genesis FILE, or --dev for a local testnet");
            return Status::Usage;
        }
    };
    if let Some(listen) = &args.p2p {
        return run_network_member(args, genesis, listen);
    }
    let mining = match (args.block_time, args.no_mining) {
        (Some(ms), _) => Mining::Interval(ms.max(1)),
        (None, true) => Mining::Manual,
        (None, false) => Mining::Instant,
    };
    let config = NodeConfig {
        dev: args.dev,
        state_dir: args.state.clone(),
        rpc_addr: args.rpc,
        genesis,
        mining,
        pool: PoolLimits::default(),
        proposer: if args.dev {
            "dev".into()
        } else {
            "node".into()
        },
        code_cache_mb: args.code_cache_mb,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Status::Usage;
        }
    };
    runtime.block_on(serve(config, args.dev, None))
}

/// A libp2p address from `IP:PORT` or an address that already is one.
fn peer_address(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        return Ok(text.to_string());
    }
    match text.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) => Ok(format!("/ip4/{}/tcp/{}", a.ip(), a.port())),
        Ok(SocketAddr::V6(a)) => Ok(format!("/ip6/{}/tcp/{}", a.ip(), a.port())),
        Err(_) => Err(format!(
            "`{text}` is neither IP:PORT nor a libp2p address (/ip4/.../tcp/...)"
        )),
    }
}

fn run_network_member(args: &Args, genesis: Genesis, listen: &str) -> Status {
    let usage = |message: String| {
        eprintln!("error: {message}");
        Status::Usage
    };
    let Some(state) = args.state.clone() else {
        return usage(
            "a network member needs --state DIR (the chain and the consensus log)".into(),
        );
    };
    let validators = match detvm_network::ValidatorSet::from_genesis(&genesis) {
        Ok(v) if !v.validators().is_empty() => v,
        Ok(_) => return usage("the genesis file lists no validators".into()),
        Err(e) => return usage(e.to_string()),
    };
    let listen = match peer_address(listen) {
        Ok(a) => a,
        Err(e) => return usage(e),
    };
    let mut peers = Vec::new();
    for peer in &args.peers {
        match peer_address(peer) {
            Ok(a) => peers.push(a),
            Err(e) => return usage(e),
        }
    }
    let key = match &args.key {
        Some(path) => match crate::commands::keys::load(path) {
            Ok(key) => Some(key),
            Err(e) => return usage(e.to_string()),
        },
        None => None,
    };
    if let Some(key) = &key {
        let address = detvm_network::Address(key.public_key());
        if validators.validators().iter().all(|v| v.address != address) {
            return usage(format!(
                "key {} is not a validator in the genesis file",
                hex(&key.public_key())
            ));
        }
    }
    // A full node's network identity is not part of consensus: a fresh one
    // per start is fine.
    let mut node_key = [0u8; 32];
    if getrandom::fill(&mut node_key).is_err() {
        return usage("cannot read the system's randomness".into());
    }
    let name = match &key {
        Some(key) => hex(&key.public_key()),
        None => "full-node".into(),
    };
    let network = detvm_network::NetworkConfig {
        moniker: name.clone(),
        key: key.map(|k| detvm_network::PrivateKey(ed25519_dalek_key(&k))),
        node_key,
        validators,
        genesis_hash: [0; 32],
        listen,
        peers,
        home: state.join("consensus"),
        timeouts: detvm_network::LinearTimeouts::default(),
        block_time: Some(std::time::Duration::from_millis(
            args.block_time.unwrap_or(1_000),
        )),
        fault: None,
    };
    let config = NodeConfig {
        dev: false,
        state_dir: Some(state),
        rpc_addr: args.rpc,
        genesis,
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        proposer: name,
        code_cache_mb: args.code_cache_mb,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(serve(config, false, Some(network)))
}

fn ed25519_dalek_key(key: &Keypair) -> detvm_network::SigningKey {
    detvm_network::SigningKey::from_bytes(&key.seed())
}

async fn serve(
    config: NodeConfig,
    dev: bool,
    network: Option<detvm_network::NetworkConfig>,
) -> Status {
    let node = match detvm_node::start(config.clone()).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Usage;
        }
    };
    if dev {
        println!("Development accounts (never use these keys for anything of value):");
        for i in 0..DEV_ACCOUNTS {
            let key = Keypair::dev(i);
            println!("  ({i}) account {}", key.implicit_id());
            println!("      secret  {}", hex(&key.seed()));
        }
        println!();
    }
    match &config.state_dir {
        Some(dir) => println!("State: {}", dir.display()),
        None => println!("State: in memory (gone when the node stops; use --state DIR to keep it)"),
    }
    let network = match network {
        Some(mut network) => {
            network.genesis_hash = match node.executor.run(|s| s.ledger.genesis_hash()).await {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    node.stop().await;
                    return Status::Usage;
                }
            };
            let role = if network.key.is_some() {
                "validator"
            } else {
                "full node"
            };
            let listen = network.listen.clone();
            match detvm_network::start(network, node.executor.clone()).await {
                Ok(handle) => {
                    println!("Consensus: {role}, peers listen on {listen}");
                    Some(handle)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    node.stop().await;
                    return Status::Usage;
                }
            }
        }
        None => None,
    };
    // The line tools and tests wait for: the address actually bound.
    println!("RPC listening on http://{}", node.addr);
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot watch for SIGTERM: {e}");
                return Status::Usage;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = node.stopped() => {}
    }
    if let Some(network) = network {
        network.stop().await;
    }
    node.stop().await;
    eprintln!("node stopped");
    Status::Success
}
