//! The decision function: `step(rollout, observation, now) -> Decision`.
//!
//! The engine is level-triggered: in every phase it compares what the phase needs with what it
//! observes and (re)issues the commands for the difference. A command that failed, landed late
//! or was lost in a crash is simply issued again after [`RETRY_AFTER`]; a phase advances only
//! on what the load balancer and Auto Scaling report, never on a command's success.

mod analysis;
mod bake;
mod blue_green;
mod canary;
mod checkpoint;
mod commands;
mod group_settings;
mod groups;
mod health;
mod hooks;
mod phase_tag;
mod progress;
mod resume;
mod rollback;
mod rolling;
mod scaling;
mod soak;
mod transition;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::observation::Observation;
use crate::phase::{Event, Outcome, Phase};
use crate::spec::RolloutSpec;
use crate::time::Timestamp;
use crate::transitions::Transition;

use commands::Out;
use resume::sorted_targets;

pub use analysis::{
    MIN_5XX_FOR_REGRESSION, MIN_PERIODS_FOR_REGRESSION, REGRESSION_5XX_FLOOR,
    REGRESSION_5XX_SIGMAS, REGRESSION_P99_SIGMAS,
};
pub use checkpoint::Checkpoint;

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

/// Canary: a read of the listener shows the engine's own weight writes only when it was made
/// this long after the last of them (and after the rollout resumed, since a killed
/// predecessor's write may still be landing); until then a group is not detached on what the
/// read shows. A write lands late (AWS's APIs are eventually consistent: the simulator draws
/// up to 15 s) and a read of DescribeRules/DescribeListeners may come from a replica that lags
/// behind (the simulator: up to 20 s), so an earlier read can show the weights from before the
/// write: after a rollback those are the weights from before the rollout, the very ones the
/// rollback writes, and after the last canary step an earlier step's write still landing can
/// undo the 100 % the read shows. The load balancer's nodes, too, route by the new weights
/// only some seconds after the API took them (tools that shift ALB traffic wait 30 s before
/// scaling the side that lost it down). 45 s covers both lags with margin and is paid once
/// per canary rollout and once per canary rollback, before the detach; the canary steps in
/// between start their soak on the first read showing their weight (a weight the listener
/// never had before this step cannot come from a lagging read).
pub const LISTENER_SETTLE: Duration = Duration::from_secs(45);

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

/// The output of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Run these (in order; each is idempotent). Report failures with
    /// [`Rollout::command_failed`]; never abort the rollout because one failed. A terminal
    /// decision's [`Command::is_informational`] ones (the final `zdd:phase`) are run too.
    pub commands: Vec<Command>,
    /// Observe and step again at this time: the earliest moment something can have changed
    /// (a target's interval × threshold elapsed, a drain ended, a soak ended, a command should
    /// have landed), not a fixed poll.
    pub next_wake: Timestamp,
    /// The phase after this step.
    pub phase: Phase,
    /// Timeline entries added by this step.
    pub events: Vec<Event>,
    /// Canary: fetch the canary's two target groups' one-minute metric periods from here on
    /// ([`Observation::metric_periods`]): the window a soak or a bake judges.
    pub metrics_since: Option<Timestamp>,
    /// `Some` once the phase is terminal.
    pub outcome: Option<Outcome>,
    /// The phase changes this step made (a resumed rollout's first step also shows the phase
    /// it resumed in), each checked against [`crate::transitions::TRANSITIONS`].
    #[serde(default)]
    pub transitions: Vec<Transition>,
    /// The phases this step entered, in order, as the phase record names them: the one source
    /// for a reader's `phase` lines (a `phase` timeline entry is not always a change of phase).
    #[serde(default)]
    pub phases_entered: Vec<PhaseEntered>,
}

/// A phase the rollout entered (see [`Decision::phases_entered`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseEntered {
    /// The `zdd:phase` value of the phase (`draining_old`, `canary_step 2/3 25%`).
    pub phase: String,
    /// Why, as the timeline says it (`draining_old: waiting out the deregistration delay`).
    pub detail: String,
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
    /// Phases entered not yet handed out in a [`Decision`].
    phases_entered: Vec<PhaseEntered>,
}

/// Advances `rollout` by one observation. Same as [`Rollout::step`].
pub fn step(rollout: &mut Rollout, observation: &Observation, now: Timestamp) -> Decision {
    rollout.step(observation, now)
}

impl Rollout {
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

    /// The driver did not make `command` (a record for readers the rate budget had no room
    /// for): it is no longer pending, so the next step issues it again. Nothing is logged:
    /// nothing happened.
    pub fn command_not_made(&mut self, command: &Command) {
        self.cp.pending.remove(&command.key());
    }

    /// Advances the rollout by one observation.
    pub fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        let sorted = sorted_targets(&self.spec, observation);
        let obs = &sorted;
        let mut out = Out::default();
        self.cp
            .pending
            .retain(|_, issued| now < *issued + RETRY_AFTER + RETRY_AFTER);
        self.observe_served(obs);
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
                Phase::Baking => self.on_baking(obs, now, &mut out),
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
        // After the step decided: the record follows the phase and never holds it back.
        self.publish_phase(obs, now, &mut out);

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
            phases_entered: std::mem::take(&mut self.phases_entered),
        }
    }
}
