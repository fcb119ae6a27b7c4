//! Rolling: the new generation grows in batches while the old one shrinks, never below the
//! capacity floor.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::observation::{AsgObservation, LifecycleState, Observation, TargetState};
use crate::phase::Phase;
use crate::spec::{Strategy, human};
use crate::time::Timestamp;

use super::Rollout;
use super::commands::{Out, scale_in_command};
use super::groups::{Lookup, is_live};

/// The old generation during a rolling rollout.
#[derive(Default)]
pub(super) struct OldFleet {
    /// Instances neither terminating nor terminated.
    pub(super) live: u32,
    /// Live instances healthy in every target group.
    pub(super) healthy: u32,
    /// Instances a scale-in retired that still run (draining, terminating).
    pub(super) leaving: u32,
    /// The group's desired capacity is below its live instances: a scale-in is under way.
    pub(super) scaling_in: bool,
}

impl Rollout {
    /// Rolling from an old generation: the new group starts with the first batch, as far as
    /// the surge budget allows next to the old instances. `None` when not rolling.
    pub(super) fn first_rolling_batch(&self, obs: &Observation) -> Option<u32> {
        let Strategy::Rolling { batch_size, .. } = self.spec.strategy else {
            return None;
        };
        self.cp.from?;
        let old_instances = self.old_name().and_then(|n| obs.asg(&n)).map_or(0, |old| {
            old.instances
                .iter()
                .filter(|i| i.lifecycle != LifecycleState::Terminated)
                .count()
        });
        let cap = self.spec.capacity;
        let headroom = cap
            .max
            .saturating_sub(u32::try_from(old_instances).unwrap_or(u32::MAX));
        Some(batch_size.min(self.capacity_goal()).min(headroom))
    }

    /// Rolling with no room: the serving group runs `max_size` instances, so nothing can
    /// launch beside them, and the capacity floor lets none leave first. The rollout fails
    /// before it creates anything, saying why (a fleet that scaled itself to its maximum).
    pub(super) fn rolling_without_room(&self, obs: &Observation) -> Option<String> {
        let old = obs.asg(&self.old_name()?)?;
        let live = old
            .instances
            .iter()
            .filter(|i| i.lifecycle != LifecycleState::Terminated)
            .count();
        let live = u32::try_from(live).unwrap_or(u32::MAX);
        (self.capacity_floor() >= live).then(|| self.no_room(&old.name, live))
    }

    /// Why a rolling update cannot go on: no instance may launch, none may leave.
    fn no_room(&self, old_name: &str, live: u32) -> String {
        format!(
            "rolling has no room: {old_name} runs {live} instance(s) beside the new generation within max_size {}, so no new instance can launch, and min_healthy_percent {} % of {} lets none leave first (raise max_size or lower min_healthy_percent)",
            self.spec.capacity.max,
            self.spec.min_healthy_percent,
            self.capacity_goal()
        )
    }

