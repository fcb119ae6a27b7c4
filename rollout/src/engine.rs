//! The decision function: `step(rollout, observation, now) -> Decision`.
//!
//! The engine is level-triggered: in every phase it compares what the phase needs with what it
//! observes and (re)issues the commands for the difference. A command that failed, landed late
//! or was lost in a crash is simply issued again after [`RETRY_AFTER`]; a phase advances only
//! on what the load balancer and Auto Scaling report, never on a command's success.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::abort::{Abort, AbortReason};
use crate::command::Command;
use crate::fleet::{
    self, FleetReading, FleetState, TAG_GENERATION, TAG_OWNER, TAG_ROLLBACK, TAG_ROLLED_BACK,
    TAG_ROLLOUT,
};
use crate::observation::{
    AsgObservation, LifecycleState, Observation, TargetGroupObservation, TargetObservation,
    TargetState,
};
use crate::phase::{Event, Outcome, Phase};
use crate::spec::{RolloutSpec, Strategy, human};
use crate::time::Timestamp;
use crate::transitions::{self, ForbiddenTransition, PhaseKind, Transition};

/// A command whose effect is not observed after this long is issued again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);
/// After issuing commands, look again this soon to see them take effect.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(1);
/// An effect not observed yet is looked for again this long after the command (eventual
/// consistency usually settles within a second or two, sometimes much later), and then at
/// [`RETRY_AFTER`], when the command is issued again.
const CONFIRM_BACKOFF: [Duration; 4] = [
    CONFIRM_AFTER,
    Duration::from_secs(3),
    Duration::from_secs(7),
    Duration::from_secs(15),
];
/// The longest pause between two reads of the canary gates during a soak: the standard
/// CloudWatch alarm period (a standard alarm cannot change state faster).
pub const GATE_POLL: Duration = Duration::from_secs(60);
/// The shortest: the period of a high-resolution alarm (reading faster sees nothing new).
pub const GATE_POLL_MIN: Duration = Duration::from_secs(10);

/// How often the gates are read during a soak of `soak`: five reads per soak, between
/// [`GATE_POLL_MIN`] and [`GATE_POLL`], so a firing alarm in a short soak is acted on within a
/// fifth of it rather than a whole minute later.
pub fn gate_poll(soak: Duration) -> Duration {
    (soak / 5).clamp(GATE_POLL_MIN, GATE_POLL)
}
/// Poll interval when no target group reports its health-check interval.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// The 5xx ratio gate needs at least this many requests before it judges.
pub const MIN_REQUESTS_FOR_RATIO: u64 = 50;
/// Phase changes allowed within one step (a step may pass several phases on one observation).
const MAX_TRANSITIONS_PER_STEP: usize = 12;

/// What the rollout is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Replace the serving generation with a new one (or create the first, or scale in place).
    Rollout,
    /// Destroy: detach, drain and delete every generation.
    Teardown,
}

/// Everything the engine remembers between steps: serialize it into the resource's private
/// state. Resuming works without it too (from AWS tags, attachments and weights); with it the
/// timeline and drain clocks survive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub mode: Mode,
    /// The last good generation (serving when the rollout started), `None` on first deployment.
    pub from: Option<u64>,
    /// The generation being rolled out (0 in teardown).
    pub to: u64,
    /// Older generations found in AWS, deleted together with `from`.
    pub leftovers: Vec<u64>,
    pub phase: Phase,
    pub started_at: Timestamp,
    pub phase_started_at: Timestamp,
    /// Start of the current `health_timeout` window.
    pub health_clock: Timestamp,
    /// Why the rollout is being rolled back.
    pub failure: Option<String>,
    /// Canary: the target group the old generation serves from (the new one uses the other).
    pub stable_target_group: Option<String>,
    /// Canary: when the current step's weights were first observed in place.
    pub step_applied_at: Option<Timestamp>,
    /// Canary: start of the metrics window of the 5xx gate.
    pub canary_started_at: Option<Timestamp>,
    /// ASG name → when it was first observed detached from every target group.
    pub detached_seen: BTreeMap<String, Timestamp>,
    /// Rolling: desired capacity set on the new ASG.
    pub rolling_target: u32,
    /// Rolling: the lowest desired capacity set on the old group. Never raised again by the
    /// forward path: a lagging read showing an older, larger group must not undo a scale-in.
    #[serde(default)]
    pub old_retired_to: Option<u32>,
    /// Rolling: when the batch now launching was launched.
    #[serde(default)]
    pub batch_launched_at: Option<Timestamp>,
    /// Rolling: the shortest time an earlier batch took from launch to every target healthy.
    #[serde(default)]
    pub fastest_batch: Option<Duration>,
    /// Target (`group|instance`) → when it was first observed `initial` (to wake on time).
    pub first_seen_initial: BTreeMap<String, Timestamp>,
    /// Target (`group|instance`) → the last time its instance was observed live but not yet
    /// registered in the group: it registered later, so it cannot be healthy before this +
    /// interval × threshold (the lower bound `next_wake` waits for).
    #[serde(default)]
    pub last_seen_unregistered: BTreeMap<String, Timestamp>,
    /// Targets (`group|instance`) seen `healthy` (a later read showing one `initial` lags).
    #[serde(default)]
    pub seen_healthy: BTreeSet<String>,
    /// ASGs this rollout detached from or attached to a target group: their targets may
    /// really be registered afresh, so `initial` after `healthy` is no lagging read there.
    #[serde(default)]
    pub reregistered: BTreeSet<String>,
    /// Command key → when it was last issued (retry pacing).
    pub pending: BTreeMap<String, Timestamp>,
    /// Rollback: forward commands issued before the failure may still land until then; the
    /// rollback re-checks (and corrects) their effects before it calls the old generation
    /// restored.
    #[serde(default)]
    pub settle_until: Option<Timestamp>,
    /// The delete of the retiring generation was issued: past the point of no return, even if
    /// a later look sends the rollout back a phase (it can only finish forward, or fail).
    #[serde(default)]
    pub old_delete_issued: bool,
    /// The generation being "rolled out" already served when the rollout started (only its
    /// size or health is being brought in line): there is nothing older to roll back to.
    #[serde(default)]
    pub in_place: bool,
    /// The rollback under way undoes an interrupted rollout to a generation the configuration
    /// no longer asks for (it changed between the applies): once it is rolled back, the
    /// rollout starts again towards the configuration being applied.
    #[serde(default)]
    pub superseded: bool,
    /// The readable timeline (`last_rollout.steps`).
    pub timeline: Vec<Event>,
}

