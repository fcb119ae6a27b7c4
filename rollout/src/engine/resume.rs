//! Starting, resuming and tearing down: a rollout rebuilt from what AWS shows (read with
//! [`crate::fleet`]) and an optional checkpoint.

use crate::fleet::{self, FleetReading, FleetState};
use crate::observation::{AsgObservation, Observation};
use crate::phase::{Event, Phase};
use crate::spec::{RolloutSpec, Strategy};
use crate::time::Timestamp;

use super::checkpoint::Checkpoint;
use super::{Mode, Rollout};

/// A copy of the observation with every group's targets sorted by id, for `Lookup` (in `groups`).
///
/// Groups of another owner are dropped: the engine never looks at, changes or deletes them
/// (the provider refuses to roll out beside them; a teardown leaves them alone).
pub(super) fn sorted_targets(spec: &RolloutSpec, observation: &Observation) -> Observation {
    let mut sorted = observation.clone();
    sorted.asgs.retain(|asg| spec.owner.owns(asg));
    for group in &mut sorted.target_groups {
        group.targets.sort_by(|a, b| a.id.cmp(&b.id));
    }
    sorted
}

pub(super) fn observed_generations<'a>(
    spec: &RolloutSpec,
    obs: &'a Observation,
) -> Vec<(u64, &'a AsgObservation)> {
    fleet::generations(&spec.name, &spec.owner, &obs.asgs)
}

pub(super) fn checkpoint_fits(cp: &Checkpoint, generations: &[(u64, &AsgObservation)]) -> bool {
    if cp.phase.is_terminal() || cp.mode != Mode::Rollout {
        return false;
    }
    let known: Vec<u64> = cp
        .from
        .into_iter()
        .chain([cp.to])
        .chain(cp.leftovers.iter().copied())
        .collect();
    let all_known = generations.iter().all(|(g, _)| known.contains(g));
    let to_seen = generations.iter().any(|(g, _)| *g == cp.to);
    all_known && (to_seen || matches!(cp.phase, Phase::Launching) || cp.phase.is_rollback())
}

/// A checkpoint of a forward rollout (or a scale in place) whose generation runs another
/// configuration than the one being applied: it is not continued (the configuration changed
/// between an interrupted apply and this one); resume decides from AWS instead.
pub(super) fn checkpoint_superseded(
    cp: &Checkpoint,
    generations: &[(u64, &AsgObservation)],
    spec: &RolloutSpec,
) -> bool {
    !cp.phase.is_rollback()
        && generations
            .iter()
            .any(|(g, asg)| *g == cp.to && !matches_spec(asg, spec))
}

pub(super) fn matches_spec(asg: &AsgObservation, spec: &RolloutSpec) -> bool {
    let mut observed = asg.subnet_ids.clone();
    observed.sort();
    let mut wanted = spec.subnet_ids.clone();
    wanted.sort();
    // The health check settings and lifecycle hooks are not compared: AWS applies them to a
    // live group, so the in-place run sets them on the serving group (`ensure_group_settings`)
    // and a change of them alone needs no new generation.
    asg.launch_template.as_ref() == Some(&spec.launch_template) && observed == wanted
}

impl Rollout {
    /// Starts (or resumes) a rollout of `spec`: same as [`Rollout::resume`] without checkpoint.
    pub fn start(spec: RolloutSpec, observation: &Observation, now: Timestamp) -> Rollout {
        Rollout::resume(spec, None, observation, now)
    }

    /// Rebuilds a rollout from what AWS shows (ASGs tagged `zdd:rollout`/`zdd:generation`,
    /// `zdd:rollback`, their target groups, listener weights) and an optional checkpoint.
    ///
    /// - no ASG: first deployment of generation 1;
    /// - one ASG matching the spec: verify it is healthy at the desired size (scale in place);
    /// - one ASG not matching: a new rollout to the next generation;
    /// - a newest generation tagged `zdd:rollback`: continue the rollback;
    /// - a newest generation matching the spec: continue forward from the phase the
    ///   attachments and weights show;
    /// - a newest generation not matching the spec (the configuration changed while a rollout
    ///   was interrupted): roll it back, then start again towards the spec (a checkpoint
    ///   whose forward rollout targets such a generation is not continued either).
    pub fn resume(
        spec: RolloutSpec,
        checkpoint: Option<Checkpoint>,
        observation: &Observation,
        now: Timestamp,
    ) -> Rollout {
        let sorted = sorted_targets(&spec, observation);
        let observation = &sorted;
        let generations = observed_generations(&spec, observation);
        if let Some(cp) = checkpoint
            && checkpoint_fits(&cp, &generations)
            && !checkpoint_superseded(&cp, &generations, &spec)
        {
            let reported = cp.timeline.len();
            let mut rollout = Rollout {
                spec,
                cp,
                reported,
                transitions: Vec::new(),
                phases_entered: Vec::new(),
            };
            rollout.cp.pending.clear();
            // A resumed apply gets a fresh health window.
            rollout.cp.health_clock = now;
            rollout.log(
                now,
                "resume",
                format!("resumed from checkpoint in phase {}", rollout.cp.phase),
            );
            rollout.apply_observed_rollback(observation, now);
            rollout.assume_weights_written(now);
            return rollout;
        }
        let mut rollout = Rollout {
            cp: Checkpoint::fresh(now),
            spec,
            reported: 0,
            transitions: Vec::new(),
            phases_entered: Vec::new(),
        };
        rollout.derive_from_observation(observation, &generations, now);
        rollout.assume_weights_written(now);
        rollout
    }

