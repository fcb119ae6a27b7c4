//! What the provider saw in AWS, as plain Rust types (the AWS adapter converts SDK shapes here).
//!
//! An observation is a snapshot; it may be stale or lag behind commands that already succeeded
//! (eventual consistency). The engine never trusts a command's success, only what it observes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fleet::{self, TAG_GENERATION};
use crate::spec::LaunchTemplateRef;

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
    /// One-minute metric periods per target group from [`Decision::metrics_since`] on
    /// (GetMetricStatistics, Period 60: Sum of `RequestCount`, `HTTPCode_Target_5XX_Count`,
    /// `HTTPCode_ELB_5XX_Count`; p99 of `TargetResponseTime`), for the canary's two target
    /// groups while a gate reads them. Periods not yet complete may be present: the engine
    /// judges only complete ones ([`crate::metrics::MetricTiming::is_complete`]).
    ///
    /// [`Decision::metrics_since`]: crate::Decision::metrics_since
    #[serde(default)]
    pub metric_periods: Vec<crate::metrics::TargetGroupPeriods>,
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
    /// `SuspendedProcesses` (processes AWS names that the engine does not know are left out).
    #[serde(default)]
    pub suspended_processes: Vec<ScalingProcess>,
    /// Names of the group's scaling policies (`DescribePolicies`).
    #[serde(default)]
    pub scaling_policies: Vec<String>,
    /// The group's health check settings (`HealthCheckType`, `HealthCheckGracePeriod`,
    /// `DefaultInstanceWarmup`); `None` when not read.
    #[serde(default)]
    pub health_check: Option<crate::spec::GroupHealthCheck>,
    /// The group's lifecycle hooks (`DescribeLifecycleHooks`); `None` when not read (then
    /// nothing is concluded from them).
    #[serde(default)]
    pub lifecycle_hooks: Option<Vec<crate::spec::LifecycleHook>>,
}

impl AsgObservation {
    /// Generation from the `zdd:generation` tag (`None` if missing or not a number).
    pub fn generation(&self) -> Option<u64> {
        self.tags.get(TAG_GENERATION).and_then(|g| g.parse().ok())
    }

    /// The reason recorded by the `zdd:rollback` tag, if this generation is being rolled back.
    pub fn rollback_reason(&self) -> Option<&str> {
        fleet::rollback_reason(&self.tags)
    }

    /// A failed generation kept after its finished rollback (`zdd:rolled-back`).
    pub fn is_kept_after_rollback(&self) -> bool {
        fleet::is_kept_after_rollback(&self.tags)
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
    /// `Pending:Wait` or `Terminating:Wait`: a lifecycle hook holds the instance (it is
    /// `Pending` or `Terminating` in `lifecycle`).
    #[serde(default)]
    pub hook_wait: bool,
}

/// An Auto Scaling process that `SuspendProcesses` can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScalingProcess {
    Launch,
    Terminate,
    AddToLoadBalancer,
    AlarmNotification,
    #[serde(rename = "AZRebalance")]
    AzRebalance,
    HealthCheck,
    InstanceRefresh,
    ReplaceUnhealthy,
    ScheduledActions,
}

impl ScalingProcess {
    pub const ALL: [ScalingProcess; 9] = [
        ScalingProcess::Launch,
        ScalingProcess::Terminate,
        ScalingProcess::AddToLoadBalancer,
        ScalingProcess::AlarmNotification,
        ScalingProcess::AzRebalance,
        ScalingProcess::HealthCheck,
        ScalingProcess::InstanceRefresh,
        ScalingProcess::ReplaceUnhealthy,
        ScalingProcess::ScheduledActions,
    ];

    /// The processes through which a group changes its own capacity: scaling policies
    /// (alarms), scheduled actions and rebalancing. Suspending them stops the group scaling
    /// itself while leaving launches, terminations and health replacement to work (a rolling
    /// update and a scale to zero lower the desired capacity and need `Terminate`).
    pub const SELF_SCALING: [ScalingProcess; 3] = [
        ScalingProcess::AlarmNotification,
        ScalingProcess::ScheduledActions,
        ScalingProcess::AzRebalance,
    ];

    /// `ProcessName` as AWS spells it.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            ScalingProcess::Launch => "Launch",
            ScalingProcess::Terminate => "Terminate",
            ScalingProcess::AddToLoadBalancer => "AddToLoadBalancer",
            ScalingProcess::AlarmNotification => "AlarmNotification",
            ScalingProcess::AzRebalance => "AZRebalance",
            ScalingProcess::HealthCheck => "HealthCheck",
            ScalingProcess::InstanceRefresh => "InstanceRefresh",
            ScalingProcess::ReplaceUnhealthy => "ReplaceUnhealthy",
            ScalingProcess::ScheduledActions => "ScheduledActions",
        }
    }

    /// The process AWS names `name`, if the engine knows it.
    pub fn from_aws_str(name: &str) -> Option<ScalingProcess> {
        ScalingProcess::ALL
            .into_iter()
            .find(|process| process.as_aws_str() == name)
    }
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
    /// The name AWS gives the state (`TargetHealth.State`), as messages show it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Draining => "draining",
            TargetState::Unused => "unused",
            TargetState::Unavailable => "unavailable",
        }
    }

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

