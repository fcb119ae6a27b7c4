//! Canary: listener weights step towards the new generation, each step soaked and gated.

use std::time::Duration;

use crate::command::Command;
use crate::observation::Observation;
use crate::phase::Phase;
use crate::spec::{Strategy, human};
use crate::time::Timestamp;

use super::commands::Out;
use super::health::GenHealth;
use super::soak::Soak;
use super::{LISTENER_SETTLE, Rollout, gate_poll};

/// What the canary gates say of a step.
pub(super) enum Gate {
    Pass,
    /// Not a verdict yet: look again then (the step neither fails nor moves on meanwhile).
    Hold(Timestamp),
    Fail(String),
}

impl Rollout {
    pub(super) fn canary_weights(&self, new_weight: u8) -> Option<(String, Vec<(String, u32)>)> {
        let Strategy::Canary(canary) = &self.spec.strategy else {
            return None;
        };
        let new_group = self.new_groups().into_iter().next()?;
        let other = if new_group == canary.stable_target_group_arn {
            canary.canary_target_group_arn.clone()
        } else {
            canary.stable_target_group_arn.clone()
        };
        let w = u32::from(new_weight);
        Some((
            canary.listener_arn.clone(),
            vec![(new_group, w), (other, 100 - w)],
        ))
    }

    /// Canary: the share of traffic (0..=100) the listener sends to the new generation's group.
    pub(super) fn new_generation_percent(&self, obs: &Observation) -> u32 {
        let new_group = self.new_groups().into_iter().next().unwrap_or_default();
        obs.listener
            .as_ref()
            .map_or(0, |l| l.percent_of(&new_group))
    }

    pub(super) fn weights_in_place(obs: &Observation, weights: &[(String, u32)]) -> bool {
        obs.listener
            .as_ref()
            .is_some_and(|l| weights.iter().all(|(group, w)| l.weight_of(group) == *w))
    }

    /// A resumed canary rollout does not know what its killed predecessor issued, nor when:
    /// it takes a weight write (and a detach) to have been issued now.
    pub(super) fn assume_weights_written(&mut self, now: Timestamp) {
        if let Strategy::Canary(_) = self.spec.strategy {
            self.cp.weights_written_at = Some(now);
            self.cp.canary_resumed_at = Some(now);
        }
    }

    /// Canary: `Some(when)` while a read may still predate the last weight write (see
    /// [`LISTENER_SETTLE`]): weights it shows in place are not taken as done before `when`.
    pub(super) fn listener_settles_at(&self, now: Timestamp) -> Option<Timestamp> {
        self.cp
            .weights_written_at
            .map(|at| at + LISTENER_SETTLE)
            .filter(|at| now < *at)
    }

    /// What the canary gates say of the current step.
    pub(super) fn canary_gate(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        index: usize,
        weight: u8,
    ) -> Gate {
        let Strategy::Canary(canary) = self.spec.strategy.clone() else {
            return Gate::Pass;
        };
        let at_step = format!("canary step {} ({weight} %)", index + 1);
        for alarm in &obs.alarms {
            if canary.alarm_names.contains(&alarm.name)
                && alarm.state == crate::observation::AlarmState::Alarm
            {
                return Gate::Fail(format!(
                    "alarm {} went into ALARM during {at_step}",
                    alarm.name
                ));
            }
        }
        let Some(new_group) = self.new_groups().into_iter().next() else {
            return Gate::Pass;
        };
        let Some(asg) = obs.asg(&self.new_name()).cloned() else {
            return Gate::Pass;
        };
        if self.cp.following {
            // Growing to follow the serving group: judged by `follow_in_canary`.
            return Gate::Pass;
        }
        let expected = self.new_desired(&asg);
        let health = self.gen_health(obs, &asg, &[new_group], expected, now);
        if health.ready() {
            return Gate::Pass;
        }
        match self.stale_initial_until(&health, now) {
            Some(until) => Gate::Hold(health.wake.map_or(until, |wake| wake.min(until))),
            None => Gate::Fail(format!("{} during {at_step}", health.problem)),
        }
    }

    /// Canary, resumed: the new targets were healthy before any weight reached them, and a
    /// registered target never returns to `initial`; but a resumed apply has not seen them
    /// healthy, and a read of target health may lag as far behind as a read of the listener
    /// ([`LISTENER_SETTLE`]), so until then targets read `initial` are not yet a verdict.
    fn stale_initial_until(&self, health: &GenHealth, now: Timestamp) -> Option<Timestamp> {
        let settles_at = self.cp.canary_resumed_at? + LISTENER_SETTLE;
        (health.only_initial && now < settles_at).then_some(settles_at)
    }

