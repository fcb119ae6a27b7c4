//! The Auto Scaling settings of each generation's group: its health check, its target-tracking
//! policies and its lifecycle hooks. Validated here; the engine decides when each applies.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::defaults::{
    DEFAULT_HEALTH_CHECK_GRACE_PERIOD, DEFAULT_HEALTH_CHECK_TYPE, DEFAULT_HOOK_DEFAULT_RESULT,
    DEFAULT_HOOK_HEARTBEAT_TIMEOUT, HOOK_HEARTBEAT_TIMEOUT_RANGE,
};
use super::error::{AttributePath, SpecErrorKind, attr};
use super::raw::{RawLifecycleHook, RawSpec, RawTargetTracking};
use super::validate::Report;
use crate::time::parse_duration;

/// Which health the group itself acts on when it replaces instances between deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthCheckType {
    /// The load balancer's view (and EC2's): an instance its target groups report unhealthy is
    /// replaced by the group.
    Elb,
    /// EC2 status checks only: the load balancer's view is ignored.
    Ec2,
}

impl HealthCheckType {
    /// The value AWS takes (`HealthCheckType`).
    pub fn as_aws_str(self) -> &'static str {
        match self {
            HealthCheckType::Elb => "ELB",
            HealthCheckType::Ec2 => "EC2",
        }
    }

    /// The type AWS reports, if it is one of ours.
    pub fn from_aws_str(text: &str) -> Option<HealthCheckType> {
        [HealthCheckType::Elb, HealthCheckType::Ec2]
            .into_iter()
            .find(|kind| kind.as_aws_str() == text)
    }
}

/// The group's own health check settings, the same for every generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHealthCheck {
    pub kind: HealthCheckType,
    /// `HealthCheckGracePeriod`: how long after launch the group ignores failed checks.
    pub grace_period: Duration,
    /// `DefaultInstanceWarmup`, when set.
    pub instance_warmup: Option<Duration>,
}

impl Default for GroupHealthCheck {
    fn default() -> Self {
        GroupHealthCheck {
            kind: HealthCheckType::Elb,
            grace_period: DEFAULT_HEALTH_CHECK_GRACE_PERIOD,
            instance_warmup: None,
        }
    }
}

/// `PredefinedMetricType` of a target-tracking policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PredefinedMetric {
    #[serde(rename = "ASGAverageCPUUtilization")]
    AsgAverageCpuUtilization,
    #[serde(rename = "ASGAverageNetworkIn")]
    AsgAverageNetworkIn,
    #[serde(rename = "ASGAverageNetworkOut")]
    AsgAverageNetworkOut,
    /// Needs a target group: the policy's `ResourceLabel` names the load balancer and the group.
    #[serde(rename = "ALBRequestCountPerTarget")]
    AlbRequestCountPerTarget,
}

impl PredefinedMetric {
    pub const ALL: [PredefinedMetric; 4] = [
        PredefinedMetric::AsgAverageCpuUtilization,
        PredefinedMetric::AsgAverageNetworkIn,
        PredefinedMetric::AsgAverageNetworkOut,
        PredefinedMetric::AlbRequestCountPerTarget,
    ];

    /// The name AWS and the configuration use.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            PredefinedMetric::AsgAverageCpuUtilization => "ASGAverageCPUUtilization",
            PredefinedMetric::AsgAverageNetworkIn => "ASGAverageNetworkIn",
            PredefinedMetric::AsgAverageNetworkOut => "ASGAverageNetworkOut",
            PredefinedMetric::AlbRequestCountPerTarget => "ALBRequestCountPerTarget",
        }
    }

    fn parse(text: &str) -> Option<PredefinedMetric> {
        PredefinedMetric::ALL
            .into_iter()
            .find(|metric| metric.as_aws_str() == text)
    }
}

/// One target-tracking scaling policy, put on the serving generation's group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTracking {
    /// The policy's name, unique within the fleet.
    pub name: String,
    pub metric: PredefinedMetric,
    /// Finite and above zero (validated), which is what makes the `Eq` below sound.
    pub target_value: f64,
    pub disable_scale_in: bool,
}

// `target_value` is validated finite (never NaN), so equality is reflexive.
impl Eq for TargetTracking {}

impl fmt::Display for TargetTracking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} at {})",
            self.name,
            self.metric.as_aws_str(),
            self.target_value
        )
    }
}

/// When a lifecycle hook holds an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookTransition {
    /// `autoscaling:EC2_INSTANCE_LAUNCHING`: `Pending:Wait` before the instance enters service.
    Launching,
    /// `autoscaling:EC2_INSTANCE_TERMINATING`: `Terminating:Wait` before it is terminated.
    Terminating,
}

