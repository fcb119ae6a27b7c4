//! The backward path: restore the old generation, then detach, drain and delete (or keep) the
//! failed one; and aborting from outside.

use crate::abort::{Abort, AbortReason};
use crate::command::Command;
use crate::fleet::{TAG_ROLLBACK, TAG_ROLLED_BACK, suspended_by_zdd};
use crate::observation::Observation;
use crate::phase::Phase;
use crate::spec::human;
use crate::time::Timestamp;

use super::commands::{Out, truncate_tag};
use super::groups::needs_detach;
use super::{LISTENER_SETTLE, Mode, Rollout};

impl Rollout {
    /// Aborts a forward rollout from outside (an interrupt, the operation's timeout).
    ///
    /// Before the point of no return the rollout moves into the explicit rollback
    /// (`restoring_old`) with a reason naming the cause and the phase, exactly as if a gate had
    /// failed there: keep calling [`Rollout::step`] until it reports an outcome. The rollback
    /// tags the new ASG `zdd:rollback` (its first command), so a process killed meanwhile is
    /// rolled back by the next apply (invariant 6).
    ///
    /// The point of no return is `deleting_old`: once the old generation is being deleted it
    /// cannot serve again, so the answer is [`Abort::PastPointOfNoReturn`] and the rollout
    /// finishes forward. A teardown, or a scale in place of the generation that serves, has
    /// nothing to undo ([`Abort::NothingToRollBack`]).
    pub fn abort(&mut self, reason: &AbortReason, now: Timestamp) -> Abort {
        let phase = self.cp.phase.clone();
        let answer = if phase.is_terminal() {
            Abort::Finished
        } else if phase.is_rollback() {
            Abort::AlreadyRollingBack
        } else if self.cp.mode == Mode::Teardown || self.cp.in_place {
            Abort::NothingToRollBack { phase }
        } else if phase == Phase::DeletingOld || self.cp.old_delete_issued {
            Abort::PastPointOfNoReturn { phase }
        } else {
            Abort::RollingBack { from_phase: phase }
        };
        // Stopped from outside: a rollback under way ends there, it does not start again.
        self.cp.superseded = false;
        let cause = format!("rollout {reason} in phase {}", self.cp.phase);
        match &answer {
            Abort::RollingBack { .. } => self.enter_rollback("abort", cause, now),
            Abort::Finished => {}
            other => self.log(now, "abort", format!("{cause}: {other}")),
        }
        answer
    }