/// The output of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Run these (in order; each is idempotent). Report failures with
    /// [`Rollout::command_failed`]; never abort the rollout because one failed.
    pub commands: Vec<Command>,
    /// Observe and step again at this time: the earliest moment something can have changed
    /// (a target's interval × threshold elapsed, a drain ended, a soak ended, a command should
    /// have landed), not a fixed poll.
    pub next_wake: Timestamp,
    /// The phase after this step.
    pub phase: Phase,
    /// Timeline entries added by this step.
    pub events: Vec<Event>,
    /// Canary: fetch metric sums for the window starting here.
    pub metrics_since: Option<Timestamp>,
    /// `Some` once the phase is terminal.
    pub outcome: Option<Outcome>,
    /// The phase changes this step made (a resumed rollout's first step also shows the phase
    /// it resumed in), each checked against [`crate::transitions::TRANSITIONS`].
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// A rollout in progress: a validated spec plus the checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    spec: RolloutSpec,
    cp: Checkpoint,
    /// Timeline entries already handed out in a [`Decision`].
    reported: usize,
    /// Phase changes not yet handed out in a [`Decision`].
    transitions: Vec<Transition>,
}

/// Advances `rollout` by one observation. Same as [`Rollout::step`].
pub fn step(rollout: &mut Rollout, observation: &Observation, now: Timestamp) -> Decision {
    rollout.step(observation, now)
}

#[derive(Default)]
struct Out {
    commands: Vec<Command>,
    wake: Option<Timestamp>,
    metrics_since: Option<Timestamp>,
}

impl Out {
    fn wake_at(&mut self, at: Timestamp) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }
}

/// The old generation during a rolling rollout.
#[derive(Default)]
struct OldFleet {
    /// Instances neither terminating nor terminated.
    live: u32,
    /// Live instances healthy in every target group.
    healthy: u32,
    /// Instances a scale-in retired that still run (draining, terminating).
    leaving: u32,
    /// The group's desired capacity is below its live instances: a scale-in is under way.
    scaling_in: bool,
}

/// Health of one generation as the load balancer reports it.
struct GenHealth {
    /// Live instances healthy in every group of the generation.
    healthy: u32,
    /// Live instances that count towards the goal.
    expected: u32,
    /// A live instance is registered somewhere but not (yet) healthy there.
    registered_not_healthy: bool,
    /// Readable explanation of what is missing.
    problem: String,
    /// When to look again: the earliest moment *every* missing target can be healthy (the
    /// goal needs all of them, so an earlier look cannot change the decision), at least one
    /// health-check interval away, at most the health timeout.
    wake: Option<Timestamp>,
}

impl GenHealth {
    fn ready(&self) -> bool {
        self.healthy >= self.expected && !self.registered_not_healthy
    }
}

