//! Token transfers through a network of validators: four detvm nodes in
//! this process, each with its redb state directory and the Malachite
//! engine, connected over loopback TCP. Clients send pre-signed transfers
//! over JSON-RPC, round robin over the nodes; the transfers spread by
//! mempool gossip, are proposed, voted and committed by every validator.
//! Prints finalized transfers per second and the time from submit to the
//! block being committed on node 0 (p50, p99).
//!
//! ```sh
//! cargo run --release -p detvm-benches --bin network_load [CLIENTS] [PER_CLIENT] [RATE]
//! ```
//!
//! With `RATE` (transfers per second over all clients) each client paces
//! its sends; without, every client sends as fast as it is answered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use detvm_chain::{
    Action, Genesis, GenesisAccount, GenesisParams, GenesisValidator, Keypair, Transaction,
};
use detvm_host::hex;
use detvm_network::{LinearTimeouts, NetworkConfig, PrivateKey, SigningKey, ValidatorSet};
use detvm_node::{Mining, NodeConfig, PoolLimits};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;

const VALIDATORS: u8 = 4;
const CHAIN_ID: &str = "detvm-bench-net";

fn validator_key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i.wrapping_add(101); 32])
}

fn client_key(i: usize) -> Keypair {
    let mut seed = [9u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(seed)
}

fn genesis(clients: usize) -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        timestamp_ns: 0,
        params: GenesisParams::default(),
        accounts: (0..clients)
            .map(|i| GenesisAccount {
                id: client_key(i).implicit_id(),
                balance: "1000000000000000000000000".into(),
                public_key: None,
            })
            .collect(),
        validators: (0..VALIDATORS)
            .map(|i| GenesisValidator {
                public_key: hex(&validator_key(i).verifying_key().to_bytes()),
                power: 1,
            })
            .collect(),
    }
}

fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        prevote: Duration::from_millis(500),
        precommit: Duration::from_millis(500),
        ..LinearTimeouts::default()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let per_client: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(clients, per_client, rate));
}

