//! Validators on loopback, each a full detvm node with the Malachite
//! engine in this process: they finalize the same blocks, state roots and
//! receipts (`docs/network.md`).

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use detvm_chain::{
    Action, Genesis, GenesisAccount, GenesisParams, GenesisValidator, Keypair, Transaction,
};
use detvm_network::{Fault, NetworkConfig, NetworkHandle, PrivateKey, ValidatorSet};
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
        validators: (0..VALIDATORS)
            .map(|i| GenesisValidator {
                public_key: detvm_host::hex(&validator_key(i).verifying_key().to_bytes()),
                power: 1,
            })
            .collect(),
    }
}

fn validator_set() -> ValidatorSet {
    ValidatorSet::from_genesis(&genesis()).expect("the genesis lists validators")
}

fn timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1500),
        prevote: Duration::from_millis(500),
        precommit: Duration::from_millis(500),
        ..LinearTimeouts::default()
    }
}

/// One node of the test network: its directory and configuration, and
/// while it runs, its node and engine.
struct Member {
    dir: tempfile::TempDir,
    config: NetworkConfig,
    running: Option<(RunningNode, NetworkHandle)>,
}

struct Net {
    members: Vec<Member>,
}

fn addr(port: u16) -> String {
    format!("/ip4/127.0.0.1/tcp/{port}")
}

fn genesis_hash() -> [u8; 32] {
    let db = std::sync::Arc::new(detvm_state::StateDb::in_memory().expect("db"));
    detvm_chain::Ledger::open(db, &genesis())
        .expect("genesis")
        .genesis_hash()
}

/// `VALIDATORS` validators (those in `faulty` propose bad blocks), all
/// connected to each other.
async fn start_network_with(faulty: &[(u32, Fault)]) -> Net {
    let ports: Vec<u16> = (0..VALIDATORS)
        .map(|_| detvm_testkit::free_loopback_port())
        .collect();
    let genesis_hash = genesis_hash();
    let mut net = Net {
        members: Vec::new(),
    };
    for i in 0..VALIDATORS {
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
            home: std::path::PathBuf::new(),
            timeouts: timeouts(),
            block_time: None,
            fault: faulty.iter().find(|(v, _)| *v == i).map(|(_, f)| *f),
        };
        net.add(config).await;
    }
    net
}

async fn start_network() -> Net {
    start_network_with(&[]).await
}

impl Net {
    /// Adds and starts a member with `config` (its home is set here).
    async fn add(&mut self, mut config: NetworkConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        config.home = dir.path().join("consensus");
        self.members.push(Member {
            dir,
            config,
            running: None,
        });
        self.start(self.members.len() - 1).await;
    }

    /// A full node (no key) that follows every validator.
    async fn add_full_node(&mut self) {
        let mut config = self.members[0].config.clone();
        config.moniker = "full-node".into();
        config.key = None;
        config.node_key = [7; 32];
        config.fault = None;
        config.peers = self
            .members
            .iter()
            .map(|m| m.config.listen.clone())
            .collect();
        config.listen = addr(detvm_testkit::free_loopback_port());
        self.add(config).await;
    }

    async fn start(&mut self, i: usize) {
        let member = &mut self.members[i];
        let node = detvm_node::start(NodeConfig {
            dev: false,
            state_dir: Some(member.dir.path().join("chain")),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            genesis: genesis(),
            mining: Mining::Manual,
            pool: PoolLimits::default(),
            proposer: member.config.moniker.clone(),
            code_cache_mb: detvm_node::DEFAULT_CODE_CACHE_MB,
        })
        .await
        .expect("node starts");
        let network = detvm_network::start(member.config.clone(), node.executor.clone())
            .await
            .expect("network starts");
        member.running = Some((node, network));
    }

    /// Stops member `i` (its state stays on disk).
    async fn stop_member(&mut self, i: usize) {
        if let Some((node, network)) = self.members[i].running.take() {
            network.stop().await;
            node.stop().await;
        }
    }

    async fn stop(mut self) {
        for i in 0..self.members.len() {
            self.stop_member(i).await;
        }
    }

