//! `detvm node`: a local testnet or a single node.

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
    /// Make a block every MS milliseconds instead of per transaction.
    #[arg(long, value_name = "MS", conflicts_with = "no_mining")]
    pub block_time: Option<u64>,
    /// Make blocks only on the `dev_mine` RPC method.
    #[arg(long)]
    pub no_mining: bool,
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
    runtime.block_on(serve(config, args.dev))
}

async fn serve(config: NodeConfig, dev: bool) -> Status {
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
    node.stop().await;
    eprintln!("node stopped");
    Status::Success
}