async fn run(clients: usize, per_client: usize, rate: f64) {
    let genesis = genesis(clients);
    let validators = ValidatorSet::from_genesis(&genesis).expect("validators");
    let ports: Vec<u16> = (0..VALIDATORS)
        .map(|_| detvm_testkit::free_loopback_port())
        .collect();
    let addr = |p: u16| format!("/ip4/127.0.0.1/tcp/{p}");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = Vec::new();
    for i in 0..VALIDATORS {
        let node = detvm_node::start(NodeConfig {
            dev: false,
            state_dir: Some(dir.path().join(format!("chain-{i}"))),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            genesis: genesis.clone(),
            mining: Mining::Manual,
            pool: PoolLimits::default(),
            proposer: format!("validator-{i}"),
            code_cache_mb: detvm_node::DEFAULT_CODE_CACHE_MB,
        })
        .await
        .expect("node");
        let genesis_hash = node
            .executor
            .run(|s| s.ledger.genesis_hash())
            .await
            .expect("genesis hash");
        let network = detvm_network::start(
            NetworkConfig {
                moniker: format!("validator-{i}"),
                key: Some(PrivateKey(validator_key(i))),
                node_key: [0; 32],
                validators: validators.clone(),
                genesis_hash,
                listen: addr(ports[i as usize]),
                peers: (0..VALIDATORS)
                    .filter(|&j| j != i)
                    .map(|j| addr(ports[j as usize]))
                    .collect(),
                home: dir.path().join(format!("consensus-{i}")),
                timeouts: timeouts(),
                block_time: None,
                fault: None,
            },
            node.executor.clone(),
        )
        .await
        .expect("network");
        nodes.push((node, network));
    }

    // Commit times on node 0, by transaction hash.
    let finalized: Arc<Mutex<BTreeMap<[u8; 32], Instant>>> = Arc::default();
    let mut blocks = nodes[0]
        .0
        .executor
        .run(|s| s.events.subscribe())
        .await
        .expect("subscribe");
    let block_sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    {
        let finalized = finalized.clone();
        let block_sizes = block_sizes.clone();
        tokio::spawn(async move {
            let origin = Instant::now();
            while let Ok(committed) = blocks.recv().await {
                let now = Instant::now();
                if std::env::var_os("NETWORK_LOAD_TRACE").is_some() {
                    eprintln!(
                        "{:>8.3} s  height {}  {} transfers",
                        now.duration_since(origin).as_secs_f64(),
                        committed.block.header.height,
                        committed.block.transactions.len()
                    );
                }
                let mut done = finalized.lock().expect("lock");
                for tx in &committed.block.transactions {
                    done.insert(tx.hash(), now);
                }
                block_sizes
                    .lock()
                    .expect("lock")
                    .push(committed.block.transactions.len());
            }
        });
    }

    // The network is up (peers connected, heights deciding) before the
    // clock starts.
    loop {
        let height = nodes[0]
            .0
            .executor
            .run(|s| s.ledger.head().height)
            .await
            .expect("head");
        if height >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Signed before the clock starts: on this 2-core machine the clients'
    // signing would otherwise take CPU from the validators.
    let to = client_key(0).implicit_id();
    let signed: Vec<Vec<(String, [u8; 32])>> = (0..clients)
        .map(|c| {
            let key = client_key(c);
            (0..per_client)
                .map(|n| {
                    let tx = Transaction {
                        chain_id: CHAIN_ID.into(),
                        signer: key.implicit_id(),
                        public_key: key.public_key(),
                        nonce: n as u64,
                        gas_limit: 100_000,
                        action: Action::Transfer {
                            to: to.clone(),
                            amount: 1,
                        },
                    }
                    .sign(&key);
                    (hex(&tx.encode()), tx.hash())
                })
                .collect()
        })
        .collect();
    let urls: Vec<String> = nodes
        .iter()
        .map(|(n, _)| format!("http://{}", n.addr))
        .collect();
    let total = clients * per_client;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, txs) in signed.into_iter().enumerate() {
        let url = urls[c % urls.len()].clone();
        // Paced clients start spread over one interval.
        let interval = (rate > 0.0).then(|| Duration::from_secs_f64(clients as f64 / rate));
        let offset = interval.map(|i| i.mul_f64(c as f64 / clients as f64));
        tasks.push(tokio::spawn(async move {
            let client = HttpClientBuilder::default().build(&url).expect("client");
            let mut sent = Vec::new();
            let mut next = Instant::now() + offset.unwrap_or_default();
            for (tx, hash) in txs {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                }
                let at = Instant::now();
                let r: Result<String, _> =
                    client.request("send_transaction", rpc_params![tx]).await;
                if let Err(e) = r {
                    eprintln!("send_transaction failed: {e}");
                    break;
                }
                sent.push((hash, at));
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.expect("client task"));
    }
    // Wait until every sent transfer is committed on node 0.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = finalized.lock().expect("lock").len();
        if done >= sent.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let done = finalized.lock().expect("lock").clone();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(hash, at)| done.get(hash).map(|t| t.duration_since(*at)))
        .collect();
    latencies.sort();
    let sizes = block_sizes.lock().expect("lock").clone();
    let nonempty: Vec<usize> = sizes.iter().copied().filter(|&n| n > 0).collect();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{} of {total} transfers by {clients} clients finalized on 4 validators in {:.2} s: \
         {:.0} transfers/s; {} blocks with transfers ({:.1} per block, largest {}); \
         submit to commit p50 {:?} p99 {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        nonempty.len(),
        latencies.len() as f64 / nonempty.len().max(1) as f64,
        nonempty.iter().max().unwrap_or(&0),
        pct(0.5),
        pct(0.99),
    );
    for (node, network) in nodes {
        network.stop().await;
        node.stop().await;
    }
}
