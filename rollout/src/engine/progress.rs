//! Where a rollout stands, for readers (the provider's live event lines, `last_rollout`'s
//! samples): one look at AWS and the engine's own clocks turned into a
//! [`zdd_events::Progress`]. Pure and read-only: it decides nothing, and the numbers are the
//! ones the engine acts on (the same floor, the same deadlines), so a countdown a reader sees
//! ends when the engine moves on.

use zdd_events::{Generation, Progress, Role, WaitKind, Waiting};

use crate::observation::{AsgObservation, Observation, TargetState};
use crate::phase::Phase;
use crate::spec::Strategy;
use crate::time::Timestamp;

use super::groups::is_live;
use super::{Mode, Rollout};

impl Rollout {
    /// Where the rollout stands on `obs` at `now` (call it after [`Rollout::step`] on the same
    /// observation: the step starts the clocks this reads).
    ///
    /// - `generations`: the new generation's group and the old one's, as observed (a group
    ///   not observed is left out; a destroy shows the groups it removes as old).
    /// - `healthy`: instances whose targets are healthy in every target group that generation
    ///   serves from (for a canary: its own group; otherwise all of the rollout's), so a
    ///   detached generation has none.
    /// - `new_weight_percent`: the new generation's share of the canary listener as read.
    /// - `served`, `floor`: the capacity the engine follows and its floor.
    /// - `waiting`: what the phase waits for, with the time left until that wait ends at the
    ///   latest by the engine's own deadline (see [`Rollout::waiting`]).
    pub fn progress(&self, obs: &Observation, now: Timestamp) -> Progress {
        let mut generations = Vec::new();
        if self.cp.mode == Mode::Rollout
            && let Some(asg) = obs.asg(&self.new_name())
        {
            generations.push(self.generation_of(obs, asg, Role::New, self.cp.to));
        }
        let old_names: Vec<String> = match self.cp.mode {
            Mode::Rollout => self.old_name().into_iter().collect(),
            Mode::Teardown => self.retiring(),
        };
        for name in old_names {
            if let Some(asg) = obs.asg(&name) {
                let generation = asg.generation().unwrap_or_default();
                generations.push(self.generation_of(obs, asg, Role::Old, generation));
            }
        }
        let new_weight_percent = match (&self.spec.strategy, &obs.listener) {
            (Strategy::Canary(_), Some(_)) if self.cp.mode == Mode::Rollout => {
                Some(self.new_generation_percent(obs))
            }
            _ => None,
        };
        Progress {
            phase: self.phase_tag_value(),
            generations,
            new_weight_percent,
            served: self.shown_served(),
            floor: self.shown_floor(),
            waiting: self.waiting(obs, now),
        }
    }

    /// The target groups a generation serves from: for a canary the new generation's own
    /// group or the stable one; otherwise every target group of the rollout.
    fn serving_groups(&self, role: Role) -> Vec<String> {
        match (&self.spec.strategy, role) {
            (Strategy::Canary(_), Role::New) => self.new_groups(),
            (Strategy::Canary(_), Role::Old) => {
                let new = self.new_groups();
                self.all_groups()
                    .into_iter()
                    .filter(|arn| !new.contains(arn))
                    .collect()
            }
            _ => self.all_groups(),
        }
    }

    fn generation_of(
        &self,
        obs: &Observation,
        asg: &AsgObservation,
        role: Role,
        generation: u64,
    ) -> Generation {
        let groups = self.serving_groups(role);
        let state = |instance: &str, arn: &str| {
            obs.target_group(arn)
                .and_then(|g| g.health_of(instance))
                .map(|t| t.state)
        };
        let live = asg.instances.iter().filter(|i| is_live(i.lifecycle));
        let healthy = live
            .clone()
            .filter(|i| {
                !groups.is_empty()
                    && groups
                        .iter()
                        .all(|arn| state(&i.id, arn) == Some(TargetState::Healthy))
            })
            .count();
        let all = self.all_groups();
        let draining = asg
            .instances
            .iter()
            .filter(|i| {
                all.iter()
                    .any(|arn| state(&i.id, arn) == Some(TargetState::Draining))
            })
            .count();
        Generation {
            role,
            generation,
            asg: asg.name.clone(),
            desired: asg.desired_capacity,
            healthy: count(healthy),
            draining: count(draining),
            attached: asg.target_group_arns.iter().any(|arn| all.contains(arn)),
        }
    }

