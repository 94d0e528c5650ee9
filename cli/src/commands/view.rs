//! `detvm view`.

use super::call::{CallArgs, execute};
use crate::Status;

/// Execute a method read-only: a write traps with `host`, nothing is
/// committed.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    call: CallArgs,
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    execute(&args.call, true)
}
