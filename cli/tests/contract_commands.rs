//! End-to-end tests of `detvm deploy`, `call`, `view` and `state`: the real
//! binary, a real state directory, exit codes and JSON, and a state
//! directory that survives the process being killed at any moment.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::{detvm_in, json_of, wasm};
use detvm_host::{HostFees, Receipt, ReceiptOutcome, TrapKind};

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn unhex(text: &str) -> Vec<u8> {
    let digits = text.strip_prefix("0x").unwrap();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

const IMPORTS: &str = r#"
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "value_return" (func $value_return (param i32 i32)))
  (import "env" "log_utf8" (func $log_utf8 (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i64) (result i32)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "block_timestamp" (func $block_timestamp (result i64)))
"#;

/// `echo` returns its input; `put` stores the input under "in" and logs;
/// `trap` writes then traps; `clock` returns block height and timestamp;
/// `many` bumps a counter "n" and writes it into 2,000 keys of 1 KiB.
fn kv_contract() -> String {
    format!(
        r#"(module {IMPORTS}
  (memory 1)
  (data (i32.const 0) "n")
  (data (i32.const 2) "in")
  (data (i32.const 8) "stored")
  (func $load_input (result i32)
    (call $input (i64.const 0))
    (call $read_register (i64.const 0) (i32.const 4096))
    (i32.wrap_i64 (call $register_len (i64.const 0))))
  (func (export "echo")
    (call $value_return (i32.const 4096) (call $load_input)))
  (func (export "put")
    (drop (call $storage_write (i32.const 2) (i32.const 2) (i32.const 4096) (call $load_input) (i64.const 1)))
    (call $log_utf8 (i32.const 8) (i32.const 6)))
  (func (export "trap")
    (drop (call $storage_write (i32.const 2) (i32.const 2) (i32.const 8) (i32.const 6) (i64.const 1)))
    unreachable)
  (func (export "clock")
    (i64.store (i32.const 100) (call $block_height))
    (i64.store (i32.const 108) (call $block_timestamp))
    (call $value_return (i32.const 100) (i32.const 16)))
  (func (export "many") (local $i i32)
    (if (call $storage_read (i32.const 0) (i32.const 1) (i64.const 0))
      (then (call $read_register (i64.const 0) (i32.const 1000))))
    (i64.store (i32.const 1000) (i64.add (i64.load (i32.const 1000)) (i64.const 1)))
    (i32.store8 (i32.const 16) (i32.const 107))
    (loop $l
      (i32.store (i32.const 17) (local.get $i))
      (drop (call $storage_write (i32.const 16) (i32.const 5) (i32.const 1000) (i32.const 1024) (i64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 2000))))
    (drop (call $storage_write (i32.const 0) (i32.const 1) (i32.const 1000) (i32.const 8) (i64.const 1)))))"#
    )
}

