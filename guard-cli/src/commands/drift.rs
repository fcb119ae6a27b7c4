//! `zdd-guard drift [--json]`: a refresh-only plan summarised per resource with attribute diffs.
//! (The streaming `plan -json` messages name drifted resources but carry no attributes, so the
//! plan is saved and read back with `show -json`.)

use anyhow::Context as _;
use serde_json::json;
use tokio::process::Child;

use super::CommonArgs;
use super::private_dir::PrivateDir;
use super::supervise::Signals;
use crate::core::plan;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{ResourceChange, StateDiff};
use crate::exit::Outcome;
use crate::output::{Level, Reporter};
use crate::runner::{Signal, StdoutTo, Terraform, send_signal};

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
    // Spawned (not captured) so that a signal can be forwarded to it: terraform runs in its own
    // process group, so the CI's Ctrl-C reaches the guard only. Its output goes to stderr.
    let mut child = terraform.spawn(&plan_args, StdoutTo::Stderr)?;
    let waited = tokio::select! {
        status = child.wait() => Ok(status),
        signal = signals.next() => Err(signal),
    };
    let status = match waited {
        Ok(status) => status.context("cannot wait for terraform plan")?,
        Err(signal) => {
            stop(&mut child, signal, &mut signals, &reporter).await;
            remove(private, &reporter);
            reporter.error(
                "drift",
                &format!("interrupted by {signal:?}: terraform stopped, the saved plan deleted"),
            );
            return Ok(Outcome::Terraform(1));
        }
    };
    if !matches!(status.code(), Some(0 | 2)) {
        reporter.error(
            "drift",
            &format!(
                "terraform plan -refresh-only failed ({status}); its output is above on stderr"
            ),
        );
        remove(private, &reporter);
        return Ok(Outcome::from_terraform(status.code()).combine(Outcome::Error));
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

/// Forwards `signal` to terraform and waits for it to exit; a further signal kills it.
async fn stop(child: &mut Child, signal: Signal, signals: &mut Signals, reporter: &Reporter) {
    let mut next = signal;
    loop {
        if let Some(pid) = child.id()
            && let Err(error) = send_signal(pid, next)
        {
            reporter.warn("drift", &format!("cannot signal terraform: {error:#}"));
        }
        tokio::select! {
            status = child.wait() => {
                if let Err(error) = status {
                    reporter.warn("drift", &format!("cannot wait for terraform: {error}"));
                }
                return;
            }
            _ = signals.next() => next = Signal::Kill,
        }
    }
}

/// Deletes the private directory; a failure is a warning (it never hides terraform's outcome),
/// and `Drop` tries once more.
fn remove(private: PrivateDir, reporter: &Reporter) {
    if let Err(error) = private.remove() {
        reporter.warn("drift", &format!("{error:#}"));
    }
}
