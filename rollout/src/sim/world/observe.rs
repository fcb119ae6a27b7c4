//! What the engine sees: an observation of the simulated cloud, possibly served by a lagging
//! replica.

use std::collections::VecDeque;

use crate::observation::{
    AlarmObservation, AlarmState, AsgObservation, InstanceObservation, LifecycleState,
    ListenerObservation, Observation, TargetGroupObservation, TargetObservation,
};
use crate::sim::rng::SplitMix64;
use crate::spec::Strategy;
use crate::time::Timestamp;

use super::{START_MS, World, duration_ms};

impl World {
    /// What the provider would read from AWS now (parts of it stale under
    /// [`Faults::stale_read_max`]). Counts the API calls it costs.
    pub fn observe(&mut self, metrics_since: Option<Timestamp>) -> Observation {
        let fresh = self.fresh_observation(metrics_since);
        let window = duration_ms(self.faults.stale_read_max);
        if window == 0 {
            return fresh;
        }
        let now = self.now;
        self.read_history
            .retain(|(at, _)| at.saturating_add(window) >= now);
        self.read_history.push_back((now, fresh.clone()));
        let pick = |rng: &mut SplitMix64, history: &VecDeque<(u64, Observation)>| {
            let index = rng.range(0, history.len() as u64) as usize;
            history.get(index).map(|(_, o)| o.clone())
        };
        let mut served = fresh;
        if let Some(old) = pick(&mut self.rng, &self.read_history) {
            served.asgs = old.asgs;
        }
        for group in &mut served.target_groups {
            if let Some(old) = pick(&mut self.rng, &self.read_history)
                && let Some(lagging) = old.target_groups.into_iter().find(|g| g.arn == group.arn)
            {
                *group = lagging;
            }
        }
        if let Some(old) = pick(&mut self.rng, &self.read_history) {
            served.listener = old.listener;
        }
        served
    }

    pub(super) fn fresh_observation(&mut self, metrics_since: Option<Timestamp>) -> Observation {
        self.observations += 1;
        let mut calls = 1 + self.groups.len() as u64; // DescribeAutoScalingGroups + DescribeTargetHealth each
        let asgs = self
            .asgs
            .iter()
            .map(|(name, a)| AsgObservation {
                name: name.clone(),
                tags: a.tags.clone(),
                launch_template: Some(a.launch_template.clone()),
                subnet_ids: a.subnets.clone(),
                min_size: a.min,
                max_size: a.max,
                desired_capacity: a.desired,
                target_group_arns: if a.deleted_at.is_some() {
                    Vec::new()
                } else {
                    a.groups.clone()
                },
                instances: a
                    .instances
                    .iter()
                    .filter_map(|id| self.instances.get(id).map(|i| (id, i)))
                    .map(|(id, i)| InstanceObservation {
                        id: id.clone(),
                        lifecycle: if i.terminated {
                            LifecycleState::Terminated
                        } else if i.terminate_after.is_some() {
                            LifecycleState::Terminating
                        } else if i.in_service_at <= self.now {
                            LifecycleState::InService
                        } else {
                            LifecycleState::Pending
                        },
                        hook_wait: self.hook_wait_of(id).is_some(),
                    })
                    .collect(),
                status: a.deleted_at.map(|_| "Delete in progress".to_string()),
                suspended_processes: a.suspended.iter().copied().collect(),
                scaling_policies: a.policies.keys().cloned().collect(),
                health_check: Some(a.health_check),
                lifecycle_hooks: Some(a.hooks.clone()),
            })
            .collect();
        let waits: Vec<(String, &'static str)> = self
            .instances
            .keys()
            .filter_map(|id| self.hook_wait_of(id).map(|w| (id.clone(), w)))
            .collect();
        self.hook_waits.extend(waits);
        let target_groups = self
            .groups
            .iter()
            .map(|(arn, g)| TargetGroupObservation {
                arn: arn.clone(),
                name: g.name.clone(),
                deregistration_delay: self.timings.deregistration_delay,
                health_check_interval: self.timings.health_check_interval,
                healthy_threshold: self.timings.healthy_threshold,
                targets: g
                    .targets
                    .iter()
                    .filter_map(|(id, r)| {
                        self.target_state(id, r)
                            .map(|(state, reason)| TargetObservation {
                                id: id.clone(),
                                state,
                                reason: reason.map(str::to_string),
                            })
                    })
                    .collect(),
            })
            .collect();
        let listener = self.listener.as_ref().map(|(arn, weights)| {
            calls += 1;
            ListenerObservation {
                arn: arn.clone(),
                weights: weights.clone(),
            }
        });
        let mut alarms = self.bake_alarms(&mut calls);
        let mut metric_periods = Vec::new();
        if let Strategy::Canary(canary) = &self.spec.strategy {
            if !canary.alarm_names.is_empty() {
                calls += 1;
                let firing = self
                    .faults
                    .alarm_at
                    .is_some_and(|at| self.now >= START_MS + duration_ms(at));
                alarms.extend(canary.alarm_names.iter().map(|name| AlarmObservation {
                    name: name.clone(),
                    state: self.alarm_state(firing),
                }));
            }
            if let Some(since) = metrics_since {
                // One GetMetricData for every group's four metrics, as the provider reads them.
                calls += 1;
                for arn in self.groups.keys() {
                    metric_periods.push(self.metric_periods(arn, since));
                }
            }
        }
        self.api_calls += calls;
        Observation {
            asgs,
            target_groups,
            listener,
            alarms,
            metric_periods,
        }
    }

    fn alarm_state(&self, firing: bool) -> AlarmState {
        if firing {
            AlarmState::Alarm
        } else if self.faults.alarms_without_data {
            AlarmState::InsufficientData
        } else {
            AlarmState::Ok
        }
    }

    /// The bake alarms (`bake.alarm_names`): in ALARM from [`Faults::bake_alarm_at`] on.
    ///
    /// [`Faults::bake_alarm_at`]: super::Faults::bake_alarm_at
    fn bake_alarms(&self, calls: &mut u64) -> Vec<AlarmObservation> {
        let Some(bake) = &self.spec.bake else {
            return Vec::new();
        };
        if bake.alarm_names.is_empty() {
            return Vec::new();
        }
        *calls += 1;
        let firing = self
            .faults
            .bake_alarm_at
            .is_some_and(|at| self.now >= START_MS + duration_ms(at));
        bake.alarm_names
            .iter()
            .map(|name| AlarmObservation {
                name: name.clone(),
                state: self.alarm_state(firing),
            })
            .collect()
    }
}
