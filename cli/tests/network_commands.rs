//! `detvm node --validator` as processes: four validators on loopback,
//! one killed with `kill -9` and restarted (`docs/network.md`, crash
//! recovery), and the command's refusals.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{detvm, rpc, rpc_url_of, write};
use detvm_chain::Keypair;
use detvm_host::hex;
use serde_json::{Value, json};

/// A validator process, killed when dropped so no test leaves one behind.
struct Validator {
    child: Child,
    url: String,
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(i: u8) -> Keypair {
    Keypair::from_seed([i + 1; 32])
}

/// A key file and a genesis listing validators 0..n.
fn setup(dir: &Path, n: u8) -> String {
    for i in 0..n {
        let k = key(i);
        write(
            dir,
            &format!("validator-{i}.json"),
            json!({
                "account_id": k.implicit_id(),
                "public_key": hex(&k.public_key()),
                "secret_key": hex(&k.seed()),
            })
            .to_string(),
        );
    }
    let validators: Vec<Value> = (0..n)
        .map(|i| json!({"public_key": hex(&key(i).public_key()), "power": 1}))
        .collect();
    write(
        dir,
        "genesis.json",
        json!({"chain_id": "detvm-net-cli", "validators": validators}).to_string(),
    )
}

fn start(dir: &Path, i: u8, ports: &[u16]) -> Validator {
    let peers: Vec<String> = (0..ports.len())
        .filter(|&j| j != i as usize)
        .map(|j| format!("127.0.0.1:{}", ports[j]))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_detvm"))
        .arg("node")
        .arg("--validator")
        .arg("--key")
        .arg(dir.join(format!("validator-{i}.json")))
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .arg("--state")
        .arg(dir.join(format!("node-{i}")))
        .args(["--p2p", &format!("127.0.0.1:{}", ports[i as usize])])
        .args(["--peers", &peers.join(",")])
        .args(["--rpc", "127.0.0.1:0", "--block-time", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the validator starts");
    let url = rpc_url_of(&mut child);
    Validator { url, child }
}

fn height(v: &Validator) -> u64 {
    rpc(&v.url, "status", vec![])
        .ok()
        .and_then(|s| s["height"].as_u64())
        .unwrap_or(0)
}

fn wait_all(validators: &[&Validator], target: u64, limit: Duration) {
    let start = Instant::now();
    loop {
        let heights: Vec<u64> = validators.iter().map(|v| height(v)).collect();
        if heights.iter().all(|&h| h >= target) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "height {target} not reached in {limit:?}: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn block_hash(v: &Validator, height: u64) -> String {
    rpc(&v.url, "get_block", vec![json!(height)]).expect("block")["hash"]
        .as_str()
        .expect("hash")
        .to_owned()
}

#[test]
fn a_validator_killed_at_any_moment_rejoins_and_agrees() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 4);
    let ports: Vec<u16> = (0..4)
        .map(|_| detvm_testkit::free_loopback_port())
        .collect();
    let mut validators: Vec<Validator> = (0..4).map(|i| start(dir.path(), i, &ports)).collect();
    wait_all(
        &validators.iter().collect::<Vec<_>>(),
        3,
        Duration::from_secs(60),
    );
    // Killed mid-stride, several times: each restart replays the engine's
    // log and the chain's last commit, and the network never forks.
    for round in 0..3 {
        let victim = round % 4;
        validators[victim].child.kill().expect("kill -9");
        let _ = validators[victim].child.wait();
        let others: Vec<&Validator> = (0..4)
            .filter(|&i| i != victim)
            .map(|i| &validators[i])
            .collect();
        let now = others.iter().map(|v| height(v)).max().unwrap();
        wait_all(&others, now + 5, Duration::from_secs(60));
        validators[victim] = start(dir.path(), victim as u8, &ports);
        let now = validators.iter().map(height).max().unwrap();
        wait_all(
            &validators.iter().collect::<Vec<_>>(),
            now + 2,
            Duration::from_secs(60),
        );
    }
    let top = validators.iter().map(height).min().unwrap();
    for h in [1, top / 2, top] {
        let reference = block_hash(&validators[0], h);
        for v in &validators[1..] {
            assert_eq!(block_hash(v, h), reference, "block {h} differs");
        }
    }
}

#[test]
fn the_command_refuses_what_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = setup(dir.path(), 1);
    let outsider = dir.path().join("outsider.json");
    let k = key(9);
    std::fs::write(
        &outsider,
        json!({"account_id": k.implicit_id(), "public_key": hex(&k.public_key()), "secret_key": hex(&k.seed())})
            .to_string(),
    )
    .unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let no_validators = write(dir.path(), "plain.json", r#"{"chain_id": "plain"}"#);
    let key0 = dir.path().join("validator-0.json");
    let key0 = key0.to_str().unwrap();
    let outsider = outsider.to_str().unwrap();
    for (args, expected) in [
        (
            vec![
                "--validator",
                "--key",
                outsider,
                "--genesis",
                &genesis,
                "--state",
                state,
                "--p2p",
                "127.0.0.1:0",
            ],
            "is not a validator in the genesis file",
        ),
        (
            vec![
                "--validator",
                "--key",
                key0,
                "--genesis",
                &no_validators,
                "--state",
                state,
                "--p2p",
                "127.0.0.1:0",
            ],
            "lists no validators",
        ),
        (
            vec![
                "--validator",
                "--key",
                key0,
                "--genesis",
                &genesis,
                "--p2p",
                "127.0.0.1:0",
            ],
            "needs --state",
        ),
        (
            vec![
                "--validator",
                "--key",
                key0,
                "--genesis",
                &genesis,
                "--state",
                state,
                "--p2p",
                "nowhere",
            ],
            "neither IP:PORT nor a libp2p address",
        ),
    ] {
        let mut all = vec!["node"];
        all.extend(args);
        let out = detvm(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
    }
    // --validator without --key is refused by the argument parser.
    let out = detvm(&[
        "node",
        "--validator",
        "--genesis",
        &genesis,
        "--p2p",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
