//! The validated specification: types that cannot hold an invalid configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A launch template pinned to a numbered version (invariant 7: `$Latest`/`$Default` are refused,
/// because a rollback needs a fixed target).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    pub id: String,
    pub version: u64,
}

impl fmt::Display for LaunchTemplateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} version {}", self.id, self.version)
    }
}

/// Sizes of the fleet, already checked: `min <= desired <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

/// A validated rollout specification. Construct it with [`RolloutSpec::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    /// Fleet name; ASGs are named `<name>-g<generation>`.
    pub name: String,
    pub launch_template: LaunchTemplateRef,
    pub subnet_ids: Vec<String>,
    pub capacity: Capacity,
    /// Percentage of `desired` that must stay healthy and routed at every instant (invariant 1).
    pub min_healthy_percent: u32,
    pub strategy: Strategy,
    /// How long new instances get to become healthy. A launch hook's `Pending:Wait` comes on
    /// top: the wait allows `health_timeout` plus the longest launch hook's heartbeat
    /// timeout ([`RolloutSpec::launch_hook_time`]).
    pub health_timeout: Duration,
    pub drain_margin: Duration,
    /// When false a failed generation is taken out of traffic but not deleted (for inspection).
    pub rollback_on_failure: bool,
    /// User tags, copied onto every ASG (never starting with `zdd:`).
    pub tags: BTreeMap<String, String>,
    /// Whose groups these are (`zdd:owner`): the engine sees, changes and deletes only the
    /// fleet's own groups and tags every group it creates. Not configuration: the provider
    /// sets it from state ([`RolloutSpec::with_owner`]).
    #[serde(default)]
    pub owner: crate::observation::Owner,
    /// Each generation's group health check (`health_check_type`, grace period, warm-up).
    #[serde(default)]
    pub health_check: super::GroupHealthCheck,
    /// Target-tracking policies: put on the serving generation only. With any, the fleet's
    /// capacity is the scaling policies' to decide: `capacity.desired` is only the first
    /// generation's, and a rollout starts from the serving group's current capacity.
    #[serde(default)]
    pub target_tracking: Vec<super::TargetTracking>,
    /// Lifecycle hooks, created with each generation's group.
    #[serde(default)]
    pub lifecycle_hooks: Vec<super::LifecycleHook>,
    /// The bake window after 100 % of the traffic moved (blue_green and canary).
    #[serde(default)]
    pub bake: Option<BakeSpec>,
    /// When CloudWatch's metric periods start and are complete. Not configuration: AWS's
    /// timing, scaled only by tests against the local AWS.
    #[serde(default)]
    pub metric_timing: crate::metrics::MetricTiming,
}

/// How traffic moves from the old generation to the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// New ASG at full capacity attached to every target group; old detached once every new
    /// target is healthy; old deleted after the deregistration delay.
    BlueGreen { target_group_arns: Vec<String> },
    /// New ASG grows in batches while the old shrinks, never below the capacity floor, surging
    /// up to `max_size` instances in total.
    Rolling {
        target_group_arns: Vec<String>,
        batch_size: u32,
    },
    /// Two target groups behind one listener; listener weights step towards the new generation.
    Canary(CanarySpec),
}

/// A validated canary configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    pub listener_arn: String,
    /// The group that serves at the start of the first rollout. Later rollouts find the serving
    /// group from the listener weights: the roles swap after each successful rollout.
    pub stable_target_group_arn: String,
    pub canary_target_group_arn: String,
    /// Weights strictly increasing, the last one 100.
    pub steps: Vec<CanaryStep>,
    pub alarm_names: Vec<String>,
    pub max_5xx_ratio: Option<f64>,
    /// The canary group's `TargetResponseTime` p99 limit; `None`: no absolute latency gate.
    #[serde(default)]
    pub max_p99_latency: Option<Duration>,
    /// The canary's p99 and 5xx ratio at most this multiple of stable's over the same window;
    /// `None`: no comparison with stable.
    #[serde(default)]
    pub max_regression: Option<f64>,
    /// Requests the canary group must receive during a soak before a gate may pass.
    #[serde(default)]
    pub min_requests: u64,
    /// What a soak with too little evidence does.
    #[serde(default)]
    pub insufficient_evidence: InsufficientEvidence,
    /// The longest a step's soak may extend while evidence is missing.
    #[serde(default = "default_max_soak")]
    pub max_soak: Duration,
}

fn default_max_soak() -> Duration {
    super::defaults::DEFAULT_MAX_SOAK
}

