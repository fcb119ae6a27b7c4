//! Plain Rust shapes the AWS adapter returns and accepts. No SDK type crosses this line:
//! the driver maps these to the rollout engine's observation and command types in one place.

use std::collections::BTreeMap;
use std::time::Duration;

/// The tag keys and the group naming are the engine's (`zdd_rollout::fleet`), defined once.
pub use zdd_rollout::fleet::{TAG_GENERATION, TAG_OWNER, TAG_ROLLOUT, asg_name};

/// Everything needed to create one generation's Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAsg {
    /// The `zdd_rollout` name; the group is named [`asg_name`]`(rollout, generation)`.
    pub rollout: String,
    pub generation: u64,
    pub launch_template_id: String,
    /// A pinned version number, never `$Latest`/`$Default` (rollback needs a fixed target).
    pub launch_template_version: String,
    pub subnet_ids: Vec<String>,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    /// Target groups attached at creation; empty when the engine attaches them later.
    pub target_group_arns: Vec<String>,
    /// User tags, propagated to instances. `zdd:*` keys are reserved and overwritten.
    pub tags: BTreeMap<String, String>,
    /// `HealthCheckType` (`ELB` or `EC2`).
    pub health_check_type: String,
    /// `HealthCheckGracePeriod`, seconds.
    pub health_check_grace_period: i32,
    /// `DefaultInstanceWarmup`, seconds; `None` leaves AWS's behaviour.
    pub default_instance_warmup: Option<i32>,
    /// `LifecycleHookSpecificationList`: created with the group, before its first instance.
    pub lifecycle_hooks: Vec<LifecycleHookInfo>,
}

/// A lifecycle hook as AWS spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleHookInfo {
    pub name: String,
    /// `autoscaling:EC2_INSTANCE_LAUNCHING` or `autoscaling:EC2_INSTANCE_TERMINATING`.
    pub transition: String,
    /// Seconds.
    pub heartbeat_timeout: i32,
    /// `CONTINUE` or `ABANDON`.
    pub default_result: String,
}

/// A target-tracking scaling policy to put on a group.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTrackingPolicy {
    pub name: String,
    /// `PredefinedMetricType` as AWS spells it (`ASGAverageCPUUtilization`, ...).
    pub metric: String,
    pub target_value: f64,
    pub disable_scale_in: bool,
    /// `ResourceLabel` (`ALBRequestCountPerTarget` only): see
    /// [`request_count_resource_label`].
    pub resource_label: Option<String>,
}

/// A scaling policy of a group as `DescribePolicies` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingPolicyInfo {
    pub asg: String,
    pub name: String,
}

/// The `ResourceLabel` of an `ALBRequestCountPerTarget` policy:
/// `app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>`, from the ARNs of the load balancer
/// and the target group.
pub fn request_count_resource_label(
    load_balancer_arn: &str,
    target_group_arn: &str,
) -> Option<String> {
    let load_balancer = cloudwatch_dimension_of(load_balancer_arn)?;
    let target_group = cloudwatch_dimension_of(target_group_arn)?;
    (load_balancer.starts_with("app/") && target_group.starts_with("targetgroup/"))
        .then(|| format!("{load_balancer}/{target_group}"))
}

impl NewAsg {
    pub fn name(&self) -> String {
        asg_name(&self.rollout, self.generation)
    }
}

impl AsgInfo {
    /// Value of the `zdd:owner` tag (`None` for a group from before owner ids).
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(TAG_OWNER).map(String::as_str)
    }
}

