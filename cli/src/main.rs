//! `detvm`: the command line of the detvm deterministic WebAssembly VM.
//!
//! This crate owns the user-facing surface only: argument parsing, reading
//! `.wasm`/`.wat` files, and printing results for people (stderr) or machines
//! (`--json`, one object on stdout). Every decision about a module is made by
//! the library crates it calls.
//!
//! Exit codes are the same for every command: 0 on success, 1 when the
//! module is rejected (or, for commands that run code, when it traps), 2 on a
//! usage error such as a bad flag or an unreadable file.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod borsh_values;
mod commands;
mod input;
mod literals;
mod local;
mod report;
mod rpc_client;

/// Deterministic WebAssembly VM for smart contracts.
///
/// Exit codes: 0 success; 1 module rejected (or trapped); 2 usage error
/// (bad arguments, unreadable or unwritable file).
#[derive(Debug, Parser)]
#[command(name = "detvm", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a module against the determinism profile and size limits.
    Validate(commands::validate::Args),
    /// Rewrite a module to charge gas and bound its stack (plain Wasm out).
    Instrument(commands::instrument::Args),
    /// Run an exported function and print its results and gas.
    ///
    /// Results print one per line (or as the `results` array with `--json`):
    /// `i32:-1` and `i64:5` in signed decimal, `f32:0x7fc00000` and
    /// `f64:0x3ff0000000000000` as raw bits in hex, `funcref:null` or
    /// `funcref:nonnull`, `externref:null` or `externref:<host id>`. No host
    /// address is ever printed, so the same call prints the same text on
    /// every run.
    Run(commands::run::Args),
    /// Run WebAssembly test scripts (`.wast`) against the engine.
    Wast(commands::wast::Args),
    /// Deploy a contract to the local chain and print its id.
    Deploy(commands::deploy::Args),
    /// Execute a contract method and commit its state changes.
    Call(commands::call::Args),
    /// Execute a contract method read-only.
    View(commands::view::Args),
    /// List a contract's storage.
    State(commands::state::Args),
    /// Run a node: a local testnet with `--dev`.
    Node(commands::node::Args),
    /// Manage ed25519 key files.
    Keys(commands::keys::Args),
    /// Sign and send a transaction to a node.
    Tx(commands::tx::Args),
    /// Show a block of a running node.
    Block(commands::tx::BlockArgs),
    /// Show a transaction receipt from a running node.
    Receipt(commands::tx::ReceiptArgs),
    /// Re-execute a node's stored blocks and check every root.
    Replay(commands::replay::Args),
    /// Check that this machine computes what every node computes: a
    /// built-in conformance corpus, one digest per section.
    Reproduce(detvm_reproduce::cli::Args),
}

/// How a command ended, mapped to the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command did what was asked.
    Success,
    /// The module was rejected, or the code trapped.
    Rejected,
    /// The command could not run as asked (bad input file, output path, …).
    Usage,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(match status {
            Status::Success => 0,
            Status::Rejected => 1,
            Status::Usage => 2,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Validate(args) => commands::validate::run(&args),
        Command::Instrument(args) => commands::instrument::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::Wast(args) => commands::wast::run(&args),
        Command::Deploy(args) => commands::deploy::run(&args),
        Command::Call(args) => commands::call::run(&args),
        Command::View(args) => commands::view::run(&args),
        Command::State(args) => commands::state::run(&args),
        Command::Node(args) => commands::node::run(&args),
        Command::Keys(args) => commands::keys::run(&args),
        Command::Tx(args) => commands::tx::run(&args),
        Command::Block(args) => commands::tx::run_block(&args),
        Command::Receipt(args) => commands::tx::run_receipt(&args),
        Command::Replay(args) => commands::replay::run(&args),
        Command::Reproduce(args) => match detvm_reproduce::cli::main(&args) {
            detvm_reproduce::cli::Verdict::Same => Status::Success,
            detvm_reproduce::cli::Verdict::Different => Status::Rejected,
            detvm_reproduce::cli::Verdict::Usage => Status::Usage,
        },
    };
    status.into()
}
