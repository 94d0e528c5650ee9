//! End-to-end tests of `detvm validate` and `detvm instrument`: the real
//! binary, real files, exit codes and JSON.

mod common;

use common::{detvm, json_of, write};

const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

#[test]
fn valid_text_module_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "add.wat", ADD);
    let output = detvm(&["validate", &file, "--json"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(json_of(&output), serde_json::json!({ "ok": true }));
}

#[test]
fn binary_module_is_accepted_whatever_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let binary = wast::parser::parse::<wast::Wat>(&wast::parser::ParseBuffer::new(ADD).unwrap())
        .unwrap()
        .encode()
        .unwrap();
    let file = write(dir.path(), "add.bin", binary);
    let output = detvm(&["validate", &file]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("valid"));
}

#[test]
fn simd_is_rejected_with_feature_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "simd.wat",
        r#"(module (func (result v128) v128.const i64x2 0 0))"#,
    );
    let output = detvm(&["validate", &file, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"]["kind"], "unsupported_feature");
    assert_eq!(json["error"]["feature"], "simd");
    assert!(
        json["error"]["offset"]
            .as_u64()
            .is_some_and(|offset| offset > 8),
        "{json}"
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[test]
fn limits_preset_switches_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "big.wat", "(module (memory 2000))");
    let contract = detvm(&["validate", &file, "--json"]);
    assert_eq!(contract.status.code(), Some(1));
    let json = json_of(&contract);
    assert_eq!(json["error"]["kind"], "limit_exceeded");
    assert_eq!(json["error"]["limit"], "memory_pages");
    assert_eq!(json["error"]["value"], 2000);
    assert_eq!(json["error"]["max"], 1024);

    let spec = detvm(&["validate", &file, "--json", "--limits", "spec"]);
    assert_eq!(spec.status.code(), Some(0));
}

#[test]
fn human_rejection_names_file_offset_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "imp.wat",
        r#"(module (import "detvm" "gas_left" (global (mut i64))))"#,
    );
    let output = detvm(&["validate", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("imp.wat") && stderr.contains("offset") && stderr.contains("detvm"),
        "{stderr}"
    );
}

#[test]
fn garbage_and_bad_text_are_malformed_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(
        dir.path(),
        "garbage.wasm",
        [0xff, 0x00, 0x13, 0x37, 0x80, 0x80],
    );
    let output = detvm(&["validate", &garbage, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_of(&output)["error"]["kind"], "malformed");

    let truncated = write(
        dir.path(),
        "truncated.wasm",
        b"\0asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f",
    );
    let output = detvm(&["validate", &truncated, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_of(&output)["error"]["kind"], "malformed");

    let text = write(
        dir.path(),
        "bad.wat",
        "(module (func (export \"f\") i32.bogus))",
    );
    let output = detvm(&["validate", &text, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["error"]["kind"], "malformed");
    let offset = json["error"]["offset"].as_u64().unwrap() as usize;
    assert_eq!(
        &"(module (func (export \"f\") i32.bogus))"[offset..offset + 9],
        "i32.bogus"
    );
}

#[test]
fn usage_errors_exit_2() {
    let missing = detvm(&["validate", "/nonexistent/definitely/missing.wasm"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));

    assert_eq!(detvm(&["validate"]).status.code(), Some(2));
    assert_eq!(
        detvm(&["validate", "x.wasm", "--limits", "huge"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(detvm(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn help_documents_exit_codes_and_commands() {
    let output = detvm(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for word in ["validate", "instrument", "Exit codes"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
}

#[test]
fn instrument_writes_a_module_with_the_detvm_imports() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "add.wat", ADD);
    let out = dir.path().join("add.instrumented.wasm");
    let output = detvm(&["instrument", &file, "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let json = json_of(&output);
    assert_eq!(json["ok"], true);
    assert_eq!(json["functions"], 1);
    assert!(json["metered_blocks"].as_u64().unwrap() >= 1);
    let written = std::fs::read(&out).unwrap();
    assert_eq!(
        json["output_size"].as_u64().unwrap() as usize,
        written.len()
    );
    assert!(json["input_size"].as_u64().unwrap() < json["output_size"].as_u64().unwrap());

    // The output is plain Wasm: a second validation of it must only object to
    // the reserved imports it now carries, proving everything else is intact.
    let again = detvm(&["validate", out.to_str().unwrap(), "--json"]);
    let json = json_of(&again);
    assert_eq!(json["error"]["kind"], "import_not_allowed");
    assert_eq!(json["error"]["module"], "detvm");
    assert_eq!(json["error"]["name"], "out_of_gas");
}

#[test]
fn instrument_rejects_and_reports_like_validate() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "threads.wat", "(module (memory 1 1 shared))");
    let out = dir.path().join("never.wasm");
    let output = detvm(&["instrument", &file, "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["error"]["kind"], "unsupported_feature");
    assert_eq!(json["error"]["feature"], "threads");
    assert!(!out.exists(), "no output is written for a rejected module");
}

#[test]
fn instrument_to_an_unwritable_path_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "add.wat", ADD);
    let output = detvm(&["instrument", &file, "-o", "/nonexistent/dir/out.wasm"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write"));
}