/// `canary.insufficient_evidence`: what a soak that saw fewer than `min_requests` requests (or
/// an alarm in `INSUFFICIENT_DATA`) does when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientEvidence {
    /// Keep soaking, up to `max_soak` from the step's start, then fail.
    #[default]
    Extend,
    /// Fail the step at once.
    Fail,
    /// Pass the step anyway (the user accepts thin evidence).
    Pass,
}

impl InsufficientEvidence {
    /// The attribute's spellings, in the order the docs list them.
    pub const NAMES: [&'static str; 3] = ["extend", "fail", "pass"];

    pub fn parse(text: &str) -> Option<InsufficientEvidence> {
        match text {
            "extend" => Some(InsufficientEvidence::Extend),
            "fail" => Some(InsufficientEvidence::Fail),
            "pass" => Some(InsufficientEvidence::Pass),
            _ => None,
        }
    }
}

/// A validated `bake` block: after 100 % of the traffic moved, the old generation stays
/// detached but running at full size for `duration`, watched by `alarm_names` (and, for a
/// canary, the canary's absolute thresholds on the new generation's target group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BakeSpec {
    pub duration: Duration,
    pub alarm_names: Vec<String>,
}

/// One canary step: send `weight` % to the new generation, then watch the gates for `soak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryStep {
    pub weight: u8,
    pub soak: Duration,
}

impl RolloutSpec {
    /// The same spec for the fleet of `owner`.
    #[must_use]
    pub fn with_owner(mut self, owner: crate::observation::Owner) -> RolloutSpec {
        self.owner = owner;
        self
    }

    /// The ASG name of a generation: `<name>-g<generation>`.
    pub fn asg_name(&self, generation: u64) -> String {
        crate::fleet::asg_name(&self.name, generation)
    }

    /// Every target group this fleet is registered in.
    pub fn target_group_arns(&self) -> Vec<String> {
        match &self.strategy {
            Strategy::BlueGreen { target_group_arns } => target_group_arns.clone(),
            Strategy::Rolling {
                target_group_arns, ..
            } => target_group_arns.clone(),
            Strategy::Canary(canary) => vec![
                canary.stable_target_group_arn.clone(),
                canary.canary_target_group_arn.clone(),
            ],
        }
    }

    /// Number of healthy, routed targets that must exist at every instant (invariant 1):
    /// `ceil(desired * min_healthy_percent / 100)`.
    pub fn capacity_floor(&self) -> u32 {
        (self.capacity.desired * self.min_healthy_percent).div_ceil(100)
    }

    /// Whether scaling policies own the fleet's capacity (`target_tracking` is set).
    pub fn is_autoscaled(&self) -> bool {
        !self.target_tracking.is_empty()
    }

    /// Whether a retiring group's instances must pass a termination hook: then the group is
    /// scaled to zero and deleted empty, never force-deleted past the hook.
    pub fn has_termination_hook(&self) -> bool {
        self.lifecycle_hooks
            .iter()
            .any(|hook| hook.transition == super::HookTransition::Terminating)
    }

    /// The longest a termination hook may hold an instance (its heartbeat timeout), zero
    /// without one: the time a retiring generation may need beyond its drain.
    pub fn termination_hook_time(&self) -> std::time::Duration {
        self.lifecycle_hooks
            .iter()
            .filter(|hook| hook.transition == super::HookTransition::Terminating)
            .map(|hook| hook.heartbeat_timeout)
            .max()
            .unwrap_or_default()
    }

    /// The longest a launch hook may hold an instance in `Pending:Wait` (its heartbeat
    /// timeout), zero without one: the wait for health allows `health_timeout` plus this.
    pub fn launch_hook_time(&self) -> std::time::Duration {
        self.lifecycle_hooks
            .iter()
            .filter(|hook| hook.transition == super::HookTransition::Launching)
            .map(|hook| hook.heartbeat_timeout)
            .max()
            .unwrap_or_default()
    }

    /// The target group an `ALBRequestCountPerTarget` policy of a generation serving in
    /// `serving_target_group` counts requests in.
    pub fn request_count_target_group(&self, serving_target_group: Option<&str>) -> Option<String> {
        serving_target_group
            .map(str::to_string)
            .or_else(|| self.target_group_arns().into_iter().next())
    }

    /// Short strategy name as written in the configuration.
    pub fn strategy_name(&self) -> &'static str {
        match self.strategy {
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Rolling { .. } => "rolling",
            Strategy::Canary(_) => "canary",
        }
    }
}
