//! `zdd-guard report [--state FILE | --from-backend] [-o rollout.html]`: a self-contained HTML
//! page (no network, no external scripts) with an SVG timeline of each `zdd_rollout`'s last
//! rollout, drawn from `last_rollout` (its timeline and health samples) in the state.
//!
//! The I/O only: read the state (a file, stdin, or the S3 backend's object), hand it to the pure
//! [`crate::report`], write the page.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit::Outcome;
use crate::output::{Level, Reporter};
use crate::report;

use super::CommonArgs;
use super::context::{self, Remote};
use crate::core::backend::Backend;

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A state file (`terraform show -json`'s or the backend's raw state; `-` reads stdin).
    /// Without it and without --from-backend: the local state of the working directory's
    /// workspace (`terraform.tfstate`, or `terraform.tfstate.d/<workspace>/terraform.tfstate`).
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
    let (state, source) = read_state(args).await?;
    let page = report::render(&state, args.resource.as_deref(), &source)?;
    std::fs::write(&args.output, &page)
        .with_context(|| format!("cannot write the page to {}", args.output.display()))?;
    let rollouts = page.matches(r#"data-kind="rollout""#).count();
    let reporter = Reporter::new(args.common.json);
    reporter.emit(
        Level::Info,
        "report_written",
        &format!(
            "wrote {} ({rollouts} rollout(s), {} bytes, from {source})",
            args.output.display(),
            page.len()
        ),
        serde_json::json!({
            "path": args.output.display().to_string(),
            "rollouts": rollouts,
            "bytes": page.len(),
            "source": source,
        }),
    );
    Ok(Outcome::Ok)
}

/// The state's text and where it came from (for the page and the messages).
async fn read_state(args: &ReportArgs) -> anyhow::Result<(String, String)> {
    if args.from_backend {
        let remote = Remote::for_dir(&args.common.chdir).await?;
        let location = remote.state_location();
        let Some((_, bytes)) = remote.s3.get(&remote.state_key, None).await? else {
            anyhow::bail!(
                "there is no state at {location} (nothing applied in this workspace yet?)"
            );
        };
        let text = String::from_utf8(bytes)
            .with_context(|| format!("the state at {location} is not UTF-8 text"))?;
        return Ok((text, location));
    }
    match &args.state {
        Some(path) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the state from stdin")?;
            Ok((text, "stdin".to_string()))
        }
        Some(path) => read_file(path),
        None => {
            let dir = &args.common.chdir;
            match context::resolve_backend(dir)? {
                Backend::Local => {}
                Backend::S3(_) => anyhow::bail!(
                    "{} uses the S3 backend, so a local state file would be stale or absent: pass --from-backend (or --state FILE, `-` for stdin from `terraform show -json`)",
                    dir.display()
                ),
                Backend::Other { kind } => anyhow::bail!(
                    "{} uses the {kind:?} backend, which zdd-guard does not read: pipe the state in with `terraform show -json | zdd-guard report --state -`",
                    dir.display()
                ),
            }
            let local = local_state_path(dir, &context::workspace(dir));
            if !local.exists() {
                anyhow::bail!(
                    "no state given and no {} here: pass --state FILE (`-` for stdin, e.g. from `terraform show -json`) or --from-backend",
                    local.display()
                );
            }
            read_file(&local)
        }
    }
}

/// Where the local backend keeps `workspace`'s state, as terraform does: `terraform.tfstate`
/// for `default`, `terraform.tfstate.d/<workspace>/terraform.tfstate` for any other.
fn local_state_path(dir: &Path, workspace: &str) -> PathBuf {
    if workspace == "default" {
        dir.join("terraform.tfstate")
    } else {
        dir.join("terraform.tfstate.d")
            .join(workspace)
            .join("terraform.tfstate")
    }
}

fn read_file(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the state {}", path.display()))?;
    Ok((text, path.display().to_string()))
}
