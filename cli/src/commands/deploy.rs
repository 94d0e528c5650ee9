//! `detvm deploy`.

use std::path::PathBuf;

use detvm_host::hex;
use serde_json::json;

use super::call::{DEFAULT_ACCOUNT, StateArgs, fail, open, report_error};
use super::validate::report_input_error;
use crate::Status;
use crate::input::load_module;

/// Deploy a contract and print its id.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The contract, as `.wasm` binary or `.wat` text.
    file: PathBuf,
    /// The deploying account (its deploy count makes each id new).
    #[arg(long, value_name = "ACCOUNT", default_value = DEFAULT_ACCOUNT)]
    from: String,
    #[command(flatten)]
    state: StateArgs,
    /// Print one JSON object on stdout (contract, code hash, gas).
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let code = match load_module(&args.file) {
        Ok(code) => code,
        Err(error) => return report_input_error(&error, args.json),
    };
    let mut chain = match open(&args.state) {
        Ok(chain) => chain,
        Err(error) => return report_error(&error, args.json),
    };
    match chain.deploy(&code, &args.from) {
        Ok(receipt) => {
            if args.json {
                crate::report::print_json(&json!({
                    "outcome": "deployed",
                    "contract": receipt.contract.as_str(),
                    "code_hash": hex(&receipt.code_hash),
                    "gas_used": receipt.gas_used,
                }));
            } else {
                println!("{}", receipt.contract);
                eprintln!("code hash: {}", hex(&receipt.code_hash));
                eprintln!("gas used: {}", receipt.gas_used);
            }
            Status::Success
        }
        Err(error) if error.status == Status::Rejected => {
            let message = format!("{}: {}", args.file.display(), error.message);
            fail(args.json, &error.kind, &message, Status::Rejected)
        }
        Err(error) => report_error(&error, args.json),
    }
}
