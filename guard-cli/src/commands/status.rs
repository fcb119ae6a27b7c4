//! `zdd-guard status NAME... [--watch] [--json]`: each fleet as AWS alone shows it
//! (generations, health per target group and generation, listener weights, phase, drain
//! countdowns, the capacity floor, the last events). No Terraform, no state.

use std::time::Duration;

use crate::exit::Outcome;

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The fleets' names (each `zdd_rollout`'s `name`, its groups' `zdd:rollout` tag).
    #[arg(required = true, num_args = 1..)]
    pub names: Vec<String>,
    /// Keep watching: print the fleets again whenever what they show changes (Ctrl-C ends).
    #[arg(long)]
    pub watch: bool,
    /// How often `--watch` reads AWS.
    #[arg(long, default_value = "5s", value_parser = zdd_duration::parse)]
    pub interval: Duration,
    /// One JSON document per look on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// AWS region (else the standard chain: AWS_REGION, the profile).
    #[arg(long)]
    pub region: Option<String>,
}

pub async fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    anyhow::bail!("zdd-guard status is not built yet")
}
