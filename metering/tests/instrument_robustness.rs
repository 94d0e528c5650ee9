//! Instrumentation never panics: truncated, corrupted or random inputs and
//! mismatched validation info give an error or a module, nothing else.
//! Whenever the corrupted input is still a valid module in the profile, the
//! output must be valid too.

mod exec_common;

use detvm_metering::{InstrumentError, ModuleInfo, Schedule, StackConfig, instrument};
use exec_common::check_valid;
use proptest::prelude::*;

fn golden_modules() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("golden directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.to_str()
                .is_some_and(|name| name.ends_with(".wat") && !name.ends_with(".instrumented.wat"))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| wat::parse_file(path).expect("golden input parses"))
        .collect()
}

fn instrument_default(bytes: &[u8]) -> Result<Vec<u8>, InstrumentError> {
    instrument(
        bytes,
        &ModuleInfo::default(),
        &Schedule::v1(),
        &StackConfig::default(),
    )
    .map(|instrumented| instrumented.bytes)
}

fn check_input(bytes: &[u8]) -> Result<(), TestCaseError> {
    let result = instrument_default(bytes);
    if check_valid(bytes).is_ok() {
        let output =
            result.map_err(|error| TestCaseError::fail(format!("valid input refused: {error}")))?;
        if let Err(error) = check_valid(&output) {
            return Err(TestCaseError::fail(format!(
                "valid input gave invalid output: {error}"
            )));
        }
    }
    Ok(())
}

#[test]
fn truncated_modules_are_refused_without_panicking() {
    for module in golden_modules() {
        for len in 0..module.len() {
            let result = instrument_default(&module[..len]);
            // Only cuts at section boundaries can still parse.
            if let Ok(output) = result {
                assert!(check_valid(&module[..len]).is_err() || check_valid(&output).is_ok());
            }
        }
    }
}

#[test]
fn mismatched_info_is_reported() {
    let bytes = wat::parse_str("(module (memory 1))").expect("parses");
    let mut info =
        detvm_metering::validate(&bytes, &detvm_metering::Config::default()).expect("valid");
    info.tables = vec![detvm_metering::TableInfo::default()];
    let error =
        instrument(&bytes, &info, &Schedule::v1(), &StackConfig::default()).expect_err("mismatch");
    assert_eq!(error.kind(), "info_mismatch");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_modules_never_panic(
        module_index in 0usize..64,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let modules = golden_modules();
        let mut bytes = modules[module_index % modules.len()].clone();
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        check_input(&bytes)?;
    }

    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend_from_slice(&tail);
        check_input(&bytes)?;
    }
}
