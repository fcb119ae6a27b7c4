//! What the provider saw in AWS, as plain Rust types (the AWS adapter converts SDK shapes here).
//!
//! An observation is a snapshot; it may be stale or lag behind commands that already succeeded
//! (eventual consistency). The engine never trusts a command's success, only what it observes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::{LaunchTemplateRef, TAG_GENERATION, TAG_ROLLBACK, TAG_ROLLED_BACK};
use crate::time::Timestamp;

/// Everything the engine looks at in one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Every ASG tagged `zdd:rollout = <name>` (DescribeAutoScalingGroups with a tag filter).
    pub asgs: Vec<AsgObservation>,
    /// Every target group of the spec (DescribeTargetGroups, DescribeTargetGroupAttributes,
    /// DescribeTargetHealth).
    pub target_groups: Vec<TargetGroupObservation>,
    /// The canary listener's forward weights (DescribeListeners / DescribeRules), canary only.
    pub listener: Option<ListenerObservation>,
    /// The state of every alarm named in `canary.alarm_names` (DescribeAlarms), canary only.
    pub alarms: Vec<AlarmObservation>,
    /// Metric sums per target group over `[Decision::metrics_since, now]` (GetMetricStatistics
    /// with the Sum statistic: `HTTPCode_Target_5XX_Count` and `RequestCount`), canary only.
    pub metrics: Vec<TargetGroupMetrics>,
}

/// One Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsgObservation {
    pub name: String,
    /// All tags of the group, including `zdd:rollout` and `zdd:generation`.
    pub tags: BTreeMap<String, String>,
    /// The group's launch template (not the per-instance one, which shows the default version).
    pub launch_template: Option<LaunchTemplateRef>,
    pub subnet_ids: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    /// Attached target groups (`TargetGroupARNs`).
    pub target_group_arns: Vec<String>,
    pub instances: Vec<InstanceObservation>,
    /// `Some("Delete in progress")` while a deletion runs.
    pub status: Option<String>,
}

impl AsgObservation {
    /// Generation from the `zdd:generation` tag (`None` if missing or not a number).
    pub fn generation(&self) -> Option<u64> {
        self.tags.get(TAG_GENERATION).and_then(|g| g.parse().ok())
    }

    /// The reason recorded by the `zdd:rollback` tag, if this generation is being rolled back.
    pub fn rollback_reason(&self) -> Option<&str> {
        self.tags.get(TAG_ROLLBACK).map(String::as_str)
    }

    /// A failed generation kept after its finished rollback (`zdd:rolled-back`).
    pub fn is_kept_after_rollback(&self) -> bool {
        self.tags.contains_key(TAG_ROLLED_BACK)
    }

    /// Whether AWS is deleting the group.
    pub fn is_deleting(&self) -> bool {
        self.status.is_some()
    }
}

/// One instance of an ASG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceObservation {
    pub id: String,
    pub lifecycle: LifecycleState,
}

/// ASG lifecycle states the engine distinguishes (`Pending:Wait` etc. map to their prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    Pending,
    InService,
    Terminating,
    Terminated,
    /// Standby, Detaching, Warmed:* and anything else.
    Other,
}

/// One target group with the settings that decide how long things take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupObservation {
    pub arn: String,
    /// Short name for messages (`app-blue`).
    pub name: String,
    /// `deregistration_delay.timeout_seconds`.
    pub deregistration_delay: Duration,
    /// `HealthCheckIntervalSeconds`.
    pub health_check_interval: Duration,
    /// `HealthyThresholdCount`.
    pub healthy_threshold: u32,
    pub targets: Vec<TargetObservation>,
}

impl TargetGroupObservation {
    /// The shortest time from registration to `healthy`: interval × healthy threshold.
    pub fn time_to_healthy(&self) -> Duration {
        self.health_check_interval * self.healthy_threshold.max(1)
    }

    /// Health of a target, `None` if the load balancer does not list it.
    pub fn health_of(&self, instance_id: &str) -> Option<&TargetObservation> {
        self.targets.iter().find(|t| t.id == instance_id)
    }
}

/// One registered target as `DescribeTargetHealth` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetObservation {
    /// Instance id.
    pub id: String,
    pub state: TargetState,
    /// `TargetHealth.Reason`, e.g. `Target.ResponseCodeMismatch`, `Elb.RegistrationInProgress`.
    pub reason: Option<String>,
}

/// `TargetHealth.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    Draining,
    Unused,
    Unavailable,
}

impl TargetState {
    /// Registered and not leaving: the load balancer routes (or will route) to it.
    pub fn is_registered(self) -> bool {
        matches!(
            self,
            TargetState::Initial
                | TargetState::Healthy
                | TargetState::Unhealthy
                | TargetState::Unavailable
        )
    }
}

/// The canary listener's forward action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerObservation {
    pub arn: String,
    /// `(target group ARN, weight)` for each group in the forward config.
    pub weights: Vec<(String, u32)>,
}

impl ListenerObservation {
    /// Weight of a target group (0 if absent).
    pub fn weight_of(&self, target_group_arn: &str) -> u32 {
        self.weights
            .iter()
            .find(|(arn, _)| arn == target_group_arn)
            .map_or(0, |(_, w)| *w)
    }

    /// Share of traffic (0..=100) a group receives.
    pub fn percent_of(&self, target_group_arn: &str) -> u32 {
        let total: u32 = self.weights.iter().map(|(_, w)| *w).sum();
        if total == 0 {
            return 0;
        }
        self.weight_of(target_group_arn) * 100 / total
    }
}

/// One CloudWatch alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmObservation {
    pub name: String,
    pub state: AlarmState,
}

/// `StateValue` of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// Sums of two ALB metrics for one target group since a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupMetrics {
    pub target_group_arn: String,
    /// Start of the window the sums cover.
    pub since: Timestamp,
    /// `HTTPCode_Target_5XX_Count` (+ `HTTPCode_ELB_5XX_Count` if the adapter adds it).
    pub http_5xx: u64,
    /// `RequestCount`.
    pub requests: u64,
}

impl Observation {
    /// The ASG named `name`, if observed.
    pub fn asg(&self, name: &str) -> Option<&AsgObservation> {
        self.asgs.iter().find(|a| a.name == name)
    }

    /// The target group with this ARN, if observed.
    pub fn target_group(&self, arn: &str) -> Option<&TargetGroupObservation> {
        self.target_groups.iter().find(|g| g.arn == arn)
    }
}
