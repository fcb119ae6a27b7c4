//! The driver loop a provider runs, here against the simulated cloud: observe → step → apply
//! commands (with faults) → advance to `next_wake`; optionally killing the controller and
//! resuming it from the observation (and a checkpoint).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::abort::{Abort, AbortReason};
use crate::command::Command;
use crate::engine::{Checkpoint, Decision, Rollout};
use crate::observation::Observation;
use crate::phase::Outcome;
use crate::sim::rng::SplitMix64;
use crate::sim::world::{START_MS, Scenario, World};
use crate::time::{HumanDuration, Timestamp};
use crate::transitions::Transition;

/// Anything that decides like the engine (the engine itself, or the naive ordering).
pub trait Controller {
    /// One decision.
    fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision;
    /// A command of the last decision failed.
    fn command_failed(&mut self, command: &Command, now: Timestamp, error: &str);
    /// What would be saved in private state.
    fn checkpoint(&self) -> Option<Checkpoint>;
    /// Aborted from outside (an interrupt); `None` if the controller cannot abort.
    fn abort(&mut self, _reason: &AbortReason, _now: Timestamp) -> Option<Abort> {
        None
    }
}

impl Controller for Rollout {
    fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        Rollout::step(self, observation, now)
    }
    fn command_failed(&mut self, command: &Command, now: Timestamp, error: &str) {
        Rollout::command_failed(self, command, now, error);
    }
    fn checkpoint(&self) -> Option<Checkpoint> {
        Some(Rollout::checkpoint(self).clone())
    }
    fn abort(&mut self, reason: &AbortReason, now: Timestamp) -> Option<Abort> {
        Some(Rollout::abort(self, reason, now))
    }
}

/// Builds a controller from an observation, the time and an optional checkpoint (at the start
/// and after every kill).
pub type ControllerFactory<'a> =
    dyn FnMut(&Observation, Timestamp, Option<Checkpoint>) -> Box<dyn Controller> + 'a;

/// When the controller process dies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kill {
    /// Step numbers (1-based) after which the process is killed. Only part of that step's
    /// commands (chosen at random) reach AWS.
    pub after_steps: Vec<usize>,
    /// Resume with the checkpoint of the killed process (as if it had been saved), instead
    /// of from the observation alone (what a killed `terraform apply` leaves).
    pub keep_checkpoint: bool,
    /// Time until the next apply starts.
    pub restart_after: Duration,
    /// Step number (1-based) after which the controller is aborted (Ctrl-C), all of that
    /// step's commands sent. It keeps stepping if the abort says so, and stops otherwise.
    pub abort_after_step: Option<usize>,
}

/// What happened in one simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub scenario: String,
    pub outcome: Option<Outcome>,
    /// From the start to the terminal decision.
    pub duration: Duration,
    pub dropped: u64,
    pub dropped_no_target: u64,
    pub dropped_in_flight: u64,
    /// Lost to injected health flaps of every target in a group (not the engine's doing).
    pub dropped_by_fault: u64,
    pub routed: u64,
    /// Broken invariants (empty when all hold).
    pub violations: Vec<String>,
    pub api_calls: u64,
    pub observations: u64,
    pub commands: u64,
    pub failed_commands: u64,
    pub steps: usize,
    pub kills: usize,
    /// What the abort of [`Kill::abort_after_step`] answered (`None`: not aborted).
    pub abort: Option<Abort>,
    /// Instance-seconds paid during the rollout.
    pub instance_seconds: u64,
    /// The most instances running at once (draining and terminating ones included).
    pub peak_instances: u64,
    /// A rollback finished (its `zdd:rolled-back` mark reached AWS). Ending in `Succeeded`
    /// anyway means the process was killed before it could report the rollback, and the next
    /// apply rightly started a fresh rollout.
    pub rollback_finished: bool,
    /// Every instance launched (time since the start, generation).
    pub launches: Vec<(Duration, u64)>,
    /// The timeline, times relative to the start.
    pub trace: Vec<String>,
    /// Every phase change the controller reported, in order (across kills and resumes).
    pub transitions: Vec<Transition>,
    /// Every phase the controller reported entering, in order (across kills and resumes).
    pub phases_entered: Vec<crate::PhaseEntered>,
    /// The scenario's scaling events: each one a group carried out, and each one lost.
    pub scaling_log: Vec<String>,
    /// Every instance observed held by a lifecycle hook: `"<id> Pending:Wait"`,
    /// `"<id> Terminating:Wait"`.
    pub hook_waits: Vec<String>,
    /// Each live group's `zdd:phase` at the end (after the terminal decision's record).
    pub final_phase_tags: BTreeMap<String, Option<String>>,
}

/// Runs the engine through a scenario.
pub fn run(scenario: &Scenario, kill: &Kill) -> Report {
    let spec = scenario.spec.clone();
    let teardown = scenario.teardown;
    run_with(
        scenario,
        &mut |observation, now, checkpoint| -> Box<dyn Controller> {
            if teardown {
                Box::new(Rollout::teardown(spec.clone(), observation, now))
            } else {
                Box::new(Rollout::resume(spec.clone(), checkpoint, observation, now))
            }
        },
        kill,
    )
}