    pub(super) fn on_canary_step(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        index: usize,
        weight: u8,
        out: &mut Out,
    ) {
        let Strategy::Canary(canary) = self.spec.strategy.clone() else {
            self.goto(Phase::DetachingOld, now, String::new());
            return;
        };
        if self.cp.from.is_some() && !self.follow_in_canary(obs, now, out) {
            return;
        }
        if self.cp.from.is_some() {
            match self.canary_gate(obs, now, index, weight) {
                Gate::Pass => {}
                Gate::Hold(until) => {
                    out.wake_at(until);
                    return;
                }
                Gate::Fail(reason) => {
                    self.fail(reason, now);
                    return;
                }
            }
        }
        let Some((listener_arn, weights)) = self.canary_weights(weight) else {
            return;
        };
        // Weights only move forward: a listener already sending more to the new generation
        // got there through this rollout's own earlier steps (their soaks passed), and setting
        // this step's smaller weight would send traffic back to a stable group that may already
        // be detached (a resumed apply reads weights and attachments at different moments).
        let observed = self.new_generation_percent(obs);
        if self.cp.from.is_some()
            && observed > u32::from(weight)
            && let Some((later, step)) = canary
                .steps
                .iter()
                .enumerate()
                .rev()
                .find(|(i, s)| *i > index && u32::from(s.weight) <= observed)
        {
            self.cp.step_applied_at = None;
            self.goto(
                Phase::CanaryStep {
                    index: later,
                    weight: step.weight,
                },
                now,
                format!("the listener already sends {observed} % to the new generation"),
            );
            return;
        }
        if !Self::weights_in_place(obs, &weights) && self.cp.following {
            // More traffic only once the new generation has followed the serving group.
            out.wake_at(now + self.poll_interval(obs));
            return;
        }
        if !Self::weights_in_place(obs, &weights) {
            // No scaling fight: the old group keeps scaling while it serves most traffic, and
            // stops before the last move takes all of it away.
            if weight == 100
                && let Some(old) = self.old_name().and_then(|n| obs.asg(&n).cloned())
                && self.scales_itself(&old)
                && !self.suspend_self_scaling(&old, now, out)
            {
                return;
            }
            self.cp.step_applied_at = None;
            self.issue(
                Command::SetListenerWeights {
                    listener_arn,
                    weights,
                },
                now,
                out,
            );
            return;
        }
        let applied = *self.cp.step_applied_at.get_or_insert(now);
        let soak = if self.cp.from.is_some() {
            canary.steps.get(index).map_or(Duration::ZERO, |s| s.soak)
        } else {
            Duration::ZERO
        };
        // A soak that passed is not judged again (nor logged again) while the step waits for
        // the new generation to follow the serving group.
        if soak > Duration::ZERO && self.cp.soak_passed != Some(applied) {
            let at_step = format!("canary step {} ({weight} %)", index + 1);
            match self.judge_soak(obs, now, &canary, &at_step, applied, soak, out) {
                Soak::Passed => self.cp.soak_passed = Some(applied),
                Soak::Failed(reason) => {
                    self.fail(reason, now);
                    return;
                }
                Soak::Until(at) => {
                    // Alarms change state at most once per alarm period: read them that often.
                    let alarms = !canary.alarm_names.is_empty();
                    out.wake_at(if alarms {
                        at.min(now + gate_poll(soak))
                    } else {
                        at
                    });
                    return;
                }
            }
        }
        if self.cp.following {
            // The next weight waits until the new generation has followed the serving group.
            out.wake_at(now + self.poll_interval(obs));
            return;
        }
        self.cp.step_applied_at = None;
        match canary.steps.get(index + 1) {
            Some(next) if self.cp.from.is_some() => self.goto(
                Phase::CanaryStep {
                    index: index + 1,
                    weight: next.weight,
                },
                now,
                format!(
                    "step {} passed its gates after {}",
                    index + 1,
                    human(now.since(applied))
                ),
            ),
            _ => self.goto(
                Phase::DetachingOld,
                now,
                "the new generation receives 100 %".into(),
            ),
        }
    }
}

impl Rollout {
    /// Canary: the new generation follows a scale-out of the serving group (its desired
    /// capacity raised, its own health window) before the next weight. Alarms and the 5xx
    /// gate keep being judged meanwhile; a follow not healthy in time fails the step. False
    /// when the step ended (failed).
    fn follow_in_canary(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) -> bool {
        let Some(new) = obs.asg(&self.new_name()).cloned() else {
            return true;
        };
        self.prepare_new_group(&new, now, out);
        let want = self.new_desired(&new);
        if new.desired_capacity < want {
            self.cp.following = true;
        }
        let recorded = self.follow_serving(&new, self.spec.capacity.min, now, out);
        if !self.cp.following {
            return true;
        }
        let groups = self.new_groups();
        let health = self.gen_health(obs, &new, &groups, want, now);
        if health.ready() && recorded {
            self.cp.following = false;
            self.log(
                now,
                "phase",
                format!(
                    "{} follows the serving group: {} healthy targets",
                    new.name, health.healthy
                ),
            );
        } else if self.timed_out(now) {
            self.fail(
                format!(
                    "{} after {} (following the serving group's scale-out)",
                    health.problem,
                    human(self.spec.health_timeout)
                ),
                now,
            );
            return false;
        } else if let Some(at) = health.wake {
            out.wake_at(at);
        }
        true
    }
}