impl HookTransition {
    /// `LifecycleTransition` as AWS names it.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            HookTransition::Launching => "autoscaling:EC2_INSTANCE_LAUNCHING",
            HookTransition::Terminating => "autoscaling:EC2_INSTANCE_TERMINATING",
        }
    }

    /// The transition AWS reports (`LifecycleTransition`).
    pub fn from_aws_str(text: &str) -> Option<HookTransition> {
        [HookTransition::Launching, HookTransition::Terminating]
            .into_iter()
            .find(|transition| transition.as_aws_str() == text)
    }
}

/// What happens when a hook's heartbeat times out (`DefaultResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookResult {
    Continue,
    Abandon,
}

impl HookResult {
    pub fn as_aws_str(self) -> &'static str {
        match self {
            HookResult::Continue => "CONTINUE",
            HookResult::Abandon => "ABANDON",
        }
    }

    /// The result AWS reports (`DefaultResult`).
    pub fn from_aws_str(text: &str) -> Option<HookResult> {
        [HookResult::Continue, HookResult::Abandon]
            .into_iter()
            .find(|result| result.as_aws_str() == text)
    }
}

/// One lifecycle hook, created with each generation's group before its first instance launches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleHook {
    pub name: String,
    pub transition: HookTransition,
    /// Whole seconds, 30 s to 7200 s (what AWS accepts).
    pub heartbeat_timeout: Duration,
    pub default_result: HookResult,
}

/// The validated Auto Scaling settings of the spec.
pub(super) struct Autoscaling {
    pub health_check: GroupHealthCheck,
    pub target_tracking: Vec<TargetTracking>,
    pub lifecycle_hooks: Vec<LifecycleHook>,
}

/// Validates `health_check_type`, `health_check_grace_period`, `default_instance_warmup`,
/// `target_tracking` and `lifecycle_hooks`. `has_target_group` says whether the strategy gives
/// the fleet a target group (`ALBRequestCountPerTarget` needs one).
pub(super) fn validate_autoscaling(
    raw: &RawSpec,
    has_target_group: bool,
    err: &mut Report<'_>,
) -> Option<Autoscaling> {
    let mut ok = true;
    let kind = match raw.health_check_type.as_deref() {
        None => DEFAULT_HEALTH_CHECK_TYPE,
        Some("ELB") => HealthCheckType::Elb,
        Some("EC2") => HealthCheckType::Ec2,
        Some(other) => {
            err(
                SpecErrorKind::Malformed,
                attr("health_check_type"),
                format!("{other:?} is not a health check type: use \"ELB\" or \"EC2\""),
            );
            ok = false;
            HealthCheckType::Elb
        }
    };
    let grace_period = whole_seconds(
        raw.health_check_grace_period.as_deref(),
        attr("health_check_grace_period"),
        err,
    );
    let instance_warmup = whole_seconds(
        raw.default_instance_warmup.as_deref(),
        attr("default_instance_warmup"),
        err,
    );

    let mut target_tracking = Vec::new();
    let mut names = BTreeSet::new();
    for (i, policy) in raw.target_tracking.iter().flatten().enumerate() {
        let path = attr("target_tracking").index(i);
        match target_tracking_policy(policy, &path, has_target_group, &mut names, err) {
            Some(policy) => target_tracking.push(policy),
            None => ok = false,
        }
    }

    let mut lifecycle_hooks = Vec::new();
    let mut names = BTreeSet::new();
    for (i, hook) in raw.lifecycle_hooks.iter().flatten().enumerate() {
        let path = attr("lifecycle_hooks").index(i);
        match lifecycle_hook(hook, &path, &mut names, err) {
            Some(hook) => lifecycle_hooks.push(hook),
            None => ok = false,
        }
    }

    match (ok, grace_period, instance_warmup) {
        (true, Some(grace_period), Some(instance_warmup)) => Some(Autoscaling {
            health_check: GroupHealthCheck {
                kind,
                grace_period: grace_period.unwrap_or(DEFAULT_HEALTH_CHECK_GRACE_PERIOD),
                instance_warmup,
            },
            target_tracking,
            lifecycle_hooks,
        }),
        _ => None,
    }
}

fn target_tracking_policy(
    raw: &RawTargetTracking,
    path: &AttributePath,
    has_target_group: bool,
    names: &mut BTreeSet<String>,
    err: &mut Report<'_>,
) -> Option<TargetTracking> {
    let name_ok = unique_name(&raw.name, path, "policy", names, err);
    let metric = match PredefinedMetric::parse(&raw.predefined_metric) {
        Some(PredefinedMetric::AlbRequestCountPerTarget) if !has_target_group => {
            err(
                SpecErrorKind::Conflict,
                path.attr("predefined_metric"),
                "ALBRequestCountPerTarget needs a target group: this fleet has none".into(),
            );
            None
        }
        Some(metric) => Some(metric),
        None => {
            let known: Vec<&str> = PredefinedMetric::ALL
                .iter()
                .map(|m| m.as_aws_str())
                .collect();
            err(
                SpecErrorKind::Malformed,
                path.attr("predefined_metric"),
                format!(
                    "{:?} is not a predefined metric: use one of {}",
                    raw.predefined_metric,
                    known.join(", ")
                ),
            );
            None
        }
    };
    let value_ok = raw.target_value.is_finite() && raw.target_value > 0.0;
    if !value_ok {
        err(
            SpecErrorKind::OutOfRange,
            path.attr("target_value"),
            format!("{} must be a number above zero", raw.target_value),
        );
    }
    match (name_ok && value_ok, metric) {
        (true, Some(metric)) => Some(TargetTracking {
            name: raw.name.clone(),
            metric,
            target_value: raw.target_value,
            disable_scale_in: raw.disable_scale_in.unwrap_or(false),
        }),
        _ => None,
    }
}

