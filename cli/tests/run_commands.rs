//! End-to-end tests of `detvm run` and `detvm wast`: the real binary, real
//! files, exit codes and JSON.

mod common;

use common::{detvm, json_of, write};
use serde_json::json;

const KERNELS: &str = r#"
(module
  (memory 1)
  (func (export "add") (param i32 i64) (result i64) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "div") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1)))
  (func (export "neg") (param f64) (result f64) (f64.neg (local.get 0)))
  (func (export "pair") (result i32 f64) (i32.const 7) (f64.const -0.5))
  (func (export "spin") (loop $l (br $l)))
  (func (export "boom") (unreachable))
  (func (export "null") (result funcref) (ref.null func))
  (func (export "oob") (result i32) (i32.load (i32.const 65536)))
)
"#;

#[test]
fn results_are_typed_and_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "k.wat", KERNELS);

    let output = detvm(&["run", &file, "--invoke", "add", "-1", "0x10", "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = json_of(&output);
    assert_eq!(json["outcome"], "ok");
    assert_eq!(json["results"], json!(["i64:15"]));
    assert!(json["gas_used"].as_u64().unwrap() > 0);

    // Arithmetic NaNs are canonical; bit-moving operations keep the payload.
    let div = json_of(&detvm(&[
        "run", &file, "--invoke", "div", "0", "0", "--json",
    ]));
    assert_eq!(div["results"], json!(["f32:0x7fc00000"]));
    let neg = json_of(&detvm(&[
        "run", &file, "--invoke", "neg", "--json", "--", "-nan:0x4",
    ]));
    assert_eq!(neg["results"], json!(["f64:0x7ff0000000000004"]));

    let pair = json_of(&detvm(&["run", &file, "--invoke", "pair", "--json"]));
    assert_eq!(pair["results"], json!(["i32:7", "f64:0xbfe0000000000000"]));
    let null = json_of(&detvm(&["run", &file, "--invoke", "null", "--json"]));
    assert_eq!(null["results"], json!(["funcref:null"]));
}

#[test]
fn traps_exit_1_with_kind_and_gas() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "k.wat", KERNELS);

    let spin = detvm(&["run", &file, "--invoke", "spin", "--gas", "5000", "--json"]);
    assert_eq!(spin.status.code(), Some(1));
    assert_eq!(
        json_of(&spin),
        json!({ "outcome": "trap", "trap": "out_of_gas", "gas_used": 5000 })
    );

    let boom = json_of(&detvm(&["run", &file, "--invoke", "boom", "--json"]));
    assert_eq!(boom["trap"], "unreachable");
    let oob = json_of(&detvm(&["run", &file, "--invoke", "oob", "--json"]));
    assert_eq!(oob["trap"], "memory_out_of_bounds");

    let human = detvm(&["run", &file, "--invoke", "boom"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&human.stderr).contains("trap: unreachable"));
}

#[test]
fn a_rejected_module_reports_the_validation_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "simd.wat",
        r#"(module (func (export "f") (result v128) v128.const i64x2 0 0))"#,
    );
    let output = detvm(&["run", &file, "--invoke", "f", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["outcome"], "rejected");
    assert_eq!(json["error"]["kind"], "unsupported_feature");
    assert_eq!(json["error"]["feature"], "simd");
}

#[test]
fn the_limits_preset_applies_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "big.wat",
        r#"(module (memory 2000) (func (export "size") (result i32) memory.size))"#,
    );
    assert_eq!(
        detvm(&["run", &file, "--invoke", "size"]).status.code(),
        Some(1)
    );
    let spec = json_of(&detvm(&[
        "run", &file, "--invoke", "size", "--limits", "spec", "--json",
    ]));
    assert_eq!(spec["results"], json!(["i32:2000"]));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "k.wat", KERNELS);
    for args in [
        vec!["run", &file, "--invoke", "add", "1"],
        vec!["run", &file, "--invoke", "add", "1", "x"],
        vec!["run", &file, "--invoke", "add", "1", "2", "3"],
        vec!["run", &file, "--invoke", "missing"],
        vec!["run", &file, "--invoke", "add", "0x1_0000_0000", "1"],
        vec!["run", &file],
        vec!["run", &file, "--invoke", "spin", "--gas", "-5"],
    ] {
        let output = detvm(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stderr.is_empty(), "{args:?} explains itself");
    }
}

