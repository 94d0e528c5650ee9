//! Golden files: every `tests/golden/NAME.wat` is validated and instrumented
//! with `Schedule::v1()` and the default stack config, and the output,
//! printed with wasmprinter, must equal `tests/golden/NAME.instrumented.wat`.
//! Run with `BLESS=1` to rewrite the expected files after a deliberate
//! change of the rules (and review the diff).

mod exec_common;

use std::path::{Path, PathBuf};

use exec_common::{check_valid, prepare};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn golden_inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("golden directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            name.ends_with(".wat") && !name.ends_with(".instrumented.wat")
        })
        .collect();
    inputs.sort();
    inputs
}

fn expected_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .and_then(|stem| stem.to_str())
        .expect("utf-8 name");
    input.with_file_name(format!("{stem}.instrumented.wat"))
}

#[test]
fn golden_files_match() {
    let bless = std::env::var_os("BLESS").is_some_and(|value| value == "1");
    let inputs = golden_inputs();
    assert!(inputs.len() >= 14, "golden inputs missing: {inputs:?}");
    let mut mismatches = Vec::new();
    for input in &inputs {
        let bytes = wat::parse_file(input).expect("golden input parses");
        let instrumented = prepare(&bytes);
        let printed = wasmprinter::print_bytes(&instrumented.bytes).expect("output prints");
        let expected = expected_path(input);
        if bless {
            std::fs::write(&expected, &printed).expect("write expected output");
            continue;
        }
        let wanted = std::fs::read_to_string(&expected)
            .unwrap_or_else(|_| panic!("missing {}; run with BLESS=1", expected.display()));
        if wanted != printed {
            mismatches.push(format!("{}:\n{printed}", input.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn golden_outputs_validate_and_are_deterministic() {
    for input in golden_inputs() {
        let bytes = wat::parse_file(&input).expect("golden input parses");
        let first = prepare(&bytes);
        if let Err(error) = check_valid(&first.bytes) {
            panic!("{}: output invalid: {error}", input.display());
        }
        let second = prepare(&bytes);
        assert_eq!(
            first,
            second,
            "{}: instrumenting twice differs",
            input.display()
        );
        assert_eq!(first.stats.input_size, bytes.len());
        assert_eq!(first.stats.output_size, first.bytes.len());
    }
}
