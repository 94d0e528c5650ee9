//! The reserved `detvm` namespace and the import allow-list.

use detvm_metering::{AllowedImport, Config, ImportPolicy, ValidationError, abi, validate};
use wasmparser::ValType;

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("bad test module: {e}\n{text}"))
}

fn host_api() -> Config {
    Config::with_imports(ImportPolicy::AllowList(vec![
        AllowedImport::new("env", "log", [ValType::I32, ValType::I32], []),
        AllowedImport::new("env", "balance", [], [ValType::I64]),
        // The same name twice with different signatures: either matches.
        AllowedImport::new("env", "hash", [ValType::I32], [ValType::I32]),
        AllowedImport::new("env", "hash", [ValType::I32, ValType::I32], [ValType::I32]),
    ]))
}

/// Asserts `ImportNotAllowed` for `module`.`name` at `offset`, and returns
/// the reason.
fn refused(bytes: &[u8], config: &Config, module: &str, name: &str, offset: u64) -> String {
    match validate(bytes, config) {
        Err(ValidationError::ImportNotAllowed {
            module: m,
            name: n,
            offset: o,
            reason,
        }) => {
            assert_eq!(
                (m.as_str(), n.as_str(), o),
                (module, name, offset),
                "{reason}"
            );
            reason
        }
        other => panic!("expected import_not_allowed, got {other:?}"),
    }
}

/// Offset of the `n`th import, located independently of the code under
/// test.
fn import_offset(bytes: &[u8], n: usize) -> u64 {
    let parser = wasmparser::Parser::new(0);
    for payload in parser.parse_all(bytes) {
        if let wasmparser::Payload::ImportSection(reader) = payload.expect("payload") {
            let all: Vec<_> = reader
                .into_imports_with_offsets()
                .map(|i| i.expect("import").0)
                .collect();
            return all[n];
        }
    }
    panic!("no imports");
}

