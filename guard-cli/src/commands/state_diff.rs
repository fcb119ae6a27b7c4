//! `zdd-guard state diff [--from VERSION] [--to VERSION]`: two versions of the state object
//! compared by resource address and attribute. Defaults: the previous version to the latest.

use super::CommonArgs;
use super::context::Remote;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{Snapshot, diff};
use crate::exit::Outcome;
use crate::output::{Level, Reporter};

#[derive(Debug, clap::Args)]
pub struct StateDiffArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// S3 version id of the older state (default: the version before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// S3 version id of the newer state (default: the latest).
    #[arg(long)]
    pub to: Option<String>,
}

pub async fn run(args: &StateDiffArgs) -> anyhow::Result<Outcome> {
    let reporter = Reporter::new(args.common.json);
    let remote = Remote::for_dir(&args.common.chdir).await?;
    let versions = remote.s3.versions(&remote.state_key).await?;
    let to = match &args.to {
        Some(v) => v.clone(),
        None => versions
            .first()
            .map(|v| v.version_id.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has no versions (is bucket versioning on?)",
                    remote.state_location()
                )
            })?,
    };
    let from = match &args.from {
        Some(v) => v.clone(),
        None => {
            let position = versions.iter().position(|v| v.version_id == to);
            position
                .and_then(|p| versions.get(p + 1))
                .map(|v| v.version_id.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no version before {to} of {}; pass --from",
                        remote.state_location()
                    )
                })?
        }
    };
    let before = load(&remote, &from).await?;
    let after = load(&remote, &to).await?;
    let difference = diff(&before, &after);
    let rendered = render_state_diff(&difference, reporter.colour());
    if reporter.json() {
        reporter.emit(
            Level::Info,
            "state_diff",
            &format!("{from} -> {to}"),
            serde_json::to_value(&difference)?,
        );
    } else {
        println!("{} {from} -> {to}\n{rendered}", remote.state_location());
    }
    Ok(Outcome::Ok)
}

async fn load(remote: &Remote, version: &str) -> anyhow::Result<Snapshot> {
    let (_, bytes) = remote
        .s3
        .get(&remote.state_key, Some(version))
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("version {version} of {} not found", remote.state_location())
        })?;
    Ok(Snapshot::parse(
        &format!("{} (version {version})", remote.state_location()),
        bytes,
    )?)
}