    fn node(&self, i: usize) -> &RunningNode {
        &self.members[i].running.as_ref().expect("running").0
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].running.is_some())
            .collect()
    }

    async fn height(&self, i: usize) -> u64 {
        self.node(i)
            .executor
            .run(|s| s.ledger.head().height)
            .await
            .expect("head")
    }

    async fn heights(&self) -> Vec<u64> {
        let mut heights = Vec::new();
        for i in self.running() {
            heights.push(self.height(i).await);
        }
        heights
    }

    /// Waits until every running node is at `height` or above.
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
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Node `i`'s block hash, state root and receipt count at each height
    /// up to `height`.
    async fn history(&self, i: usize, height: u64) -> Vec<([u8; 32], [u8; 32], usize)> {
        self.node(i)
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

    /// Every running node has the same history up to the lowest head, and
    /// none saw a validator sign conflicting messages; returns that height.
    async fn assert_agree(&self) -> u64 {
        let running = self.running();
        for &i in &running {
            let network = &self.members[i].running.as_ref().expect("running").1;
            assert_eq!(network.misbehaviour_seen(), 0, "node {i} saw equivocation");
        }
        let mut lowest = u64::MAX;
        for &i in &running {
            lowest = lowest.min(self.height(i).await);
        }
        let reference = self.history(running[0], lowest).await;
        for &i in &running[1..] {
            assert_eq!(
                self.history(i, lowest).await,
                reference,
                "node {i} diverged"
            );
        }
        lowest
    }

    async fn submit(&self, i: usize, tx: detvm_chain::SignedTransaction) {
        self.node(i)
            .executor
            .run(move |s| s.submit(tx).map(|_| ()))
            .await
            .expect("executor")
            .expect("admitted");
    }

    /// Sum of the users' nonces on node `i`: transfers included.
    async fn included(&self, i: usize) -> u64 {
        self.node(i)
            .executor
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
            .expect("nonces")
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
        let node = user as usize % net.members.len();
        net.submit(node, transfer(user, nonce, (user + 1) % USERS))
            .await;
    }
    let start = std::time::Instant::now();
    loop {
        let mut included = Vec::new();
        for i in net.running() {
            included.push(net.included(i).await);
        }
        if included.iter().all(|&n| n == total) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "transfers included per node: {included:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let height = net.assert_agree().await;
    let receipts: usize = net.history(0, height).await.iter().map(|(_, _, r)| r).sum();
    println!(
        "{total} transfers final on every node at height {height}, after {:?}",
        start.elapsed()
    );
    assert_eq!(receipts as u64, total, "every transfer has one receipt");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_four_down_the_chain_goes_on_and_it_catches_up() {
    let mut net = start_network().await;
    net.wait_for(3, Duration::from_secs(60)).await;
    net.stop_member(3).await;
    let before = net.heights().await.into_iter().max().unwrap();
    // f = 1: the other three keep finalizing, including the rounds whose
    // proposer is the one that is down.
    net.wait_for(before + 8, Duration::from_secs(60)).await;
    net.submit(0, transfer(0, 0, 1)).await;
    net.start(3).await;
    let target = net.heights().await.into_iter().max().unwrap() + 2;
    net.wait_for(target, Duration::from_secs(60)).await;
    net.assert_agree().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_of_four_down_nothing_is_finalized_until_one_returns() {
    let mut net = start_network().await;
    net.wait_for(3, Duration::from_secs(60)).await;
    net.stop_member(2).await;
    net.stop_member(3).await;
    // A height in flight may still finish; then nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = net.heights().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        net.heights().await,
        stalled,
        "blocks finalized without a quorum"
    );
    net.assert_agree().await;
    net.start(2).await;
    let top = stalled.into_iter().max().unwrap();
    net.wait_for(top + 3, Duration::from_secs(90)).await;
    net.assert_agree().await;
    net.stop().await;
}

/// Validator 1 spoils every block it proposes with `fault`: none of its
/// blocks is finalized, the heights it led decide in a later round, and
/// the honest nodes agree.
async fn a_faulty_proposer_is_outvoted(fault: Fault) {
    let net = start_network_with(&[(1, fault)]).await;
    net.wait_for(12, Duration::from_secs(120)).await;
    let height = net.assert_agree().await;
    // The honest nodes committed (so re-executed) every block, and none
    // is the liar's.
    for h in 1..=height {
        let proposer = net
            .node(0)
            .executor
            .run(move |s| s.ledger.block(h).unwrap().unwrap().header.proposer)
            .await
            .unwrap();
        assert_ne!(
            proposer, "validator-1",
            "block {h} came from the faulty proposer"
        );
    }
    // The liar led round 0 at some of these heights: those were decided
    // in a later round, after the honest validators voted its block down.
    // (The head's certificate is written just after its block, so only
    // the heights below it are sure to have one stored.)
    let network = &net.members[0].running.as_ref().unwrap().1;
    let later_rounds = (1..height)
        .filter(|&h| {
            let certificate = network.certificate(h).unwrap().expect("certificate");
            certificate.round.as_i64() > 0
        })
        .count();
    assert!(
        later_rounds >= 2,
        "only {later_rounds} heights needed a second round"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_proposer_with_a_wrong_state_root_is_outvoted() {
    a_faulty_proposer_is_outvoted(Fault::WrongStateRoot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_proposer_with_an_invalid_transaction_is_outvoted() {
    a_faulty_proposer_is_outvoted(Fault::InvalidTransaction).await;
}

/// A node whose peer address another process listens on is refused at
/// start instead of running without hearing its peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listen_address_in_use_is_refused() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = taken.local_addr().expect("its address").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = detvm_node::start(NodeConfig {
        dev: false,
        state_dir: Some(dir.path().join("chain")),
        rpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        genesis: genesis(),
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        proposer: "validator-0".into(),
        code_cache_mb: detvm_node::DEFAULT_CODE_CACHE_MB,
    })
    .await
    .expect("node starts");
    let config = NetworkConfig {
        moniker: "validator-0".into(),
        key: Some(PrivateKey(validator_key(0))),
        node_key: [0; 32],
        validators: validator_set(),
        genesis_hash: genesis_hash(),
        listen: addr(port),
        peers: Vec::new(),
        home: dir.path().join("consensus"),
        timeouts: timeouts(),
        block_time: None,
        fault: None,
    };
    match detvm_network::start(config.clone(), node.executor.clone()).await {
        Err(detvm_network::NetworkError::Listen { address, .. }) => {
            assert_eq!(address, addr(port));
        }
        Err(other) => panic!("another error: {other}"),
        Ok(network) => {
            network.stop().await;
            panic!("started on a port in use");
        }
    }
    // Once the port is free the same configuration starts.
    drop(taken);
    let network = detvm_network::start(config, node.executor.clone())
        .await
        .expect("network starts");
    network.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_node_joining_late_syncs_from_genesis() {
    let mut net = start_network().await;
    for nonce in 0..20 {
        net.submit(0, transfer(0, nonce, 2)).await;
    }
    net.wait_for(101, Duration::from_secs(180)).await;
    net.add_full_node().await;
    let full = net.members.len() - 1;
    let target = net.height(0).await;
    let start = std::time::Instant::now();
    while net.height(full).await < target {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the full node reached {} of {target}",
            net.height(full).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reference = net.history(0, target).await;
    assert_eq!(net.history(full, target).await, reference);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_sent_to_one_node_reaches_every_mempool() {
    let net = start_network().await;
    net.wait_for(1, Duration::from_secs(60)).await;
    // A future nonce: it waits in every pool instead of entering a block.
    let tx = transfer(3, 5, 0);
    let hash = tx.hash();
    net.submit(0, tx).await;
    let start = std::time::Instant::now();
    for i in net.running() {
        loop {
            let pooled = net
                .node(i)
                .executor
                .run(move |s| s.pool.contains(&hash))
                .await
                .unwrap();
            if pooled {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "node {i} never received the transaction"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    net.stop().await;
}
