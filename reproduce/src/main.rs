//! `detvm-reproduce`: `detvm reproduce` without the rest of the command
//! line, for machines (and emulated CPUs) that only check reproducibility.

use std::process::ExitCode;

use clap::Parser;
use detvm_reproduce::cli::{Args, Verdict, main as reproduce};

#[derive(Debug, Parser)]
#[command(
    name = "detvm-reproduce",
    version,
    about = "Checks that this machine computes what every detvm node computes."
)]
struct Command {
    #[command(flatten)]
    args: Args,
}

fn main() -> ExitCode {
    let command = Command::parse();
    match reproduce(&command.args) {
        Verdict::Same => ExitCode::SUCCESS,
        Verdict::Different => ExitCode::from(1),
        Verdict::Usage => ExitCode::from(2),
    }
}