/// An Auto Scaling group as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgInfo {
    pub name: String,
    /// Value of the `zdd:rollout` tag, if any.
    pub rollout: Option<String>,
    /// Value of the `zdd:generation` tag, if it parses as a number.
    pub generation: Option<u64>,
    pub launch_template_id: Option<String>,
    /// The group's pinned launch template version (per-instance versions are unreliable on moto).
    pub launch_template_version: Option<String>,
    pub subnet_ids: Vec<String>,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub target_group_arns: Vec<String>,
    pub instances: Vec<AsgInstance>,
    pub tags: BTreeMap<String, String>,
    /// AWS reports `Status = "Delete in progress"` while a deletion runs.
    pub deleting: bool,
    /// `SuspendedProcesses`, by `ProcessName`.
    pub suspended_processes: Vec<String>,
    /// `HealthCheckType`, when AWS reports one.
    pub health_check_type: Option<String>,
    /// `HealthCheckGracePeriod`, seconds.
    pub health_check_grace_period: Option<i32>,
    /// `DefaultInstanceWarmup`, seconds (AWS reports `-1` or nothing when unset).
    pub default_instance_warmup: Option<i32>,
    /// `DescribeLifecycleHooks`, a call of its own: `None` when not read.
    pub lifecycle_hooks: Option<Vec<LifecycleHookInfo>>,
}

/// One rollout's answer in a refresh wave: its groups with their lifecycle hooks, or the error
/// of a hooks read of one of its groups (that rollout's own: the wave's other rollouts keep
/// theirs). The default, a rollout with no groups, is what a batch answers for a name that
/// matched nothing.
#[derive(Debug, Clone)]
pub struct RefreshedRollout(pub Result<Vec<AsgInfo>, super::AwsError>);

impl Default for RefreshedRollout {
    fn default() -> RefreshedRollout {
        RefreshedRollout(Ok(Vec::new()))
    }
}

