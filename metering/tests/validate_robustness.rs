//! Hostile input: truncated, random and mutated modules, and huge LEB128
//! sizes and counts. `validate` must never panic, and must agree with
//! wasmparser on which modules are in the profile.

use arbitrary::{Arbitrary, Unstructured};
use detvm_metering::{Config, Limits, ModuleInfo, ValidationError, validate};
use proptest::prelude::*;
use wasmparser::{Validator, WasmFeatures};

fn profile() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

fn valid_with(features: WasmFeatures, bytes: &[u8]) -> bool {
    Validator::new_with_features(features)
        .validate_all(bytes)
        .is_ok()
}

fn spec() -> Config {
    Config::with_limits(Limits::spec())
}

/// The invariants that hold for any input under `Limits::spec()`:
/// accepted modules are in the profile; modules in the profile are accepted
/// unless a limit binds; valid modules outside the profile are reported as
/// `unsupported_feature` unless a limit binds; invalid ones are never.
fn check_consistent(bytes: &[u8]) -> Result<ModuleInfo, ValidationError> {
    let ours = validate(bytes, &spec());
    let in_profile = valid_with(profile(), bytes);
    match &ours {
        Ok(info) => {
            assert!(in_profile, "accepted a module outside the profile");
            assert_eq!(info.size, bytes.len());
        }
        Err(e) => {
            assert!(e.offset() <= bytes.len() as u64, "offset past the end: {e}");
            let limited = matches!(e, ValidationError::LimitExceeded { .. });
            assert!(
                !in_profile || limited,
                "rejected a module in the profile: {e}"
            );
            if !in_profile && !limited {
                let valid = valid_with(WasmFeatures::all(), bytes);
                assert_eq!(
                    e.kind() == "unsupported_feature",
                    valid,
                    "valid with all features: {valid}, but got {e}"
                );
            }
        }
    }
    ours
}

/// A module exercising most sections.
fn sample() -> Vec<u8> {
    wat::parse_str(
        r#"(module
          (type $t (func (param i32) (result i32)))
          (import "env" "f" (func $f (type $t)))
          (import "env" "g" (global $g i32))
          (memory 1 2)
          (table 2 funcref)
          (global $h (mut i64) (i64.const 5))
          (export "run" (func $run))
          (start $init)
          (elem (i32.const 0) $f $run)
          (data (i32.const 0) "abc")
          (func $init)
          (func $run (type $t) (local f32)
            (block (result i32)
              (br_table 0 0 (local.get 0) (i32.load offset=4 (local.get 0))))
            (call_indirect (type $t) (i32.const 0))
            (i32.extend8_s)))"#,
    )
    .expect("sample")
}

#[test]
fn every_truncation_of_a_module_is_rejected_as_malformed() {
    let m = sample();
    validate(&m, &Config::default()).expect("the whole module is accepted");
    for len in 0..m.len() {
        let prefix = &m[..len];
        let result = check_consistent(prefix);
        // A cut exactly between sections can leave a valid module (e.g. just
        // the header); anything else is a decoding error.
        if !valid_with(profile(), prefix) {
            let e = result.expect_err("truncated");
            assert_eq!(e.kind(), "malformed", "cut at {len}: {e}");
        }
    }
}

#[test]
fn empty_and_tiny_inputs() {
    for bytes in [
        &b""[..],
        b"\0",
        b"\0asm",
        b"\0asm\x01\0\0",
        b"\0asm\x02\0\0\0",
        b"not wasm at all",
    ] {
        let e = validate(bytes, &Config::default()).expect_err("rejected");
        assert_eq!(e.kind(), "malformed", "{bytes:?}: {e}");
    }
    validate(b"\0asm\x01\0\0\0", &Config::default()).expect("the empty module");
}

/// The header followed by `rest`.
fn module(rest: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(rest);
    m
}

#[test]
fn huge_section_size() {
    let e = validate(
        &module(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]),
        &spec(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), "malformed", "{e}");
}