    /// What the current phase waits for, and until when at the latest:
    /// - a lifecycle hook holding an instance of the generation the phase waits on (time
    ///   unknown: a hook's heartbeat restarts whenever its owner records one);
    /// - health (launching, waiting for healthy, a rolling batch, a canary step's new targets,
    ///   the old generation restored): until the health window closes (`health_timeout` plus
    ///   the longest launch hook from its start), when the engine gives up;
    /// - a canary soak, once the step's weights were seen in place: until its metric window is
    ///   complete (the last period's end plus CloudWatch's publish delay; an extended soak's
    ///   longest window once extended);
    /// - a drain: until the deregistration delay (plus `drain_margin`) has passed since the
    ///   engine saw the group detached;
    /// - a bake: its start plus its duration (a canary's: until its window is complete).
    fn waiting(&self, obs: &Observation, now: Timestamp) -> Option<Waiting> {
        let left = |end: Timestamp| Some(end.since(now).as_secs());
        let timed = |what: WaitKind, end: Timestamp| {
            Some(Waiting {
                what,
                seconds_left: left(end),
            })
        };
        let health = |waited: &str, role: Role| {
            let asg = obs.asg(waited)?;
            if asg.instances.iter().any(|i| i.hook_wait) {
                return Some(Waiting {
                    what: WaitKind::Hook,
                    seconds_left: None,
                });
            }
            let generation = self.generation_of(obs, asg, role, 0);
            (generation.healthy < asg.desired_capacity.max(1))
                .then(|| timed(WaitKind::Health, self.health_deadline()))
                .flatten()
        };
        match &self.cp.phase {
            Phase::Launching | Phase::WaitingForHealthy | Phase::Rolling { .. } => {
                if self.cp.mode == Mode::Teardown {
                    return None;
                }
                let new = self.new_name();
                if obs.asg(&new).is_none() {
                    return timed(WaitKind::Health, self.health_deadline());
                }
                health(&new, Role::New)
            }
            Phase::CanaryStep { index, .. } => {
                if let Some(waiting) = health(&self.new_name(), Role::New) {
                    return Some(waiting);
                }
                let (Strategy::Canary(canary), Some(applied)) =
                    (&self.spec.strategy, self.cp.step_applied_at)
                else {
                    return None;
                };
                let soak = canary.steps.get(*index)?.soak;
                timed(WaitKind::Soak, self.soak_deadline(canary, applied, soak))
            }
            Phase::RestoringOld => {
                let old = self.old_name()?;
                health(&old, Role::Old)
            }
            Phase::DrainingOld | Phase::DrainingNew => {
                let names = if self.cp.phase == Phase::DrainingNew {
                    self.rollback_retiring()
                } else {
                    self.retiring()
                };
                let drain = self.max_drain(obs);
                let end = names
                    .iter()
                    .filter(|name| {
                        obs.asg(name)
                            .is_some_and(|a| a.instances.iter().any(|i| is_live(i.lifecycle)))
                    })
                    .filter_map(|name| self.cp.detached_seen.get(name))
                    .map(|seen| *seen + drain)
                    .max()?;
                timed(WaitKind::Drain, end)
            }
            Phase::Baking => {
                let bake = self.bake()?;
                timed(
                    WaitKind::Bake,
                    self.bake_deadline(bake, self.cp.phase_started_at),
                )
            }
            Phase::DeletingOld | Phase::DeletingNew => {
                let names = if self.cp.phase == Phase::DeletingNew {
                    self.rollback_retiring()
                } else {
                    self.retiring()
                };
                names
                    .iter()
                    .filter_map(|name| obs.asg(name))
                    .any(|a| a.instances.iter().any(|i| i.hook_wait))
                    .then_some(Waiting {
                        what: WaitKind::Hook,
                        seconds_left: None,
                    })
            }
            Phase::DetachingOld
            | Phase::DetachingNew
            | Phase::Complete
            | Phase::RolledBack
            | Phase::Failed => None,
        }
    }
}

/// A count of instances as the events carry it.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
