//! `detvm call`, and what the contract commands share: the state
//! directory, call arguments, receipts as text or JSON, and errors.

use std::path::PathBuf;

use detvm_host::{CallNode, CallOutcome, ContractId, Event, Receipt, ReceiptOutcome, hex};
use serde_json::{Value as Json, json};

use crate::Status;
use crate::borsh_values::{BorshType, decode_values, encode_args};
use crate::local::{LocalCall, LocalChain, LocalError};
use crate::report::print_json;

/// The state directory when `--state` is not given.
pub const DEFAULT_STATE_DIR: &str = ".detvm";

/// The gas limit of a call when `--gas` is not given.
pub const DEFAULT_CALL_GAS: u64 = 1_000_000_000;

/// The account that deploys and calls when `--from` is not given.
pub const DEFAULT_ACCOUNT: &str = "local";

/// Execute a method and commit its state changes if it returns.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub call: CallArgs,
}

/// What `call` and `view` take.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The contract id, as printed by `detvm deploy`.
    pub contract: String,
    /// The method: an export of type `[] -> []`.
    pub method: String,
    /// The input: one hex string (`0x0a0b`), or a list of typed values
    /// encoded with borsh, one after the other: `u8:` … `u128:`, `i8:` …
    /// `i128:` (decimal), `bool:true`, `str:TEXT`, `bytes:0xHEX` (length
    /// prefixed). Nothing means empty input.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// The calling account.
    #[arg(long, value_name = "ACCOUNT", default_value = DEFAULT_ACCOUNT)]
    pub from: String,
    /// Gas limit.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CALL_GAS)]
    pub gas: u64,
    #[command(flatten)]
    pub state: StateArgs,
    /// Read the return bytes as these borsh types, comma-separated (e.g.
    /// `u128` or `str,u64`), and print each value as `TYPE:VALUE`, the way
    /// ARGS are written. Exits 1 if the bytes are not exactly these types;
    /// a `call` has committed its state change all the same.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', value_parser = BorshType::parse)]
    pub decode: Option<Vec<BorshType>>,
    /// Print the receipt as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where the chain lives.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The state directory (created if missing).
    #[arg(long = "state", value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub dir: PathBuf,
    /// Bound of the compiled contract cache in `DIR/code-cache/`, in MiB
    /// (0: off), so a contract is not compiled again on every command.
    #[arg(long, value_name = "MB", default_value_t = detvm_node::DEFAULT_CODE_CACHE_MB)]
    pub code_cache_mb: u64,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    execute(&args.call, false)
}

/// Runs `call` or, with `read_only`, `view`.
pub fn execute(args: &CallArgs, read_only: bool) -> Status {
    let input = match encode_args(&args.args) {
        Ok(input) => input,
        Err(error) => return fail(args.json, "usage", &error.to_string(), Status::Usage),
    };
    let contract = match parse_contract(&args.contract) {
        Ok(contract) => contract,
        Err(message) => return fail(args.json, "usage", &message, Status::Usage),
    };
    let mut chain = match open(&args.state) {
        Ok(chain) => chain,
        Err(error) => return report_error(&error, args.json),
    };
    let call = LocalCall {
        caller: &args.from,
        gas: args.gas,
    };
    let result = if read_only {
        chain.view(&contract, &args.method, &input, &call)
    } else {
        chain.call(&contract, &args.method, &input, &call)
    };
    match result {
        Ok(receipt) => report_receipt(&receipt, args),
        Err(error) => report_error(&error, args.json),
    }
}

/// Opens the chain in the state directory, with its code cache.
pub fn open(state: &StateArgs) -> Result<LocalChain, LocalError> {
    LocalChain::open(&state.dir, state.code_cache_mb)
}

/// Parses a contract id argument.
pub fn parse_contract(text: &str) -> Result<ContractId, String> {
    ContractId::parse(text).ok_or_else(|| {
        format!(
            "`{text}` is not a contract id: {} lowercase hex digits",
            ContractId::LEN
        )
    })
}

/// `0x` and lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex(bytes))
}

/// Bytes for a person: quoted if printable ASCII, else hex.
pub fn display_bytes(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        hex0x(bytes)
    }
}

/// The receipt as JSON: outcome, gas, logs, state changes and hash.
pub fn receipt_json(receipt: &Receipt) -> Json {
    let mut object = match &receipt.outcome {
        ReceiptOutcome::Returned(bytes) => json!({ "outcome": "returned", "return": hex0x(bytes) }),
        ReceiptOutcome::Trapped { kind, message } => {
            json!({ "outcome": "trapped", "trap": kind.name(), "message": message })
        }
    };
    object["gas_used"] = json!(receipt.gas_used);
    object["logs"] = json!(receipt.logs);
    object["state_changes"] = Json::Array(
        receipt
            .state_changes
            .iter()
            .map(|(key, value)| json!({ "key": hex0x(key), "value": value.as_deref().map(hex0x) }))
            .collect(),
    );
    object["events"] = Json::Array(receipt.all_events().iter().map(event_json).collect());
    object["calls"] = Json::Array(receipt.calls.iter().map(call_json).collect());
    object["receipt_hash"] = json!(hex(&receipt.hash()));
    object
}

