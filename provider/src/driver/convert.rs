//! The one place where the adapter's plain AWS shapes become the engine's observation types
//! and the engine's commands become adapter calls.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zdd_rollout::observation::{
    AlarmState as EngineAlarmState, AsgObservation, InstanceObservation, LifecycleState,
    ListenerObservation, TargetGroupObservation, TargetObservation,
    TargetState as EngineTargetState,
};
use zdd_rollout::spec::LaunchTemplateRef;
use zdd_rollout::time::Timestamp;

use crate::aws::types::{
    AlarmState, AsgInfo, ListenerWeights, TargetGroupTiming, TargetHealth, TargetState,
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
        suspended_processes: Vec::new(),
        scaling_policies: Vec::new(),
        health_check: None,
        lifecycle_hooks: None,
    }
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

    #[test]
    fn unhealthy_draining_is_draining() {
        assert_eq!(
            target_state(&TargetState::UnhealthyDraining),
            EngineTargetState::Draining
        );
    }
}