fn lifecycle_hook(
    raw: &RawLifecycleHook,
    path: &AttributePath,
    names: &mut BTreeSet<String>,
    err: &mut Report<'_>,
) -> Option<LifecycleHook> {
    let name_ok = unique_name(&raw.name, path, "hook", names, err);
    let transition = match raw.transition.as_str() {
        "launching" => Some(HookTransition::Launching),
        "terminating" => Some(HookTransition::Terminating),
        other => {
            err(
                SpecErrorKind::Malformed,
                path.attr("transition"),
                format!("{other:?} is not a transition: use \"launching\" or \"terminating\""),
            );
            None
        }
    };
    let heartbeat_path = path.attr("heartbeat_timeout");
    let heartbeat_timeout = match whole_seconds(
        raw.heartbeat_timeout.as_deref(),
        heartbeat_path.clone(),
        err,
    ) {
        Some(None) => Some(DEFAULT_HOOK_HEARTBEAT_TIMEOUT),
        Some(Some(timeout)) if HOOK_HEARTBEAT_TIMEOUT_RANGE.contains(&timeout) => Some(timeout),
        Some(Some(timeout)) => {
            err(
                SpecErrorKind::OutOfRange,
                heartbeat_path,
                format!(
                    "{} is outside what AWS accepts: {} to {}",
                    super::human(timeout),
                    super::human(*HOOK_HEARTBEAT_TIMEOUT_RANGE.start()),
                    super::human(*HOOK_HEARTBEAT_TIMEOUT_RANGE.end())
                ),
            );
            None
        }
        None => None,
    };
    let default_result = match raw.default_result.as_deref() {
        None => Some(DEFAULT_HOOK_DEFAULT_RESULT),
        Some("CONTINUE") => Some(HookResult::Continue),
        Some("ABANDON") => Some(HookResult::Abandon),
        Some(other) => {
            err(
                SpecErrorKind::Malformed,
                path.attr("default_result"),
                format!("{other:?} is not a result: use \"CONTINUE\" or \"ABANDON\""),
            );
            None
        }
    };
    match (name_ok, transition, heartbeat_timeout, default_result) {
        (true, Some(transition), Some(heartbeat_timeout), Some(default_result)) => {
            Some(LifecycleHook {
                name: raw.name.clone(),
                transition,
                heartbeat_timeout,
                default_result,
            })
        }
        _ => None,
    }
}

/// A policy or hook name: 1 to 255 characters AWS accepts in a name, unique within the list.
fn unique_name(
    name: &str,
    path: &AttributePath,
    what: &str,
    names: &mut BTreeSet<String>,
    err: &mut Report<'_>,
) -> bool {
    let path = path.attr("name");
    if name.is_empty() || name.len() > 255 {
        err(
            SpecErrorKind::Malformed,
            path,
            format!("a {what} name must be 1 to 255 characters"),
        );
        return false;
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
    {
        err(
            SpecErrorKind::Malformed,
            path,
            format!("{name:?}: a {what} name may hold only letters, digits, '-', '_' and '/'"),
        );
        return false;
    }
    if !names.insert(name.to_string()) {
        err(
            SpecErrorKind::Conflict,
            path,
            format!("{what} name {name:?} is used twice"),
        );
        return false;
    }
    true
}

/// A duration AWS takes in whole seconds: `Some(None)` when not set, `None` when wrong.
fn whole_seconds(
    text: Option<&str>,
    path: AttributePath,
    err: &mut Report<'_>,
) -> Option<Option<Duration>> {
    let Some(text) = text else {
        return Some(None);
    };
    match parse_duration(text) {
        Ok(duration) if duration.subsec_nanos() != 0 => {
            err(
                SpecErrorKind::Malformed,
                path,
                format!("{text:?} must be whole seconds: AWS takes this setting in seconds"),
            );
            None
        }
        Ok(duration) if duration.as_secs() > i32::MAX as u64 => {
            err(
                SpecErrorKind::OutOfRange,
                path,
                format!("{text:?} is longer than AWS accepts"),
            );
            None
        }
        Ok(duration) => Some(Some(duration)),
        Err(message) => {
            err(SpecErrorKind::Malformed, path, message);
            None
        }
    }
}
