//! `detvm wast`.

use std::path::PathBuf;

use crate::Status;

/// Native stack for the script thread; see `run::RUN_THREAD_STACK`.
const SCRIPT_THREAD_STACK: usize = super::run::RUN_THREAD_STACK;

/// Run WebAssembly test scripts (`.wast`) with the spec limits.
///
/// Prints `name: N passed, M failed` per file, the failing directives, and a
/// last line with the totals. Exits 1 if any directive failed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scripts.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut unreadable = false;
    for path in &args.files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: cannot read `{}`: {error}", path.display());
                unreadable = true;
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let script_name = name.clone();
        let report = std::thread::Builder::new()
            .stack_size(SCRIPT_THREAD_STACK)
            .spawn(move || detvm_spec_tests::run_script(&script_name, &text))
            .ok()
            .and_then(|handle| handle.join().ok());
        let Some(report) = report else {
            eprintln!(
                "error: the script runner for `{}` stopped abnormally",
                path.display()
            );
            failed += 1;
            continue;
        };
        for failure in &report.failures {
            eprintln!("{}:{}: {}", path.display(), failure.line, failure.message);
        }
        println!("{name}: {} passed, {} failed", report.passed, report.failed);
        passed += report.passed;
        failed += report.failed;
    }
    println!("{passed} passed, {failed} failed");
    if unreadable {
        Status::Usage
    } else if failed > 0 {
        Status::Rejected
    } else {
        Status::Success
    }
}
