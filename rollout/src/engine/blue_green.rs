//! The forward path every strategy starts and ends on (for blue/green it is the whole path):
//! launch the new generation, wait until the load balancer reports it healthy, then detach,
//! drain and delete the old one.

use crate::command::Command;
use crate::observation::Observation;
use crate::phase::Phase;
use crate::spec::{Strategy, human};
use crate::time::Timestamp;

use super::commands::Out;
use super::groups::{is_live, needs_detach};
use super::{Mode, Rollout};

impl Rollout {
    pub(super) fn on_launching(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        if self.cp.mode == Mode::Teardown {
            self.goto(Phase::DetachingOld, now, String::new());
            return;
        }
        let name = self.new_name();
        if obs.asg(&name).is_none() {
            if self.timed_out(now) {
                self.fail(
                    format!(
                        "the new ASG {name} was not observed within {} of creating it",
                        human(self.spec.health_timeout)
                    ),
                    now,
                );
                return;
            }
            let first = self.first_rolling_batch(obs);
            if first == Some(0)
                && let Some(reason) = self.rolling_without_room(obs)
            {
                self.fail(reason, now);
                return;
            }
            let command = match first {
                Some(first) => {
                    self.cp.rolling_target = first;
                    self.cp.batch_launched_at.get_or_insert(now);
                    self.create_command(first, 0)
                }
                None => self.create_command(self.capacity_goal(), self.spec.capacity.min),
            };
            // Its instances cannot be healthy sooner: no point confirming the creation first.
            let look_at = now + self.time_to_healthy(obs, &self.new_groups());
            self.issue_expecting(command, now, look_at, out);
            return;
        }
        // The health timeout counts from the creation (this look may come up to interval ×
        // threshold after it), or from now for a group found already there.
        let created = self
            .cp
            .pending
            .get(&self.create_command(0, 0).key())
            .copied()
            .unwrap_or(now);
        self.cp.health_clock = created.min(now);
        if self.is_rolling() && self.cp.from.is_some() {
            // Created with the first batch already (see `first_rolling_batch`).
            let first = self.cp.rolling_target;
            let batch = u32::from(first > 0);
            let detail = if first > 0 {
                format!("{first} of {} new instances", self.capacity_goal())
            } else {
                String::new()
            };
            self.goto(Phase::Rolling { batch }, now, detail);
        } else {
            self.goto(
                Phase::WaitingForHealthy,
                now,
                format!(
                    "waiting for the load balancer to report {} new targets healthy",
                    self.capacity_goal()
                ),
            );
        }
    }

    pub(super) fn on_waiting_for_healthy(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        out: &mut Out,
    ) {
        let name = self.new_name();
        let Some(asg) = obs.asg(&name).cloned() else {
            self.goto(Phase::Launching, now, format!("{name} not observed"));
            return;
        };
        if self.is_rolling() && self.cp.from.is_some() {
            self.goto(Phase::Rolling { batch: 0 }, now, String::new());
            return;
        }
        let groups = self.new_groups();
        self.ensure_attached(&asg, &groups, now, out);
        self.prepare_new_group(&asg, now, out);
        let recorded = self.follow_serving(&asg, self.spec.capacity.min, now, out);
        let expected = self.new_desired(&asg);
        let health = self.gen_health(obs, &asg, &groups, expected, now);
        if health.ready() && !recorded {
            // The record's confirmation wakes the rollout.
        } else if health.ready() {
            match &self.spec.strategy {
                Strategy::Canary(canary) => {
                    let index = if self.cp.from.is_some() {
                        0
                    } else {
                        canary.steps.len() - 1
                    };
                    let weight = if self.cp.from.is_some() {
                        canary.steps[0].weight
                    } else {
                        100
                    };
                    self.cp.step_applied_at = None;
                    self.cp.canary_started_at = Some(now);
                    self.goto(
                        Phase::CanaryStep { index, weight },
                        now,
                        format!("all {} new targets healthy", health.healthy),
                    );
                }
                _ => self.goto(
                    Phase::DetachingOld,
                    now,
                    format!("all {} new targets healthy", health.healthy),
                ),
            }
        } else if self.timed_out(now) {
            self.fail(
                format!(
                    "{} after {}",
                    health.problem,
                    human(self.spec.health_timeout)
                ),
                now,
            );
        } else if let Some(at) = health.wake {
            out.wake_at(at);
        }
    }

