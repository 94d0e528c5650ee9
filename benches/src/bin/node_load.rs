//! Token transfers end to end through a node: signed, sent over JSON-RPC
//! on loopback by many clients, executed, the state root updated and each
//! block committed to redb (instant seal). Prints transfers per second and
//! the latency from submit to answer (the answer comes once the block is
//! committed).
//!
//! ```sh
//! cargo run --release -p detvm-benches --bin node_load [CLIENTS] [SECONDS]
//! ```

use std::time::{Duration, Instant};

use detvm_chain::{Action, Keypair, SignedTransaction, Transaction};
use detvm_host::hex;
use detvm_node::{Mining, NodeConfig};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use serde_json::Value;

fn transfer(key: &Keypair, nonce: u64, to: &str, amount: u128) -> String {
    let tx: SignedTransaction = Transaction {
        chain_id: "detvm-dev".into(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit: 100_000,
        action: Action::Transfer {
            to: to.into(),
            amount,
        },
    }
    .sign(key);
    hex(&tx.encode())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(clients, seconds));
}

async fn run(clients: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = NodeConfig::dev();
    config.state_dir = Some(dir.path().to_owned());
    config.mining = Mining::Instant;
    let node = detvm_node::start(config).await.expect("node");
    let url = format!("http://{}", node.addr);
    let client = HttpClientBuilder::default().build(&url).expect("client");

    // One funded account per client, so each sends in nonce order.
    let keys: Vec<Keypair> = (0..clients)
        .map(|i| {
            Keypair::from_seed([
                (i % 251) as u8 + 1,
                (i / 251) as u8,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
            ])
        })
        .collect();
    let funder = Keypair::dev(0);
    for (n, key) in keys.iter().enumerate() {
        let tx = transfer(&funder, n as u64, &key.implicit_id(), 10u128.pow(20));
        let _: String = client
            .request("send_transaction", rpc_params![tx])
            .await
            .expect("fund");
    }
    let start_height = height(&client).await;

    // Clients sign before the clock starts: on this 2-core machine their
    // signing would otherwise take CPU from the node being measured.
    let to = Keypair::dev(1).implicit_id();
    let per_client = (seconds as usize * 20_000 / clients).max(10);
    let signed: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            (0..per_client)
                .map(|n| transfer(key, n as u64, &to, 1))
                .collect()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for txs in signed {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = HttpClientBuilder::default().build(&url).expect("client");
            let mut latencies = Vec::new();
            for tx in txs {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let r: Result<String, _> =
                    client.request("send_transaction", rpc_params![tx]).await;
                if r.is_err() {
                    break;
                }
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    let blocks = height(&client).await - start_height;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{} transfers by {clients} clients in {:.2} s: {:.0} transfers/s, {blocks} blocks ({:.1} per block), latency p50 {:?} p99 {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies.len() as f64 / blocks.max(1) as f64,
        pct(0.5),
        pct(0.99),
    );
    node.stop().await;
}

async fn height(client: &jsonrpsee::http_client::HttpClient) -> u64 {
    let status: Value = client
        .request("status", rpc_params![])
        .await
        .expect("status");
    status["height"].as_u64().unwrap_or(0)
}
