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

/// Sums of a target group's load balancer metrics over one window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricSums {
    /// `RequestCount`.
    pub requests: f64,
    /// `HTTPCode_Target_5XX_Count`.
    pub target_5xx: f64,
}

impl MetricSums {
    /// 5xx responses per request; `None` without traffic (no evidence either way).
    pub fn ratio_5xx(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.target_5xx / self.requests)
    }
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

    #[test]
    fn no_traffic_means_no_ratio() {
        assert_eq!(MetricSums::default().ratio_5xx(), None);
        let sums = MetricSums {
            requests: 200.0,
            target_5xx: 2.0,
        };
        assert_eq!(sums.ratio_5xx(), Some(0.01));
    }
}