/// The owner tag key, re-exported from where it is defined ([`crate::fleet`]).
pub use crate::fleet::TAG_OWNER;

/// Which of the groups tagged `zdd:rollout = <name>` belong to this fleet.
///
/// A group carrying no `zdd:owner` tag was created before fleets had owners: it belongs to a
/// fleet that has no owner id either, or to one adopting such groups (`adopt_unowned`: the
/// first apply after an upgrade, or after an import of untagged groups).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The fleet's owner id, `None` for a fleet from before owner ids.
    pub id: Option<String>,
    /// Also claim groups without an owner tag.
    pub adopt_unowned: bool,
}

impl Owner {
    /// An owner with an id that claims only its own tagged groups.
    pub fn new(id: impl Into<String>) -> Owner {
        Owner {
            id: Some(id.into()),
            adopt_unowned: false,
        }
    }

    /// Whether a group whose `zdd:owner` tag is `tag` belongs to this fleet.
    pub fn owns_tag(&self, tag: Option<&str>) -> bool {
        match (tag, self.id.as_deref()) {
            (None, None) => true,
            (None, Some(_)) => self.adopt_unowned,
            (Some(tag), Some(id)) => tag == id,
            (Some(_), None) => false,
        }
    }

    /// Whether `asg` belongs to this fleet (by its `zdd:owner` tag alone: the caller has
    /// already selected the groups tagged with the fleet's name).
    pub fn owns(&self, asg: &AsgObservation) -> bool {
        self.owns_tag(asg.owner())
    }

    /// Groups of the fleet that must still be tagged with its owner id (adopted ones).
    pub fn to_tag<'a>(&self, asgs: &'a [AsgObservation]) -> Vec<&'a AsgObservation> {
        match &self.id {
            Some(_) => asgs
                .iter()
                .filter(|asg| asg.owner().is_none() && self.owns(asg) && !asg.is_deleting())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Groups tagged with the fleet's name that belong to someone else.
    pub fn foreign<'a>(&self, asgs: &'a [AsgObservation]) -> Vec<&'a AsgObservation> {
        asgs.iter().filter(|asg| !self.owns(asg)).collect()
    }
}

impl AsgObservation {
    /// The owner id from the `zdd:owner` tag (`None` for a group from before owner ids).
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(TAG_OWNER).map(String::as_str)
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;

    fn asg(name: &str, owner: Option<&str>) -> AsgObservation {
        let mut tags = BTreeMap::from([("zdd:rollout".to_string(), "web".to_string())]);
        if let Some(owner) = owner {
            tags.insert(TAG_OWNER.to_string(), owner.to_string());
        }
        AsgObservation {
            name: name.into(),
            tags,
            launch_template: None,
            subnet_ids: Vec::new(),
            min_size: 0,
            max_size: 0,
            desired_capacity: 0,
            target_group_arns: Vec::new(),
            instances: Vec::new(),
            status: None,
            suspended_processes: Vec::new(),
            scaling_policies: Vec::new(),
            health_check: None,
            lifecycle_hooks: None,
        }
    }

    #[test]
    fn a_fleet_owns_only_groups_tagged_with_its_id() {
        let owner = Owner::new("o-1");
        assert!(owner.owns(&asg("web-g1", Some("o-1"))));
        assert!(!owner.owns(&asg("web-g1", Some("o-2"))));
        assert!(
            !owner.owns(&asg("web-g1", None)),
            "untagged groups belong to a fleet from before owner ids"
        );
    }

    #[test]
    fn a_fleet_from_before_owner_ids_owns_untagged_groups_only() {
        let legacy = Owner::default();
        assert!(legacy.owns(&asg("web-g1", None)));
        assert!(!legacy.owns(&asg("web-g1", Some("o-2"))));
    }

    #[test]
    fn adopting_claims_untagged_groups_and_tags_them() {
        let adopting = Owner {
            id: Some("o-1".into()),
            adopt_unowned: true,
        };
        let groups = [
            asg("web-g1", None),
            asg("web-g2", Some("o-1")),
            asg("web-g3", Some("o-2")),
        ];
        let names = |list: Vec<&AsgObservation>| -> Vec<String> {
            list.iter().map(|asg| asg.name.clone()).collect()
        };
        assert_eq!(names(adopting.to_tag(&groups)), vec!["web-g1".to_string()]);
        assert_eq!(names(adopting.foreign(&groups)), vec!["web-g3".to_string()]);
        assert_eq!(
            names(Owner::new("o-1").foreign(&groups)),
            vec!["web-g1".to_string(), "web-g3".to_string()]
        );
    }
}