#[test]
fn the_detvm_module_is_reserved() {
    let m = wat(r#"(module (import "detvm" "out_of_gas" (func)))"#);
    let reason = refused(
        &m,
        &Config::default(),
        abi::MODULE,
        abi::OUT_OF_GAS,
        import_offset(&m, 0),
    );
    assert!(reason.contains("reserved"), "{reason}");
}

#[test]
fn every_kind_of_detvm_import_is_refused() {
    for import in [
        r#"(import "detvm" "gas_left" (global (mut i64)))"#,
        r#"(import "detvm" "memory" (memory 1))"#,
        r#"(import "detvm" "table" (table 1 funcref))"#,
        r#"(import "detvm" "anything" (func (param i32)))"#,
    ] {
        let m = wat(&format!("(module {import})"));
        let e = validate(&m, &Config::default()).unwrap_err();
        assert_eq!(e.kind(), "import_not_allowed", "{import}: {e}");
    }
}

#[test]
fn the_detvm_module_is_reserved_even_if_allow_listed() {
    let config = Config::with_imports(ImportPolicy::AllowList(vec![AllowedImport::new(
        abi::MODULE,
        abi::OUT_OF_GAS,
        [],
        [],
    )]));
    let m = wat(r#"(module (import "detvm" "out_of_gas" (func)))"#);
    let reason = refused(&m, &config, "detvm", "out_of_gas", import_offset(&m, 0));
    assert!(reason.contains("reserved"), "{reason}");
}

#[test]
fn a_similar_module_name_is_not_reserved() {
    for module in ["detvm_", "Detvm", "detv", "env"] {
        let m = wat(&format!(
            r#"(module (import "{module}" "out_of_gas" (func)))"#
        ));
        validate(&m, &Config::default()).unwrap_or_else(|e| panic!("{module}: {e}"));
    }
}

#[test]
fn any_policy_allows_every_kind_of_import() {
    let m = wat(r#"(module
        (import "env" "f" (func (param i64) (result f32)))
        (import "env" "g" (global (mut i32)))
        (import "env" "m" (memory 1))
        (import "env" "t" (table 1 funcref)))"#);
    let info = validate(&m, &Config::default()).expect("accepted");
    assert_eq!(info.imports, 4);
}

#[test]
fn allow_list_accepts_exact_matches() {
    let m = wat(r#"(module
        (import "env" "log" (func (param i32 i32)))
        (import "env" "balance" (func (result i64)))
        (import "env" "hash" (func (param i32 i32) (result i32)))
        (import "env" "hash" (func (param i32) (result i32)))
        (import "env" "log" (func $again (param i32 i32))))"#);
    let info = validate(&m, &host_api()).expect("accepted");
    assert_eq!(info.imported_functions, 5);
}

#[test]
fn allow_list_accepts_a_module_without_imports() {
    validate(&wat("(module (func))"), &host_api()).expect("accepted");
    validate(
        &wat("(module)"),
        &Config::with_imports(ImportPolicy::AllowList(vec![])),
    )
    .expect("accepted");
}

#[test]
fn allow_list_refuses_an_unknown_name() {
    let m = wat(r#"(module
        (import "env" "log" (func (param i32 i32)))
        (import "env" "logg" (func (param i32 i32))))"#);
    let reason = refused(&m, &host_api(), "env", "logg", import_offset(&m, 1));
    assert!(reason.contains("not in the allow-list"), "{reason}");
}

#[test]
fn allow_list_refuses_a_known_name_in_another_module() {
    let m = wat(r#"(module (import "host" "log" (func (param i32 i32))))"#);
    let reason = refused(&m, &host_api(), "host", "log", import_offset(&m, 0));
    assert!(reason.contains("not in the allow-list"), "{reason}");
}

#[test]
fn allow_list_refuses_a_wrong_signature() {
    let m = wat(r#"(module (import "env" "log" (func (param i32 i64))))"#);
    let reason = refused(&m, &host_api(), "env", "log", import_offset(&m, 0));
    assert!(
        reason.contains("(i32, i64) -> ()") && reason.contains("(i32, i32) -> ()"),
        "{reason}"
    );
    // Same parameters, extra result.
    let m = wat(r#"(module (import "env" "balance" (func (result i64 i64))))"#);
    let reason = refused(&m, &host_api(), "env", "balance", import_offset(&m, 0));
    assert!(reason.contains("differs"), "{reason}");
    // Matches neither overload.
    let m = wat(r#"(module (import "env" "hash" (func (param i64) (result i32))))"#);
    refused(&m, &host_api(), "env", "hash", import_offset(&m, 0));
}

#[test]
fn allow_list_refuses_a_global_import() {
    let m = wat(r#"(module (import "env" "log" (global i32)))"#);
    let reason = refused(&m, &host_api(), "env", "log", import_offset(&m, 0));
    assert!(reason.contains("global"), "{reason}");
}

#[test]
fn allow_list_refuses_memory_and_table_imports() {
    let m = wat(r#"(module (import "env" "memory" (memory 1)))"#);
    let reason = refused(&m, &host_api(), "env", "memory", import_offset(&m, 0));
    assert!(reason.contains("memory"), "{reason}");
    let m = wat(r#"(module (import "env" "table" (table 1 funcref)))"#);
    refused(&m, &host_api(), "env", "table", import_offset(&m, 0));
}

#[test]
fn the_error_names_the_import() {
    let m = wat(r#"(module (import "env" "nope" (func)))"#);
    let e = validate(&m, &host_api()).unwrap_err();
    assert_eq!(e.kind(), "import_not_allowed");
    let text = e.to_string();
    assert!(text.contains("env") && text.contains("nope"), "{text}");
}

#[test]
fn an_import_with_a_bad_type_index_is_invalid_not_refused() {
    // Type index 5 does not exist: that is the module's fault, not the
    // policy's.
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([
        0x02, 0x09, 0x01, 0x03, b'e', b'n', b'v', 0x01, b'f', 0x00, 0x05,
    ]);
    let e = validate(&m, &host_api()).unwrap_err();
    assert_eq!(e.kind(), "invalid", "{e}");
}
