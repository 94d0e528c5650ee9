//! `detvm run`.

use std::path::PathBuf;

use detvm_vm::{
    Engine, EngineConfig, Error, Instance, Linker, Module, Outcome, Store, native_stack,
};
use serde_json::{Value as Json, json};

use super::LimitsPreset;
use super::validate::report_input_error;
use crate::Status;
use crate::input::load_module;
use crate::literals::{parse_literal, render_value};
use crate::report::{metering_error_json, print_json};

/// The gas limit when `--gas` is not given: enough for about a billion
/// simple instructions under the v1 schedule, so a runaway loop still ends.
pub const DEFAULT_GAS: u64 = 1_000_000_000;

/// The least native stack of the thread that runs Wasm. A module whose
/// documented need (`Module::native_stack_needed`, from its measured
/// frames) is larger gets `native_stack::thread_stack_size` of it,
/// so the deterministic stack limit always fires first.
pub const RUN_THREAD_STACK: usize = 256 << 20;

/// Run an exported function of a module and print its results and gas.
///
/// The `--help` text is the `Run` variant's doc in `main.rs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module, as `.wasm` binary or `.wat` text.
    file: PathBuf,
    /// The exported function to call. A name that starts with `-` works
    /// both as `--invoke -f` and `--invoke=-f`.
    // Export names are arbitrary strings, so the value after `--invoke` is
    // never taken for a flag.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    invoke: String,
    /// Gas limit for the call.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_GAS)]
    gas: u64,
    /// Print one JSON object on stdout instead of text for a person.
    #[arg(long)]
    json: bool,
    /// Which limits to validate against.
    #[arg(long, value_enum, default_value_t)]
    limits: LimitsPreset,
    /// Arguments as WebAssembly text literals, typed by the export's
    /// parameters: `5`, `-1`, `0x10`, `1.5`, `nan`, `inf`. Literals that
    /// start with `-` but are not numbers (`-inf`, `-nan`) go after `--`.
    #[arg(value_name = "ARGS", allow_negative_numbers = true)]
    args: Vec<String>,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    let bytes = match load_module(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => return report_input_error(&error, args.json),
    };
    let config = EngineConfig::with_limits(args.limits.limits());
    let engine = match Engine::new(config) {
        Ok(engine) => engine,
        Err(error) => return fail(args.json, "engine", &error.to_string(), Status::Usage),
    };
    let module = match Module::new(&engine, &bytes) {
        Ok(module) => module,
        Err(Error::Rejected(error)) => {
            if args.json {
                print_json(&json!({ "outcome": "rejected", "error": metering_error_json(&error) }));
            } else {
                eprintln!("{}: rejected: {error}", args.file.display());
            }
            return Status::Rejected;
        }
        Err(error) => return fail(args.json, "compile", &error.to_string(), Status::Rejected),
    };
    let Some(ty) = module.export_func_type(&args.invoke) else {
        let message = format!(
            "`{}` is not an exported function of {}",
            args.invoke,
            args.file.display()
        );
        return fail(args.json, "usage", &message, Status::Usage);
    };
    if ty.params().len() != args.args.len() {
        let message = format!(
            "`{}` takes {} argument(s), {} given",
            args.invoke,
            ty.params().len(),
            args.args.len()
        );
        return fail(args.json, "usage", &message, Status::Usage);
    }
    let mut values = Vec::with_capacity(args.args.len());
    for (position, (text, ty)) in args.args.iter().zip(ty.params()).enumerate() {
        match parse_literal(position + 1, text, *ty) {
            Ok(value) => values.push(value),
            Err(error) => return fail(args.json, "usage", &error.to_string(), Status::Usage),
        }
    }

    let (invoke, gas) = (args.invoke.clone(), args.gas);
    let stack = native_stack::thread_stack_size(module.native_stack_needed()).max(RUN_THREAD_STACK);
    let result = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &Linker::new(&engine))?;
            instance.call(&mut store, &invoke, &values, gas)
        })
        .map_err(|e| e.to_string())
        .and_then(|handle| {
            handle
                .join()
                .map_err(|_| "the run thread panicked".to_owned())
        });
    match result {
        Ok(Ok(outcome)) => report_outcome(args, &outcome),
        Ok(Err(error)) => fail(
            args.json,
            error.kind(),
            &error.to_string(),
            Status::Rejected,
        ),
        Err(message) => fail(args.json, "engine", &message, Status::Rejected),
    }
}

fn report_outcome(args: &Args, outcome: &Outcome) -> Status {
    match outcome {
        Outcome::Success { results, gas_used } => {
            let rendered: Vec<String> = results.iter().map(render_value).collect();
            if args.json {
                print_json(&json!({ "outcome": "ok", "results": rendered, "gas_used": gas_used }));
            } else {
                for result in &rendered {
                    println!("{result}");
                }
                eprintln!("gas used: {gas_used} of {}", args.gas);
            }
            Status::Success
        }
        Outcome::Trap {
            kind,
            message,
            gas_used,
        } => {
            if args.json {
                let mut object =
                    json!({ "outcome": "trap", "trap": kind.name(), "gas_used": gas_used });
                if let Some(message) = message {
                    object["message"] = Json::from(message.as_str());
                }
                print_json(&object);
            } else {
                let detail = message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                eprintln!("trap: {}{detail}", kind.name());
                eprintln!("gas used: {gas_used} of {}", args.gas);
            }
            Status::Rejected
        }
    }
}

fn fail(json: bool, kind: &str, message: &str, status: Status) -> Status {
    if json {
        print_json(&json!({ "outcome": "error", "error": { "kind": kind, "message": message } }));
    } else {
        eprintln!("error: {message}");
    }
    status
}