    pub(super) fn on_detaching_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        if self.cp.mode == Mode::Rollout {
            // Invariant 2, re-checked here because a resumed rollout may enter at this phase.
            let Some(new) = obs.asg(&self.new_name()).cloned() else {
                self.goto(
                    Phase::Launching,
                    now,
                    format!("{} not observed", self.new_name()),
                );
                return;
            };
            let groups = self.new_groups();
            let expected = self.new_desired(&new);
            let health = self.gen_health(obs, &new, &groups, expected, now);
            if !health.ready() {
                let back = if self.is_rolling() && self.cp.from.is_some() {
                    Phase::Rolling { batch: 0 }
                } else {
                    Phase::WaitingForHealthy
                };
                self.goto(
                    back,
                    now,
                    format!("not every new target is healthy: {}", health.problem),
                );
                return;
            }
            if let Some((_, weights)) = self.canary_weights(100)
                && !Self::weights_in_place(obs, &weights)
            {
                if let Strategy::Canary(canary) = &self.spec.strategy {
                    let index = canary.steps.len() - 1;
                    self.goto(
                        Phase::CanaryStep { index, weight: 100 },
                        now,
                        "listener weights are not at 100 %".into(),
                    );
                }
                return;
            }
            // The stable group leaves only once a read made long enough after the last weight
            // write shows 100 %: an earlier one may predate a step's write still landing.
            if self.canary_weights(100).is_some()
                && self.any_attached(&self.retiring(), obs)
                && let Some(at) = self.listener_settles_at(now)
            {
                out.wake_at(at);
                return;
            }
        }
        if self.detach_all(self.retiring(), obs, now, out) {
            let detail = self.drain_detail(obs, &self.retiring());
            self.goto(Phase::DrainingOld, now, detail);
        }
    }

    /// Whether any of `names` is still attached to a target group (its detach still to come).
    pub(super) fn any_attached(&self, names: &[String], obs: &Observation) -> bool {
        names
            .iter()
            .filter_map(|name| obs.asg(name))
            .any(needs_detach)
    }

    /// Detaches each of `names` from its target groups; true once none is attached any more
    /// (the old generation going forward, the new one in a rollback: the same step).
    pub(super) fn detach_all(
        &mut self,
        names: Vec<String>,
        obs: &Observation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let mut all_detached = true;
        for name in names {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            if needs_detach(&asg) {
                all_detached = false;
                // No scaling fight: a group losing its traffic stops scaling itself first.
                if self.scales_itself(&asg) && !self.suspend_self_scaling(&asg, now, out) {
                    continue;
                }
                self.issue(
                    Command::DetachTargetGroups {
                        asg: name,
                        target_group_arns: asg.target_group_arns.clone(),
                    },
                    now,
                    out,
                );
            } else {
                self.cp.detached_seen.entry(name).or_insert(now);
            }
        }
        all_detached
    }

    /// What the drain phase waits for, for the timeline.
    pub(super) fn drain_detail(&self, obs: &Observation, names: &[String]) -> String {
        let with_instances = names
            .iter()
            .filter_map(|n| obs.asg(n))
            .any(|a| a.instances.iter().any(|i| is_live(i.lifecycle)));
        if with_instances {
            format!(
                "waiting out the deregistration delay ({})",
                human(self.max_drain(obs))
            )
        } else {
            "no instance left to drain".to_string()
        }
    }

    /// Shared by `DrainingOld` (retiring generations) and `DrainingNew` (the failed one).
    pub(super) fn on_draining(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        new: bool,
        out: &mut Out,
    ) {
        let names = if new {
            self.rollback_retiring()
        } else {
            self.retiring()
        };
        if new {
            self.ensure_rollback_tag(obs, now, out);
        } else if self.cp.mode == Mode::Rollout
            && let Some(serving) = obs.asg(&self.new_name()).cloned()
        {
            // It serves everything now: its policies act again.
            self.serving_scales(&serving, now, out);
        }
        let drain = self.max_drain(obs);
        let poll = self.poll_interval(obs);
        let mut done = true;
        for name in names {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            if needs_detach(&asg) {
                // Attached again (or the detach was never seen): back to detaching.
                let phase = if new {
                    Phase::DetachingNew
                } else {
                    Phase::DetachingOld
                };
                self.goto(
                    phase,
                    now,
                    format!("{name} is attached to a target group again"),
                );
                return;
            }
            let seen = *self.cp.detached_seen.entry(name.clone()).or_insert(now);
            let has_instances = asg.instances.iter().any(|i| is_live(i.lifecycle));
            if self.still_in_load_balancer(obs, &asg) {
                done = false;
                out.wake_at((seen + drain).max(now + poll));
            } else if has_instances && now < seen + drain {
                done = false;
                out.wake_at(seen + drain);
            }
        }
        if done {
            let (phase, detail) = if new {
                (Phase::DeletingNew, String::new())
            } else if let Some(detail) = self.bake_detail(obs) {
                (Phase::Baking, detail)
            } else {
                (Phase::DeletingOld, String::new())
            };
            self.goto(phase, now, detail);
        }
    }

    pub(super) fn on_deleting_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        // The new generation's final sizes (rolling ran it from min 0) go out with the delete.
        let cap = self.spec.capacity;
        if self.cp.mode == Mode::Rollout
            && let Some(new) = obs.asg(&self.new_name()).cloned()
            && new.desired_capacity == self.final_desired(&new)
        {
            self.ensure_capacity(&new, cap.min, cap.max, new.desired_capacity, now, out);
        }
        let mut remaining = false;
        for name in self.retiring() {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            remaining = true;
            // Once a delete is out, detaching again cannot help: it is re-issued until done.
            if !self.cp.old_delete_issued
                && (needs_detach(&asg) || self.still_in_load_balancer(obs, &asg))
            {
                self.goto(
                    Phase::DetachingOld,
                    now,
                    format!("{name} still has targets in the load balancer"),
                );
                return;
            }
            if !asg.is_deleting() {
                self.cp.old_delete_issued = true;
            }
            self.delete_retiring(obs, &asg, now, out);
        }
        if remaining {
            return;
        }
        if self.cp.mode == Mode::Teardown {
            self.goto(Phase::Complete, now, "every generation deleted".into());
            return;
        }
        let Some(new) = obs.asg(&self.new_name()).cloned() else {
            self.goto(
                Phase::Launching,
                now,
                format!("{} not observed", self.new_name()),
            );
            return;
        };
        let desired = self.final_desired(&new);
        if (new.min_size, new.max_size, new.desired_capacity) != (cap.min, cap.max, desired) {
            // Without target_tracking a requested scale-in happens here, in place, after the
            // shift (AWS drains the instances it retires).
            self.ensure_capacity(&new, cap.min, cap.max, desired, now, out);
            return;
        }
        if !self.serving_scales(&new, now, out) {
            return;
        }
        self.goto(
            Phase::Complete,
            now,
            format!("{} serves 100 % ({})", new.name, self.spec.launch_template),
        );
    }
}
