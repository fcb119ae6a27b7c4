//! The one place where the adapter's plain AWS shapes become the engine's observation types
//! and the engine's commands become adapter calls.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zdd_rollout::metrics::{MetricPeriod, TargetGroupPeriods};
use zdd_rollout::observation::{
    AlarmState as EngineAlarmState, AsgObservation, InstanceObservation, LifecycleState,
    ListenerObservation, ScalingProcess, TargetGroupObservation, TargetObservation,
    TargetState as EngineTargetState,
};
use zdd_rollout::spec::{
    GroupHealthCheck, HealthCheckType, HookResult, HookTransition, LaunchTemplateRef, LifecycleHook,
};
use zdd_rollout::time::Timestamp;

use crate::aws::types::{
    AlarmState, AsgInfo, LifecycleHookInfo, ListenerWeights, ScalingPolicyInfo, TargetGroupFigures,
    TargetGroupTiming, TargetHealth, TargetState,
};

pub fn timestamp(at: SystemTime) -> Timestamp {
    let millis = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Timestamp::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

pub fn system_time(at: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(at.as_millis())
}

pub fn asg(info: &AsgInfo) -> AsgObservation {
    let to_u32 = |value: i32| u32::try_from(value).unwrap_or(0);
    AsgObservation {
        name: info.name.clone(),
        tags: info.tags.clone(),
        launch_template: match (&info.launch_template_id, &info.launch_template_version) {
            (Some(id), Some(version)) => version.parse().ok().map(|version| LaunchTemplateRef {
                id: id.clone(),
                version,
            }),
            _ => None,
        },
        subnet_ids: info.subnet_ids.clone(),
        min_size: to_u32(info.min_size),
        max_size: to_u32(info.max_size),
        desired_capacity: to_u32(info.desired_capacity),
        target_group_arns: info.target_group_arns.clone(),
        instances: info
            .instances
            .iter()
            .map(|instance| InstanceObservation {
                id: instance.instance_id.clone(),
                lifecycle: lifecycle(&instance.lifecycle_state),
                hook_wait: instance.lifecycle_state.ends_with(":Wait"),
            })
            .collect(),
        status: info.deleting.then(|| "Delete in progress".to_string()),
        suspended_processes: info
            .suspended_processes
            .iter()
            .filter_map(|name| ScalingProcess::from_aws_str(name))
            .collect(),
        // Read separately (`Observer`): `DescribePolicies` and `DescribeLifecycleHooks`.
        scaling_policies: Vec::new(),
        health_check: health_check(info),
        lifecycle_hooks: None,
    }
}

/// The group's health check settings; `None` when AWS reports a type the engine does not
/// know (nothing is concluded from it).
fn health_check(info: &AsgInfo) -> Option<GroupHealthCheck> {
    let kind = HealthCheckType::from_aws_str(info.health_check_type.as_deref()?)?;
    let seconds = |value: i32| Duration::from_secs(u64::try_from(value).unwrap_or(0));
    Some(GroupHealthCheck {
        kind,
        grace_period: seconds(info.health_check_grace_period.unwrap_or(0)),
        instance_warmup: info.default_instance_warmup.map(seconds),
    })
}

/// The names of each group's scaling policies, into the groups' observations.
pub fn add_policies(asgs: &mut [AsgObservation], policies: &[ScalingPolicyInfo]) {
    for asg in asgs {
        asg.scaling_policies = policies
            .iter()
            .filter(|policy| policy.asg == asg.name)
            .map(|policy| policy.name.clone())
            .collect();
        asg.scaling_policies.sort();
    }
}

/// A group's hooks as the engine knows them; a hook with a transition or result the engine
/// does not know is left out.
pub fn lifecycle_hooks(hooks: &[LifecycleHookInfo]) -> Vec<LifecycleHook> {
    hooks
        .iter()
        .filter_map(|hook| {
            Some(LifecycleHook {
                name: hook.name.clone(),
                transition: HookTransition::from_aws_str(&hook.transition)?,
                heartbeat_timeout: Duration::from_secs(
                    u64::try_from(hook.heartbeat_timeout).unwrap_or(0),
                ),
                default_result: HookResult::from_aws_str(&hook.default_result)?,
            })
        })
        .collect()
}

/// A hook of the engine's as `CreateAutoScalingGroup` takes it.
pub fn new_hook(hook: &LifecycleHook) -> LifecycleHookInfo {
    LifecycleHookInfo {
        name: hook.name.clone(),
        transition: hook.transition.as_aws_str().to_string(),
        heartbeat_timeout: seconds(hook.heartbeat_timeout),
        default_result: hook.default_result.as_aws_str().to_string(),
    }
}

/// Whole seconds as AWS takes them (validated to fit).
pub fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

fn lifecycle(state: &str) -> LifecycleState {
    if state.starts_with("Pending") {
        LifecycleState::Pending
    } else if state == "InService" {
        LifecycleState::InService
    } else if state.starts_with("Terminating") {
        LifecycleState::Terminating
    } else if state.starts_with("Terminated") {
        LifecycleState::Terminated
    } else {
        LifecycleState::Other
    }
}

pub fn target_group(
    timing: &TargetGroupTiming,
    targets: &[TargetHealth],
) -> TargetGroupObservation {
    TargetGroupObservation {
        arn: timing.target_group_arn.clone(),
        name: timing.name.clone(),
        deregistration_delay: timing.deregistration_delay,
        health_check_interval: timing.health_check_interval,
        healthy_threshold: timing.healthy_threshold,
        targets: targets
            .iter()
            .map(|target| TargetObservation {
                id: target.target_id.clone(),
                state: target_state(&target.state),
                reason: target.reason.clone(),
            })
            .collect(),
    }
}

fn target_state(state: &TargetState) -> EngineTargetState {
    match state {
        TargetState::Initial => EngineTargetState::Initial,
        TargetState::Healthy => EngineTargetState::Healthy,
        TargetState::Unhealthy => EngineTargetState::Unhealthy,
        // Leaving the load balancer, whatever its health: it drains.
        TargetState::UnhealthyDraining | TargetState::Draining => EngineTargetState::Draining,
        TargetState::Unused => EngineTargetState::Unused,
        TargetState::Unavailable | TargetState::Other(_) => EngineTargetState::Unavailable,
    }
}

pub fn listener(weights: &ListenerWeights) -> ListenerObservation {
    ListenerObservation {
        arn: weights.listener_arn.clone(),
        weights: weights.weights.clone(),
    }
}

/// CloudWatch's figures for one target group as the engine's periods: counts rounded (Sum
/// is a float), p99 from seconds to milliseconds.
pub fn target_group_periods(figures: &TargetGroupFigures) -> TargetGroupPeriods {
    TargetGroupPeriods {
        target_group_arn: figures.target_group_arn.clone(),
        periods: figures
            .periods
            .iter()
            .map(|period| MetricPeriod {
                start: timestamp(period.start),
                requests: count(period.requests),
                target_5xx: count(period.target_5xx),
                elb_5xx: count(period.elb_5xx),
                p99_ms: period
                    .p99_seconds
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map(|seconds| seconds * 1000.0),
            })
            .collect(),
    }
}

/// Metric sums are counts; CloudWatch reports them as floats.
fn count(sum: f64) -> u64 {
    if sum.is_finite() && sum > 0.0 {
        // Saturating float-to-int conversion is the intent here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = sum.round() as u64;
        whole
    } else {
        0
    }
}

/// A missing alarm is caught before the rollout starts (`preflight`); should one vanish
/// mid-rollout it reads as "no data", which the gate treats as not alarming.
pub fn alarm_state(state: AlarmState) -> EngineAlarmState {
    match state {
        AlarmState::Ok => EngineAlarmState::Ok,
        AlarmState::Alarm => EngineAlarmState::Alarm,
        AlarmState::InsufficientData | AlarmState::Missing => EngineAlarmState::InsufficientData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_millis(1_764_158_400_123);
        assert_eq!(system_time(timestamp(at)), at);
    }

    #[test]
    fn lifecycle_states_map_by_prefix() {
        assert_eq!(lifecycle("Pending:Wait"), LifecycleState::Pending);
        assert_eq!(lifecycle("InService"), LifecycleState::InService);
        assert_eq!(
            lifecycle("Terminating:Proceed"),
            LifecycleState::Terminating
        );
        assert_eq!(lifecycle("Standby"), LifecycleState::Other);
    }

    fn group() -> AsgInfo {
        AsgInfo {
            name: "web-g2".into(),
            rollout: Some("web".into()),
            generation: Some(2),
            launch_template_id: Some("lt-1".into()),
            launch_template_version: Some("3".into()),
            subnet_ids: Vec::new(),
            min_size: 1,
            max_size: 4,
            desired_capacity: 2,
            target_group_arns: Vec::new(),
            instances: vec![crate::aws::types::AsgInstance {
                instance_id: "i-1".into(),
                lifecycle_state: "Terminating:Wait".into(),
                health_status: "Healthy".into(),
            }],
            tags: std::collections::BTreeMap::new(),
            deleting: false,
            suspended_processes: vec!["AlarmNotification".into(), "SomethingNew".into()],
            health_check_type: Some("ELB".into()),
            health_check_grace_period: Some(120),
            default_instance_warmup: None,
            lifecycle_hooks: None,
        }
    }

    #[test]
    fn a_group_maps_its_processes_health_check_and_hook_waits() {
        let observed = asg(&group());
        assert_eq!(
            observed.suspended_processes,
            [ScalingProcess::AlarmNotification]
        );
        assert_eq!(
            observed.health_check,
            Some(GroupHealthCheck {
                kind: HealthCheckType::Elb,
                grace_period: Duration::from_secs(120),
                instance_warmup: None,
            })
        );
        assert!(observed.instances[0].hook_wait);
        assert_eq!(observed.instances[0].lifecycle, LifecycleState::Terminating);
        // Not read with the group: nothing to conclude from.
        assert_eq!(observed.lifecycle_hooks, None);
        let mut unknown_type = group();
        unknown_type.health_check_type = Some("VPC_LATTICE".into());
        assert_eq!(asg(&unknown_type).health_check, None);
    }

    #[test]
    fn policies_go_to_their_group_and_hooks_round_trip() {
        let mut asgs = vec![asg(&group())];
        add_policies(
            &mut asgs,
            &[
                ScalingPolicyInfo {
                    asg: "web-g1".into(),
                    name: "cpu".into(),
                },
                ScalingPolicyInfo {
                    asg: "web-g2".into(),
                    name: "rps".into(),
                },
            ],
        );
        assert_eq!(asgs[0].scaling_policies, ["rps"]);
        let hook = LifecycleHook {
            name: "drain".into(),
            transition: HookTransition::Terminating,
            heartbeat_timeout: Duration::from_secs(300),
            default_result: HookResult::Continue,
        };
        let aws = new_hook(&hook);
        assert_eq!(aws.transition, "autoscaling:EC2_INSTANCE_TERMINATING");
        assert_eq!(aws.heartbeat_timeout, 300);
        assert_eq!(lifecycle_hooks(&[aws]), [hook]);
    }

    #[test]
    fn cloudwatch_periods_become_counts_and_milliseconds() {
        use crate::aws::types::PeriodFigures;
        let start = UNIX_EPOCH + Duration::from_secs(600);
        let figures = TargetGroupFigures {
            target_group_arn: "green".into(),
            periods: vec![
                PeriodFigures {
                    start,
                    requests: 399.6,
                    target_5xx: 2.0,
                    elb_5xx: 1.0,
                    p99_seconds: Some(0.8),
                },
                PeriodFigures {
                    p99_seconds: Some(f64::NAN),
                    requests: -1.0,
                    ..PeriodFigures::empty(start + Duration::from_secs(60))
                },
            ],
        };
        let periods = target_group_periods(&figures);
        assert_eq!(periods.target_group_arn, "green");
        assert_eq!(
            periods.periods,
            [
                MetricPeriod {
                    start: Timestamp::from_secs(600),
                    requests: 400,
                    target_5xx: 2,
                    elb_5xx: 1,
                    p99_ms: Some(800.0),
                },
                MetricPeriod {
                    start: Timestamp::from_secs(660),
                    requests: 0,
                    target_5xx: 0,
                    elb_5xx: 0,
                    p99_ms: None,
                },
            ]
        );
    }

    #[test]
    fn unhealthy_draining_is_draining() {
        assert_eq!(
            target_state(&TargetState::UnhealthyDraining),
            EngineTargetState::Draining
        );
    }
}
