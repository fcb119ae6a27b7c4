//! The fleet's groups as the rollout sees them: names, target groups, timings, and lookups
//! in the observation.

use std::time::Duration;

use crate::observation::{
    AsgObservation, LifecycleState, Observation, TargetGroupObservation, TargetObservation,
    TargetState,
};
use crate::spec::Strategy;

use super::{CONFIRM_AFTER, DEFAULT_POLL, Rollout};

pub(super) fn is_live(state: LifecycleState) -> bool {
    !matches!(
        state,
        LifecycleState::Terminating | LifecycleState::Terminated
    )
}

/// Attached to a target group and with instances: it must be detached (and drained) before
/// it is deleted. A group without instances (rolling scaled it to zero, each instance drained
/// by AWS's scale-in) is deleted as it is.
pub(super) fn needs_detach(asg: &AsgObservation) -> bool {
    !asg.target_group_arns.is_empty()
        && asg
            .instances
            .iter()
            .any(|i| i.lifecycle != LifecycleState::Terminated)
}

/// Binary search in targets sorted by [`sorted_targets`] (a fleet of 200 has 400 targets
/// mid-rollout: a linear search per instance made one step cost a millisecond).
pub(super) trait Lookup {
    fn lookup(&self, instance_id: &str) -> Option<&TargetObservation>;
}

impl Lookup for TargetGroupObservation {
    fn lookup(&self, instance_id: &str) -> Option<&TargetObservation> {
        self.targets
            .binary_search_by(|t| t.id.as_str().cmp(instance_id))
            .ok()
            .and_then(|i| self.targets.get(i))
    }
}

impl Rollout {
    pub(super) fn new_name(&self) -> String {
        self.spec.asg_name(self.cp.to)
    }

    pub(super) fn old_name(&self) -> Option<String> {
        self.cp.from.map(|g| self.spec.asg_name(g))
    }

    /// Names of the ASGs this rollout retires on success.
    pub(super) fn retiring(&self) -> Vec<String> {
        let mut names: Vec<String> = self.old_name().into_iter().collect();
        names.extend(self.cp.leftovers.iter().map(|g| self.spec.asg_name(*g)));
        names
    }

    pub(super) fn is_rolling(&self) -> bool {
        matches!(self.spec.strategy, Strategy::Rolling { .. })
    }

    /// Target groups of the new generation.
    pub(super) fn new_groups(&self) -> Vec<String> {
        match &self.spec.strategy {
            Strategy::Canary(canary) => match &self.cp.stable_target_group {
                Some(stable) if *stable == canary.stable_target_group_arn => {
                    vec![canary.canary_target_group_arn.clone()]
                }
                Some(_) => vec![canary.stable_target_group_arn.clone()],
                None => vec![canary.stable_target_group_arn.clone()],
            },
            _ => self.spec.target_group_arns(),
        }
    }

    /// Target groups of the old generation.
    pub(super) fn old_groups(&self) -> Vec<String> {
        match &self.spec.strategy {
            Strategy::Canary(_) => self.cp.stable_target_group.iter().cloned().collect(),
            _ => self.spec.target_group_arns(),
        }
    }

    pub(super) fn all_groups(&self) -> Vec<String> {
        self.spec.target_group_arns()
    }

    pub(super) fn poll_interval(&self, obs: &Observation) -> Duration {
        obs.target_groups
            .iter()
            .map(|g| g.health_check_interval)
            .filter(|d| !d.is_zero())
            .min()
            .unwrap_or(DEFAULT_POLL)
            .max(Duration::from_secs(1))
    }

    pub(super) fn max_drain(&self, obs: &Observation) -> Duration {
        obs.target_groups
            .iter()
            .map(|g| g.deregistration_delay)
            .max()
            .unwrap_or(Duration::from_secs(300))
            + self.spec.drain_margin
    }

    /// The shortest interval × healthy threshold among `groups`: no target registered now can
    /// be healthy sooner.
    pub(super) fn time_to_healthy(&self, obs: &Observation, groups: &[String]) -> Duration {
        groups
            .iter()
            .filter_map(|arn| obs.target_group(arn))
            .map(TargetGroupObservation::time_to_healthy)
            .min()
            .unwrap_or(CONFIRM_AFTER)
    }

    /// Instances of `asg` still registered or draining in any of our target groups.
    pub(super) fn still_in_load_balancer(&self, obs: &Observation, asg: &AsgObservation) -> bool {
        let groups = self.all_groups();
        asg.instances.iter().any(|i| {
            groups.iter().any(|arn| {
                obs.target_group(arn)
                    .and_then(|g| g.lookup(&i.id))
                    .is_some_and(|t| t.state.is_registered() || t.state == TargetState::Draining)
            })
        })
    }
}
