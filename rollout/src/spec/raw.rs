//! The `zdd_rollout` arguments as the user wrote them, before validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `zdd_rollout` arguments as the user wrote them (attribute names match the resource).
/// Optional attributes are `None` when not set; the provider fills this from the Terraform config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawSpec {
    pub name: String,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Vec<String>,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    /// `"blue_green"` (default), `"rolling"` or `"canary"`.
    pub strategy: Option<String>,
    pub min_healthy_percent: Option<i64>,
    pub batch_size: Option<i64>,
    pub canary: Option<RawCanary>,
    /// Duration such as `"10m"`.
    pub health_timeout: Option<String>,
    /// Extra wait after the deregistration delay before an instance is terminated (`"5s"`).
    pub drain_margin: Option<String>,
    pub rollback_on_failure: Option<bool>,
    pub tags: BTreeMap<String, String>,
}

/// The `canary` block as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawCanary {
    pub listener_arn: Option<String>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub steps: Option<Vec<RawCanaryStep>>,
    pub alarm_names: Vec<String>,
    pub max_5xx_ratio: Option<f64>,
}

/// One `canary.steps` element as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawCanaryStep {
    pub weight: i64,
    pub soak: String,
}