    /// Rolling: the new generation grows by a batch whenever the surge budget allows; once
    /// every new target is healthy, the old group's desired capacity drops by as many instances
    /// as the capacity floor allows. AWS's own scale-in then deregisters the instances it picks,
    /// waits out the deregistration delay and only then terminates them (invariant 3, the path
    /// ARCHITECTURE.md documents), so one `UpdateAutoScalingGroup` retires a whole batch.
    pub(super) fn on_rolling(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        batch: u32,
        out: &mut Out,
    ) {
        let Strategy::Rolling { batch_size, .. } = self.spec.strategy else {
            self.goto(Phase::WaitingForHealthy, now, String::new());
            return;
        };
        let Some(new) = obs.asg(&self.new_name()).cloned() else {
            self.goto(
                Phase::Launching,
                now,
                format!("{} not observed", self.new_name()),
            );
            return;
        };
        let groups = self.all_groups();
        self.ensure_attached(&new, &groups, now, out);
        self.prepare_new_group(&new, now, out);
        let recorded = self.record_capacity(&new, now, out);
        let old = self.old_name().and_then(|n| obs.asg(&n).cloned());
        let cap = self.spec.capacity;
        let goal = self.capacity_goal();
        self.cp.rolling_target = self.cp.rolling_target.max(new.desired_capacity).min(goal);
        let target = self.cp.rolling_target;
        self.ensure_capacity(&new, 0, cap.max, target, now, out);
        let health = self.gen_health(obs, &new, &groups, target, now);
        if !health.ready() {
            if self.timed_out(now) {
                self.fail(
                    format!(
                        "{} after {} (rolling batch {batch})",
                        health.problem,
                        human(self.spec.health_timeout)
                    ),
                    now,
                );
            } else if let Some(at) = health.wake {
                let timeout_at = self.health_deadline();
                out.wake_at(at.max(self.expected_batch_ready(obs)).min(timeout_at));
            }
            return;
        }
        if let Some(launched) = self.cp.batch_launched_at.take() {
            let took = now.since(launched);
            self.cp.fastest_batch = Some(self.cp.fastest_batch.map_or(took, |f| f.min(took)));
        }
        // Every new target is healthy: the old generation may shrink, the new one may grow.
        let fleet = old
            .as_ref()
            .map(|old| self.old_fleet(obs, old, &new))
            .unwrap_or_default();
        let poll = self.poll_interval(obs);
        if fleet.live == 0 && target >= goal {
            if fleet.leaving == 0 {
                self.goto(
                    Phase::DetachingOld,
                    now,
                    format!("all {target} new targets healthy, no old instance left"),
                );
            } else {
                // AWS is still draining the last retired instances: deleting the group now
                // (ForceDelete) would cut their drain short.
                out.wake_at(now + poll);
            }
            return;
        }
        let retiring_behind = self.cp.old_retired_to.is_some_and(|t| fleet.live > t);
        if fleet.scaling_in || retiring_behind {
            // A lower desired capacity is accepted but not carried out yet (or not visible in
            // this read): a second one computed from these instance counts would retire the
            // batch twice, or undo the first. The one already decided is re-issued if it
            // failed or has not landed.
            if let (Some(old), Some(retired_to)) = (&old, self.cp.old_retired_to)
                && old.desired_capacity > retired_to
            {
                let drain = self.max_drain(obs);
                self.issue_expecting(scale_in_command(old, retired_to), now, now + drain, out);
            }
            out.wake_at(now + poll);
            return;
        }
        let headroom = cap.max.saturating_sub(fleet.live + fleet.leaving + target);
        let add = batch_size.min(goal - target).min(headroom);
        if add > 0 {
            self.cp.rolling_target = target + add;
            self.cp.health_clock = now;
            self.cp.batch_launched_at = Some(now);
            let next_batch = batch + 1;
            self.goto(
                Phase::Rolling { batch: next_batch },
                now,
                format!("{} of {} new instances", target + add, goal),
            );
            // Nothing launched can be healthy before interval × threshold.
            let look_at =
                (now + self.time_to_healthy(obs, &groups)).max(self.expected_batch_ready(obs));
            self.issue_expecting(
                Command::SetCapacity {
                    asg: new.name.clone(),
                    min_size: 0,
                    max_size: cap.max,
                    desired_capacity: target + add,
                },
                now,
                look_at,
                out,
            );
            // Old targets leave only in a step that launches nothing: a scale-in landing late
            // must never meet new targets that are still `initial` (invariant 2).
            return;
        }
        let Some(old) = &old else {
            return;
        };
        // No scaling fight: the old group stops scaling itself before its first scale-in (and
        // the capacity served is on record, for a resumed apply).
        if !recorded || (self.scales_itself(old) && !self.suspend_self_scaling(old, now, out)) {
            return;
        }
        // AWS picks the instances a scale-in retires: assume the healthy ones go first.
        let spare = (fleet.healthy + health.healthy).saturating_sub(self.capacity_floor());
        let retire = if fleet.healthy <= spare {
            batch_size.min(fleet.live)
        } else {
            batch_size.min(spare)
        };
        if retire == 0 {
            if fleet.leaving > 0 {
                out.wake_at(now + poll);
            } else if target < goal && fleet.healthy == fleet.live && headroom == 0 {
                // Everything healthy, nothing leaving, and still no batch fits: the serving
                // group scaled itself to max_size before it stopped scaling. Waiting changes
                // nothing; the rollback restores it at the capacity it served.
                self.fail(self.no_room(&old.name, fleet.live), now);
            }
            return;
        }
        let drain = self.max_drain(obs);
        let desired = (fleet.live - retire).min(self.cp.old_retired_to.unwrap_or(u32::MAX));
        self.cp.old_retired_to = Some(desired);
        let scale_in = scale_in_command(old, desired);
        if !self.cp.pending.contains_key(&scale_in.key()) {
            self.log(
                now,
                "drain",
                format!(
                    "{retire} old instance(s) of {} leave by scale-in: AWS deregisters them and terminates them after the deregistration delay",
                    old.name
                ),
            );
        }
        self.issue_expecting(scale_in, now, now + drain, out);
    }

    /// Rolling: one health-check interval before the batch now launching can be expected
    /// healthy, judging by the fastest earlier batch (same launch template, same boot). A
    /// look before then could only see a failure, and failures are judged against the health
    /// timeout anyway: skipping those looks saves most of the observations of a batch, at the
    /// price of noticing an unusually fast batch up to one interval late.
    pub(super) fn expected_batch_ready(&self, obs: &Observation) -> Timestamp {
        match (self.cp.batch_launched_at, self.cp.fastest_batch) {
            (Some(launched), Some(fastest)) => {
                launched + fastest.saturating_sub(self.poll_interval(obs))
            }
            _ => Timestamp(0),
        }
    }

    /// The old generation's instances as rolling counts them.
    pub(super) fn old_fleet(
        &self,
        obs: &Observation,
        old: &AsgObservation,
        new: &AsgObservation,
    ) -> OldFleet {
        let groups = self.all_groups();
        let mut fleet = OldFleet::default();
        let mut leaving: BTreeSet<&str> = BTreeSet::new();
        for instance in &old.instances {
            if !is_live(instance.lifecycle) {
                if instance.lifecycle == LifecycleState::Terminating {
                    leaving.insert(&instance.id);
                }
                continue;
            }
            fleet.live += 1;
            let all_healthy = groups.iter().all(|arn| {
                obs.target_group(arn)
                    .and_then(|g| g.lookup(&instance.id))
                    .is_some_and(|t| t.state == TargetState::Healthy)
            });
            if all_healthy {
                fleet.healthy += 1;
            }
        }
        // An instance AWS retired may already be gone from the group's list while its target
        // still drains: it still runs, and counts towards `max_size` until it is terminated.
        for arn in &groups {
            let Some(group) = obs.target_group(arn) else {
                continue;
            };
            for target in group
                .targets
                .iter()
                .filter(|t| t.state == TargetState::Draining)
            {
                let ours = new.instances.iter().any(|i| i.id == target.id);
                let live_old = old
                    .instances
                    .iter()
                    .any(|i| i.id == target.id && is_live(i.lifecycle));
                if !ours && !live_old {
                    leaving.insert(&target.id);
                }
            }
        }
        fleet.leaving = u32::try_from(leaving.len()).unwrap_or(u32::MAX);
        fleet.scaling_in = old.desired_capacity < fleet.live;
        fleet
    }
}
