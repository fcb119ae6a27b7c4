//! One observation of everything the engine looks at, through the adapter.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use zdd_rollout::spec::LifecycleHook;
use zdd_rollout::{
    AlarmObservation, Observation, RolloutSpec, Strategy, TargetGroupMetrics, Timestamp,
};

use crate::aws::types::TargetGroupTiming;
use crate::aws::{AwsClients, AwsError};

use super::convert;
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
#[derive(Debug, Default)]
pub struct Observer {
    timings: BTreeMap<String, TargetGroupTiming>,
    /// Each group's hooks as first read in this run.
    hooks: BTreeMap<String, Vec<LifecycleHook>>,
    /// Whether the policies were read in this run, and whether a group had any.
    policies_read: bool,
    policies_seen: bool,
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
            if !canary.alarm_names.is_empty() {
                let states =
                    timed(&mut self.aws_time, aws.alarm_states(&canary.alarm_names)).await?;
                self.api_calls += 1;
                observation.alarms = states
                    .into_iter()
                    .map(|(name, state)| AlarmObservation {
                        name,
                        state: convert::alarm_state(state),
                    })
                    .collect();
            }
            if let Some(since) = metrics_since {
                for arn in [
                    &canary.stable_target_group_arn,
                    &canary.canary_target_group_arn,
                ] {
                    let Some(load_balancer) = self
                        .timings
                        .get(arn.as_str())
                        .and_then(|timing| timing.load_balancer_arns.first().cloned())
                    else {
                        continue;
                    };
                    let sums = timed(
                        &mut self.aws_time,
                        aws.target_group_metric_sums(
                            arn,
                            &load_balancer,
                            convert::system_time(since),
                            now,
                        ),
                    )
                    .await?;
                    self.api_calls += 2;
                    observation.metrics.push(TargetGroupMetrics {
                        target_group_arn: arn.clone(),
                        since,
                        http_5xx: count(sums.target_5xx),
                        requests: count(sums.requests),
                    });
                }
            }
        }
        Ok(observation)
    }
}

impl Observer {
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
