//! `zdd-guard check`: static analysis of Terraform configuration for downtime-causing settings.

use std::process::ExitCode;

/// Arguments of `zdd-guard check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Directory holding the Terraform configuration.
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
}

/// Runs `check` and returns the process exit code (0 clean, 2 findings, 1 parse error).
pub fn run(_args: &CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("zdd-guard check is not implemented yet")
}
