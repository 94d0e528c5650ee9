//! The command (`detvm reproduce`, and the `detvm-reproduce` binary the
//! cross-architecture CI runs): arguments, output, exit status.

use std::path::PathBuf;

use crate::{Difference, Options, Report, compare, hex, reference, run};

/// Runs the built-in conformance corpus (the official spec suite, the
/// determinism corpus, fixed-seed generated modules, the example contracts)
/// through the whole pipeline and prints a digest per section and one
/// for everything. Compares with the reference digests of this corpus
/// version (or `--expect` / `--expect-file`) and names the first section
/// and case that differ. Exit status: 0 same, 1 different, 2 bad arguments
/// or a run that could not finish.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Print one JSON object: every section's digest and cases.
    #[arg(long)]
    pub json: bool,
    /// The digest this machine must compute (default: the reference digest
    /// of this corpus version).
    #[arg(long, value_name = "DIGEST", conflicts_with = "expect_file")]
    pub expect: Option<String>,
    /// Compare case by case with another machine's `--json` output.
    #[arg(long, value_name = "FILE")]
    pub expect_file: Option<PathBuf>,
    /// Skip a section (repeatable): spec, determinism, generated or
    /// contracts. The remaining sections are compared one by one.
    #[arg(long, value_name = "SECTION")]
    pub skip: Vec<String>,
    /// Also replay the blocks of a stopped node's state directory (section
    /// `replay`, compared only with --expect or --expect-file).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The genesis file of that node (default: the dev genesis).
    #[arg(long, value_name = "FILE", requires = "state")]
    pub genesis: Option<PathBuf>,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every section compared matches.
    Same,
    /// A section differs (named in the output).
    Different,
    /// Bad arguments, or the run could not finish.
    Usage,
}

/// Native stack for the run: the corpus recurses to the stack bound.
const STACK: usize = 512 << 20;

/// Runs the command, printing to stdout (results) and stderr (errors).
pub fn main(args: &Args) -> Verdict {
    let options = Options {
        skip: args.skip.clone(),
        state: args.state.clone(),
        genesis: args.genesis.clone(),
    };
    let ran = std::thread::Builder::new()
        .name("detvm-reproduce".into())
        .stack_size(STACK)
        .spawn(move || run(&options))
        .map_err(|e| e.to_string())
        .and_then(|h| h.join().map_err(|_| "the run panicked".to_owned()));
    let report = match ran {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return usage(args.json, &e.to_string()),
        Err(e) => return usage(args.json, &e),
    };
    let reference = match reference() {
        Ok(r) => r,
        Err(e) => return usage(args.json, &e.to_string()),
    };
    let digest = hex(&report.digest());
    let (target, difference) = match (&args.expect, &args.expect_file) {
        (_, Some(path)) => {
            let theirs = match std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|t| Report::from_json(&t).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(e) => return usage(args.json, &e),
            };
            (path.display().to_string(), compare(&report, &theirs))
        }
        (Some(expected), None) => {
            let expected = expected.trim().to_ascii_lowercase();
            if crate::parse_digest(&expected).is_none() {
                return usage(args.json, "--expect takes a digest of 64 hex digits");
            }
            if !report.is_complete() || args.state.is_some() {
                return usage(
                    args.json,
                    "--expect compares the digest of a full run: drop --skip and --state, \
                     or compare with --expect-file",
                );
            }
            let difference = if expected == digest {
                None
            } else if expected == hex(&reference.digest()) {
                compare(&report, &reference)
            } else {
                Some(Difference {
                    section: "all".into(),
                    case: None,
                    detail: format!(
                        "expected digest {expected}, computed {digest}; {}",
                        match compare(&report, &reference) {
                            None => "this machine matches the reference of this corpus \
                                     version, the expected digest does not"
                                .to_owned(),
                            Some(d) => format!("against the reference: {d}"),
                        }
                    ),
                })
            };
            (expected, difference)
        }
        (None, None) => {
            let mut ours = report.clone();
            // A replay has no reference: it is compared with another
            // machine's output only.
            ours.sections.retain(|s| s.name != "replay");
            (
                format!("the reference of corpus v{}", reference.version),
                compare(&ours, &reference),
            )
        }
    };
    if args.json {
        let mut json = report.to_json();
        json["arch"] = std::env::consts::ARCH.into();
        json["compared_with"] = target.into();
        json["same"] = difference.is_none().into();
        if let Some(d) = &difference {
            json["difference"] = serde_json::json!({
                "section": d.section,
                "case": d.case,
                "detail": d.detail,
            });
        }
        println!("{json}");
    } else {
        println!(
            "detvm reproduce: corpus v{} on {}",
            report.version,
            std::env::consts::ARCH
        );
        for section in &report.sections {
            println!(
                "  {:<12} {}  {} cases",
                section.name,
                hex(&section.digest()),
                section.cases.len()
            );
        }
        if !report.is_complete() {
            println!("  (skipped: {})", args.skip.join(", "));
        }
        println!("digest {digest}");
        match &difference {
            None => println!("same as {target}"),
            Some(d) => println!("DIFFERENT from {target}: {d}"),
        }
    }
    if difference.is_none() {
        Verdict::Same
    } else {
        Verdict::Different
    }
}

fn usage(json: bool, message: &str) -> Verdict {
    if json {
        println!("{}", serde_json::json!({ "error": message }));
    } else {
        eprintln!("error: {message}");
    }
    Verdict::Usage
}