    pub(super) fn on_restoring_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        let reason = self.cp.failure.clone().unwrap_or_default();
        if self.cp.in_place {
            // The generation that failed to scale is the one that serves: neither tag it for
            // rollback nor delete it (a resumed apply would then roll back the only one).
            self.goto(
                Phase::RolledBack,
                now,
                format!(
                    "{} keeps serving; the size change was not completed",
                    self.new_name()
                ),
            );
            return;
        }
        // The tag must be seen before the new generation leaves the load balancer: a killed
        // apply that left it untagged and detached would be resumed as a rollout.
        let tagged = self.ensure_rollback_tag(obs, now, out);
        let Some(old_name) = self.old_name() else {
            if tagged {
                self.goto(
                    Phase::DetachingNew,
                    now,
                    "no previous generation to restore".into(),
                );
            }
            return;
        };
        let Some(old) = obs.asg(&old_name).cloned() else {
            self.cp.failure = Some(format!(
                "{reason}; and the previous generation's ASG {old_name} is gone"
            ));
            self.goto(Phase::Failed, now, "nothing left to roll back to".into());
            return;
        };
        let groups = self.old_groups();
        self.ensure_attached(&old, &groups, now, out);
        // Canary, resumed: a detach of the stable group a killed predecessor issued may still
        // land (a read showing it attached may predate it); the weights wait for it.
        let predecessor_may_land = self
            .cp
            .canary_resumed_at
            .map(|at| at + LISTENER_SETTLE)
            .filter(|at| now < *at);
        let settle_at = self.cp.settle_until.max(predecessor_may_land);
        let settled = settle_at.is_none_or(|t| now >= t);
        let detach_prefix = format!("detach:{old_name}:");
        let old_detach_in_flight = predecessor_may_land.is_some()
            || (!settled
                && self
                    .cp
                    .pending
                    .keys()
                    .any(|k| k.starts_with(&detach_prefix)));
        // Rolling: instances a scale-in retired keep draining and go; AWS launches their
        // replacements once the desired capacity is back. (A scale-in issued before the failure
        // may still land: the settle time below re-checks.)
        let desired = self.restore_goal(&old);
        if self.spec.is_autoscaled() {
            // Its configured sizes now, while zdd still holds its self-scaling: once resumed,
            // an absolute desired capacity computed from a read could undo its policy's choice.
            let cap = self.spec.capacity;
            let desired = desired.max(old.desired_capacity);
            let (min, max) = (cap.min.min(desired), cap.max.max(desired));
            if (old.min_size, old.max_size, old.desired_capacity) != (min, max, desired)
                && !suspended_by_zdd(&old.tags).is_empty()
            {
                self.ensure_capacity(&old, min, max, desired, now, out);
            }
        } else if old.desired_capacity < desired {
            self.ensure_capacity(&old, 0, old.max_size.max(desired), desired, now, out);
        }
        let health = self.gen_health(obs, &old, &groups, desired, now);
        // All traffic back to the stable group at once, as soon as the old generation can take
        // it: after an abort past `detaching_old` it is re-attached and must turn healthy
        // first, and a detach of it still in flight could land after the weights moved.
        let weights_ok =
            health.ready() && !old_detach_in_flight && self.ensure_rollback_weights(obs, now, out);
        if health.ready() && !settled {
            out.wake_at(settle_at.unwrap_or(now));
        } else if health.ready() && weights_ok {
            if !tagged {
                return; // the tag's confirmation wakes the rollout
            }
            // Restored and serving again: its policies act again (what zdd suspended on it is
            // resumed). Before its traffic is back, an idle group's policy would scale it in.
            self.resume_self_scaling(&old, now, out);
            self.goto(
                Phase::DetachingNew,
                now,
                format!(
                    "{old_name} serves again with {} healthy targets",
                    health.healthy
                ),
            );
        } else if health.ready()
            && self.rollback_weights_seen(obs)
            && let Some(at) = self.listener_settles_at(now)
        {
            // Only waiting for a read that cannot predate the weight write: not stuck.
            out.wake_at(at);
        } else if self.timed_out(now) {
            self.cp.failure = Some(format!(
                "{reason}; rollback stuck: {} after {}",
                health.problem.replace("new ", "old "),
                human(self.spec.health_timeout)
            ));
            self.goto(
                Phase::Failed,
                now,
                "the previous generation did not become healthy again".into(),
            );
        } else if let Some(at) = health.wake {
            out.wake_at(at);
        }
    }

    /// Every rollback phase keeps the failed generation tagged `zdd:rollback` (a tag that
    /// failed or has not landed yet is issued again), so that a resumed apply continues the
    /// rollback rather than the rollout. True once the tag is observed (or there is no group).
    pub(super) fn ensure_rollback_tag(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let Some(new) = obs.asg(&self.new_name()) else {
            return true;
        };
        if new.rollback_reason().is_some() {
            return true;
        }
        let reason = self.cp.failure.clone().unwrap_or_default();
        self.issue(
            Command::TagAsg {
                asg: new.name.clone(),
                key: TAG_ROLLBACK.to_string(),
                value: truncate_tag(&reason),
            },
            now,
            out,
        );
        false
    }

    /// Canary rollback: every phase re-checks that the stable group has all the weight (a
    /// forward weight change may land late). True when in place on a read that cannot
    /// predate the last weight write (or not a canary): these are the weights from before the
    /// rollout, so a lagging read shows them while the canary group still gets traffic.
    pub(super) fn ensure_rollback_weights(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        if self.cp.from.is_none() {
            return true;
        }
        match self.canary_weights(0) {
            Some((listener_arn, weights)) if !Self::weights_in_place(obs, &weights) => {
                // Written at once whatever the read's age: all traffic to the stable group is
                // where a rollback goes.
                self.issue(
                    Command::SetListenerWeights {
                        listener_arn,
                        weights,
                    },
                    now,
                    out,
                );
                false
            }
            Some(_) => match self.listener_settles_at(now) {
                Some(at) => {
                    out.wake_at(at);
                    false
                }
                None => true,
            },
            None => true,
        }
    }

    /// Canary rollback: a read shows all traffic going to the stable group (it may lag).
    fn rollback_weights_seen(&self, obs: &Observation) -> bool {
        self.canary_weights(0)
            .is_some_and(|(_, weights)| Self::weights_in_place(obs, &weights))
    }

    /// Names of the ASGs a rollback removes: the failed generation and any leftovers.
    pub(super) fn rollback_retiring(&self) -> Vec<String> {
        let mut names = vec![self.new_name()];
        names.extend(self.cp.leftovers.iter().map(|g| self.spec.asg_name(*g)));
        names
    }

    pub(super) fn on_detaching_new(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        self.ensure_rollback_tag(obs, now, out);
        // Resumed here, or a forward write landed after `restoring_old` saw the weights: the
        // canary group leaves only once the stable one has all the traffic.
        let weights_ok = self.ensure_rollback_weights(obs, now, out);
        if !weights_ok && self.any_attached(&self.rollback_retiring(), obs) {
            return;
        }
        if self.detach_all(self.rollback_retiring(), obs, now, out) {
            let detail = self.drain_detail(obs, &self.rollback_retiring());
            self.goto(Phase::DrainingNew, now, detail);
        }
    }

    pub(super) fn on_deleting_new(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        let tagged = self.ensure_rollback_tag(obs, now, out);
        if !self.ensure_rollback_weights(obs, now, out) || !tagged {
            return;
        }
        let new_name = self.new_name();
        let mut remaining = false;
        for name in self.rollback_retiring() {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            if needs_detach(&asg) || self.still_in_load_balancer(obs, &asg) {
                self.goto(
                    Phase::DetachingNew,
                    now,
                    format!("{name} still has targets in the load balancer"),
                );
                return;
            }
            if name == new_name && !self.spec.rollback_on_failure {
                // Kept, detached, for inspection, without policies (they belong to the
                // serving generation only); marked so that the next apply knows the rollback
                // finished (rather than continuing it).
                if !self.remove_policies(&name, asg.scaling_policies.clone(), now, out) {
                    remaining = true;
                    continue;
                }
                if !asg.is_kept_after_rollback() {
                    remaining = true;
                    self.issue(
                        Command::TagAsg {
                            asg: name,
                            key: TAG_ROLLED_BACK.to_string(),
                            value: "true".to_string(),
                        },
                        now,
                        out,
                    );
                }
                continue;
            }
            remaining = true;
            self.delete_retiring(obs, &asg, now, out);
        }
        if remaining {
            return;
        }
        // Old generation back to its configured sizes.
        if let Some(old) = self.old_name().and_then(|n| obs.asg(&n).cloned()) {
            let cap = self.spec.capacity;
            let desired = self.final_desired(&old);
            // A group scaling itself again keeps what its policies chose: its sizes were set
            // while it was still held (restoring), and only a configured range that excludes
            // its capacity moves it.
            let own_choice = self.spec.is_autoscaled()
                && old.desired_capacity == desired
                && suspended_by_zdd(&old.tags).is_empty()
                && old.min_size <= desired
                && desired <= old.max_size;
            if !own_choice
                && (old.min_size, old.max_size, old.desired_capacity) != (cap.min, cap.max, desired)
            {
                self.ensure_capacity(&old, cap.min, cap.max, desired, now, out);
                return;
            }
            if !self.resume_self_scaling(&old, now, out) {
                return;
            }
        }
        let serving = self.old_name().unwrap_or_else(|| "nothing".into());
        self.goto(Phase::RolledBack, now, format!("{serving} serves 100 %"));
    }
}
