//! The subcommands: each wires the pure core to the AWS adapters and the terraform runner.

pub mod context;
pub mod drift;
pub mod lease;
pub mod lock;
pub mod private_dir;
pub mod progress_feed;
pub mod report;
pub mod run;
pub mod state_diff;
pub mod status;
pub mod supervise;
pub mod terraform_locks;
pub mod watcher;

use std::path::PathBuf;

/// Options every subcommand shares.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Terraform executable (else $TERRAFORM, else `terraform` on PATH).
    #[arg(long, env = "TERRAFORM", global = true)]
    pub terraform: Option<PathBuf>,
    /// Terraform working directory (a `-chdir=` in the terraform args also sets it).
    #[arg(long, default_value = ".", global = true)]
    pub chdir: PathBuf,
    /// Machine-readable JSON lines on stdout (terraform's own output then goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
}
