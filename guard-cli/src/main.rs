//! zdd-guard: wraps terraform in CI (see README.md for the exit-code contract).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zdd_guard::check;

#[derive(Debug, Parser)]
#[command(name = "zdd-guard", version, about = "Locked, leased, watched terraform runs in CI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report downtime-causing Terraform configuration before it is applied.
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("zdd-guard: error: {error:#}");
            ExitCode::from(1)
        }
    }
}