    /// A teardown (destroy) of every generation: detach, wait out the drain, delete.
    pub fn teardown(spec: RolloutSpec, observation: &Observation, now: Timestamp) -> Rollout {
        let mut rollout = Rollout::start(spec, observation, now);
        let generations = observed_generations(&rollout.spec, observation);
        let cp = &mut rollout.cp;
        cp.mode = Mode::Teardown;
        cp.from = None;
        cp.to = 0;
        cp.leftovers = generations.iter().map(|(g, _)| *g).collect();
        cp.timeline.clear();
        // The rollout `start` derived is replaced, not continued.
        rollout.transitions.clear();
        rollout.phases_entered.clear();
        rollout.enter_phase(Phase::DetachingOld, now);
        rollout.describe_entered(
            now,
            format!(
                "teardown of {} generation(s): detaching_old",
                rollout.cp.leftovers.len()
            ),
        );
        rollout
    }

    /// Continues from a saved checkpoint without looking at AWS first (the next step checks).
    pub fn from_checkpoint(spec: RolloutSpec, checkpoint: Checkpoint) -> Rollout {
        let reported = checkpoint.timeline.len();
        Rollout {
            spec,
            cp: checkpoint,
            reported,
            transitions: Vec::new(),
            phases_entered: Vec::new(),
        }
    }

    pub(super) fn apply_observed_rollback(&mut self, obs: &Observation, now: Timestamp) {
        if self.cp.phase.is_rollback() || self.cp.mode == Mode::Teardown {
            return;
        }
        if let Some(reason) = obs
            .asg(&self.new_name())
            .and_then(|a| a.rollback_reason())
            .map(str::to_string)
        {
            self.cp.failure = Some(reason);
            self.cp.health_clock = now;
            self.goto(
                Phase::RestoringOld,
                now,
                "the new generation is tagged zdd:rollback: continuing the rollback".into(),
            );
        }
    }

