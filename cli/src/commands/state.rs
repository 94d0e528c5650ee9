//! `detvm state`.

use serde_json::json;

use super::call::{StateArgs, display_bytes, fail, hex0x, open, parse_contract, report_error};
use crate::Status;
use crate::borsh_values::parse_hex;

/// List a contract's committed storage, in key order.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The contract id.
    contract: String,
    /// Only keys starting with this: text, or hex as `0x…`.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    #[command(flatten)]
    state: StateArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let contract = match parse_contract(&args.contract) {
        Ok(contract) => contract,
        Err(message) => return fail(args.json, "usage", &message, Status::Usage),
    };
    let prefix = if args.prefix.starts_with("0x") {
        match parse_hex(&args.prefix) {
            Some(bytes) => bytes,
            None => {
                let message = format!("`{}` is not hex bytes", args.prefix);
                return fail(args.json, "usage", &message, Status::Usage);
            }
        }
    } else {
        args.prefix.as_bytes().to_vec()
    };
    let chain = match open(&args.state) {
        Ok(chain) => chain,
        Err(error) => return report_error(&error, args.json),
    };
    let entries = match chain.state(&contract, &prefix) {
        Ok(entries) => entries,
        Err(error) => return report_error(&error, args.json),
    };
    if args.json {
        let entries: Vec<_> = entries
            .iter()
            .map(|(k, v)| json!({ "key": hex0x(k), "value": hex0x(v) }))
            .collect();
        crate::report::print_json(&json!({ "contract": contract.as_str(), "entries": entries }));
    } else {
        for (key, value) in &entries {
            println!("{} = {}", display_bytes(key), display_bytes(value));
        }
        eprintln!("{} entries", entries.len());
    }
    Status::Success
}
