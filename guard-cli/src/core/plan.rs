//! Reading `terraform show -json PLANFILE`: the addresses a plan changes, and the drift it found.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::sensitive::mask_attributes_by_marks;
use super::snapshot::{AttributeChange, attribute_changes};

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
    /// `true`, or the value's structure with `true` at the sensitive parts.
    #[serde(default)]
    before_sensitive: Option<Value>,
    #[serde(default)]
    after_sensitive: Option<Value>,
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

/// The `resource_drift` entries with attribute-level differences. Values Terraform marks
/// sensitive (`before_sensitive` / `after_sensitive`, on either side) are masked.
pub fn drift(json: &[u8]) -> Result<Vec<Drift>, PlanJsonError> {
    let plan: RawPlan = serde_json::from_slice(json).map_err(|e| PlanJsonError(e.to_string()))?;
    Ok(plan
        .resource_drift
        .into_iter()
        .map(|c| {
            let object = |value: &Option<Value>| -> Map<String, Value> {
                value
                    .as_ref()
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            let (before, after) = (object(&c.change.before), object(&c.change.after));
            let marks = (
                c.change.before_sensitive.as_ref(),
                c.change.after_sensitive.as_ref(),
            );
            let attributes = attribute_changes(
                &before,
                &after,
                &mask_attributes_by_marks(&before, marks.0, marks.1),
                &mask_attributes_by_marks(&after, marks.0, marks.1),
            );
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
    use crate::core::sensitive::SENSITIVE;

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

    /// Terraform 1.15's plan JSON for a drifted resource with a sensitive nested value and a
    /// wholly sensitive one: no secret survives, the rest is shown.
    #[test]
    fn drift_masks_what_terraform_marks_sensitive() {
        let plan = r#"{"resource_drift":[{"address":"t.x","change":{"actions":["update"],
            "before":{"id":"1","login":{"user":"app","password":"hunter1"},"token":"tok1","size":1},
            "after":{"id":"1","login":{"user":"app","password":"hunter2"},"token":"tok2","size":2},
            "before_sensitive":{"login":{"password":true},"token":true},
            "after_sensitive":{"login":{"password":true}}}},
          {"address":"t.y","change":{"actions":["update"],"before":{"a":"s1"},"after":{"a":"s2"},
            "before_sensitive":true,"after_sensitive":true}}]}"#;
        let drift = drift(plan.as_bytes()).unwrap();
        let text = serde_json::to_string(&drift).unwrap();
        for secret in ["hunter1", "hunter2", "tok1", "tok2", "s1", "s2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let names: Vec<&str> = drift[0]
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["login", "size", "token"]);
        assert_eq!(
            drift[0].attributes[0].after,
            Some(serde_json::json!({"user": "app", "password": SENSITIVE}))
        );
        assert_eq!(drift[0].attributes[1].after, Some(serde_json::json!(2)));
        assert_eq!(drift[1].attributes[0].before, Some(SENSITIVE.into()));
    }

    #[test]
    fn malformed_plan_json_is_an_error() {
        assert!(summarize(b"{\"resource_changes\":5}").is_err());
        assert!(summarize(b"").is_err());
    }
}
