//! zdd-guard: wraps terraform in CI (see README.md for the exit-code contract).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zdd_guard::commands::{drift, lock, report, run, state_diff, status};
use zdd_guard::exit::{EXIT_CODES_HELP, Outcome, outcome_for_error};
use zdd_guard::timings;

// `check` lives in its own crate with its own exit codes; they must stay the contract's rows.
const _: () = assert!(zdd_check::EXIT_CLEAN == Outcome::Ok.code());
const _: () = assert!(zdd_check::EXIT_FINDINGS == Outcome::Drift.code());
const _: () = assert!(zdd_check::EXIT_PARSE_ERROR == Outcome::Error.code());

#[derive(Debug, Parser)]
#[command(
    name = "zdd-guard",
    version,
    about = "Locked, leased, watched terraform runs in CI",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report downtime-causing Terraform configuration before it is applied.
    Check(zdd_check::CheckArgs),
    /// Run terraform with enforced locking, a deploy-long lease and a watch on the state:
    /// `zdd-guard run -- apply -auto-approve`.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(run::RunArgs),
    /// Inspect, release or break Terraform's lock and the zdd-guard lease.
    #[command(after_help = EXIT_CODES_HELP)]
    Lock(lock::LockArgs),
    /// Refresh-only plan summarised per resource; exit 5 when the infrastructure drifted.
    #[command(after_help = EXIT_CODES_HELP)]
    Drift(drift::DriftArgs),
    /// Each fleet as AWS alone shows it: generations, health, weights, phase, drains, floor.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(status::StatusArgs),
    /// Write a self-contained HTML page with an SVG timeline of the last rollouts in the state.
    #[command(after_help = EXIT_CODES_HELP)]
    Report(report::ReportArgs),
    /// Compare versions of the state object.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Two versions of the state compared by resource address and attribute.
    #[command(after_help = EXIT_CODES_HELP)]
    Diff(state_diff::StateDiffArgs),
}

fn main() -> ExitCode {
    timings::start(std::env::var(timings::TIMINGS_ENV).ok().as_deref());
    let code = run_cli();
    if let Some(breakdown) = timings::report() {
        eprint!("{breakdown}");
    }
    code
}

fn run_cli() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are not errors; a usage error is zdd-guard's own (6),
            // never clap's default 2, which is terraform's "changes present".
            let _ = error.print();
            return if error.use_stderr() {
                Outcome::Error.into()
            } else {
                Outcome::Ok.into()
            };
        }
    };
    let result = match cli.command {
        Command::Check(args) => zdd_check::run(&args).map_err(anyhow::Error::from),
        Command::Run(args) => async_command(|| run::run(&args)),
        Command::Lock(args) => async_command(|| lock::run(&args)),
        Command::Drift(args) => async_command(|| drift::run(&args)),
        Command::Status(args) => async_command(|| status::run(&args)),
        Command::Report(args) => async_command(|| report::run(&args)),
        Command::State {
            command: StateCommand::Diff(args),
        } => async_command(|| state_diff::run(&args)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("zdd-guard: error: {error:#}");
            ExitCode::from(outcome_for_error(&error).code())
        }
    }
}

fn async_command<F, Fut>(command: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Outcome>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    timings::mark("runtime built");
    let outcome = runtime.block_on(command());
    timings::mark("command returned");
    drop(runtime);
    timings::mark("runtime dropped");
    Ok(outcome?.into())
}
