//! `detvm view`.

use serde_json::json;

use super::call::{CallArgs, execute};
use crate::Status;
use crate::borsh_values::{decode_values, encode_args};
use crate::report::print_json;
use crate::rpc_client::request;

/// Execute a method read-only: a write traps with `host`, nothing is
/// committed. With `--rpc URL` it runs on a node, on the state after its
/// latest block (or `--height`); otherwise on the local `--state`
/// directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    call: CallArgs,
    /// Run on the node at URL instead of the local state directory.
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
    /// With `--rpc`: the block whose state the view sees.
    #[arg(long, value_name = "N", requires = "rpc")]
    height: Option<u64>,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let Some(url) = &args.rpc else {
        return execute(&args.call, true);
    };
    let c = &args.call;
    let fail = |kind: &str, message: &str, status: Status| {
        if c.json {
            print_json(&json!({ "error": { "kind": kind, "message": message } }));
        } else {
            eprintln!("error: {message}");
        }
        status
    };
    let input = match encode_args(&c.args) {
        Ok(i) => i,
        Err(e) => return fail("usage", &e.to_string(), Status::Usage),
    };
    let mut params = vec![
        json!(c.contract),
        json!(c.method),
        json!(detvm_host::hex(&input)),
    ];
    if let Some(h) = args.height {
        params.push(json!(h));
    }
    let view = match request(url, "view", params) {
        Ok(v) => v,
        Err(e) => return fail(&e.kind(), &e.to_string(), Status::Usage),
    };
    let outcome = &view["outcome"];
    let returned = outcome["status"] == "returned";
    if c.json {
        print_json(&view);
    } else {
        for log in view["logs"].as_array().into_iter().flatten() {
            eprintln!("log: {}", log.as_str().unwrap_or(""));
        }
        if returned {
            let hex = outcome["value"].as_str().unwrap_or("");
            let Some(bytes) = detvm_host::from_hex(hex) else {
                eprintln!("error: the node answered a value that is not hex: {hex}");
                return Status::Usage;
            };
            match &c.decode {
                Some(types) => match decode_values(types, &bytes) {
                    Ok(values) => values.iter().for_each(|v| println!("{v}")),
                    Err(e) => {
                        eprintln!("error: the return value does not decode: {e}");
                        return Status::Rejected;
                    }
                },
                None => println!("0x{hex}"),
            }
        } else {
            eprintln!(
                "trapped: {} {}",
                outcome["kind"].as_str().unwrap_or(""),
                outcome["message"].as_str().unwrap_or("")
            );
        }
        eprintln!("gas used: {}", view["gas_used"]);
    }
    if returned {
        Status::Success
    } else {
        Status::Rejected
    }
}
