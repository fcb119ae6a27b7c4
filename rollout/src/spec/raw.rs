//! The `zdd_rollout` arguments as the user wrote them, before validation. The serde shape is the
//! Terraform attributes' (the provider's typed model flattens this struct): an optional
//! collection is an `Option`, because Terraform refuses a state that turns a configured null
//! into `[]`, or `[]` into null.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `zdd_rollout` arguments as the user wrote them (attribute names match the resource).
/// Optional attributes are `None` when not set; a field missing from the serde input is its
/// default (Terraform leaves an attribute out of a value it does not know yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSpec {
    pub name: String,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Option<Vec<String>>,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    /// `"blue_green"` (default), `"rolling"` or `"canary"`.
    pub strategy: Option<String>,
    pub min_healthy_percent: Option<i64>,
    pub batch_size: Option<i64>,
    pub canary: Option<RawCanary>,
    pub bake: Option<RawBake>,
    /// Duration such as `"10m"`.
    pub health_timeout: Option<String>,
    /// Extra wait after the deregistration delay before an instance is terminated (`"5s"`).
    /// The engine's own setting (the simulator's), not a Terraform attribute.
    #[serde(skip)]
    pub drain_margin: Option<String>,
    pub rollback_on_failure: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
    /// `"ELB"` (default) or `"EC2"`.
    pub health_check_type: Option<String>,
    /// Duration in whole seconds such as `"2m"`.
    pub health_check_grace_period: Option<String>,
    /// Duration in whole seconds such as `"60s"`; no default (AWS's own behaviour).
    pub default_instance_warmup: Option<String>,
    pub target_tracking: Option<Vec<RawTargetTracking>>,
    pub lifecycle_hooks: Option<Vec<RawLifecycleHook>>,
}

/// One `target_tracking` element as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawTargetTracking {
    pub name: String,
    /// `ASGAverageCPUUtilization`, `ASGAverageNetworkIn`, `ASGAverageNetworkOut` or
    /// `ALBRequestCountPerTarget`.
    pub predefined_metric: String,
    pub target_value: f64,
    pub disable_scale_in: Option<bool>,
}

/// One `lifecycle_hooks` element as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawLifecycleHook {
    pub name: String,
    /// `"launching"` or `"terminating"`.
    pub transition: String,
    /// Duration in whole seconds, 30 s to 7200 s.
    pub heartbeat_timeout: Option<String>,
    /// `"CONTINUE"` or `"ABANDON"` (default, as AWS).
    pub default_result: Option<String>,
}

/// The `canary` block as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawCanary {
    pub listener_arn: Option<String>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub steps: Option<Vec<RawCanaryStep>>,
    pub alarm_names: Option<Vec<String>>,
    pub max_5xx_ratio: Option<f64>,
    /// Duration such as `"800ms"`: the canary target group's `TargetResponseTime` p99 limit.
    pub max_p99_latency: Option<String>,
    /// The canary's p99 and 5xx ratio at most this multiple of stable's over the same window.
    pub max_regression: Option<f64>,
    /// Requests the canary target group must receive during a soak before a gate may pass.
    pub min_requests: Option<i64>,
    /// `"extend"` (default), `"fail"` or `"pass"`: what a soak with too little evidence does.
    pub insufficient_evidence: Option<String>,
    /// Duration such as `"30m"`: the longest a soak may extend while evidence is missing.
    pub max_soak: Option<String>,
}

/// The `bake` block as written (blue_green and canary): after 100 % of the traffic has moved,
/// the old generation stays, detached but running, for an instant rollback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawBake {
    /// Duration such as `"10m"`.
    pub duration: Option<String>,
    pub alarm_names: Option<Vec<String>>,
}

/// One `canary.steps` element as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawCanaryStep {
    pub weight: i64,
    pub soak: String,
}