#[test]
fn wast_reports_per_file_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.wast",
        r#"(module (func (export "f") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))
           (assert_return (invoke "f" (i32.const 5)) (i32.const 15))
           (assert_trap (module (func $s unreachable) (start $s)) "unreachable")
           (assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")"#,
    );
    let bad = write(
        dir.path(),
        "bad.wast",
        r#"(module (func (export "f") (result f32) (f32.div (f32.const 0) (f32.const 0))))
           (assert_return (invoke "f") (f32.const nan:canonical))
           (assert_return (invoke "f") (f32.const nan:0x1))"#,
    );

    let output = detvm(&["wast", &good]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "good.wast: 4 passed, 0 failed\n4 passed, 0 failed\n"
    );

    let output = detvm(&["wast", &good, &bad]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("bad.wast: 2 passed, 1 failed"), "{stdout}");
    assert!(stdout.ends_with("6 passed, 1 failed\n"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad.wast:3"),
        "the failing line is named"
    );

    assert_eq!(detvm(&["wast", "/nonexistent.wast"]).status.code(), Some(2));
    let garbage = write(dir.path(), "garbage.wast", "(module (func");
    assert_eq!(detvm(&["wast", &garbage]).status.code(), Some(1));
}

const REFS: &str = r#"
(module
  (func $target (result i32) (i32.const 1))
  (elem declare func $target)
  (func (export "refs") (result funcref funcref) (ref.func $target) (ref.null func))
)
"#;

/// The stdout of a `detvm` run that must succeed.
fn stdout_of(args: &[&str]) -> String {
    let output = detvm(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

#[test]
fn funcrefs_print_the_same_in_every_process_without_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "refs.wat", REFS);

    // Each run is a separate process, so an address-derived form would
    // differ between the two (and would not match the expected text).
    let text = ["run", file.as_str(), "--invoke", "refs"];
    let first = stdout_of(&text);
    let second = stdout_of(&text);
    assert_eq!(first, "funcref:nonnull\nfuncref:null\n");
    assert_eq!(first, second);

    let json = ["run", file.as_str(), "--invoke", "refs", "--json"];
    let first = stdout_of(&json);
    let second = stdout_of(&json);
    assert_eq!(first, second);
    let first = serde_json::from_str::<serde_json::Value>(&first).unwrap();
    assert_eq!(first["results"], json!(["funcref:nonnull", "funcref:null"]));
}

const HYPHENS: &str = r#"
(module
  (func (export "-f") (result i32) (i32.const 42))
  (func (export "f") (param i32) (result i32) (local.get 0))
)
"#;

#[test]
fn export_names_may_start_with_a_hyphen() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hyphens.wat", HYPHENS);

    assert_eq!(stdout_of(&["run", &file, "--invoke", "-f"]), "i32:42\n");
    assert_eq!(stdout_of(&["run", &file, "--invoke=-f"]), "i32:42\n");
    let json = json_of(&detvm(&["run", &file, "--invoke", "-f", "--json"]));
    assert_eq!(json["results"], json!(["i32:42"]));
}

#[test]
fn negative_numbers_stay_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hyphens.wat", HYPHENS);

    assert_eq!(
        stdout_of(&["run", &file, "--invoke", "f", "-1"]),
        "i32:-1\n"
    );
    assert_eq!(
        stdout_of(&["run", &file, "--invoke", "f", "--", "-0x7fffffff"]),
        "i32:-2147483647\n"
    );
    let neg = json_of(&detvm(&["run", &file, "--invoke", "f", "-1", "--json"]));
    assert_eq!(neg["results"], json!(["i32:-1"]));
}

#[test]
fn run_help_documents_result_forms_and_hyphen_names() {
    let help = stdout_of(&["run", "--help"]);
    for needle in [
        "funcref:null",
        "funcref:nonnull",
        "externref:<host id>",
        "--invoke -f",
    ] {
        assert!(help.contains(needle), "`{needle}` missing from:\n{help}");
    }
}