    pub(super) fn derive_from_observation(
        &mut self,
        obs: &Observation,
        generations: &[(u64, &AsgObservation)],
        now: Timestamp,
    ) {
        let reading = FleetReading::of(generations.iter().map(|(g, asg)| (*g, &asg.tags)));
        let max_generation = reading.newest();
        let leftovers_of = |skip: &[u64]| -> Vec<u64> {
            generations
                .iter()
                .map(|(g, _)| *g)
                .filter(|g| !skip.contains(g))
                .collect()
        };
        let asg_of = |generation: u64| {
            generations
                .iter()
                .find(|(g, _)| *g == generation)
                .map(|(_, asg)| *asg)
        };
        match reading.state {
            FleetState::Empty => {
                self.enter_phase(Phase::Launching, now);
                self.cp.to = max_generation + 1;
                self.cp.leftovers = leftovers_of(&[]);
                self.describe_entered(
                    now,
                    format!("launching: first deployment of generation {}", self.cp.to),
                );
            }
            FleetState::RollingBack {
                failed: top,
                restoring: from,
                reason,
            } => {
                self.cp.to = top;
                self.cp.from = from;
                self.cp.leftovers =
                    leftovers_of(&[Some(top), from].into_iter().flatten().collect::<Vec<_>>());
                self.cp.failure = Some(reason);
                self.enter_phase(Phase::RestoringOld, now);
                self.set_stable_group(obs);
                self.log(
                    now,
                    "resume",
                    format!("generation {top} is tagged zdd:rollback: continuing the rollback"),
                );
            }
            FleetState::Settled { serving: only } => {
                self.enter_phase(Phase::Launching, now);
                if asg_of(only).is_some_and(|asg| matches_spec(asg, &self.spec)) {
                    self.cp.to = only;
                    self.cp.in_place = true;
                    self.cp.leftovers = leftovers_of(&[only]);
                    self.describe_entered(now, format!("launching: generation {only} already runs {}: checking size and health", self.spec.launch_template));
                } else {
                    self.cp.from = Some(only);
                    self.cp.to = max_generation + 1;
                    self.cp.leftovers = leftovers_of(&[only]);
                    self.set_stable_group(obs);
                    self.describe_entered(
                        now,
                        format!(
                            "launching: {} generation {} → {} ({})",
                            self.spec.strategy_name(),
                            only,
                            self.cp.to,
                            self.spec.launch_template
                        ),
                    );
                }
            }
            FleetState::Interrupted {
                from: prev,
                to: top,
            } => {
                self.cp.to = top;
                self.cp.from = Some(prev);
                self.cp.leftovers = leftovers_of(&[top, prev]);
                self.set_stable_group(obs);
                if !asg_of(top).is_some_and(|asg| matches_spec(asg, &self.spec)) {
                    self.cp.superseded = true;
                    self.cp.failure = Some(format!(
                        "an interrupted rollout to generation {top} does not match the configuration ({}): rolling it back before starting again",
                        self.spec.launch_template
                    ));
                    self.enter_phase(Phase::RestoringOld, now);
                    self.log(now, "resume", self.cp.failure.clone().unwrap_or_default());
                    return;
                }
                let old_name = self.spec.asg_name(prev);
                // Sized to 0/0/0: retired past its termination hook, on the way to its delete.
                let old_detached = obs.asg(&old_name).is_some_and(|a| {
                    a.target_group_arns.is_empty()
                        || (a.min_size, a.max_size, a.desired_capacity) == (0, 0, 0)
                });
                let phase = if old_detached {
                    Phase::DrainingOld
                } else {
                    match &self.spec.strategy {
                        Strategy::BlueGreen { .. } => Phase::WaitingForHealthy,
                        Strategy::Rolling { .. } => Phase::Rolling { batch: 0 },
                        Strategy::Canary(canary) => {
                            let observed = self.new_generation_percent(obs);
                            match canary
                                .steps
                                .iter()
                                .enumerate()
                                .rev()
                                .find(|(_, s)| u32::from(s.weight) <= observed)
                            {
                                Some((index, s)) => {
                                    self.cp.canary_started_at = Some(now);
                                    // It may have been growing to follow the serving group
                                    // when the apply stopped: health at its size is waited
                                    // for (within a health window) before the next weight.
                                    self.cp.following = self.spec.is_autoscaled();
                                    Phase::CanaryStep {
                                        index,
                                        weight: s.weight,
                                    }
                                }
                                None => Phase::WaitingForHealthy,
                            }
                        }
                    }
                };
                self.enter_phase(phase, now);
                self.log(
                    now,
                    "resume",
                    format!(
                        "continuing generation {prev} → {top} in phase {}",
                        self.cp.phase
                    ),
                );
            }
        }
    }

    /// The interrupted rollout the configuration no longer asks for is rolled back: start
    /// again, from what AWS shows now, towards the configuration being applied (one apply
    /// converges to it), keeping the timeline.
    pub(super) fn restart_towards_spec(&mut self, obs: &Observation, now: Timestamp) {
        let superseded = self.cp.to;
        let mut fresh = Rollout::resume(self.spec.clone(), None, obs, now);
        if !fresh.cp.in_place && fresh.cp.to <= superseded {
            // A lagging read may still show the deleted group: never reuse its name.
            fresh.cp.to = superseded + 1;
        }
        let mut timeline = std::mem::take(&mut self.cp.timeline);
        timeline.push(Event {
            at: now,
            action: "resume".into(),
            detail: format!(
                "generation {superseded} rolled back; rolling out the configuration being applied ({})",
                self.spec.launch_template
            ),
        });
        timeline.append(&mut fresh.cp.timeline);
        fresh.cp.timeline = timeline;
        fresh.cp.started_at = self.cp.started_at;
        fresh.reported = self.reported;
        let mut transitions = std::mem::take(&mut self.transitions);
        transitions.append(&mut fresh.transitions);
        fresh.transitions = transitions;
        let mut entered = std::mem::take(&mut self.phases_entered);
        entered.append(&mut fresh.phases_entered);
        fresh.phases_entered = entered;
        *self = fresh;
    }

    /// Canary: the old generation serves from the group it is attached to (or, failing that,
    /// the one with the larger listener weight).
    pub(super) fn set_stable_group(&mut self, obs: &Observation) {
        let Strategy::Canary(canary) = &self.spec.strategy else {
            return;
        };
        let both = [
            canary.stable_target_group_arn.clone(),
            canary.canary_target_group_arn.clone(),
        ];
        let from_attachment = self.old_name().and_then(|n| obs.asg(&n)).and_then(|a| {
            both.iter()
                .find(|g| a.target_group_arns.contains(g))
                .cloned()
        });
        let from_weights = obs.listener.as_ref().and_then(|l| {
            let (a, b) = (l.weight_of(&both[0]), l.weight_of(&both[1]));
            match (a, b) {
                (0, 0) => None,
                _ if b > a => Some(both[1].clone()),
                _ => Some(both[0].clone()),
            }
        });
        self.cp.stable_target_group = Some(
            from_attachment
                .or(from_weights)
                .unwrap_or_else(|| both[0].clone()),
        );
    }
}
