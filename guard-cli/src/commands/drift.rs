//! `zdd-guard drift [--json]`: a refresh-only plan summarised per resource with attribute diffs.
//! (The streaming `plan -json` messages name drifted resources but carry no attributes, so the
//! plan is saved and read back with `show -json`.)

use serde_json::json;
use tokio::sync::watch;

use super::CommonArgs;
use super::private_dir::PrivateDir;
use super::supervise::{Signals, supervise};
use crate::core::plan;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{ResourceChange, StateDiff};
use crate::exit::Outcome;
use crate::output::{Level, Reporter};
use crate::runner::{StdoutTo, Terraform};

/// How often `supervise` looks around while terraform plans: nothing is watched here, so this
/// only paces its loop.
const UNWATCHED_TICK: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(args: &DriftArgs) -> anyhow::Result<Outcome> {
    let reporter = Reporter::new(args.common.json);
    let terraform = Terraform::new(args.common.terraform.as_deref(), &args.common.chdir);
    // Installed before the plan exists: a CI cancel (SIGINT/SIGTERM) must not kill the guard
    // before it deletes the saved plan (a signal's default action skips every `Drop`).
    let mut signals = Signals::install()?;
    // The saved plan holds every variable's value: a private directory, deleted below (and
    // on every early way out, when `private` is dropped).
    let private = PrivateDir::create()?;
    let file = private.path().join("zdd-guard-drift.tfplan");
    let plan_args: Vec<String> = [
        "plan",
        "-refresh-only",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("-out={}", file.display())])
    .collect();
    // Supervised (not captured) so that a signal is forwarded to it as in `run`: terraform
    // runs in its own process group, so the CI's Ctrl-C reaches the guard only. Its output goes
    // to stderr. No lease here: nothing can be lost.
    let running = terraform.spawn(&plan_args, StdoutTo::Stderr)?;
    let (_no_lease, mut no_lease_lost) = watch::channel(None);
    let code = supervise(
        running,
        None,
        UNWATCHED_TICK,
        &mut signals,
        &mut no_lease_lost,
        &reporter,
    )
    .await?;
    if signals.received > 0 {
        remove(private, &reporter);
        reporter.error(
            "drift",
            "interrupted: terraform stopped, the saved plan deleted",
        );
        return Ok(Outcome::Terraform(1));
    }
    if !matches!(code, Some(0 | 2)) {
        reporter.error(
            "drift",
            &format!(
                "terraform plan -refresh-only failed (exit {code:?}); its output is above on stderr"
            ),
        );
        remove(private, &reporter);
        return Ok(Outcome::from_terraform(code).combine(Outcome::Error));
    }
    let show_arg = file.display().to_string();
    let show_args = ["show", "-json", &show_arg];
    let show = terraform.capture(&show_args);
    tokio::pin!(show);
    let waited = tokio::select! {
        shown = &mut show => Ok(shown),
        signal = signals.next() => Err(signal),
    };
    let (shown, signal) = match waited {
        Ok(shown) => (shown, None),
        // `show` only reads the local plan file and ends quickly: let it, then clean up.
        Err(signal) => (show.await, Some(signal)),
    };
    remove(private, &reporter);
    if let Some(signal) = signal {
        reporter.error(
            "drift",
            &format!("interrupted by {signal:?}: the saved plan deleted"),
        );
        return Ok(Outcome::Terraform(1));
    }
    let shown = shown?;
    anyhow::ensure!(
        shown.code == Some(0),
        "terraform show -json failed: {}",
        shown.stderr
    );
    let drift = plan::drift(&shown.stdout)?;
    if drift.is_empty() {
        reporter.emit(Level::Info, "drift", "no drift", json!({"drift": []}));
        return Ok(Outcome::Ok);
    }
    let as_diff = StateDiff {
        serial_before: 0,
        serial_after: 0,
        lineage_before: String::new(),
        lineage_after: String::new(),
        added: vec![],
        removed: drift
            .iter()
            .filter(|d| d.action == "delete")
            .map(|d| d.address.clone())
            .collect(),
        changed: drift
            .iter()
            .filter(|d| d.action != "delete")
            .map(|d| ResourceChange {
                address: d.address.clone(),
                attributes: d.attributes.clone(),
            })
            .collect(),
    };
    let rendered = render_state_diff(&as_diff, reporter.colour());
    let body = rendered.split_once('\n').map_or("", |(_, rest)| rest);
    reporter.emit(
        Level::Warning,
        "drift",
        &format!(
            "{} resource(s) drifted from the state:\n{body}",
            drift.len()
        ),
        json!({"drift": drift}),
    );
    Ok(Outcome::Drift)
}

/// Deletes the private directory; a failure is a warning (it never hides terraform's outcome),
/// and `Drop` tries once more.
fn remove(private: PrivateDir, reporter: &Reporter) {
    if let Err(error) = private.remove() {
        reporter.warn("drift", &format!("{error:#}"));
    }
}