fn event_json(event: &Event) -> Json {
    json!({
        "contract": event.contract,
        "topics": event.topics.iter().map(|t| hex0x(t)).collect::<Vec<_>>(),
        "data": hex0x(&event.data),
    })
}

fn call_json(call: &CallNode) -> Json {
    let mut object = match &call.outcome {
        CallOutcome::Returned { value } => json!({ "outcome": "returned", "return": hex0x(value) }),
        CallOutcome::Trapped { kind, message } => {
            json!({ "outcome": "trapped", "trap": kind, "message": message })
        }
        CallOutcome::Refused { kind, message } => {
            json!({ "outcome": "refused", "kind": kind, "message": message })
        }
    };
    object["contract"] = json!(call.contract);
    object["method"] = json!(call.method);
    // A string: JSON numbers lose precision above 2^53.
    object["amount"] = json!(call.amount.to_string());
    object["gas_limit"] = json!(call.gas_limit);
    object["gas_used"] = json!(call.gas_used);
    object["logs"] = json!(call.logs);
    object["events"] = Json::Array(call.events.iter().map(event_json).collect());
    object["calls"] = Json::Array(call.calls.iter().map(call_json).collect());
    object
}

/// One line per nested call, indented by depth.
fn print_calls(receipt: &Receipt) {
    for (depth, call) in receipt.all_calls() {
        let outcome = match &call.outcome {
            CallOutcome::Returned { .. } => "returned".to_owned(),
            CallOutcome::Trapped { kind, message } => match message {
                Some(m) => format!("trapped: {kind}: {m}"),
                None => format!("trapped: {kind}"),
            },
            CallOutcome::Refused { kind, message } => format!("refused: {kind}: {message}"),
        };
        eprintln!(
            "{:indent$}call {}.{} -> {outcome} (gas {} of {})",
            "",
            call.contract,
            call.method,
            call.gas_used,
            call.gas_limit,
            indent = 2 * (depth - 1)
        );
    }
}

fn report_receipt(receipt: &Receipt, args: &CallArgs) -> Status {
    let mut status = if receipt.is_success() {
        Status::Success
    } else {
        Status::Rejected
    };
    let decoded = match (&receipt.outcome, &args.decode) {
        (ReceiptOutcome::Returned(bytes), Some(types)) => Some(decode_values(types, bytes)),
        _ => None,
    };
    if let Some(Err(_)) = decoded {
        status = Status::Rejected;
    }
    if args.json {
        let mut object = receipt_json(receipt);
        match decoded {
            Some(Ok(values)) => object["decoded"] = json!(values),
            Some(Err(error)) => object["decode_error"] = json!(error.to_string()),
            None => {}
        }
        print_json(&object);
        return status;
    }
    for log in &receipt.logs {
        eprintln!("log: {log}");
    }
    match &receipt.outcome {
        ReceiptOutcome::Returned(bytes) => match decoded {
            Some(Ok(values)) => values.iter().for_each(|value| println!("{value}")),
            Some(Err(error)) => eprintln!(
                "error: the return value {} does not decode as {}: {error}",
                hex0x(bytes),
                type_list(args.decode.as_deref().unwrap_or_default())
            ),
            None => println!("{}", hex0x(bytes)),
        },
        ReceiptOutcome::Trapped { kind, message } => {
            let detail = message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            eprintln!("trap: {}{detail}", kind.name());
        }
    }
    print_calls(receipt);
    for event in receipt.all_events() {
        let topics: Vec<String> = event.topics.iter().map(|t| hex0x(t)).collect();
        eprintln!(
            "event {} [{}] {}",
            event.contract,
            topics.join(", "),
            display_bytes(&event.data)
        );
    }
    for (key, value) in &receipt.state_changes {
        match value {
            Some(value) => eprintln!("set {} = {}", display_bytes(key), display_bytes(value)),
            None => eprintln!("removed {}", display_bytes(key)),
        }
    }
    eprintln!("gas used: {} of {}", receipt.gas_used, args.gas);
    eprintln!("receipt hash: {}", hex(&receipt.hash()));
    status
}

fn type_list(types: &[BorshType]) -> String {
    let names: Vec<&str> = types.iter().map(|ty| ty.name()).collect();
    names.join(",")
}

/// Reports a local chain error.
pub fn report_error(error: &LocalError, json: bool) -> Status {
    fail(json, &error.kind, &error.message, error.status)
}

/// Reports a failure as `{"outcome":"error",…}` or on stderr.
pub fn fail(json: bool, kind: &str, message: &str, status: Status) -> Status {
    if json {
        print_json(&json!({ "outcome": "error", "error": { "kind": kind, "message": message } }));
    } else {
        eprintln!("error: {message}");
    }
    status
}