/// A temp dir with the contract file, and the deployed contract's id.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kv.wat"), kv_contract()).unwrap();
    let output = detvm_in(dir.path(), &["deploy", "kv.wat"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = stdout_of(&output);
    assert_eq!(id.len(), 40, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    (dir, id)
}

#[test]
fn deploy_prints_the_id_and_uses_the_default_state_dir() {
    let (dir, id) = setup();
    assert!(dir.path().join(".detvm").join("state.redb").is_file());
    // The same code deployed again is another contract.
    let again = detvm_in(dir.path(), &["deploy", "kv.wat", "--json"]);
    assert_eq!(again.status.code(), Some(0));
    let json = json_of(&again);
    assert_eq!(json["outcome"], "deployed");
    assert_ne!(json["contract"].as_str().unwrap(), id);
    let code = wasm(&kv_contract());
    let fees = HostFees::v2();
    assert_eq!(
        json["gas_used"].as_u64().unwrap(),
        fees.deploy_base + fees.deploy_per_byte * code.len() as u64
    );
    assert_eq!(json["code_hash"].as_str().unwrap().len(), 64);
}

/// The `.dca` files of the state directory's compiled-code cache.
fn cached_artifacts(dir: &Path) -> Vec<std::path::PathBuf> {
    let cache = dir.join(".detvm").join("code-cache");
    let Ok(entries) = std::fs::read_dir(&cache) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dca"))
        .collect();
    files.sort();
    files
}

#[test]
fn calls_keep_compiled_code_in_the_state_dir_and_survive_a_damaged_entry() {
    let (dir, id) = setup();
    let call = |extra: &[&str]| {
        // `echo` changes no state, so every call must execute identically.
        let mut args = vec!["call", id.as_str(), "echo", "0x0102", "--json"];
        args.extend_from_slice(extra);
        let output = detvm_in(dir.path(), &args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut json = json_of(&output);
        // Heights differ from call to call; the execution must not.
        let receipt = json.as_object_mut().unwrap();
        receipt
            .retain(|k, _| ["outcome", "gas_used", "state_changes", "logs"].contains(&k.as_str()));
        assert_eq!(receipt["outcome"], "returned");
        assert!(receipt["gas_used"].as_u64().unwrap() > 0);
        json
    };
    let first = call(&[]);
    let files = cached_artifacts(dir.path());
    assert_eq!(files.len(), 1, "one contract's code is cached: {files:?}");
    let stored = std::fs::read(&files[0]).unwrap();

    // A hit gives the same execution.
    assert_eq!(call(&[]), first);
    // A damaged entry is a miss: same execution, and the entry is rewritten.
    std::fs::write(&files[0], &stored[..stored.len() / 2]).unwrap();
    assert_eq!(call(&[]), first);
    assert_eq!(std::fs::read(&files[0]).unwrap(), stored);
    // Without the cache nothing is read or written.
    std::fs::remove_file(&files[0]).unwrap();
    assert_eq!(call(&["--code-cache-mb", "0"]), first);
    assert!(cached_artifacts(dir.path()).is_empty());
}

#[test]
fn deploy_rejections_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.wat"),
        r#"(module (import "env" "open_file" (func (param i32))))"#,
    )
    .unwrap();
    let output = detvm_in(dir.path(), &["deploy", "bad.wat", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["outcome"], "error");
    assert_eq!(json["error"]["kind"], "import_not_allowed");

    let output = detvm_in(dir.path(), &["deploy", "missing.wasm"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(detvm_in(dir.path(), &["deploy"]).status.code(), Some(2));
}

#[test]
fn call_encodes_typed_and_hex_arguments() {
    let (dir, id) = setup();
    let typed = detvm_in(
        dir.path(),
        &[
            "call",
            &id,
            "echo",
            "u64:5",
            "str:alice",
            "bytes:0xab",
            "bool:true",
            "i32:-2",
            "--json",
        ],
    );
    assert_eq!(typed.status.code(), Some(0));
    let expected = borsh::to_vec(&(5u64, "alice".to_string(), vec![0xabu8], true, -2i32)).unwrap();
    assert_eq!(unhex(json_of(&typed)["return"].as_str().unwrap()), expected);

    let hex = detvm_in(dir.path(), &["call", &id, "echo", "0xdeadBEEF"]);
    assert_eq!(hex.status.code(), Some(0));
    assert_eq!(stdout_of(&hex), "0xdeadbeef");

    let empty = detvm_in(dir.path(), &["call", &id, "echo"]);
    assert_eq!(stdout_of(&empty), "0x");

    for bad in [["u64:x"], ["nope:1"], ["0xabc"], ["plain"]] {
        let output = detvm_in(dir.path(), &["call", &id, "echo", bad[0]]);
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("error"));
    }
}

#[test]
fn decode_prints_return_values_as_args_are_written() {
    let (dir, id) = setup();
    let words = ["u128:1000", "str:DVM token", "bool:false", "bytes:0x00ff"];
    let mut args = vec!["view", &id, "echo"];
    args.extend(words);
    args.extend(["--decode", "u128,str,bool,bytes"]);
    let text = detvm_in(dir.path(), &args);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(stdout_of(&text).lines().collect::<Vec<_>>(), words);

    args.push("--json");
    let json = json_of(&detvm_in(dir.path(), &args));
    assert_eq!(json["outcome"], "returned");
    assert_eq!(json["decoded"], serde_json::json!(words));
    assert!(json.get("decode_error").is_none());
    let expected = borsh::to_vec(&(1000u128, "DVM token", false, vec![0u8, 0xff])).unwrap();
    assert_eq!(unhex(json["return"].as_str().unwrap()), expected);
}

#[test]
fn a_return_that_does_not_decode_exits_1_but_a_call_still_commits() {
    let (dir, id) = setup();
    // `put` returns nothing, so a u8 is missing; its write is committed.
    let put = detvm_in(dir.path(), &["call", &id, "put", "0x07", "--decode", "u8"]);
    assert_eq!(put.status.code(), Some(1));
    assert_eq!(stdout_of(&put), "");
    let stderr = String::from_utf8_lossy(&put.stderr);
    assert!(stderr.contains("does not decode as u8"), "{stderr}");
    let state = json_of(&detvm_in(dir.path(), &["state", &id, "--json"]));
    assert_eq!(state["entries"][0]["value"], "0x07", "{state}");

    // Two bytes are not one u8: the leftover byte is reported.
    let json = json_of(&detvm_in(
        dir.path(),
        &["view", &id, "echo", "0x0102", "--decode", "u8", "--json"],
    ));
    assert_eq!(json["outcome"], "returned");
    assert_eq!(
        json["decode_error"],
        "1 bytes are left after the last value"
    );
    assert!(json.get("decoded").is_none());

    // A trap has nothing to decode: the trap is the outcome.
    let trap = detvm_in(
        dir.path(),
        &["call", &id, "trap", "--decode", "u8", "--json"],
    );
    assert_eq!(trap.status.code(), Some(1));
    assert_eq!(json_of(&trap)["outcome"], "trapped");
    assert!(json_of(&trap).get("decode_error").is_none());
}

#[test]
fn an_unknown_decode_type_is_a_usage_error_before_anything_runs() {
    let (dir, id) = setup();
    for types in ["f32", "u8,,u8", ""] {
        let output = detvm_in(dir.path(), &["call", &id, "put", "0x09", "--decode", types]);
        assert_eq!(output.status.code(), Some(2), "{types:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--decode"), "{types:?}: {stderr}");
    }
    let state = json_of(&detvm_in(dir.path(), &["state", &id, "--json"]));
    assert_eq!(state["entries"], serde_json::json!([]), "{state}");
}

#[test]
fn call_json_is_the_receipt_with_its_hash() {
    let (dir, id) = setup();
    let output = detvm_in(
        dir.path(),
        &["call", &id, "put", "str:hi", "--json", "--from", "bob"],
    );
    assert_eq!(output.status.code(), Some(0));
    let json = json_of(&output);
    assert_eq!(json["outcome"], "returned");
    assert_eq!(json["return"], "0x");
    assert_eq!(json["logs"], serde_json::json!(["stored"]));
    let changes = json["state_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(unhex(changes[0]["key"].as_str().unwrap()), b"in");
    let value = unhex(changes[0]["value"].as_str().unwrap());
    assert_eq!(value, borsh::to_vec(&"hi".to_string()).unwrap());

    // The printed hash is the receipt's, recomputed from the fields.
    let receipt = Receipt {
        outcome: ReceiptOutcome::Returned(Vec::new()),
        gas_used: json["gas_used"].as_u64().unwrap(),
        logs: vec!["stored".into()],
        state_changes: vec![(b"in".to_vec(), Some(value.clone()))],
        events: Vec::new(),
        calls: Vec::new(),
    };
    assert_eq!(
        json["receipt_hash"].as_str().unwrap(),
        detvm_host::hex(&receipt.hash())
    );

    // Committed: `state` lists it, by text and hex prefix.
    let state = detvm_in(dir.path(), &["state", &id, "--json"]);
    assert_eq!(state.status.code(), Some(0));
    let entries = json_of(&state)["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(unhex(entries[0]["value"].as_str().unwrap()), value);
    let by_text = detvm_in(dir.path(), &["state", &id, "--prefix", "i", "--json"]);
    assert_eq!(json_of(&by_text)["entries"].as_array().unwrap().len(), 1);
    let by_hex = detvm_in(dir.path(), &["state", &id, "--prefix", "0x6e", "--json"]);
    assert!(json_of(&by_hex)["entries"].as_array().unwrap().is_empty());
    let human = detvm_in(dir.path(), &["state", &id]);
    assert!(
        stdout_of(&human).starts_with("\"in\" = 0x02000000"),
        "{}",
        stdout_of(&human)
    );
}

#[test]
fn a_trapped_call_exits_1_and_changes_nothing() {
    let (dir, id) = setup();
    let output = detvm_in(dir.path(), &["call", &id, "trap", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["outcome"], "trapped");
    assert_eq!(json["trap"], TrapKind::Unreachable.name());
    assert!(json["state_changes"].as_array().unwrap().is_empty());
    let state = detvm_in(dir.path(), &["state", &id, "--json"]);
    assert!(json_of(&state)["entries"].as_array().unwrap().is_empty());

    let human = detvm_in(dir.path(), &["call", &id, "trap"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("trap: unreachable"));

    let short = detvm_in(dir.path(), &["call", &id, "put", "--gas", "10", "--json"]);
    assert_eq!(short.status.code(), Some(1));
    assert_eq!(json_of(&short)["trap"], "out_of_gas");
    assert_eq!(json_of(&short)["gas_used"], 10);
}

#[test]
fn view_runs_read_only() {
    let (dir, id) = setup();
    let view = detvm_in(dir.path(), &["view", &id, "echo", "0x01"]);
    assert_eq!(view.status.code(), Some(0));
    assert_eq!(stdout_of(&view), "0x01");
    let write = detvm_in(dir.path(), &["view", &id, "put", "0x01", "--json"]);
    assert_eq!(write.status.code(), Some(1));
    let json = json_of(&write);
    assert_eq!(json["trap"], "host");
    assert!(json["message"].as_str().unwrap().contains("view"));
    let state = detvm_in(dir.path(), &["state", &id, "--json"]);
    assert!(json_of(&state)["entries"].as_array().unwrap().is_empty());
}

#[test]
fn block_height_counts_committed_transactions() {
    let (dir, id) = setup();
    let clock = |dir: &Path| -> (u64, u64) {
        let bytes = unhex(&stdout_of(&detvm_in(dir, &["view", &id, "clock"])));
        (
            u64::from_le_bytes(bytes[..8].try_into().unwrap()),
            u64::from_le_bytes(bytes[8..].try_into().unwrap()),
        )
    };
    // The deploy was transaction 1; the next block is 2.
    assert_eq!(clock(dir.path()), (2, 2_000_000_000));
    assert_eq!(
        detvm_in(dir.path(), &["call", &id, "put"]).status.code(),
        Some(0)
    );
    assert_eq!(clock(dir.path()), (3, 3_000_000_000));
    // Neither views nor trapped calls commit.
    assert_eq!(
        detvm_in(dir.path(), &["call", &id, "trap"]).status.code(),
        Some(1)
    );
    assert_eq!(clock(dir.path()), (3, 3_000_000_000));
}

#[test]
fn bad_requests_exit_2() {
    let (dir, id) = setup();
    for args in [
        vec!["call", &id, "missing"],
        vec!["call", "not-an-id", "echo"],
        vec!["call", &"0".repeat(40), "echo"],
        vec!["view", &id, "echo", "--from", "has space"],
        vec!["state", "xyz"],
        vec!["state", &id, "--prefix", "0xzz"],
        vec!["call", &id],
    ] {
        let output = detvm_in(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    let output = detvm_in(dir.path(), &["call", &id, "missing", "--json"]);
    assert_eq!(json_of(&output)["error"]["kind"], "unknown_method");
}

#[test]
fn help_lists_the_contract_commands() {
    let output = detvm_in(Path::new("."), &["--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    for word in ["deploy", "call", "view", "state"] {
        assert!(help.contains(word), "{help}");
    }
}

/// The counter `n` and the value every `k…` key holds, from `state`;
/// asserts the state is one complete call's.
fn consistent_counter(dir: &Path, id: &str) -> u64 {
    let output = detvm_in(dir, &["state", id, "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "state must stay readable: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entries = json_of(&output)["entries"].as_array().unwrap().clone();
    if entries.is_empty() {
        return 0;
    }
    let mut n = None;
    let mut keys = 0;
    for entry in &entries {
        let key = unhex(entry["key"].as_str().unwrap());
        let value = unhex(entry["value"].as_str().unwrap());
        let counter = u64::from_le_bytes(value[..8].try_into().unwrap());
        match key.as_slice() {
            b"n" => {
                assert_eq!(value.len(), 8);
                n = Some(counter);
            }
            _ => {
                assert_eq!(key[0], b'k');
                assert_eq!(value.len(), 1024);
                keys += 1;
            }
        }
    }
    let n = n.expect("the counter is written with the keys");
    assert_eq!(keys, 2000, "every key of the call is there");
    for entry in &entries {
        let value = unhex(entry["value"].as_str().unwrap());
        assert_eq!(
            u64::from_le_bytes(value[..8].try_into().unwrap()),
            n,
            "all keys from one call"
        );
    }
    n
}

#[test]
fn killing_a_call_at_any_moment_keeps_a_complete_state() {
    let (dir, id) = setup();
    let dir = dir.path();
    let mut committed = 0;
    // Delays spread over start-up, compilation, execution and commit; the
    // assertions hold whichever phase the kill lands in.
    let delays_ms = [0u64, 3, 8, 15, 25, 40, 60, 80, 100, 120, 140, 170, 250, 400];
    for (round, delay) in delays_ms.iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_detvm"))
            .current_dir(dir)
            .args(["call", &id, "many"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        // SIGKILL: no destructor, no flush.
        let _ = child.kill();
        let status = child.wait().unwrap();
        let n = consistent_counter(dir, &id);
        if status.success() {
            assert_eq!(n, committed + 1, "round {round}: a completed call is kept");
        } else {
            assert!(
                n == committed || n == committed + 1,
                "round {round}: n = {n}"
            );
        }
        committed = n;

        // Every few rounds, a call that runs to the end must commit.
        if round % 4 == 3 {
            let output = detvm_in(dir, &["call", &id, "many"]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            committed += 1;
            assert_eq!(consistent_counter(dir, &id), committed);
        }
    }
    assert!(committed >= 3);
}

/// `ping` emits an event (topic 0x11…, data "pong") and returns "pong".
const CALLEE: &str = r#"(module
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (import "env" "value_return" (func $return (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11")
  (data (i32.const 64) "pong")
  (func (export "ping")
    (call $emit (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 4))
    (call $return (i32.const 64) (i32.const 4))))"#;

/// `relay` calls `ping` of the contract whose id is its input, then emits
/// its own event (no topics, data "after").
const RELAY: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "read_register" (func $read (param i64 i32)))
  (import "env" "emit_event" (func $emit (param i32 i32 i32 i32)))
  (import "env" "call_contract"
    (func $call (param i32 i32 i32 i32 i32 i32 i32 i64 i64) (result i32)))
  (memory 1)
  (data (i32.const 100) "ping")
  (data (i32.const 120) "after")
  (func (export "relay")
    (call $input (i64.const 0))
    (call $read (i64.const 0) (i32.const 0))
    (if (call $call (i32.const 0) (i32.const 40) (i32.const 100) (i32.const 4)
                    (i32.const 300) (i32.const 0) (i32.const 200)
                    (i64.const 1000000) (i64.const 1))
      (then unreachable))
    (call $emit (i32.const 0) (i32.const 0) (i32.const 120) (i32.const 5))))"#;

#[test]
fn call_shows_the_nested_calls_and_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("callee.wat"), CALLEE).unwrap();
    std::fs::write(dir.path().join("relay.wat"), RELAY).unwrap();
    let callee = stdout_of(&detvm_in(dir.path(), &["deploy", "callee.wat"]));
    let relay = stdout_of(&detvm_in(dir.path(), &["deploy", "relay.wat"]));
    let input = format!("0x{}", detvm_host::hex(callee.as_bytes()));
    let output = detvm_in(dir.path(), &["call", &relay, "relay", &input, "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = json_of(&output);
    let calls = json["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["contract"], callee.as_str());
    assert_eq!(calls[0]["method"], "ping");
    assert_eq!(calls[0]["outcome"], "returned");
    assert_eq!(
        calls[0]["return"],
        format!("0x{}", detvm_host::hex(b"pong"))
    );
    assert_eq!(calls[0]["gas_limit"], 1_000_000);
    let used = calls[0]["gas_used"].as_u64().unwrap();
    assert!(used > 0 && used < 1_000_000, "{used}");
    // Emission order: the callee's event, then the relay's own.
    let events = json["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["contract"], callee.as_str());
    assert_eq!(events[0]["topics"][0], format!("0x{}", "11".repeat(32)));
    assert_eq!(events[0]["data"], format!("0x{}", detvm_host::hex(b"pong")));
    assert_eq!(events[1]["contract"], relay.as_str());
    assert_eq!(events[1]["topics"].as_array().unwrap().len(), 0);

    let text = detvm_in(dir.path(), &["call", &relay, "relay", &input]);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(
        stderr.contains(&format!("call {callee}.ping -> returned (gas ")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("event {callee} [0x")), "{stderr}");
}
