//! `zdd-guard report [--state FILE | --from-backend] [-o rollout.html]`: a self-contained HTML
//! page (no network, no external scripts) with an SVG timeline of each `zdd_rollout`'s last
//! rollout, drawn from `last_rollout` (its timeline and health samples) in the state.

use std::path::PathBuf;

use crate::exit::Outcome;

use super::CommonArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A state file (`terraform show -json`'s or the backend's raw state; `-` reads stdin).
    #[arg(long, conflicts_with = "from_backend")]
    pub state: Option<PathBuf>,
    /// Read the state from the working directory's S3 backend.
    #[arg(long)]
    pub from_backend: bool,
    /// Only this resource address (`zdd_rollout.web`, `module.api.zdd_rollout.this`).
    #[arg(long)]
    pub resource: Option<String>,
    /// Where to write the page.
    #[arg(short = 'o', long, default_value = "rollout.html")]
    pub output: PathBuf,
}

pub async fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    anyhow::bail!("zdd-guard report is not built yet")
}