/// One instance of an Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgInstance {
    pub instance_id: String,
    /// `Pending`, `InService`, `Terminating`, ... as AWS spells it.
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy` (the ASG's view, not the load balancer's).
    pub health_status: String,
}

/// Target health state as the load balancer reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
    /// A state this adapter does not know yet (kept verbatim).
    Other(String),
}

impl TargetState {
    pub fn parse(state: &str) -> TargetState {
        match state {
            "initial" => TargetState::Initial,
            "healthy" => TargetState::Healthy,
            "unhealthy" => TargetState::Unhealthy,
            "unhealthy.draining" => TargetState::UnhealthyDraining,
            "unused" => TargetState::Unused,
            "draining" => TargetState::Draining,
            "unavailable" => TargetState::Unavailable,
            other => TargetState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::UnhealthyDraining => "unhealthy.draining",
            TargetState::Unused => "unused",
            TargetState::Draining => "draining",
            TargetState::Unavailable => "unavailable",
            TargetState::Other(other) => other,
        }
    }
}

/// One registered target of a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    /// The instance id for `instance` target groups.
    pub target_id: String,
    pub port: Option<i32>,
    pub state: TargetState,
    /// Reason code, e.g. `Target.ResponseCodeMismatch`, `Elb.RegistrationInProgress`.
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// The timings of a target group the rollout waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupTiming {
    pub target_group_arn: String,
    /// Short name for messages (`app-blue`).
    pub name: String,
    /// `deregistration_delay.timeout_seconds`: how long a deregistered target drains.
    pub deregistration_delay: Duration,
    pub health_check_interval: Duration,
    /// Consecutive successful checks before a new target is `healthy`.
    pub healthy_threshold: u32,
    pub load_balancer_arns: Vec<String>,
}

impl TargetGroupTiming {
    /// The earliest a newly registered target can turn healthy: interval × threshold.
    pub fn time_to_healthy(&self) -> Duration {
        self.health_check_interval * self.healthy_threshold
    }
}

/// The weighted forward default action of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerWeights {
    pub listener_arn: String,
    /// `(target group arn, weight)` in the order the listener lists them.
    pub weights: Vec<(String, u32)>,
}

impl ListenerWeights {
    pub fn weight_of(&self, target_group_arn: &str) -> u32 {
        self.weights
            .iter()
            .find(|(arn, _)| arn == target_group_arn)
            .map_or(0, |(_, weight)| *weight)
    }
}

/// A CloudWatch alarm's state; `Missing` when no alarm of that name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
    Missing,
}

/// A target group whose load-balancer metrics are read, and the load balancer it is behind
/// (CloudWatch publishes them under both dimensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSource {
    pub target_group_arn: String,
    pub load_balancer_arn: String,
}

/// One period of a target group's load-balancer metrics, as CloudWatch reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodFigures {
    /// Start of the period.
    pub start: std::time::SystemTime,
    /// `RequestCount` (Sum).
    pub requests: f64,
    /// `HTTPCode_Target_5XX_Count` (Sum); 0 when CloudWatch has no datapoint for it.
    pub target_5xx: f64,
    /// `HTTPCode_ELB_5XX_Count` (Sum); 0 when CloudWatch has no datapoint (on AWS it is not
    /// published per target group at all).
    pub elb_5xx: f64,
    /// `TargetResponseTime` p99, in seconds as CloudWatch reports it.
    pub p99_seconds: Option<f64>,
}

impl PeriodFigures {
    pub fn empty(start: std::time::SystemTime) -> PeriodFigures {
        PeriodFigures {
            start,
            requests: 0.0,
            target_5xx: 0.0,
            elb_5xx: 0.0,
            p99_seconds: None,
        }
    }
}

/// A target group's periods, ascending by start.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroupFigures {
    pub target_group_arn: String,
    pub periods: Vec<PeriodFigures>,
}

/// The load balancer a listener belongs to: `arn:...:listener/app/web/abc/def` →
/// `arn:...:loadbalancer/app/web/abc`. `None` for anything else.
pub fn load_balancer_of_listener(listener_arn: &str) -> Option<String> {
    let (prefix, resource) = listener_arn.rsplit_once(":listener/")?;
    let (load_balancer, listener_id) = resource.rsplit_once('/')?;
    if listener_id.is_empty() || load_balancer.split('/').count() != 3 {
        return None;
    }
    Some(format!("{prefix}:loadbalancer/{load_balancer}"))
}

/// The resource part of an ARN: `arn:...:targetgroup/web/abc` → `targetgroup/web/abc`,
/// `arn:...:loadbalancer/app/web/abc` → `app/web/abc` (the CloudWatch dimension values).
pub fn cloudwatch_dimension_of(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    Some(resource.strip_prefix("loadbalancer/").unwrap_or(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asg_names_carry_the_generation() {
        assert_eq!(asg_name("web", 7), "web-g7");
    }

    #[test]
    fn a_listener_names_its_load_balancer() {
        assert_eq!(
            load_balancer_of_listener(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
            ),
            Some(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188".into()
            )
        );
        assert_eq!(
            load_balancer_of_listener(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc/f2f7/9683"
            ),
            None
        );
        assert_eq!(load_balancer_of_listener("not-an-arn"), None);
    }

    #[test]
    fn dimensions_are_the_arn_resource_part() {
        assert_eq!(
            cloudwatch_dimension_of(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50dc6c495c0c9188"
            ),
            Some("targetgroup/web/50dc6c495c0c9188")
        );
        assert_eq!(
            cloudwatch_dimension_of(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
            ),
            Some("app/web/50dc6c495c0c9188")
        );
        assert_eq!(cloudwatch_dimension_of("not-an-arn"), None);
    }

    #[test]
    fn a_request_count_label_names_the_load_balancer_and_the_target_group() {
        assert_eq!(
            request_count_resource_label(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/943f017f100becff"
            ),
            Some("app/web/50dc6c495c0c9188/targetgroup/web-blue/943f017f100becff".into())
        );
        // A network load balancer has no request count; garbage is no label.
        assert_eq!(
            request_count_resource_label(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/50dc",
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/943f"
            ),
            None
        );
        assert_eq!(request_count_resource_label("lb", "tg"), None);
    }

    #[test]
    fn target_states_round_trip() {
        for state in [
            "initial",
            "healthy",
            "unhealthy",
            "unhealthy.draining",
            "unused",
            "draining",
            "unavailable",
            "weird",
        ] {
            assert_eq!(TargetState::parse(state).as_str(), state);
        }
    }
}
