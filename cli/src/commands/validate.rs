//! `detvm validate`.

use std::path::PathBuf;

use detvm_metering::{Config, validate};
use serde_json::json;

use super::LimitsPreset;
use crate::Status;
use crate::input::{InputError, load_module};
use crate::report::{print_json, text_error_json, validation_error_json};

/// Check a module against the determinism profile and size limits.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module, as `.wasm` binary or `.wat` text.
    file: PathBuf,
    /// Print one JSON object on stdout instead of a message on stderr.
    #[arg(long)]
    json: bool,
    /// Which limits to apply.
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
    match validate(&bytes, &config) {
        Ok(_) => {
            if args.json {
                print_json(&json!({ "ok": true }));
            } else {
                eprintln!("{}: valid", args.file.display());
            }
            Status::Success
        }
        Err(error) => {
            if args.json {
                print_json(&json!({ "ok": false, "error": validation_error_json(&error) }));
            } else {
                eprintln!("{}: rejected: {error}", args.file.display());
            }
            Status::Rejected
        }
    }
}

/// Reports a file that could not be loaded: unreadable files are usage
/// errors, text that does not parse is a rejected (malformed) module.
pub fn report_input_error(error: &InputError, json: bool) -> Status {
    let status = match error {
        InputError::Read { .. } => Status::Usage,
        InputError::Text { .. } => Status::Rejected,
    };
    if json {
        print_json(&json!({ "ok": false, "error": text_error_json(error) }));
    } else {
        eprintln!("error: {error}");
    }
    status
}
