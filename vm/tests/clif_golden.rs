//! Golden files of the CLIF the translator writes for small modules, metered
//! and unmetered (`vm/tests/golden/`). A change to the translation, the
//! instrumentation or the NaN placement shows up here as a diff a reviewer
//! reads, before any benchmark moves.
//!
//! `DETVM_BLESS=1 cargo test -p detvm-vm --test clif_golden` rewrites the
//! files from the current translator; commit them with the change that
//! caused them.
//!
//! x86-64 only: the text names the host's calling conventions, so the
//! files are written on the CI host's architecture.
#![cfg(target_arch = "x86_64")]

use std::path::PathBuf;

use detvm_vm::{Engine, EngineConfig, Module};

/// Small modules, each exercising one job of the translator.
const CASES: &[(&str, &str)] = &[
    (
        "arith",
        r#"(module (func (export "f") (param i32 i32) (result i32)
             (i32.add (local.get 0) (i32.mul (local.get 1) (i32.const 3)))))"#,
    ),
    (
        "memory",
        r#"(module (memory 1 4)
             (func (export "f") (param i32) (result i32)
               (i32.store (local.get 0) (i32.const 7))
               (i32.load offset=4 (local.get 0)))
             (func (export "grow") (param i32) (result i32)
               (memory.grow (local.get 0))))"#,
    ),
    (
        "loop",
        r#"(module (func (export "f") (param i32) (result i64) (local i64)
             (block $done
               (loop $next
                 (br_if $done (i32.eqz (local.get 0)))
                 (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
                 (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                 (br $next)))
             (local.get 1)))"#,
    ),
    (
        "floats",
        r#"(module (memory 1)
             (func (export "f") (param f64 f64) (result f64) (local f64)
               (local.set 2 (f64.div (local.get 0) (local.get 1)))
               (f64.store (i32.const 8) (f64.sqrt (local.get 2)))
               (f64.add (local.get 2) (f64.const 1))))"#,
    ),
    (
        "proven_loop",
        r#"(module (memory 1)
             (func (export "f") (param i32 i32) (local i32)
               (loop $l
                 (i32.store (local.get 0) (i32.add (i32.load (local.get 0)) (i32.const 1)))
                 (local.set 0 (i32.add (local.get 0) (i32.const 4)))
                 (br_if $l (i32.ne (local.tee 2 (i32.add (local.get 2) (i32.const 1))) (local.get 1))))))"#,
    ),
    (
        "step_in_a_local",
        r#"(module (memory 1)
             (func (export "f") (param i32 i32 i32) (local i32)
               (loop $l
                 (i32.store8 (local.get 0) (i32.const 1))
                 (local.set 0 (i32.add (local.get 0) (local.get 2)))
                 (br_if $l (i32.le_u (local.tee 3 (i32.add (local.get 3) (local.get 2))) (local.get 1))))))"#,
    ),
    (
        "check_reuse",
        r#"(module (memory 1)
             (func (export "f") (param i32 i32) (result i32)
               (i32.store offset=12 (local.get 0) (local.get 1))
               (block (br_if 0 (local.get 1))
                 (i32.store (local.get 0) (i32.const 1)))
               (if (local.get 1) (then (i32.store offset=32 (local.get 0) (i32.const 2))))
               (i32.load offset=8 (local.get 0)))
             ;; A run of loads whose first is already proven checks once,
             ;; for the run's furthest end.
             (func (export "g") (param i32) (result i32)
               (drop (i32.load (local.get 0)))
               (i32.store (i32.const 0) (i32.const 0))
               (i32.add (i32.load (local.get 0))
                 (i32.add (i32.load offset=8 (local.get 0)) (i32.load offset=16 (local.get 0))))))"#,
    ),
    (
        "charges",
        r#"(module (func (export "f") (param i32) (result i32)
             (block $out
               (br_if $out (i32.eqz (local.get 0)))
               (local.set 0 (i32.mul (local.get 0) (i32.const 3)))
               (br_if $out (i32.gt_u (local.get 0) (i32.const 100)))
               (local.set 0 (i32.add (local.get 0) (i32.const 7)))
               (br_if $out (i32.and (local.get 0) (i32.const 1)))
               (local.set 0 (i32.sub (local.get 0) (i32.const 1))))
             (local.get 0)))"#,
    ),
    (
        "calls",
        r#"(module
             (func $sq (param i64) (result i64) (i64.mul (local.get 0) (local.get 0)))
             (table 1 funcref) (elem (i32.const 0) $sq)
             (type $t (func (param i64) (result i64)))
             (func (export "f") (param i64) (result i64)
               (i64.add (call $sq (local.get 0))
                        (call_indirect (type $t) (local.get 0) (i32.const 0)))))"#,
    ),
    (
        // A local that keeps bits holds a pending value when a proven
        // loop that never writes it opens: both copies of the loop read
        // the pending value, and only what leaves the loop is canonical.
        "held_pending",
        r#"(module (memory 1)
             (func (export "f") (param $x f64) (param $p i32) (param $n i32) (result f64)
               (local $m f64) (local $i i32)
               (local.set $m (local.get $x))
               (local.set $m (f64.div (local.get $x) (local.get $x)))
               (loop $l
                 (f64.store (local.get $p) (f64.add (local.get $m) (f64.load (local.get $p))))
                 (local.set $p (i32.add (local.get $p) (i32.const 8)))
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.ne (local.get $i) (local.get $n))))
               (local.get $m)))"#,
    ),
];

fn golden_path(case: &str, metering: bool) -> PathBuf {
    let setting = if metering { "metered" } else { "unmetered" };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{case}.{setting}.clif"))
}

fn translated(wat: &str, metering: bool) -> String {
    let mut config = EngineConfig::default();
    config.metering = metering;
    let engine = Engine::new(config).expect("engine");
    let wasm = wat::parse_str(wat).expect("valid WAT");
    let functions = Module::translated_clif(&engine, &wasm).expect("compiles");
    assert!(!functions.is_empty());
    functions.join("\n")
}

#[test]
fn translated_clif_matches_the_golden_files() {
    let bless = std::env::var_os("DETVM_BLESS").is_some();
    let mut stale = Vec::new();
    for &(case, wat) in CASES {
        for metering in [true, false] {
            let text = translated(wat, metering);
            // The same input translates to the same text: the files are
            // only useful if nothing else varies.
            assert_eq!(text, translated(wat, metering), "{case}: not deterministic");
            let path = golden_path(case, metering);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != text {
                let line = expected
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| expected.lines().count().min(text.lines().count()));
                stale.push(format!(
                    "{}: first difference at line {}:\n  golden: {}\n  now:    {}",
                    path.display(),
                    line + 1,
                    expected.lines().nth(line).unwrap_or("<end>"),
                    text.lines().nth(line).unwrap_or("<end>"),
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the translated CLIF changed; if intended, rerun with DETVM_BLESS=1 and commit \
         vm/tests/golden/:\n{}",
        stale.join("\n")
    );
}

#[test]
fn metering_is_visible_in_the_translation() {
    // The golden files of a metered module must differ from the unmetered
    // ones: gas and stack checks are code the translator writes.
    for &(case, wat) in CASES {
        assert_ne!(translated(wat, true), translated(wat, false), "{case}");
    }
}