fn is_live(state: LifecycleState) -> bool {
    !matches!(
        state,
        LifecycleState::Terminating | LifecycleState::Terminated
    )
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
            return rollout;
        }
        let mut rollout = Rollout {
            cp: Checkpoint {
                mode: Mode::Rollout,
                from: None,
                to: 1,
                leftovers: Vec::new(),
                phase: Phase::Launching,
                started_at: now,
                phase_started_at: now,
                health_clock: now,
                failure: None,
                stable_target_group: None,
                step_applied_at: None,
                canary_started_at: None,
                detached_seen: BTreeMap::new(),
                rolling_target: 0,
                old_retired_to: None,
                batch_launched_at: None,
                fastest_batch: None,
                first_seen_initial: BTreeMap::new(),
                last_seen_unregistered: BTreeMap::new(),
                seen_healthy: BTreeSet::new(),
                reregistered: BTreeSet::new(),
                pending: BTreeMap::new(),
                settle_until: None,
                old_delete_issued: false,
                in_place: false,
                superseded: false,
                timeline: Vec::new(),
            },
            spec,
            reported: 0,
            transitions: Vec::new(),
        };
        rollout.derive_from_observation(observation, &generations, now);
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
        rollout.enter_phase(Phase::DetachingOld, now);
        rollout.log(
            now,
            "phase",
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
        }
    }

    /// The state to save (private state) so a later apply can resume.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.cp
    }

    /// The validated spec being rolled out.
    pub fn spec(&self) -> &RolloutSpec {
        &self.spec
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.cp.phase
    }

    /// The generation being rolled out.
    pub fn target_generation(&self) -> u64 {
        self.cp.to
    }

    /// The generation that served when the rollout started.
    pub fn previous_generation(&self) -> Option<u64> {
        self.cp.from
    }

    /// The whole timeline so far.
    pub fn timeline(&self) -> &[Event] {
        &self.cp.timeline
    }

    /// `Some` once finished.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.cp.phase {
            Phase::Complete => Some(Outcome::Succeeded {
                generation: self.cp.to,
            }),
            Phase::RolledBack => Some(Outcome::RolledBack {
                serving: if self.cp.in_place {
                    Some(self.cp.to)
                } else {
                    self.cp.from
                },
                failed_generation: self.cp.to,
                reason: self.cp.failure.clone().unwrap_or_default(),
            }),
            Phase::Failed => Some(Outcome::Failed {
                reason: self.cp.failure.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }

    /// Reports that a command failed (throttling, 5xx, timeout): the next step issues it again
    /// at once instead of waiting for [`RETRY_AFTER`]. Call `step` again after a short backoff.
    pub fn command_failed(&mut self, command: &Command, now: Timestamp, error: &str) {
        self.cp.pending.remove(&command.key());
        self.log(
            now,
            "command_failed",
            format!("{}: {error}", command.describe()),
        );
    }

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

    /// Advances the rollout by one observation.
    pub fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        let sorted = sorted_targets(&self.spec, observation);
        let obs = &sorted;
        let mut out = Out::default();
        self.cp
            .pending
            .retain(|_, issued| now < *issued + RETRY_AFTER + RETRY_AFTER);
        for _ in 0..MAX_TRANSITIONS_PER_STEP {
            let before = std::mem::discriminant(&self.cp.phase);
            let before_phase = self.cp.phase.clone();
            match self.cp.phase.clone() {
                Phase::Launching => self.on_launching(obs, now, &mut out),
                Phase::WaitingForHealthy => self.on_waiting_for_healthy(obs, now, &mut out),
                Phase::CanaryStep { index, weight } => {
                    self.on_canary_step(obs, now, index, weight, &mut out)
                }
                Phase::Rolling { batch } => self.on_rolling(obs, now, batch, &mut out),
                Phase::DetachingOld => self.on_detaching_old(obs, now, &mut out),
                Phase::DrainingOld => self.on_draining(obs, now, false, &mut out),
                Phase::DeletingOld => self.on_deleting_old(obs, now, &mut out),
                Phase::RestoringOld => self.on_restoring_old(obs, now, &mut out),
                Phase::DetachingNew => self.on_detaching_new(obs, now, &mut out),
                Phase::DrainingNew => self.on_draining(obs, now, true, &mut out),
                Phase::DeletingNew => self.on_deleting_new(obs, now, &mut out),
                Phase::Complete | Phase::RolledBack | Phase::Failed => {}
            }
            if self.cp.phase == Phase::RolledBack && self.cp.superseded {
                self.restart_towards_spec(obs, now);
            }
            let changed = std::mem::discriminant(&self.cp.phase) != before
                || matches!(self.cp.phase, Phase::CanaryStep { .. })
                    && self.cp.phase != before_phase;
            if !changed {
                break;
            }
        }
        // Commands are deduplicated: two phases of one step may want the same thing.
        let mut seen = BTreeSet::new();
        out.commands.retain(|c| seen.insert(c.key()));

        let poll = self.poll_interval(obs);
        let mut next_wake = out.wake.unwrap_or(now + poll);
        next_wake = next_wake.clamp(now + Duration::from_secs(1), now + poll.max(GATE_POLL) * 6);
        let events = self
            .cp
            .timeline
            .get(self.reported..)
            .unwrap_or_default()
            .to_vec();
        self.reported = self.cp.timeline.len();
        Decision {
            commands: out.commands,
            next_wake,
            phase: self.cp.phase.clone(),
            events,
            metrics_since: out.metrics_since,
            outcome: self.outcome(),
            transitions: std::mem::take(&mut self.transitions),
        }
    }

    // ----- naming and groups -------------------------------------------------------------

    fn new_name(&self) -> String {
        self.spec.asg_name(self.cp.to)
    }

    fn old_name(&self) -> Option<String> {
        self.cp.from.map(|g| self.spec.asg_name(g))
    }

    /// Names of the ASGs this rollout retires on success.
    fn retiring(&self) -> Vec<String> {
        let mut names: Vec<String> = self.old_name().into_iter().collect();
        names.extend(self.cp.leftovers.iter().map(|g| self.spec.asg_name(*g)));
        names
    }

    fn is_rolling(&self) -> bool {
        matches!(self.spec.strategy, Strategy::Rolling { .. })
    }

    /// Target groups of the new generation.
    fn new_groups(&self) -> Vec<String> {
        match &self.spec.strategy {
            Strategy::Canary(canary) => match &self.cp.stable_target_group {
                Some(stable) if *stable == canary.stable_target_group_arn => {
                    vec![canary.canary_target_group_arn.clone()]
                }
                Some(_) => vec![canary.stable_target_group_arn.clone()],
                None => vec![canary.stable_target_group_arn.clone()],
            },
            _ => self.spec.target_group_arns(),
        }
    }

    /// Target groups of the old generation.
    fn old_groups(&self) -> Vec<String> {
        match &self.spec.strategy {
            Strategy::Canary(_) => self.cp.stable_target_group.iter().cloned().collect(),
            _ => self.spec.target_group_arns(),
        }
    }

    fn all_groups(&self) -> Vec<String> {
        self.spec.target_group_arns()
    }

    fn poll_interval(&self, obs: &Observation) -> Duration {
        obs.target_groups
            .iter()
            .map(|g| g.health_check_interval)
            .filter(|d| !d.is_zero())
            .min()
            .unwrap_or(DEFAULT_POLL)
            .max(Duration::from_secs(1))
    }

    fn max_drain(&self, obs: &Observation) -> Duration {
        obs.target_groups
            .iter()
            .map(|g| g.deregistration_delay)
            .max()
            .unwrap_or(Duration::from_secs(300))
            + self.spec.drain_margin
    }

    // ----- bookkeeping -------------------------------------------------------------------

    fn log(&mut self, at: Timestamp, action: &str, detail: String) {
        self.cp.timeline.push(Event {
            at,
            action: action.to_string(),
            detail,
        });
    }

    /// Moves to `phase`, writing it into the timeline with `detail`.
    fn goto(&mut self, phase: Phase, now: Timestamp, detail: String) {
        let text = if detail.is_empty() {
            phase.to_string()
        } else {
            format!("{phase}: {detail}")
        };
        let from = self.cp.phase.kind();
        if let Err(forbidden) = self.checked(Some(from), &phase) {
            self.stop_on(forbidden, now);
            return;
        }
        self.log(now, "phase", text);
        self.cp.phase = phase;
        self.cp.phase_started_at = now;
    }

    /// Begins or resumes the rollout in `phase` (an entry of the table: the caller logs why).
    fn enter_phase(&mut self, phase: Phase, now: Timestamp) {
        if let Err(forbidden) = self.checked(None, &phase) {
            self.stop_on(forbidden, now);
            return;
        }
        self.cp.phase = phase;
    }

    /// Records the transition (for [`Decision::transitions`]) and checks it against the table.
    fn checked(&mut self, from: Option<PhaseKind>, to: &Phase) -> Result<(), ForbiddenTransition> {
        let transition = Transition {
            from,
            to: to.kind(),
        };
        self.transitions.push(transition);
        transitions::check(transition)
    }

    /// A transition the table forbids is a bug in the engine. Panicking would kill the plugin
    /// mid-apply, and carrying on would run a path nobody designed (or tested); rolling back is
    /// itself a transition that may be what is forbidden. So the rollout stops in `Failed`:
    /// terminal, no further command, the reason in the diagnostic, and the next apply resumes
    /// from what AWS shows. The simulator's property test keeps this path unreached.
    fn stop_on(&mut self, forbidden: ForbiddenTransition, now: Timestamp) {
        let reason = forbidden.to_string();
        self.log(now, "failure", reason.clone());
        self.cp.failure = Some(reason);
        self.cp.phase = Phase::Failed;
        self.cp.phase_started_at = now;
    }

    /// Issues a command unless the same one was issued less than [`RETRY_AFTER`] ago, and
    /// looks again [`CONFIRM_AFTER`] later to see it take effect.
    fn issue(&mut self, command: Command, now: Timestamp, out: &mut Out) {
        self.issue_expecting(command, now, now + CONFIRM_AFTER, out);
    }

    /// Like [`Rollout::issue`], for a command whose effect the rollout has no use for before
    /// `look_at` (instances it launches cannot be healthy sooner): one observation instead of
    /// a confirmation and then a wait.
    fn issue_expecting(
        &mut self,
        command: Command,
        now: Timestamp,
        look_at: Timestamp,
        out: &mut Out,
    ) {
        let key = command.key();
        if let Some(&issued) = self.cp.pending.get(&key) {
            if now < issued + RETRY_AFTER {
                self.look_again_for(&command, now, out);
                out.wake_at(issued + RETRY_AFTER);
                return;
            }
            self.log(now, "retry", command.describe());
        } else {
            self.log(now, action_name(&command), command.describe());
        }
        if let Command::AttachTargetGroups { asg, .. } | Command::DetachTargetGroups { asg, .. } =
            &command
        {
            self.cp.reregistered.insert(asg.clone());
        }
        self.cp.pending.insert(key, now);
        out.wake_at(look_at.max(now + CONFIRM_AFTER));
        out.commands.push(command);
    }

    /// A command's effect is under way (e.g. "Delete in progress"): look again on the
    /// confirmation schedule of when it was issued.
    fn look_again_for(&self, command: &Command, now: Timestamp, out: &mut Out) {
        if let Some(&issued) = self.cp.pending.get(&command.key())
            && let Some(at) = CONFIRM_BACKOFF
                .iter()
                .map(|after| issued + *after)
                .find(|at| *at > now)
        {
            out.wake_at(at);
        }
    }

    /// The shortest interval × healthy threshold among `groups`: no target registered now can
    /// be healthy sooner.
    fn time_to_healthy(&self, obs: &Observation, groups: &[String]) -> Duration {
        groups
            .iter()
            .filter_map(|arn| obs.target_group(arn))
            .map(TargetGroupObservation::time_to_healthy)
            .min()
            .unwrap_or(CONFIRM_AFTER)
    }

    fn fail(&mut self, reason: String, now: Timestamp) {
        if self.cp.old_delete_issued {
            // Nothing left to roll back to: the previous generation is being deleted.
            self.log(now, "failure", reason.clone());
            self.cp.failure = Some(format!(
                "{reason} (after the previous generation's delete was issued: nothing to roll back to)"
            ));
            self.goto(Phase::Failed, now, "past the point of no return".into());
            return;
        }
        self.enter_rollback("failure", reason, now);
    }

    /// Into `RestoringOld`, recording why (`action` is the timeline entry: failure, abort).
    fn enter_rollback(&mut self, action: &str, reason: String, now: Timestamp) {
        self.cp.settle_until = self.cp.pending.values().max().map(|t| *t + RETRY_AFTER);
        self.log(now, action, reason.clone());
        self.cp.failure = Some(reason);
        self.cp.health_clock = now;
        self.goto(Phase::RestoringOld, now, String::new());
    }

    fn timed_out(&self, now: Timestamp) -> bool {
        now >= self.cp.health_clock + self.spec.health_timeout
    }

    fn apply_observed_rollback(&mut self, obs: &Observation, now: Timestamp) {
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

    // ----- observation helpers -----------------------------------------------------------

    /// Health of the live instances of `asg` in `groups`, against `expected` healthy targets.
    fn gen_health(
        &mut self,
        obs: &Observation,
        asg: &AsgObservation,
        groups: &[String],
        expected: u32,
        now: Timestamp,
    ) -> GenHealth {
        let live: Vec<&str> = asg
            .instances
            .iter()
            .filter(|i| is_live(i.lifecycle))
            .map(|i| i.id.as_str())
            .collect();
        let mut healthy = 0u32;
        let mut registered_not_healthy = false;
        // The latest of the earliest moments each missing target can turn healthy.
        let mut all_healthy_at: Option<Timestamp> = None;
        let mut not_before = |at: Timestamp| {
            all_healthy_at = Some(all_healthy_at.map_or(at, |w| w.max(at)));
        };
        let mut per_group: Vec<String> = Vec::new();
        for id in &live {
            let mut all_healthy = true;
            for arn in groups {
                let Some(group) = obs.target_group(arn) else {
                    all_healthy = false;
                    continue;
                };
                let key = format!("{arn}|{id}");
                let observed = group.lookup(id);
                if observed.is_some_and(|t| t.state == TargetState::Healthy) {
                    self.cp.seen_healthy.insert(key.clone());
                }
                if self.is_lagging_read(&asg.name, arn, id, observed) {
                    continue;
                }
                match observed {
                    Some(t) if t.state == TargetState::Healthy => {}
                    Some(t) => {
                        all_healthy = false;
                        if t.state.is_registered() {
                            registered_not_healthy = true;
                        }
                        if t.state == TargetState::Initial {
                            let first =
                                *self.cp.first_seen_initial.entry(key.clone()).or_insert(now);
                            // Registered between the last look that saw it unregistered and
                            // `first`: expect it healthy interval × threshold after `first`,
                            // less up to one interval for not knowing when in that gap
                            // (unknown, e.g. resumed: it may turn healthy at the next check).
                            if let Some(seen) = self.cp.last_seen_unregistered.get(&key) {
                                let gap = first.since(*seen);
                                let slack = gap.min(group.health_check_interval);
                                not_before(first + group.time_to_healthy() - slack);
                            }
                        }
                    }
                    None => {
                        all_healthy = false;
                        // Booting (or registering): healthy no sooner than interval × threshold
                        // after a registration that has not happened yet.
                        self.cp.last_seen_unregistered.insert(key, now);
                        not_before(now + group.time_to_healthy());
                    }
                }
            }
            if all_healthy {
                healthy += 1;
            }
        }
        let launched = u32::try_from(live.len()).unwrap_or(u32::MAX);
        if launched < expected {
            // Not even launched yet.
            let slowest = groups
                .iter()
                .filter_map(|arn| obs.target_group(arn))
                .map(TargetGroupObservation::time_to_healthy)
                .max()
                .unwrap_or_default();
            not_before(now + slowest);
        }
        let check_interval = groups
            .iter()
            .filter_map(|arn| obs.target_group(arn))
            .map(|g| g.health_check_interval)
            .filter(|d| !d.is_zero())
            .min()
            .unwrap_or(DEFAULT_POLL)
            .max(Duration::from_secs(1));
        let timeout_at = self.cp.health_clock + self.spec.health_timeout;
        let wake = all_healthy_at.map(|at| {
            // Past its lower bound a target turns healthy at some health check: look every
            // interval; and never sleep through the health timeout.
            let at = at.max(now + check_interval);
            if timeout_at > now {
                at.min(timeout_at)
            } else {
                at
            }
        });
        let in_service = asg
            .instances
            .iter()
            .filter(|i| i.lifecycle == LifecycleState::InService)
            .count();
        if launched < expected || (in_service as u32) < expected {
            per_group.push(format!(
                "{} of {expected} new instances of {} not InService",
                expected.saturating_sub(in_service as u32),
                asg.name
            ));
        }
        for arn in groups {
            let Some(group) = obs.target_group(arn) else {
                per_group.push(format!("target group {arn} not observed"));
                continue;
            };
            let mut not_healthy = 0u32;
            let mut states: BTreeMap<&'static str, u32> = BTreeMap::new();
            let mut reasons: BTreeSet<String> = BTreeSet::new();
            for id in &live {
                let observed = group.lookup(id);
                if self.is_lagging_read(&asg.name, arn, id, observed) {
                    continue;
                }
                match observed {
                    Some(t) if t.state == TargetState::Healthy => {}
                    Some(t) => {
                        not_healthy += 1;
                        *states.entry(t.state.as_str()).or_default() += 1;
                        if let Some(reason) = &t.reason {
                            reasons.insert(reason.clone());
                        }
                    }
                    None => {
                        not_healthy += 1;
                        *states.entry("not registered").or_default() += 1;
                    }
                }
            }
            let missing = expected.saturating_sub(launched);
            let bad = (not_healthy + missing).min(expected.max(not_healthy));
            if bad == 0 {
                continue;
            }
            let word = if states.len() == 1 && states.contains_key("unhealthy") && missing == 0 {
                "unhealthy".to_string()
            } else {
                let parts: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
                if parts.is_empty() {
                    "not healthy".to_string()
                } else {
                    format!("not healthy ({})", parts.join(", "))
                }
            };
            let reasons = if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.into_iter().collect::<Vec<_>>().join(", "))
            };
            per_group.push(format!(
                "{bad} of {expected} new targets {word} in target group {}{reasons}",
                group.name
            ));
        }
        GenHealth {
            healthy,
            expected,
            registered_not_healthy,
            problem: per_group.join("; "),
            wake,
        }
    }

    /// A target seen `healthy` before, now read as `initial` or not registered, in a group
    /// this rollout never detached: a registered target never returns to `initial`, so this is
    /// a read served by a replica lagging behind an earlier one, and the earlier verdict
    /// stands. (After a detach the target really may be registered afresh.)
    fn is_lagging_read(
        &self,
        asg_name: &str,
        group_arn: &str,
        instance_id: &str,
        observed: Option<&TargetObservation>,
    ) -> bool {
        let earlier_state = observed.is_none_or(|t| t.state == TargetState::Initial);
        earlier_state
            && self
                .cp
                .seen_healthy
                .contains(&format!("{group_arn}|{instance_id}"))
            && !self.cp.reregistered.contains(asg_name)
            && !self.cp.detached_seen.contains_key(asg_name)
    }

    fn ensure_attached(
        &mut self,
        asg: &AsgObservation,
        groups: &[String],
        now: Timestamp,
        out: &mut Out,
    ) {
        let missing: Vec<String> = groups
            .iter()
            .filter(|g| !asg.target_group_arns.contains(g))
            .cloned()
            .collect();
        if !missing.is_empty() {
            self.issue(
                Command::AttachTargetGroups {
                    asg: asg.name.clone(),
                    target_group_arns: missing,
                },
                now,
                out,
            );
        }
    }

    fn ensure_capacity(
        &mut self,
        asg: &AsgObservation,
        min: u32,
        max: u32,
        desired: u32,
        now: Timestamp,
        out: &mut Out,
    ) {
        if (asg.min_size, asg.max_size, asg.desired_capacity) != (min, max, desired) {
            self.issue(
                Command::SetCapacity {
                    asg: asg.name.clone(),
                    min_size: min,
                    max_size: max,
                    desired_capacity: desired,
                },
                now,
                out,
            );
        }
    }

    /// Instances of `asg` still registered or draining in any of our target groups.
    fn still_in_load_balancer(&self, obs: &Observation, asg: &AsgObservation) -> bool {
        let groups = self.all_groups();
        asg.instances.iter().any(|i| {
            groups.iter().any(|arn| {
                obs.target_group(arn)
                    .and_then(|g| g.lookup(&i.id))
                    .is_some_and(|t| t.state.is_registered() || t.state == TargetState::Draining)
            })
        })
    }

    fn create_command(&self, desired: u32, min: u32) -> Command {
        let mut tags = self.spec.tags.clone();
        tags.insert(TAG_ROLLOUT.to_string(), self.spec.name.clone());
        tags.insert(TAG_GENERATION.to_string(), self.cp.to.to_string());
        if let Some(owner) = &self.spec.owner.id {
            tags.insert(TAG_OWNER.to_string(), owner.clone());
        }
        Command::CreateAsg {
            name: self.new_name(),
            generation: self.cp.to,
            launch_template: self.spec.launch_template.clone(),
            subnet_ids: self.spec.subnet_ids.clone(),
            min_size: min,
            max_size: self.spec.capacity.max,
            desired_capacity: desired,
            target_group_arns: self.new_groups(),
            tags,
        }
    }

    // ----- forward phases ----------------------------------------------------------------

    fn on_launching(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
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
            let command = match self.first_rolling_batch(obs) {
                Some(first) => {
                    self.cp.rolling_target = first;
                    self.cp.batch_launched_at.get_or_insert(now);
                    self.create_command(first, 0)
                }
                None => self.create_command(self.spec.capacity.desired, self.spec.capacity.min),
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
                format!("{first} of {} new instances", self.spec.capacity.desired)
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
                    self.spec.capacity.desired
                ),
            );
        }
    }

    /// Rolling from an old generation: the new group starts with the first batch, as far as
    /// the surge budget allows next to the old instances. `None` when not rolling.
    fn first_rolling_batch(&self, obs: &Observation) -> Option<u32> {
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
        Some(batch_size.min(cap.desired).min(headroom))
    }

    fn on_waiting_for_healthy(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
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
        let cap = self.spec.capacity;
        self.ensure_capacity(&asg, cap.min, cap.max, cap.desired, now, out);
        let health = self.gen_health(obs, &asg, &groups, cap.desired, now);
        if health.ready() {
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

    fn canary_weights(&self, new_weight: u8) -> Option<(String, Vec<(String, u32)>)> {
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
    fn new_generation_percent(&self, obs: &Observation) -> u32 {
        let new_group = self.new_groups().into_iter().next().unwrap_or_default();
        obs.listener
            .as_ref()
            .map_or(0, |l| l.percent_of(&new_group))
    }

    fn weights_in_place(obs: &Observation, weights: &[(String, u32)]) -> bool {
        obs.listener
            .as_ref()
            .is_some_and(|l| weights.iter().all(|(group, w)| l.weight_of(group) == *w))
    }

    /// Canary gates: `Some(reason)` when one fails.
    fn canary_gate_failure(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        index: usize,
        weight: u8,
        out: &mut Out,
    ) -> Option<String> {
        let Strategy::Canary(canary) = self.spec.strategy.clone() else {
            return None;
        };
        let at_step = format!("canary step {} ({weight} %)", index + 1);
        for alarm in &obs.alarms {
            if canary.alarm_names.contains(&alarm.name)
                && alarm.state == crate::observation::AlarmState::Alarm
            {
                return Some(format!(
                    "alarm {} went into ALARM during {at_step}",
                    alarm.name
                ));
            }
        }
        let new_group = self.new_groups().into_iter().next()?;
        if let Some(since) = self.cp.canary_started_at {
            out.metrics_since = Some(since);
            if let Some(max) = canary.max_5xx_ratio
                && let Some(m) = obs.metrics.iter().find(|m| m.target_group_arn == new_group)
                && m.requests >= MIN_REQUESTS_FOR_RATIO
            {
                let ratio = m.http_5xx as f64 / m.requests as f64;
                if ratio > max {
                    let name = obs
                        .target_group(&new_group)
                        .map_or(new_group.clone(), |g| g.name.clone());
                    return Some(format!(
                        "5xx ratio {:.2} % ({} of {} requests) in target group {name} exceeds max_5xx_ratio {:.2} % during {at_step}",
                        ratio * 100.0,
                        m.http_5xx,
                        m.requests,
                        max * 100.0
                    ));
                }
            }
        }
        let asg = obs.asg(&self.new_name())?.clone();
        let health = self.gen_health(obs, &asg, &[new_group], self.spec.capacity.desired, now);
        if !health.ready() {
            return Some(format!("{} during {at_step}", health.problem));
        }
        let _ = now;
        None
    }

    fn on_canary_step(
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
        if self.cp.from.is_some()
            && let Some(reason) = self.canary_gate_failure(obs, now, index, weight, out)
        {
            self.fail(reason, now);
            return;
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
        if !Self::weights_in_place(obs, &weights) {
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
        let soak_end = applied + soak;
        if now < soak_end {
            let gated = !canary.alarm_names.is_empty() || canary.max_5xx_ratio.is_some();
            out.wake_at(if gated {
                soak_end.min(now + gate_poll(soak))
            } else {
                soak_end
            });
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
                format!("step {} passed its gates after {}", index + 1, human(soak)),
            ),
            _ => self.goto(
                Phase::DetachingOld,
                now,
                "the new generation receives 100 %".into(),
            ),
        }
    }

    /// Rolling: the new generation grows by a batch whenever the surge budget allows; once
    /// every new target is healthy, the old group's desired capacity drops by as many instances
    /// as the capacity floor allows. AWS's own scale-in then deregisters the instances it picks,
    /// waits out the deregistration delay and only then terminates them (invariant 3, the path
    /// ARCHITECTURE.md documents), so one `UpdateAutoScalingGroup` retires a whole batch.
    fn on_rolling(&mut self, obs: &Observation, now: Timestamp, batch: u32, out: &mut Out) {
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
        let old = self.old_name().and_then(|n| obs.asg(&n).cloned());
        let cap = self.spec.capacity;
        self.cp.rolling_target = self
            .cp
            .rolling_target
            .max(new.desired_capacity)
            .min(cap.desired);
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
                let timeout_at = self.cp.health_clock + self.spec.health_timeout;
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
        if fleet.live == 0 && target >= cap.desired {
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
        let add = batch_size.min(cap.desired - target).min(headroom);
        if add > 0 {
            self.cp.rolling_target = target + add;
            self.cp.health_clock = now;
            self.cp.batch_launched_at = Some(now);
            let next_batch = batch + 1;
            self.goto(
                Phase::Rolling { batch: next_batch },
                now,
                format!("{} of {} new instances", target + add, cap.desired),
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
        // AWS picks the instances a scale-in retires: assume the healthy ones go first.
        let spare = (fleet.healthy + health.healthy).saturating_sub(self.spec.capacity_floor());
        let retire = if fleet.healthy <= spare {
            batch_size.min(fleet.live)
        } else {
            batch_size.min(spare)
        };
        if retire == 0 {
            if fleet.leaving > 0 {
                out.wake_at(now + poll);
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
    fn expected_batch_ready(&self, obs: &Observation) -> Timestamp {
        match (self.cp.batch_launched_at, self.cp.fastest_batch) {
            (Some(launched), Some(fastest)) => {
                launched + fastest.saturating_sub(self.poll_interval(obs))
            }
            _ => Timestamp(0),
        }
    }

    /// The old generation's instances as rolling counts them.
    fn old_fleet(&self, obs: &Observation, old: &AsgObservation, new: &AsgObservation) -> OldFleet {
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

    fn on_detaching_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
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
            let health = self.gen_health(obs, &new, &groups, self.spec.capacity.desired, now);
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
        }
        let mut all_detached = true;
        for name in self.retiring() {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            if !needs_detach(&asg) {
                self.cp.detached_seen.entry(name).or_insert(now);
            } else {
                all_detached = false;
                self.issue(
                    Command::DetachTargetGroups {
                        asg: name,
                        target_group_arns: asg.target_group_arns.clone(),
                    },
                    now,
                    out,
                );
            }
        }
        if all_detached {
            let detail = self.drain_detail(obs, &self.retiring());
            self.goto(Phase::DrainingOld, now, detail);
        }
    }

    /// What the drain phase waits for, for the timeline.
    fn drain_detail(&self, obs: &Observation, names: &[String]) -> String {
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
    fn on_draining(&mut self, obs: &Observation, now: Timestamp, new: bool, out: &mut Out) {
        let names = if new {
            self.rollback_retiring()
        } else {
            self.retiring()
        };
        if new {
            self.ensure_rollback_tag(obs, now, out);
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
            let phase = if new {
                Phase::DeletingNew
            } else {
                Phase::DeletingOld
            };
            self.goto(phase, now, String::new());
        }
    }

    fn on_deleting_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        // The new generation's final sizes (rolling ran it from min 0) go out with the delete.
        let cap = self.spec.capacity;
        if self.cp.mode == Mode::Rollout
            && let Some(new) = obs.asg(&self.new_name()).cloned()
            && new.desired_capacity == cap.desired
        {
            self.ensure_capacity(&new, cap.min, cap.max, cap.desired, now, out);
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
            let delete = Command::DeleteAsg { asg: name };
            if asg.is_deleting() {
                self.look_again_for(&delete, now, out);
            } else {
                self.cp.old_delete_issued = true;
                self.issue(delete, now, out);
            }
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
        if (new.min_size, new.max_size, new.desired_capacity) != (cap.min, cap.max, cap.desired) {
            self.ensure_capacity(&new, cap.min, cap.max, cap.desired, now, out);
            return;
        }
        self.goto(
            Phase::Complete,
            now,
            format!("{} serves 100 % ({})", new.name, self.spec.launch_template),
        );
    }

    // ----- backward phases ---------------------------------------------------------------

    fn on_restoring_old(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
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
        let settled = self.cp.settle_until.is_none_or(|t| now >= t);
        let detach_prefix = format!("detach:{old_name}:");
        let old_detach_in_flight = !settled
            && self
                .cp
                .pending
                .keys()
                .any(|k| k.starts_with(&detach_prefix));
        // Rolling: instances a scale-in retired keep draining and go; AWS launches their
        // replacements once the desired capacity is back. (A scale-in issued before the failure
        // may still land: the settle time below re-checks.)
        let desired = self.spec.capacity.desired;
        if old.desired_capacity < desired {
            self.ensure_capacity(&old, 0, old.max_size.max(desired), desired, now, out);
        }
        let health = self.gen_health(obs, &old, &groups, desired, now);
        // All traffic back to the stable group at once, as soon as the old generation can take
        // it: after an abort past `detaching_old` it is re-attached and must turn healthy
        // first, and a detach of it still in flight could land after the weights moved.
        let weights_ok =
            health.ready() && !old_detach_in_flight && self.ensure_rollback_weights(obs, now, out);
        if health.ready() && !settled {
            out.wake_at(self.cp.settle_until.unwrap_or(now));
        } else if health.ready() && weights_ok {
            if !tagged {
                return; // the tag's confirmation wakes the rollout
            }
            self.goto(
                Phase::DetachingNew,
                now,
                format!(
                    "{old_name} serves again with {} healthy targets",
                    health.healthy
                ),
            );
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
    fn ensure_rollback_tag(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) -> bool {
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
    /// forward weight change may land late). True when in place (or not a canary).
    fn ensure_rollback_weights(
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
            _ => true,
        }
    }

    /// Names of the ASGs a rollback removes: the failed generation and any leftovers.
    fn rollback_retiring(&self) -> Vec<String> {
        let mut names = vec![self.new_name()];
        names.extend(self.cp.leftovers.iter().map(|g| self.spec.asg_name(*g)));
        names
    }

    fn on_detaching_new(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        self.ensure_rollback_tag(obs, now, out);
        self.ensure_rollback_weights(obs, now, out);
        let mut all_detached = true;
        for name in self.rollback_retiring() {
            let Some(asg) = obs.asg(&name).cloned() else {
                continue;
            };
            if !needs_detach(&asg) {
                self.cp.detached_seen.entry(name).or_insert(now);
            } else {
                all_detached = false;
                self.issue(
                    Command::DetachTargetGroups {
                        asg: name,
                        target_group_arns: asg.target_group_arns.clone(),
                    },
                    now,
                    out,
                );
            }
        }
        if all_detached {
            let detail = self.drain_detail(obs, &self.rollback_retiring());
            self.goto(Phase::DrainingNew, now, detail);
        }
    }

    fn on_deleting_new(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
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
                // Kept, detached, for inspection; marked so that the next apply knows the
                // rollback finished (rather than continuing it).
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
            let delete = Command::DeleteAsg { asg: name };
            if asg.is_deleting() {
                self.look_again_for(&delete, now, out);
            } else {
                self.issue(delete, now, out);
            }
        }
        if remaining {
            return;
        }
        // Old generation back to its configured sizes.
        if let Some(old) = self.old_name().and_then(|n| obs.asg(&n).cloned()) {
            let cap = self.spec.capacity;
            if (old.min_size, old.max_size, old.desired_capacity) != (cap.min, cap.max, cap.desired)
            {
                self.ensure_capacity(&old, cap.min, cap.max, cap.desired, now, out);
                return;
            }
        }
        let serving = self.old_name().unwrap_or_else(|| "nothing".into());
        self.goto(Phase::RolledBack, now, format!("{serving} serves 100 %"));
    }

    // ----- resume ------------------------------------------------------------------------

    fn derive_from_observation(
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
                self.log(
                    now,
                    "phase",
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
                    self.log(now, "phase", format!("launching: generation {only} already runs {}: checking size and health", self.spec.launch_template));
                } else {
                    self.cp.from = Some(only);
                    self.cp.to = max_generation + 1;
                    self.cp.leftovers = leftovers_of(&[only]);
                    self.set_stable_group(obs);
                    self.log(
                        now,
                        "phase",
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
                let old_detached = obs
                    .asg(&old_name)
                    .is_some_and(|a| a.target_group_arns.is_empty());
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
    fn restart_towards_spec(&mut self, obs: &Observation, now: Timestamp) {
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
        *self = fresh;
    }

    /// Canary: the old generation serves from the group it is attached to (or, failing that,
    /// the one with the larger listener weight).
    fn set_stable_group(&mut self, obs: &Observation) {
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

/// A copy of the observation with every group's targets sorted by id, for [`Lookup`].
///
/// Groups of another owner are dropped: the engine never looks at, changes or deletes them
/// (the provider refuses to roll out beside them; a teardown leaves them alone).
fn sorted_targets(spec: &RolloutSpec, observation: &Observation) -> Observation {
    let mut sorted = observation.clone();
    sorted.asgs.retain(|asg| spec.owner.owns(asg));
    for group in &mut sorted.target_groups {
        group.targets.sort_by(|a, b| a.id.cmp(&b.id));
    }
    sorted
}

/// Binary search in targets sorted by [`sorted_targets`] (a fleet of 200 has 400 targets
/// mid-rollout: a linear search per instance made one step cost a millisecond).
trait Lookup {
    fn lookup(&self, instance_id: &str) -> Option<&TargetObservation>;
}

impl Lookup for TargetGroupObservation {
    fn lookup(&self, instance_id: &str) -> Option<&TargetObservation> {
        self.targets
            .binary_search_by(|t| t.id.as_str().cmp(instance_id))
            .ok()
            .and_then(|i| self.targets.get(i))
    }
}

/// Rolling: the old group scaled in to `desired`. Its minimum goes to 0, since a desired
/// capacity below the minimum is refused.
fn scale_in_command(old: &AsgObservation, desired: u32) -> Command {
    Command::SetCapacity {
        asg: old.name.clone(),
        min_size: 0,
        max_size: old.max_size,
        desired_capacity: desired,
    }
}

/// Attached to a target group and with instances: it must be detached (and drained) before
/// it is deleted. A group without instances (rolling scaled it to zero, each instance drained
/// by AWS's scale-in) is deleted as it is.
fn needs_detach(asg: &AsgObservation) -> bool {
    !asg.target_group_arns.is_empty()
        && asg
            .instances
            .iter()
            .any(|i| i.lifecycle != LifecycleState::Terminated)
}

fn observed_generations<'a>(
    spec: &RolloutSpec,
    obs: &'a Observation,
) -> Vec<(u64, &'a AsgObservation)> {
    fleet::generations(&spec.name, &spec.owner, &obs.asgs)
}

fn checkpoint_fits(cp: &Checkpoint, generations: &[(u64, &AsgObservation)]) -> bool {
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
fn checkpoint_superseded(
    cp: &Checkpoint,
    generations: &[(u64, &AsgObservation)],
    spec: &RolloutSpec,
) -> bool {
    !cp.phase.is_rollback()
        && generations
            .iter()
            .any(|(g, asg)| *g == cp.to && !matches_spec(asg, spec))
}

fn matches_spec(asg: &AsgObservation, spec: &RolloutSpec) -> bool {
    let mut observed = asg.subnet_ids.clone();
    observed.sort();
    let mut wanted = spec.subnet_ids.clone();
    wanted.sort();
    asg.launch_template.as_ref() == Some(&spec.launch_template) && observed == wanted
}

fn action_name(command: &Command) -> &'static str {
    match command {
        Command::CreateAsg { .. } => "create_asg",
        Command::SetCapacity { .. } => "set_capacity",
        Command::AttachTargetGroups { .. } => "attach_target_groups",
        Command::DetachTargetGroups { .. } => "detach_target_groups",
        Command::SetListenerWeights { .. } => "set_listener_weights",
        Command::TagAsg { .. } => "tag_asg",
        Command::DeleteAsg { .. } => "delete_asg",
    }
}

/// ASG tag values are limited to 256 characters.
fn truncate_tag(text: &str) -> String {
    text.chars().take(256).collect()
}
