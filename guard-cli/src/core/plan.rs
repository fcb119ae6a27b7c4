//! Reading `terraform show -json PLANFILE`: the addresses a plan changes, and the drift it found.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::snapshot::AttributeChange;

#[derive(Debug, thiserror::Error)]
#[error("terraform's plan JSON is malformed: {0}")]
pub struct PlanJsonError(String);

#[derive(Deserialize)]
struct RawPlan {
    #[serde(default)]
    resource_changes: Vec<RawChange>,
    #[serde(default)]
    resource_drift: Vec<RawChange>,
}

#[derive(Deserialize)]
struct RawChange {
    address: String,
    change: RawChangeBody,
}

#[derive(Deserialize)]
struct RawChangeBody {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    before: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
}

/// What a saved plan will do, as far as the watcher cares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanSummary {
    /// Addresses whose actions are not `no-op` (create, update, delete, replace, read).
    pub changes: BTreeSet<String>,
    /// Addresses refreshed differently from the state: applying the plan writes them too.
    pub drifted: BTreeSet<String>,
}

impl PlanSummary {
    /// Every address this run may legitimately write.
    pub fn change_set(&self) -> BTreeSet<String> {
        self.changes.union(&self.drifted).cloned().collect()
    }
}

/// One drifted resource with its attribute differences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub address: String,
    pub action: String,
    pub attributes: Vec<AttributeChange>,
}

pub fn summarize(json: &[u8]) -> Result<PlanSummary, PlanJsonError> {
    let plan: RawPlan = serde_json::from_slice(json).map_err(|e| PlanJsonError(e.to_string()))?;
    let changes = plan
        .resource_changes
        .iter()
        .filter(|c| !c.change.actions.iter().all(|a| a == "no-op"))
        .map(|c| c.address.clone())
        .collect();
    let drifted = plan
        .resource_drift
        .iter()
        .map(|c| c.address.clone())
        .collect();
    Ok(PlanSummary { changes, drifted })
}

/// The `resource_drift` entries with attribute-level differences.
pub fn drift(json: &[u8]) -> Result<Vec<Drift>, PlanJsonError> {
    let plan: RawPlan = serde_json::from_slice(json).map_err(|e| PlanJsonError(e.to_string()))?;
    Ok(plan
        .resource_drift
        .into_iter()
        .map(|c| {
            let empty = Map::new();
            let before = c
                .change
                .before
                .as_ref()
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let after = c
                .change
                .after
                .as_ref()
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            let attributes = names
                .into_iter()
                .filter(|n| before.get(*n) != after.get(*n))
                .map(|n| AttributeChange {
                    name: n.clone(),
                    before: before.get(n).cloned(),
                    after: after.get(n).cloned(),
                })
                .collect();
            Drift {
                address: c.address,
                action: c.change.actions.join(","),
                attributes,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"format_version":"1.2","resource_changes":[
        {"address":"terraform_data.a","change":{"actions":["create"],"before":null,"after":{}}},
        {"address":"terraform_data.b","change":{"actions":["no-op"],"before":{},"after":{}}},
        {"address":"terraform_data.c","change":{"actions":["delete","create"]}}],
      "resource_drift":[{"address":"terraform_data.d","change":{"actions":["update"],
        "before":{"id":"1","input":"x"},"after":{"id":"1","input":"y"}}}]}"#;

    #[test]
    fn change_set_is_changes_plus_drift() {
        let summary = summarize(PLAN.as_bytes()).unwrap();
        let set: Vec<String> = summary.change_set().into_iter().collect();
        assert_eq!(
            set,
            ["terraform_data.a", "terraform_data.c", "terraform_data.d"]
        );
    }

    #[test]
    fn drift_has_attribute_diffs() {
        let drift = drift(PLAN.as_bytes()).unwrap();
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].attributes.len(), 1);
        assert_eq!(drift[0].attributes[0].name, "input");
    }

    #[test]
    fn malformed_plan_json_is_an_error() {
        assert!(summarize(b"{\"resource_changes\":5}").is_err());
        assert!(summarize(b"").is_err());
    }
}
