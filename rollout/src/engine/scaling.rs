//! Fleets that scale themselves: the capacity a rollout starts and follows (the serving
//! group's, not the configured first capacity), the capacity floor computed from it, and no
//! scaling fights (self-scaling suspended on a group that must not change its own size,
//! policies only on the generation that serves).
//!
//! A fleet that is not autoscaled and whose groups carry no policy issues none of these
//! commands: its capacity is the configuration's, as before.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::fleet::{TAG_CAPACITY, TAG_SUSPENDED, suspended_by_zdd};
use crate::observation::{AsgObservation, Observation, ScalingProcess};
use crate::spec::PredefinedMetric;
use crate::time::Timestamp;

use super::commands::Out;
use super::{Mode, Rollout};

/// `zdd:suspended`'s value: the processes in [`ScalingProcess::SELF_SCALING`] order.
fn process_list(processes: &BTreeSet<ScalingProcess>) -> String {
    ScalingProcess::SELF_SCALING
        .iter()
        .filter(|p| processes.contains(p))
        .map(|p| p.as_aws_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl Rollout {
    /// Records the capacity being served: the serving group's desired capacity, the most seen
    /// during this rollout (rolling lowers the old group's own desired capacity as it retires
    /// it, which must not lower the goal or the floor), or what the new group's `zdd:capacity`
    /// tag recorded (a resumed apply). In place, the group's current desired capacity.
    pub(super) fn observe_served(&mut self, obs: &Observation) {
        if self.cp.mode != Mode::Rollout {
            return;
        }
        let new = obs.asg(&self.new_name());
        if self.cp.in_place {
            if let Some(new) = new {
                self.cp.served = Some(new.desired_capacity);
            }
            return;
        }
        let Some(old_name) = self.old_name() else {
            return;
        };
        let recorded = new
            .and_then(|a| a.tags.get(TAG_CAPACITY))
            .and_then(|v| v.parse::<u32>().ok());
        let old = obs
            .asg(&old_name)
            .filter(|a| !a.is_deleting())
            .map(|a| a.desired_capacity);
        self.cp.served = [self.cp.served, recorded, old].into_iter().flatten().max();
    }

    /// The new generation's desired capacity: the configured one for a first deployment; with
    /// `target_tracking` the serving group's, within `min_size..max_size`; without, the larger
    /// of the configured one and the serving group's (a rollout never lowers serving capacity
    /// while traffic shifts: a requested scale-in happens after it, in place).
    pub(super) fn capacity_goal(&self) -> u32 {
        let cap = self.spec.capacity;
        match self.cp.served {
            None => cap.desired,
            Some(served) if self.spec.is_autoscaled() => served.clamp(cap.min, cap.max),
            Some(_) if self.cp.in_place => cap.desired,
            Some(served) => served.max(cap.desired).min(cap.max),
        }
    }

    /// Healthy, routed targets that must exist at every instant (invariant 1): the
    /// `min_healthy_percent` of the capacity goal, i.e. of the capacity being served.
    pub(super) fn capacity_floor(&self) -> u32 {
        (self.capacity_goal() * self.spec.min_healthy_percent).div_ceil(100)
    }

    /// The capacity a reader is told is served (progress, the phase record): what the fleet
    /// served when the rollout began (`cp.served`), else the capacity goal.
    pub(super) fn shown_served(&self) -> u32 {
        self.cp.served.unwrap_or_else(|| self.capacity_goal())
    }

    /// The floor a reader is told the rollout holds, on the same base as
    /// [`Rollout::shown_served`]: a scale-out (desired above what is served) holds the floor of
    /// what is served, not of a capacity no generation serves yet; never above the engine's own
    /// [`Rollout::capacity_floor`].
    pub(super) fn shown_floor(&self) -> u32 {
        (self.shown_served() * self.spec.min_healthy_percent)
            .div_ceil(100)
            .min(self.capacity_floor())
    }

    /// Whether the new group records the capacity served in `zdd:capacity` (only where it
    /// is not simply the configured capacity).
    pub(super) fn records_capacity(&self) -> Option<u32> {
        let served = self.cp.served?;
        (self.cp.from.is_some()
            && !self.cp.in_place
            && (self.spec.is_autoscaled() || served != self.spec.capacity.desired))
            .then_some(served)
    }

    /// The new generation follows the serving group before it takes more traffic: its desired
    /// capacity is brought to [`Rollout::new_desired`] (the caller then waits for health at
    /// it), and the capacity served is recorded on it. True once the record is observed.
    pub(super) fn follow_serving(
        &mut self,
        new: &AsgObservation,
        min: u32,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let recorded = self.record_capacity(new, now, out);
        let goal = self.new_desired(new);
        let cap = self.spec.capacity;
        if (new.min_size, new.max_size, new.desired_capacity) != (min, cap.max, goal) {
            if new.desired_capacity < goal && self.cp.from.is_some() {
                // The instances it adds get their own health window.
                self.cp.health_clock = now;
            }
            self.ensure_capacity(new, min, cap.max, goal, now, out);
        }
        recorded
    }

    /// Records the capacity served on the new group (`zdd:capacity`) where it is not the
    /// configured one, for a resumed apply. True once observed.
    pub(super) fn record_capacity(
        &mut self,
        new: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let mut done = true;
        if let Some(served) = self.records_capacity() {
            let recorded = new
                .tags
                .get(TAG_CAPACITY)
                .and_then(|v| v.parse::<u32>().ok());
            if recorded.is_none_or(|r| r < served) {
                self.issue(
                    Command::TagAsg {
                        asg: new.name.clone(),
                        key: TAG_CAPACITY.to_string(),
                        value: served.to_string(),
                    },
                    now,
                    out,
                );
                done = false;
            }
        }
        done
    }

    /// The desired capacity the new group is brought to while traffic shifts.
    pub(super) fn new_desired(&self, new: &AsgObservation) -> u32 {
        if self.spec.is_autoscaled() && self.cp.serves_alone {
            // Its own policies decide now (a lagging read may send the rollout back a phase).
            return new
                .desired_capacity
                .clamp(self.spec.capacity.min, self.spec.capacity.max);
        }
        let goal = self.capacity_goal();
        if self.spec.is_autoscaled() && !self.cp.in_place {
            goal.max(new.desired_capacity).min(self.spec.capacity.max)
        } else {
            goal
        }
    }

    /// The serving generation's sizes once it serves alone: with `target_tracking` the desired
    /// capacity its policies chose (within `min_size..max_size`), else the configured one.
    pub(super) fn final_desired(&self, new: &AsgObservation) -> u32 {
        let cap = self.spec.capacity;
        if self.spec.is_autoscaled() {
            new.desired_capacity.clamp(cap.min, cap.max)
        } else {
            cap.desired
        }
    }

    /// The capacity a rollback brings the previous generation back to: what it served (never
    /// less than the configured capacity without `target_tracking`, as before). A group zdd
    /// never stopped scaling itself keeps the size its policies chose: raising it would fight
    /// them.
    pub(super) fn restore_goal(&self, old: &AsgObservation) -> u32 {
        let configured = self.spec.capacity.desired;
        let scaling_itself = self.scales_itself(old) && suspended_by_zdd(&old.tags).is_empty();
        match self.cp.served {
            Some(_) if self.spec.is_autoscaled() && scaling_itself => old.desired_capacity,
            Some(served) if self.spec.is_autoscaled() => served,
            Some(served) => served.max(configured),
            None => configured,
        }
    }

    /// Whether a group may change its own size: the fleet has policies, or the group does.
    pub(super) fn scales_itself(&self, asg: &AsgObservation) -> bool {
        self.spec.is_autoscaled() || !asg.scaling_policies.is_empty()
    }

    /// Stops `asg` scaling itself ([`ScalingProcess::SELF_SCALING`]). What zdd suspends is
    /// recorded in the group's `zdd:suspended` tag first, so that whoever resumes (a resumed
    /// apply, a rollback) resumes exactly that. True once observed suspended.
    pub(super) fn suspend_self_scaling(
        &mut self,
        asg: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let suspended: BTreeSet<ScalingProcess> = asg.suspended_processes.iter().copied().collect();
        let missing: BTreeSet<ScalingProcess> = ScalingProcess::SELF_SCALING
            .into_iter()
            .filter(|p| !suspended.contains(p))
            .collect();
        if missing.is_empty() {
            return true;
        }
        let recorded = suspended_by_zdd(&asg.tags);
        if !missing.is_subset(&recorded) {
            let all: BTreeSet<ScalingProcess> = recorded.union(&missing).copied().collect();
            self.issue(
                Command::TagAsg {
                    asg: asg.name.clone(),
                    key: TAG_SUSPENDED.to_string(),
                    value: process_list(&all),
                },
                now,
                out,
            );
            return false;
        }
        let processes = ScalingProcess::SELF_SCALING
            .into_iter()
            .filter(|p| missing.contains(p))
            .collect();
        self.issue(
            Command::SuspendProcesses {
                asg: asg.name.clone(),
                processes,
            },
            now,
            out,
        );
        false
    }

    /// Resumes what `asg`'s `zdd:suspended` tag says zdd suspended (never a process a person
    /// suspended), then clears the record. True once nothing zdd suspended is left.
    pub(super) fn resume_self_scaling(
        &mut self,
        asg: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let recorded = suspended_by_zdd(&asg.tags);
        if recorded.is_empty() {
            return true;
        }
        let still: BTreeSet<ScalingProcess> = asg
            .suspended_processes
            .iter()
            .copied()
            .filter(|p| recorded.contains(p))
            .collect();
        let suspend_in_flight = self
            .cp
            .pending
            .keys()
            .any(|key| key.starts_with(&format!("suspend:{}:", asg.name)));
        if still.is_empty() && suspend_in_flight {
            // A suspension this rollout issued may still land: clearing the record now would
            // leave it suspended with nothing saying zdd did it.
            out.wake_at(now + super::CONFIRM_AFTER);
            return false;
        }
        let command = if still.is_empty() {
            Command::TagAsg {
                asg: asg.name.clone(),
                key: TAG_SUSPENDED.to_string(),
                value: String::new(),
            }
        } else {
            Command::ResumeProcesses {
                asg: asg.name.clone(),
                processes: ScalingProcess::SELF_SCALING
                    .into_iter()
                    .filter(|p| still.contains(p))
                    .collect(),
            }
        };
        self.issue(command, now, out);
        false
    }

    /// The configured policies on `asg` (each put once per rollout, so a changed target value
    /// lands; then confirmed by name), and no other. True once observed so.
    pub(super) fn ensure_policies(
        &mut self,
        asg: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let mut done = true;
        let serving_group = self.new_groups().into_iter().next();
        for policy in self.spec.target_tracking.clone() {
            let key = format!("{}:{}", asg.name, policy.name);
            let observed = asg.scaling_policies.contains(&policy.name);
            if observed && self.cp.policies_put.contains(&key) {
                continue;
            }
            done = false;
            let target_group_arn = (policy.metric == PredefinedMetric::AlbRequestCountPerTarget)
                .then(|| {
                    self.spec
                        .request_count_target_group(serving_group.as_deref())
                })
                .flatten();
            self.issue(
                Command::PutScalingPolicy {
                    asg: asg.name.clone(),
                    policy,
                    target_group_arn,
                },
                now,
                out,
            );
            self.cp.policies_put.insert(key);
        }
        let wanted: Vec<&str> = self
            .spec
            .target_tracking
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let extra: Vec<String> = asg
            .scaling_policies
            .iter()
            .filter(|name| !wanted.contains(&name.as_str()))
            .cloned()
            .collect();
        done &= self.remove_policies(&asg.name, extra, now, out);
        done
    }

    /// Deletes `names` from `asg`: true when there is none to delete.
    pub(super) fn remove_policies(
        &mut self,
        asg: &str,
        names: Vec<String>,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let none = names.is_empty();
        for policy_name in names {
            self.issue(
                Command::DeleteScalingPolicy {
                    asg: asg.to_string(),
                    policy_name,
                },
                now,
                out,
            );
        }
        none
    }

    /// An autoscaled new group gets its policies only once its self-scaling is suspended: an
    /// idle group reads low CPU or no requests per target, and its policy would scale it in to
    /// `min_size` before it takes traffic.
    pub(super) fn prepare_new_group(
        &mut self,
        new: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) {
        // Once it has served alone its policies act: a lagging read that sends the rollout
        // back a phase must not suspend them again.
        if !self.spec.is_autoscaled() || self.cp.in_place || self.cp.serves_alone {
            return;
        }
        if self.suspend_self_scaling(new, now, out) {
            self.ensure_policies(new, now, out);
        }
    }

    /// The serving generation scales itself again: the configured policies on it, what zdd
    /// suspended resumed; and it has the configured health check and hooks. True once
    /// observed so.
    pub(super) fn serving_scales(
        &mut self,
        new: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        self.cp.serves_alone = true;
        let policies = self.ensure_policies(new, now, out);
        let resumed = self.resume_self_scaling(new, now, out);
        let settings = self.ensure_group_settings(new, now, out);
        policies && resumed && settings
    }
}
