//! One observation of everything the engine looks at, through the adapter.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use zdd_rollout::spec::{CanarySpec, LifecycleHook};
use zdd_rollout::{
    AlarmObservation, Observation, RolloutSpec, Strategy, TargetGroupPeriods, Timestamp,
};

use crate::aws::types::{MetricSource, TargetGroupTiming, load_balancer_of_listener};
use crate::aws::{AwsClients, AwsError};

use super::convert;
use super::metric_cache::PeriodCache;
use super::stats::timed;

/// Target group settings do not change during a rollout: read them once per apply.
///
/// Scaling policies: one `DescribePolicies` per observation for all the fleet's groups while
/// the fleet is autoscaled or a group had a policy when last read; otherwise only on a run's
/// first observation (a fleet whose policies were removed from the configuration finds them
/// there), so a fleet without policies pays one call per run.
///
/// Lifecycle hooks: AWS creates them with the group (`LifecycleHookSpecificationList`) and
/// only the run's own `PutLifecycleHook` / `DeleteLifecycleHook` change them, so each group's
/// are read once per run and again after such a command ([`Observer::hooks_changed`]), by
/// `DescribeLifecycleHooks` (one call per group; it takes one group name).
///
/// Metric periods: one `GetMetricData` call per observation while a gate reads metrics, asking
/// only from the first period not complete at the last read ([`PeriodCache`]).
///
/// Alarms: one `DescribeAlarms` per observation for the canary's and the bake's alarms.
#[derive(Debug, Default)]
pub struct Observer {
    timings: BTreeMap<String, TargetGroupTiming>,
    /// Each group's hooks as first read in this run.
    hooks: BTreeMap<String, Vec<LifecycleHook>>,
    /// Whether the policies were read in this run, and whether a group had any.
    policies_read: bool,
    policies_seen: bool,
    /// The canary's metric periods read complete in this run.
    periods: PeriodCache,
    /// AWS API calls made so far (for the benchmark's "API calls per rollout").
    pub api_calls: u64,
    /// Time spent inside those calls (for the benchmark's "own overhead").
    pub aws_time: Duration,
}

impl Observer {
    pub async fn observe(
        &mut self,
        aws: &AwsClients,
        spec: &RolloutSpec,
        metrics_since: Option<Timestamp>,
        now: SystemTime,
    ) -> Result<Observation, AwsError> {
        let asgs = timed(&mut self.aws_time, aws.describe_rollout_asgs(&spec.name)).await?;
        self.api_calls += 1;
        let mut target_groups = Vec::new();
        for arn in spec.target_group_arns() {
            let timing = match self.timings.get(&arn) {
                Some(timing) => timing.clone(),
                None => {
                    let timing = timed(&mut self.aws_time, aws.target_group_timing(&arn)).await?;
                    self.api_calls += 2;
                    self.timings.insert(arn.clone(), timing.clone());
                    timing
                }
            };
            let targets = timed(&mut self.aws_time, aws.target_health(&arn)).await?;
            self.api_calls += 1;
            target_groups.push(convert::target_group(&timing, &targets));
        }
        let mut observation = Observation {
            asgs: asgs.iter().map(convert::asg).collect(),
            target_groups,
            ..Observation::default()
        };
        self.observe_scaling(aws, spec, &mut observation).await?;
        if let Strategy::Canary(canary) = &spec.strategy {
            let weights = timed(
                &mut self.aws_time,
                aws.listener_weights(&canary.listener_arn),
            )
            .await?;
            self.api_calls += 1;
            observation.listener = Some(convert::listener(&weights));
            if let Some(since) = metrics_since {
                observation.metric_periods = self
                    .observe_metric_periods(aws, spec, canary, since, now)
                    .await?;
            }
        }
        let alarm_names = gate_alarm_names(spec);
        if !alarm_names.is_empty() {
            let states = timed(&mut self.aws_time, aws.alarm_states(&alarm_names)).await?;
            self.api_calls += 1;
            observation.alarms = states
                .into_iter()
                .map(|(name, state)| AlarmObservation {
                    name,
                    state: convert::alarm_state(state),
                })
                .collect();
        }
        Ok(observation)
    }
}

