//! Adversarial frame shapes (`detvm_fixtures::adversarial`) through the
//! real binary: `detvm run` and `detvm deploy` / `call` of a recursion
//! without bound must exit 1 with a deterministic `stack_overflow` or
//! `out_of_gas` trap, never die of a signal, and leave a state directory
//! that answers the next call.

use std::path::Path;
use std::process::Output;

mod common;

use common::{detvm, detvm_in, json_of, write};
use detvm_fixtures::adversarial::{self, EXPORT, METHOD, RECURSE_DEPTH};

/// A contract whose `ping` returns 42 as four little-endian bytes.
const PING: &str = r#"(module
  (import "env" "value_return" (func $value_return (param i32 i32)))
  (memory 1)
  (func (export "ping")
    (i32.store (i32.const 0) (i32.const 42))
    (call $value_return (i32.const 0) (i32.const 4))))"#;

/// The shapes written out, with their sizes: a float held across 10,000
/// calls, 990 globals read around the call, and a small function entering
/// a large one at every depth.
const SHAPES: [(&str, u32); 3] = [
    ("float_calls", 10_000),
    ("globals", 990),
    ("small_to_large", 10_000),
];

/// Exit code 1 (not a signal), with `what` for the message.
fn assert_exit_1(what: &str, output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{what}: {:?} (no code: killed by a signal)\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_deterministic_trap(what: &str, trap: &serde_json::Value) {
    assert!(
        trap == "stack_overflow" || trap == "out_of_gas",
        "{what}: expected stack_overflow or out_of_gas, got {trap}"
    );
}

fn shape_file(dir: &Path, name: &str, n: u32) -> String {
    let shape = adversarial::frame_corpus()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no frame shape {name}"));
    write(dir, &format!("{name}.wasm"), shape.module(n))
}

#[test]
fn run_of_a_recursion_without_bound_exits_1_with_a_trap() {
    let dir = tempfile::tempdir().unwrap();
    let depth = RECURSE_DEPTH.to_string();
    for (name, n) in SHAPES {
        let file = shape_file(dir.path(), name, n);
        let what = format!("run {name}");
        let json = detvm(&["run", &file, "--invoke", EXPORT, &depth, "--json"]);
        assert_exit_1(&what, &json);
        let json = json_of(&json);
        assert_eq!(json["outcome"], "trap", "{what}: {json}");
        assert_deterministic_trap(&what, &json["trap"]);
        // Without --json, the same trap on stderr; with little gas, out
        // of gas.
        let human = detvm(&["run", &file, "--invoke", EXPORT, &depth]);
        assert_exit_1(&what, &human);
        let stderr = String::from_utf8_lossy(&human.stderr);
        assert!(
            stderr.contains(&format!("trap: {}", json["trap"].as_str().unwrap())),
            "{what}: {stderr}"
        );
        let short = detvm(&[
            "run", &file, "--invoke", EXPORT, "--gas", "1000", "--json", &depth,
        ]);
        assert_exit_1(&what, &short);
        assert_eq!(json_of(&short)["trap"], "out_of_gas", "{what}");
    }
}

#[test]
fn deploy_and_call_of_a_recursion_without_bound_exit_1_and_the_state_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    for (name, n) in SHAPES {
        let file = shape_file(dir.path(), name, n);
        let what = format!("deploy/call {name}");
        let deployed = detvm_in(dir.path(), &["deploy", &file, "--state", state, "--json"]);
        assert_eq!(
            deployed.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&deployed.stderr)
        );
        let id = json_of(&deployed)["contract"]
            .as_str()
            .expect("a contract id")
            .to_owned();
        for _ in 0..2 {
            let called = detvm_in(
                dir.path(),
                &["call", &id, METHOD, "--state", state, "--json"],
            );
            assert_exit_1(&what, &called);
            let json = json_of(&called);
            assert_eq!(json["outcome"], "trapped", "{what}: {json}");
            assert_deterministic_trap(&what, &json["trap"]);
        }
    }
    // The state directory answers an ordinary contract afterwards.
    let ping = write(dir.path(), "ping.wat", PING);
    let deployed = detvm_in(dir.path(), &["deploy", &ping, "--state", state]);
    assert_eq!(deployed.status.code(), Some(0));
    let id = String::from_utf8_lossy(&deployed.stdout).trim().to_owned();
    let pong = detvm_in(dir.path(), &["call", &id, "ping", "--state", state]);
    assert_eq!(
        pong.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pong.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&pong.stdout).trim(), "0x2a000000");
}
