//! Validators on loopback, each a full detvm node with the Malachite
//! engine in this process: they finalize the same blocks, state roots and
//! receipts (`docs/network.md`).

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use detvm_chain::{Action, Genesis, GenesisAccount, GenesisParams, Keypair, Transaction};
use detvm_network::{NetworkConfig, NetworkHandle, PrivateKey, PublicKey, Validator, ValidatorSet};
use detvm_node::{Mining, NodeConfig, PoolLimits, RunningNode};
use malachitebft_core_types::LinearTimeouts;

const VALIDATORS: u32 = 4;
const USERS: u32 = 4;

fn validator_key(i: u32) -> ed25519_dalek::SigningKey {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: "detvm-net-test".into(),
        timestamp_ns: 0,
        params: GenesisParams::default(),
        accounts: (0..USERS)
            .map(|i| GenesisAccount {
                id: Keypair::dev(i).implicit_id(),
                balance: "1000000000000000000000".into(),
                public_key: None,
            })
            .collect(),
    }
}

fn validator_set() -> ValidatorSet {
    ValidatorSet::new(
        (0..VALIDATORS)
            .map(|i| {
                let key = validator_key(i).verifying_key();
                Validator {
                    address: detvm_network::Address(key.to_bytes()),
                    public_key: PublicKey(key),
                    voting_power: 1,
                }
            })
            .collect(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        prevote: Duration::from_millis(500),
        precommit: Duration::from_millis(500),
        ..LinearTimeouts::default()
    }
}

struct Net {
    nodes: Vec<(RunningNode, NetworkHandle)>,
    _dirs: Vec<tempfile::TempDir>,
}

async fn start_network() -> Net {
    let ports: Vec<u16> = (0..VALIDATORS).map(|_| free_port()).collect();
    let addr = |p: u16| format!("/ip4/127.0.0.1/tcp/{p}");
    let mut nodes = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..VALIDATORS {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = detvm_node::start(NodeConfig {
            dev: false,
            state_dir: Some(dir.path().join("chain")),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            genesis: genesis(),
            mining: Mining::Manual,
            pool: PoolLimits::default(),
            proposer: format!("validator-{i}"),
        })
        .await
        .expect("node starts");
        let genesis_hash = node
            .executor
            .run(|s| s.ledger.genesis_hash())
            .await
            .expect("genesis hash");
        let config = NetworkConfig {
            moniker: format!("validator-{i}"),
            key: Some(PrivateKey(validator_key(i))),
            node_key: [0; 32],
            validators: validator_set(),
            genesis_hash,
            listen: addr(ports[i as usize]),
            peers: (0..VALIDATORS)
                .filter(|&j| j != i)
                .map(|j| addr(ports[j as usize]))
                .collect(),
            home: dir.path().join("consensus"),
            timeouts: timeouts(),
            faulty_proposals: false,
        };
        let network = detvm_network::start(config, node.executor.clone())
            .await
            .expect("network starts");
        nodes.push((node, network));
        dirs.push(dir);
    }
    Net { nodes, _dirs: dirs }
}

impl Net {
    async fn stop(self) {
        for (node, network) in self.nodes {
            network.stop().await;
            node.stop().await;
        }
    }

    async fn heights(&self) -> Vec<u64> {
        let mut heights = Vec::new();
        for (node, _) in &self.nodes {
            heights.push(
                node.executor
                    .run(|s| s.ledger.head().height)
                    .await
                    .expect("head"),
            );
        }
        heights
    }

    /// Waits until every node is at `height` or above.
    async fn wait_for(&self, height: u64, limit: Duration) {
        let start = std::time::Instant::now();
        loop {
            let heights = self.heights().await;
            if heights.iter().all(|&h| h >= height) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "the network did not reach height {height} in {limit:?}: {heights:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every node's block hash and state root at each height up to
    /// `height`, and its receipts.
    async fn history(&self, node: usize, height: u64) -> Vec<([u8; 32], [u8; 32], usize)> {
        self.nodes[node]
            .0
            .executor
            .run(move |s| {
                (1..=height)
                    .map(|h| {
                        let block = s.ledger.block(h).unwrap().unwrap();
                        let receipts = s.ledger.receipts(h).unwrap().unwrap();
                        (block.hash(), block.header.state_root, receipts.len())
                    })
                    .collect()
            })
            .await
            .expect("history")
    }
}

fn transfer(from: u32, nonce: u64, to: u32) -> detvm_chain::SignedTransaction {
    let key = Keypair::dev(from);
    Transaction {
        chain_id: "detvm-net-test".into(),
        signer: key.implicit_id(),
        public_key: key.public_key(),
        nonce,
        gas_limit: 100_000,
        action: Action::Transfer {
            to: Keypair::dev(to).implicit_id(),
            amount: 1,
        },
    }
    .sign(&key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_finalize_the_same_blocks() {
    let net = start_network().await;
    net.wait_for(2, Duration::from_secs(60)).await;
    // 200 transfers, round robin over the nodes: every user sends its own
    // nonces to one node, so each node's pool holds gapless sequences.
    let total = 200u64;
    for k in 0..total {
        let user = (k % u64::from(USERS)) as u32;
        let nonce = k / u64::from(USERS);
        let tx = transfer(user, nonce, (user + 1) % USERS);
        let node = user as usize % net.nodes.len();
        net.nodes[node]
            .0
            .executor
            .run(move |s| s.submit(tx).map(|_| ()))
            .await
            .expect("executor")
            .expect("admitted");
    }
    // Wait until every transfer is in a block on every node.
    let start = std::time::Instant::now();
    loop {
        let mut included = Vec::new();
        for (node, _) in &net.nodes {
            included.push(
                node.executor
                    .run(|s| {
                        (0..USERS)
                            .map(|u| {
                                s.ledger
                                    .account(&Keypair::dev(u).implicit_id(), None)
                                    .unwrap()
                                    .map_or(0, |a| a.nonce)
                            })
                            .sum::<u64>()
                    })
                    .await
                    .expect("nonces"),
            );
        }
        if included.iter().all(|&n| n == total) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "transfers included per node: {included:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let height = *net.heights().await.iter().min().unwrap();
    let reference = net.history(0, height).await;
    let receipts: usize = reference.iter().map(|(_, _, r)| r).sum();
    println!(
        "{total} transfers final on every node at height {height}, after {:?}",
        start.elapsed()
    );
    assert_eq!(receipts as u64, total, "every transfer has one receipt");
    for node in 1..net.nodes.len() {
        assert_eq!(
            net.history(node, height).await,
            reference,
            "node {node} diverged"
        );
    }
    net.stop().await;
}
