//! `zdd-guard report`'s pure core: a Terraform state (JSON text) → each `zdd_rollout`'s last
//! rollout as a typed model ([`model::RolloutReport`]) → one self-contained HTML page with an
//! SVG timeline per rollout ([`html::page`]). No I/O and no clock here: `commands/report.rs`
//! reads the state and writes the page.

pub mod html;
pub mod model;
pub mod state;
pub mod svg;
pub mod time;

use model::RolloutReport;

/// Why a state gives no report. Every one is the guard's own error (exit 6).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the state is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error(
        "this is not a Terraform state: expected a raw state (`resources`, as in terraform.tfstate or the backend) or `terraform show -json` output (`values.root_module`)"
    )]
    NotAState,
    #[error("the state has no zdd_rollout resource")]
    NoRollout,
    #[error(
        "no zdd_rollout in the state has a last_rollout (none has rolled out yet): {}",
        .addresses.join(", ")
    )]
    NoLastRollout { addresses: Vec<String> },
    #[error("--resource {wanted}: the state has no zdd_rollout at that address; it has: {}", .available.join(", "))]
    ResourceNotFound {
        wanted: String,
        available: Vec<String>,
    },
}

/// The rollouts of `state_json` to draw: every `zdd_rollout` with a `last_rollout`, or only the
/// one at `resource` (which must have one).
pub fn rollouts(
    state_json: &str,
    resource: Option<&str>,
) -> Result<Vec<RolloutReport>, ReportError> {
    let state: serde_json::Value = serde_json::from_str(state_json)?;
    let resources = state::rollout_resources(&state)?;
    if resources.is_empty() {
        return Err(ReportError::NoRollout);
    }
    let addresses: Vec<String> = resources.iter().map(|r| r.address.clone()).collect();
    let chosen: Vec<&state::RolloutResource> = match resource {
        Some(wanted) => {
            let found: Vec<_> = resources.iter().filter(|r| r.address == wanted).collect();
            if found.is_empty() {
                return Err(ReportError::ResourceNotFound {
                    wanted: wanted.to_string(),
                    available: addresses,
                });
            }
            found
        }
        None => resources.iter().collect(),
    };
    let reports: Vec<RolloutReport> = chosen
        .iter()
        .filter_map(|r| RolloutReport::from_attributes(&r.address, &r.attributes))
        .collect();
    if reports.is_empty() {
        return Err(ReportError::NoLastRollout {
            addresses: chosen.iter().map(|r| r.address.clone()).collect(),
        });
    }
    Ok(reports)
}

/// The page for `state_json` (see [`rollouts`] and [`html::page`]).
pub fn render(
    state_json: &str,
    resource: Option<&str>,
    source: &str,
) -> Result<String, ReportError> {
    Ok(html::page(&rollouts(state_json, resource)?, source))
}

/// Text and attribute values for HTML (and the SVG inside it): `& < > " '` as references, so
/// nothing from the state can close an element, open one or leave an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;
