//! `detvm instrument`.

use std::path::PathBuf;

use detvm_metering::{Config, Schedule, StackConfig, prepare};
use serde_json::json;

use super::LimitsPreset;
use super::validate::report_input_error;
use crate::Status;
use crate::input::load_module;
use crate::report::{metering_error_json, print_json};

/// Rewrite a module to charge gas and bound its stack.
///
/// The output is a plain WebAssembly module that imports the four `detvm`
/// items described in docs/gas.md.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module, as `.wasm` binary or `.wat` text.
    file: PathBuf,
    /// Where to write the instrumented `.wasm`.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Print one JSON object on stdout instead of a message on stderr.
    #[arg(long)]
    json: bool,
    /// Which limits to validate against first.
    #[arg(long, value_enum, default_value_t)]
    limits: LimitsPreset,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let bytes = match load_module(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => return report_input_error(&error, args.json),
    };
    let config = Config::with_limits(args.limits.limits());
    let instrumented = match prepare(&bytes, &config, &Schedule::v1(), &StackConfig::default()) {
        Ok(instrumented) => instrumented,
        Err(error) => {
            if args.json {
                print_json(&json!({ "ok": false, "error": metering_error_json(&error) }));
            } else {
                eprintln!("{}: rejected: {error}", args.file.display());
            }
            return Status::Rejected;
        }
    };
    if let Err(error) = std::fs::write(&args.output, &instrumented.bytes) {
        let message = format!("cannot write `{}`: {error}", args.output.display());
        if args.json {
            print_json(&json!({ "ok": false, "error": { "kind": "io", "message": message } }));
        } else {
            eprintln!("error: {message}");
        }
        return Status::Usage;
    }
    let stats = &instrumented.stats;
    if args.json {
        print_json(&json!({
            "ok": true,
            "output": args.output.display().to_string(),
            "functions": stats.functions,
            "metered_blocks": stats.metered_blocks,
            "input_size": stats.input_size,
            "output_size": stats.output_size,
        }));
    } else {
        eprintln!(
            "{} -> {}: {} functions, {} metered blocks, {} -> {} bytes",
            args.file.display(),
            args.output.display(),
            stats.functions,
            stats.metered_blocks,
            stats.input_size,
            stats.output_size,
        );
    }
    Status::Success
}