/// Runs any controller through a scenario. `make` builds a controller from an observation,
/// the time and an optional checkpoint (at the start and after every kill).
pub fn run_with(scenario: &Scenario, make: &mut ControllerFactory<'_>, kill: &Kill) -> Report {
    let mut world = World::new(scenario);
    let mut kill_rng = SplitMix64::new(scenario.seed ^ 0x6b69_6c6c);
    let start = world.now();
    let deadline = start + scenario.max_duration;
    let first = world.observe(None);
    let mut controller = make(&first, start, None);
    let mut metrics_since = None;
    let mut trace = Vec::new();
    let mut transitions = Vec::new();
    let mut phases_entered = Vec::new();
    let mut steps = 0usize;
    let mut kills = 0usize;
    let mut outcome = None;
    let mut violations = Vec::new();
    let mut finished_at = start;
    let mut aborted = None;
    loop {
        let now = world.now();
        if now > deadline {
            violations.push(format!(
                "did not converge within {}",
                HumanDuration(scenario.max_duration)
            ));
            break;
        }
        let observation = world.observe(metrics_since);
        let decision = controller.step(&observation, now);
        steps += 1;
        for event in &decision.events {
            trace.push(format!(
                "{} {}: {}",
                relative(event.at),
                event.action,
                event.detail
            ));
        }
        transitions.extend_from_slice(&decision.transitions);
        phases_entered.extend_from_slice(&decision.phases_entered);
        metrics_since = decision.metrics_since;
        if let Some(done) = decision.outcome.clone() {
            // The final phase record goes out, as the provider's driver sends it; nothing
            // steps after it, so a failed one stays failed.
            for command in decision.commands.iter().filter(|c| c.is_informational()) {
                let _ = world.submit(command);
            }
            outcome = Some(done);
            finished_at = now;
            break;
        }
        let killed = kill.after_steps.contains(&steps);
        let delivered = if killed {
            kill_rng.range(0, decision.commands.len() as u64) as usize
        } else {
            decision.commands.len()
        };
        let mut failed = false;
        for command in &decision.commands[..delivered] {
            if let Err(error) = world.submit(command) {
                // A failed record is written again at a later step: no reason to look sooner.
                failed |= !command.is_informational();
                if !killed {
                    controller.command_failed(command, now, &error);
                }
            }
        }
        if killed {
            kills += 1;
            let saved = if kill.keep_checkpoint {
                controller.checkpoint()
            } else {
                None
            };
            trace.push(format!(
                "{} killed: {delivered} of {} commands sent",
                relative(now),
                decision.commands.len()
            ));
            world.advance_to(now + kill.restart_after.max(Duration::from_secs(1)));
            let observation = world.observe(None);
            controller = make(&observation, world.now(), saved);
            metrics_since = None;
            continue;
        }
        let mut next = decision.next_wake.max(now + Duration::from_secs(1));
        if failed {
            next = next.min(now + Duration::from_secs(2));
        }
        if kill.abort_after_step == Some(steps)
            && let Some(answer) = controller.abort(&AbortReason::Interrupted, now)
        {
            trace.push(format!("{} aborted: {answer}", relative(now)));
            let keep_stepping = answer.keep_stepping();
            aborted = Some(answer);
            if !keep_stepping {
                finished_at = now;
                break;
            }
            // A driver observes again at once after an abort.
            next = now + Duration::from_secs(1);
        }
        world.advance_to(next);
    }
    violations.extend(world.violations.iter().cloned());
    if !scenario.teardown {
        let kept = (!scenario.spec.rollback_on_failure).then_some(());
        let problems = match &outcome {
            Some(Outcome::Succeeded { generation }) => {
                world.check_converged(Some(*generation), None)
            }
            Some(Outcome::RolledBack {
                serving,
                failed_generation,
                ..
            }) => world.check_converged(*serving, kept.map(|_| *failed_generation)),
            Some(Outcome::Failed { reason }) => vec![format!("rollout ended Failed: {reason}")],
            // Stopped on purpose: an abort with nothing to roll back.
            None if aborted.as_ref().is_some_and(|a| !a.keep_stepping()) => Vec::new(),
            None => vec!["no outcome".to_string()],
        };
        violations.extend(problems.into_iter().map(|p| format!("invariant 5: {p}")));
    } else if !world.live_generations().is_empty() {
        violations.push(format!(
            "teardown left generations {:?}",
            world.live_generations()
        ));
    }
    Report {
        scenario: scenario.name.clone(),
        outcome,
        duration: finished_at.since(start),
        dropped: world.dropped(),
        dropped_no_target: world.dropped_no_target,
        dropped_in_flight: world.dropped_in_flight,
        dropped_by_fault: world.dropped_by_fault,
        routed: world.routed,
        violations,
        api_calls: world.api_calls,
        observations: world.observations,
        commands: world.commands,
        failed_commands: world.failed_commands,
        steps,
        kills,
        abort: aborted,
        instance_seconds: world.instance_ms / 1000,
        peak_instances: world.peak_instances,
        rollback_finished: world.rolled_back_mark_landed,
        launches: world.launches.clone(),
        trace,
        transitions,
        phases_entered,
        scaling_log: world.scaling_log.clone(),
        hook_waits: world
            .hook_waits
            .iter()
            .map(|(id, wait)| format!("{id} {wait}"))
            .collect(),
        final_phase_tags: world.phase_tags(),
    }
}

fn relative(at: Timestamp) -> String {
    format!(
        "+{}",
        HumanDuration(Duration::from_millis(at.0.saturating_sub(START_MS)))
    )
}
