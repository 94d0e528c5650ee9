//! Every fuzz target's check on the checked-in corpus
//! (`fuzz/corpus/<target>/`: interesting inputs and every crash or
//! divergence ever found), and on a few fixed inputs, so that the checks
//! and their regressions run with the ordinary tests.

use detvm_fixtures::Lcg;
use detvm_fuzzing::{TARGETS, check_target, decode, frames, front, host_api};

/// `count` inputs of up to `max_len` bytes, the same on every run.
fn inputs(seed: u64, count: usize, max_len: u32) -> Vec<Vec<u8>> {
    let mut rng = Lcg::new(seed);
    (0..count)
        .map(|_| {
            let len = rng.below(max_len + 1);
            (0..len).map(|_| rng.next_u32() as u8).collect()
        })
        .collect()
}

#[test]
fn the_corpus_passes_every_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {target}");
        for file in files {
            let data = std::fs::read(&file).expect("readable");
            if let Err(finding) = check_target(target, &data) {
                panic!("{}: {finding}", file.display());
            }
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} inputs");
}

#[test]
fn the_front_end_accepts_generated_modules_and_rejects_the_rest() {
    let (mut raw, mut accepted) = (0, 0);
    for (i, mut data) in inputs(1, 300, 4_096).into_iter().enumerate() {
        if let Some(first) = data.first_mut() {
            *first = i as u8;
        }
        match front::check(&data) {
            Ok(Some(verdict)) => {
                raw += usize::from(verdict.source == front::Source::Raw);
                accepted += usize::from(verdict.accepted);
            }
            Ok(None) => {}
            Err(finding) => panic!("input {i}: {finding}"),
        }
    }
    // Profile modules from wasm-smith pass validation and are checked.
    assert!(accepted >= 40, "only {accepted} accepted");
    assert!(raw >= 100, "only {raw} raw inputs");
}

#[test]
fn generated_contracts_return_trap_and_are_refused() {
    let mut total = host_api::Summary::default();
    for (i, data) in inputs(2, 40, 2_048).into_iter().enumerate() {
        let summary = host_api::check(&data).unwrap_or_else(|f| panic!("input {i}: {f}"));
        total.returned += summary.returned;
        total.trapped += summary.trapped;
        total.refused += summary.refused;
    }
    eprintln!("{total:?}");
    assert!(
        total.returned >= 10 && total.trapped >= 10 && total.refused >= 10,
        "{total:?}"
    );
}

#[test]
fn decoding_never_panics_and_answers_every_request() {
    for (i, data) in inputs(3, 300, 512).into_iter().enumerate() {
        decode::check_bytes(&data).unwrap_or_else(|f| panic!("bytes {i}: {f}"));
    }
    // A valid transaction decodes and encodes back.
    let tx = detvm_chain::Transaction {
        chain_id: "detvm-dev".into(),
        signer: "alice".into(),
        public_key: [7; 32],
        nonce: 3,
        gas_limit: 1_000,
        action: detvm_chain::Action::Transfer {
            to: "bob".into(),
            amount: 5,
        },
    };
    let signed = detvm_chain::SignedTransaction {
        transaction: tx,
        signature: [1; 64],
    };
    decode::check_bytes(&signed.encode()).expect("round trip");
    for (i, mut data) in inputs(4, 200, 256).into_iter().enumerate() {
        if let Some(first) = data.first_mut() {
            // Mostly requests for served methods.
            *first |= 0x40;
        }
        decode::check_rpc(&data).unwrap_or_else(|f| panic!("request {i}: {f}"));
    }
}

#[test]
fn frames_end_in_deterministic_traps() {
    for (i, data) in inputs(5, 12, 64).into_iter().enumerate() {
        frames::check(&data).unwrap_or_else(|f| panic!("input {i}: {f}"));
    }
    // A generated frame of every kind at once, recursed to exhaustion.
    let frame = frames::Frame {
        params: vec![0, 1, 2, 3, 3, 2, 1, 0],
        locals: (0..400).map(|i| (i % 4) as u8).collect(),
        stack: (0..300).map(|i| (i % 4) as u8).collect(),
        calls: 50,
        indirect: true,
    };
    let engine = detvm_vm::Engine::default();
    let module = detvm_vm::Module::new(&engine, &frame.module()).expect("within the limits");
    assert!(module.native_stack_needed() > 0);
}
