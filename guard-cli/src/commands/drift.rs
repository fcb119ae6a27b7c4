//! `zdd-guard drift [--json]`: a refresh-only plan summarised per resource with attribute diffs.
//! (The streaming `plan -json` messages name drifted resources but carry no attributes, so the
//! plan is saved and read back with `show -json`.)

use serde_json::json;

use super::CommonArgs;
use super::private_dir::PrivateDir;
use crate::core::plan;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{ResourceChange, StateDiff};
use crate::exit::Outcome;
use crate::output::{Level, Reporter};
use crate::runner::Terraform;

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(args: &DriftArgs) -> anyhow::Result<Outcome> {
    let reporter = Reporter::new(args.common.json);
    let terraform = Terraform::new(args.common.terraform.as_deref(), &args.common.chdir);
    // The saved plan holds every variable's value: a private directory, deleted below (and
    // on every early way out, when `private` is dropped).
    let private = PrivateDir::create()?;
    let file = private.path().join("zdd-guard-drift.tfplan");
    let out = format!("-out={}", file.display());
    let planned = terraform
        .capture(&[
            "plan",
            "-refresh-only",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            &out,
        ])
        .await?;
    if !matches!(planned.code, Some(0 | 2)) {
        private.remove()?;
        reporter.error(
            "drift",
            &format!("terraform plan -refresh-only failed:\n{}", planned.stderr),
        );
        return Ok(Outcome::from_terraform(planned.code).combine(Outcome::Error));
    }
    let shown = terraform
        .capture(&["show", "-json", &file.display().to_string()])
        .await;
    private.remove()?;
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