#[test]
fn section_size_with_too_many_leb_bytes() {
    let e = validate(
        &module(&[0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        &spec(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), "malformed", "{e}");
}

#[test]
fn huge_counts_under_the_spec_preset() {
    // Counts of 2^32-1 with nothing behind them, in sections whose limits
    // the spec preset sets high or not at all.
    let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
    for id in [1u8, 2, 3, 4, 5, 6, 7, 9, 10, 11] {
        let mut section = vec![id, huge.len() as u8];
        section.extend(huge);
        let e = validate(&module(&section), &spec()).unwrap_err();
        assert!(
            matches!(e.kind(), "malformed" | "limit_exceeded"),
            "section {id}: {e}"
        );
    }
}

#[test]
fn huge_counts_inside_a_body() {
    // A body declaring 2^32-1 locals of one type, then 2^32-1 more.
    let body = [
        0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b,
    ];
    let mut code = vec![0x0a, (body.len() + 2) as u8, 0x01, body.len() as u8];
    code.extend(body);
    let mut m = vec![0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00];
    m.extend(code);
    let mut limits = Limits::spec();
    limits.locals_per_function = u64::MAX;
    let e = validate(&module(&m), &Config::with_limits(limits)).unwrap_err();
    assert_eq!(e.kind(), "malformed", "{e}");

    // br_table claiming 2^32-1 targets with no bytes for them.
    let body = [0x00, 0x41, 0x00, 0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b];
    let mut code = vec![0x0a, (body.len() + 2) as u8, 0x01, body.len() as u8];
    code.extend(body);
    let mut m = vec![0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00];
    m.extend(code);
    let e = validate(&module(&m), &spec()).unwrap_err();
    assert!(matches!(e.kind(), "malformed"), "{e}");
}

#[test]
fn deep_nesting_under_the_spec_preset() {
    // 100,000 nested blocks: no block limit applies, nothing may overflow.
    let depth = 100_000;
    let mut body = vec![0x00];
    body.extend(std::iter::repeat_n([0x02, 0x40], depth).flatten());
    body.extend(std::iter::repeat_n(0x0b, depth + 1));
    let mut f = wasm_encoder::Function::new([]);
    f.raw(body[1..].iter().copied());
    let mut m = wasm_encoder::Module::new();
    let mut types = wasm_encoder::TypeSection::new();
    types.ty().function([], []);
    let mut funcs = wasm_encoder::FunctionSection::new();
    funcs.function(0);
    let mut code = wasm_encoder::CodeSection::new();
    code.function(&f);
    m.section(&types).section(&funcs).section(&code);
    let info = validate(&m.finish(), &spec()).expect("accepted");
    assert_eq!(info.total_blocks, depth as u64);
}

/// Generates a module with wasm-smith from `seed`, with an arbitrary
/// feature set (so often outside the profile).
fn smith(seed: &[u8], profile_only: bool) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(seed);
    let mut config = wasm_smith::Config::arbitrary(&mut u).ok()?;
    if profile_only {
        config.simd_enabled = false;
        config.relaxed_simd_enabled = false;
        config.threads_enabled = false;
        config.exceptions_enabled = false;
        config.gc_enabled = false;
        config.tail_call_enabled = false;
        config.memory64_enabled = false;
        config.extended_const_enabled = false;
        config.wide_arithmetic_enabled = false;
        config.custom_page_sizes_enabled = false;
        config.compact_imports_enabled = false;
        config.custom_descriptors_enabled = false;
        config.shared_everything_threads_enabled = false;
        config.max_memories = config.max_memories.min(1);
    }
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

#[test]
fn generated_modules_cover_accepted_and_unsupported() {
    // A fixed stream of pseudo-random seeds, so that the outcome is the same
    // on every run; the properties below then run on random ones.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut accepted, mut unsupported, mut generated) = (0, 0, 0);
    for _ in 0..300 {
        let seed: Vec<u8> = (0..1024).map(|_| next() as u8).collect();
        let Some(bytes) = smith(&seed, false) else {
            continue;
        };
        generated += 1;
        match check_consistent(&bytes) {
            Ok(_) => accepted += 1,
            Err(e) if e.kind() == "unsupported_feature" => unsupported += 1,
            Err(_) => {}
        }
    }
    eprintln!("generated {generated}, accepted {accepted}, unsupported {unsupported}");
    assert!(generated > 250, "{generated}");
    assert!(accepted > 10, "{accepted} accepted of {generated}");
    assert!(unsupported > 10, "{unsupported} unsupported of {generated}");
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    match *m {
        Mutation::Flip(i, b) => {
            let i = i % bytes.len();
            bytes[i] ^= b.max(1);
        }
        Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % bytes.len());
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_consistent(&bytes).ok();
    }

    #[test]
    fn random_bytes_after_a_header_never_panic(rest in prop::collection::vec(any::<u8>(), 0..512)) {
        check_consistent(&module(&rest)).ok();
    }

    #[test]
    fn generated_modules_are_classified(seed in prop::collection::vec(any::<u8>(), 64..2048)) {
        if let Some(bytes) = smith(&seed, false) {
            check_consistent(&bytes).ok();
        }
    }

    #[test]
    fn generated_profile_modules_are_accepted(seed in prop::collection::vec(any::<u8>(), 64..2048)) {
        if let Some(bytes) = smith(&seed, true)
            && valid_with(profile(), &bytes)
        {
            let result = check_consistent(&bytes);
            let limited = matches!(result, Err(ValidationError::LimitExceeded { .. }));
            prop_assert!(result.is_ok() || limited, "{:?}", result);
        }
    }

    #[test]
    fn mutated_modules_never_panic(
        seed in prop::collection::vec(any::<u8>(), 64..2048),
        mutations in prop::collection::vec(mutation(), 1..4),
        profile_only in any::<bool>(),
    ) {
        if let Some(bytes) = smith(&seed, profile_only) {
            let mutated = mutations.iter().fold(bytes, mutate);
            check_consistent(&mutated).ok();
        }
    }

    #[test]
    fn mutated_sample_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        let mutated = mutations.iter().fold(sample(), mutate);
        check_consistent(&mutated).ok();
    }
}
