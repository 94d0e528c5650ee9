//! The charge sites instrumentation hands on (`docs/vm.md`, "Pipeline")
//! are exactly the fixed charge sequences it wrote: each site's bytes are
//! the sequence of its counter and amount, and no such sequence in the
//! output lacks a site. A compiler trusts them without looking at the
//! shape, so a site one byte off or one missing would miscompile.

mod exec_common;

use detvm_metering::{
    ChargeSite, Config, Counter, Instrumented, Limits, Schedule, StackConfig, abi, instrument,
    validate,
};
use proptest::prelude::*;
use wasmparser::{BlockType, Operator, OperatorsReader, Parser, Payload};

/// The counter's global and trap function.
fn reserved(counter: Counter) -> (u32, u32) {
    match counter {
        Counter::Gas => (abi::GAS_LEFT_GLOBAL, abi::OUT_OF_GAS_FUNC),
        Counter::Stack => (abi::STACK_LEFT_GLOBAL, abi::STACK_OVERFLOW_FUNC),
    }
}

/// Reads the fixed sequence from `ops` if it is next: its counter and
/// amount.
fn read_fixed(ops: &mut OperatorsReader<'_>) -> Option<(Counter, u64)> {
    let mut next = || ops.read().ok();
    let Operator::GlobalGet { global_index } = next()? else {
        return None;
    };
    let counter = [Counter::Gas, Counter::Stack]
        .into_iter()
        .find(|&c| reserved(c).0 == global_index)?;
    let (global, trap) = reserved(counter);
    let Operator::I64Const { value: amount } = next()? else {
        return None;
    };
    let expected_rest = [
        Operator::I64LtU,
        Operator::If {
            blockty: BlockType::Empty,
        },
        Operator::Call {
            function_index: trap,
        },
        Operator::End,
        Operator::GlobalGet {
            global_index: global,
        },
        Operator::I64Const { value: amount },
        Operator::I64Sub,
        Operator::GlobalSet {
            global_index: global,
        },
    ];
    for expected in expected_rest {
        if next()? != expected {
            return None;
        }
    }
    Some((counter, amount as u64))
}

/// Checks `out.charges` against its bytes; returns the number of sites.
fn check_sites(out: &Instrumented) -> usize {
    let bodies: Vec<_> = Parser::new(0)
        .parse_all(&out.bytes)
        .filter_map(|payload| match payload.expect("output decodes") {
            Payload::CodeSectionEntry(body) => Some(body),
            _ => None,
        })
        .collect();
    assert_eq!(out.charges.len(), bodies.len(), "one site list per body");
    let mut total = 0;
    for (i, (body, sites)) in bodies.iter().zip(&out.charges).enumerate() {
        let base = body.range().start;
        let mut ops = body.get_operators_reader().expect("operators");
        let mut next_site = sites.iter().peekable();
        while !ops.eof() {
            let at = ops.original_position();
            let rel = u32::try_from(at - base).expect("small body");
            let site = next_site.next_if(|site| site.offset == rel);
            let mut ahead = ops.clone();
            let fixed = read_fixed(&mut ahead);
            match (site, fixed) {
                (Some(site), Some((counter, amount))) => {
                    assert_eq!((site.counter, site.amount), (counter, amount), "body {i}");
                    assert_eq!(
                        ahead.original_position() - at,
                        u64::from(site.len),
                        "body {i}: the site's length"
                    );
                    ops = ahead;
                    total += 1;
                    continue;
                }
                (Some(site), None) => panic!("body {i}: {site:?} is not a fixed charge"),
                (None, Some(_)) => panic!("body {i}: a fixed charge at {rel} without a site"),
                (None, None) => {}
            }
            ops.read().expect("operator");
        }
        assert!(next_site.next().is_none(), "body {i}: sites past the code");
    }
    let gas = out.charges.iter().flatten();
    let gas = gas.filter(|s| s.counter == Counter::Gas).count() as u64;
    assert_eq!(
        gas, out.stats.metered_blocks,
        "a gas site per metered block"
    );
    let framed = out.stats.frame_costs.iter().filter(|&&c| c > 0).count();
    let stack = out.charges.iter().flatten();
    assert_eq!(
        stack.filter(|s| s.counter == Counter::Stack).count(),
        framed
    );
    total
}

fn instrumented(bytes: &[u8]) -> Instrumented {
    let config = Config::with_limits(Limits::spec());
    let info = validate(bytes, &config).expect("valid");
    instrument(bytes, &info, &Schedule::v1(), &StackConfig::default()).expect("instruments")
}

#[test]
fn sites_of_hand_written_shapes() {
    // A frame check, charges in loops, in dead code, after a branch out of
    // the function (which wraps the body), in both arms of an `if`, and a
    // dynamic charge (not a site) next to them.
    let wat = r#"(module
        (memory 1)
        (func (export "f") (param i32) (result i32) (local i64 f64)
            (loop $l
                (br_if $l (i32.eqz (local.get 0)))
                (if (local.get 0) (then (return (i32.const 1))) (else (nop))))
            (memory.fill (i32.const 0) (i32.const 0) (local.get 0))
            (block (br 0) (drop (i32.const 9)) (loop (br 0)))
            (if (result i32) (local.get 0) (then (i32.const 2)) (else (i32.const 3))))
        (func (result i32) (i32.const 4)))"#;
    let out = instrumented(&wat::parse_str(wat).expect("wat"));
    let sites = check_sites(&out);
    assert!(sites >= 6, "only {sites} sites");
    let first: &ChargeSite = &out.charges[0][0];
    assert_eq!(first.counter, Counter::Stack, "the frame check comes first");
    assert!(out.stats.dynamic_charges > 0);
}

#[test]
fn sites_of_the_golden_and_realistic_modules() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("golden directory") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().into_owned();
        if name.ends_with(".wat") && !name.ends_with(".instrumented.wat") {
            check_sites(&instrumented(&wat::parse_file(&path).expect("parses")));
            checked += 1;
        }
    }
    assert!(checked > 5, "only {checked} golden modules");
    for seed in 0..4 {
        let sites = check_sites(&instrumented(&detvm_fixtures::realistic::module(
            30_000, seed,
        )));
        assert!(sites > 100, "seed {seed}: only {sites} sites");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sites_of_generated_modules(data in proptest::collection::vec(any::<u8>(), 64..4096)) {
        let mut u = arbitrary::Unstructured::new(&data);
        let config = wasm_smith::Config {
            min_funcs: 2,
            ..detvm_fixtures::smith::profile_config()
        };
        if let Ok(module) = wasm_smith::Module::new(config, &mut u) {
            let bytes = module.to_bytes();
            let config = Config::with_limits(Limits::spec());
            if let Ok(info) = validate(&bytes, &config)
                && let Ok(out) = instrument(&bytes, &info, &Schedule::v1(), &StackConfig::default())
            {
                check_sites(&out);
            }
        }
    }
}