impl Observer {
    /// The canary's stable and canary target groups' metric periods from `since`'s period on:
    /// the complete ones this run already read from the cache, the rest in one
    /// `GetMetricData` call from the first period not complete at the last read.
    async fn observe_metric_periods(
        &mut self,
        aws: &AwsClients,
        spec: &RolloutSpec,
        canary: &CanarySpec,
        since: Timestamp,
        now: SystemTime,
    ) -> Result<Vec<TargetGroupPeriods>, AwsError> {
        // Both groups are behind the listener's load balancer: the canary group joined it when
        // the listener first forwarded to it, after this run read its target group settings.
        let load_balancer = load_balancer_of_listener(&canary.listener_arn).ok_or_else(|| {
            AwsError::Unexpected {
                operation: "GetMetricData",
                detail: format!(
                    "{:?} is not a listener ARN: its load balancer names the metrics' dimension",
                    canary.listener_arn
                ),
            }
        })?;
        let sources: Vec<MetricSource> = [
            &canary.stable_target_group_arn,
            &canary.canary_target_group_arn,
        ]
        .into_iter()
        .map(|arn| MetricSource {
            target_group_arn: arn.clone(),
            load_balancer_arn: load_balancer.clone(),
        })
        .collect();
        let timing = spec.metric_timing;
        let read_from = self.periods.read_from(&timing, since);
        let now_at = convert::timestamp(now);
        // Only complete periods are judged: read up to the first incomplete one, and not at
        // all until one more is complete (the cache holds the rest).
        let figures = if self.periods.read_needed(&timing, read_from, now_at) {
            let end = convert::system_time(timing.first_incomplete(now_at));
            let figures = timed(
                &mut self.aws_time,
                aws.metric_periods(&sources, convert::system_time(read_from), end),
            )
            .await?;
            self.api_calls += 1;
            figures
        } else {
            Vec::new()
        };
        let arns: Vec<String> = sources.into_iter().map(|s| s.target_group_arn).collect();
        Ok(self.periods.absorb(
            &timing,
            since,
            read_from,
            now_at,
            &arns,
            figures.iter().map(convert::target_group_periods).collect(),
        ))
    }

    /// The run changed `asg`'s hooks: the next observation reads them again.
    pub fn hooks_changed(&mut self, asg: &str) {
        self.hooks.remove(asg);
    }

    /// The groups' scaling policies and lifecycle hooks (see [`Observer`] for when each is
    /// read).
    async fn observe_scaling(
        &mut self,
        aws: &AwsClients,
        spec: &RolloutSpec,
        observation: &mut Observation,
    ) -> Result<(), AwsError> {
        let names: Vec<String> = observation
            .asgs
            .iter()
            .filter(|group| group.status.is_none())
            .map(|group| group.name.clone())
            .collect();
        if !names.is_empty() && (spec.is_autoscaled() || self.policies_seen || !self.policies_read)
        {
            let policies = timed(&mut self.aws_time, aws.scaling_policies(&names)).await?;
            self.api_calls += 1;
            self.policies_read = true;
            self.policies_seen = !policies.is_empty();
            convert::add_policies(&mut observation.asgs, &policies);
        }
        for group in &mut observation.asgs {
            if group.status.is_some() {
                continue;
            }
            if !self.hooks.contains_key(&group.name) {
                let hooks = timed(&mut self.aws_time, aws.lifecycle_hooks(&group.name)).await?;
                self.api_calls += 1;
                self.hooks
                    .insert(group.name.clone(), convert::lifecycle_hooks(&hooks));
            }
            group.lifecycle_hooks = self.hooks.get(&group.name).cloned();
        }
        Ok(())
    }
}

/// Every alarm a gate reads: the canary's and the bake's, each name once.
pub fn gate_alarm_names(spec: &RolloutSpec) -> Vec<String> {
    let canary = match &spec.strategy {
        Strategy::Canary(canary) => canary.alarm_names.as_slice(),
        _ => &[],
    };
    let bake = spec
        .bake
        .as_ref()
        .map_or(&[][..], |bake| bake.alarm_names.as_slice());
    let mut names: Vec<String> = Vec::new();
    for name in canary.iter().chain(bake) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}
