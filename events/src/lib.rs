//! What a rollout's readers see, defined once for the writer and every reader.
//!
//! - The provider's **live events**: when its environment names a file in [`EVENTS_FILE_ENV`],
//!   the provider appends one JSON object per line ([`EventLine`]) as a rollout moves: a
//!   `phase` line per phase change, a `progress` line when the picture changes, a `finished`
//!   line at the end. `zdd-guard run` sets the variable for its terraform and shows the lines
//!   live; anyone else may tail the file. Lines are appended whole (one `write` each), so a
//!   reader sees complete lines or none; a reader skips lines it cannot parse and lines whose
//!   `schema_version` it does not know.
//! - The **health samples** kept in `last_rollout.samples` ([`Sample`]): the healthy targets per
//!   generation and the new generation's weight over time, recorded when they change and
//!   bounded to [`MAX_SAMPLES`], so `zdd-guard report` can draw the rollout from the state.
//!
//! Types only: no I/O, no clock. Field names are the wire format; change them only with
//! [`SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};

mod samples;

pub use samples::SampleLog;

/// The version of the event lines' shape. Readers ignore lines of another version.
pub const SCHEMA_VERSION: u32 = 1;

/// The environment variable naming the file the provider appends its event lines to. Unset or
/// empty: no events are written. A file that cannot be opened or written is reported once in
/// the provider's log and never fails or slows a rollout.
pub const EVENTS_FILE_ENV: &str = "ZDD_EVENTS_FILE";

/// The most samples `last_rollout.samples` keeps (the state's size is bounded whatever the
/// rollout's length).
pub const MAX_SAMPLES: usize = 240;

/// One line of the event file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub schema_version: u32,
    /// RFC 3339 UTC, seconds.
    pub at: String,
    /// The `zdd_rollout`'s `name` (the fleet's name, unique per owner in an account and
    /// region: one apply may roll out two fleets of the same name in two regions).
    pub rollout: String,
    /// The AWS region the fleet is in, as the provider is configured (absent when unknown).
    /// A reader tells two fleets of the same name apart by (`rollout`, `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A run of the rollout began (an apply's create, update or delete of the resource).
    Started {
        /// What the run does (absent in lines of providers before it: `rollout`).
        #[serde(default)]
        operation: Operation,
        /// `blue_green`, `rolling` or `canary`.
        strategy: String,
        /// The generation serving when the run began, if any.
        from_generation: Option<u64>,
        /// The generation the run rolls out.
        to_generation: u64,
    },
    /// The rollout entered a phase (the `zdd:phase` value) for the reason in `detail` (the
    /// `last_rollout` timeline's `phase` entry).
    Phase { phase: String, detail: String },
    /// The picture changed: health, weights, capacity or the time left of a wait.
    Progress(Progress),
    /// The run ended: `status` is one of `last_rollout.status`'s values.
    Finished { status: String, detail: String },
}

/// What a run of the resource does: the verb a reader shows in a `started` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Rolls `to_generation` out over `from_generation` (or creates it when there is none).
    #[default]
    Rollout,
    /// Finishes an interrupted rollback: `to_generation` is the generation being removed and
    /// `from_generation` the one that serves again.
    Rollback,
    /// Deletes the fleet (`terraform destroy`): every generation goes; `to_generation` is 0.
    Teardown,
}

/// Where a rollout stands, as one look at AWS showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The `zdd:phase` value (`canary_step 2/4 25%`, `draining_old`, ...).
    pub phase: String,
    /// The generations taking part: the new one and, while it exists, the old one.
    pub generations: Vec<Generation>,
    /// The new generation's share of the canary listener's traffic in percent; `None` without
    /// a canary listener.
    pub new_weight_percent: Option<u32>,
    /// The capacity being served (the serving group's desired capacity, autoscaling included).
    pub served: u32,
    /// The capacity floor: the fewest healthy targets the rollout lets the fleet have.
    pub floor: u32,
    /// What the rollout waits for, if it waits for time to pass or for AWS.
    pub waiting: Option<Waiting>,
}

/// One generation's group as the load balancer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub role: Role,
    pub generation: u64,
    /// The Auto Scaling group's name (`<name>-g<generation>`).
    pub asg: String,
    pub desired: u32,
    /// Instances whose targets are `healthy` in every target group of the rollout.
    pub healthy: u32,
    /// Targets of this group the load balancer is draining.
    pub draining: u32,
    /// Whether the group is attached to the rollout's target groups.
    pub attached: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The generation being rolled out (or, in a rollback, the one being removed).
    New,
    /// The generation serving before the rollout.
    Old,
}

/// A wait with the time it has left, when that is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub what: WaitKind,
    /// Seconds until the wait ends at the latest (a soak's window completing, a drain's
    /// deregistration delay, a bake's duration, a health wait's timeout); `None` if unknown.
    pub seconds_left: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// New targets becoming healthy.
    Health,
    /// A canary step's soak.
    Soak,
    /// Old (or, in a rollback, new) targets draining for the deregistration delay.
    Drain,
    /// The bake after the switch.
    Bake,
    /// Instances held by a lifecycle hook.
    Hook,
}

impl WaitKind {
    /// The word a person reads: `soak`, `drain`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Health => "health",
            WaitKind::Soak => "soak",
            WaitKind::Drain => "drain",
            WaitKind::Bake => "bake",
            WaitKind::Hook => "hook",
        }
    }
}

/// One point of `last_rollout.samples`: the health and weight from this time until the next
/// sample. Recorded only when a value changes; the first and the last look are always kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// RFC 3339 UTC, seconds.
    pub at: String,
    /// Healthy targets of the new generation (see [`Generation::healthy`]).
    pub healthy_new: u32,
    /// Healthy targets of the old generation; 0 once it is gone.
    pub healthy_old: u32,
    /// The new generation's weight in percent; `None` without a canary listener.
    pub weight_new: Option<u32>,
}

/// Every `last_rollout.status` the provider writes (its `STATUSES` table, which documents each,
/// is checked against this list), for readers such as `zdd-guard report`.
pub const ROLLOUT_STATUSES: &[&str] = &["succeeded", "rolled_back", "failed", "interrupted"];

/// The `last_rollout.steps[].action`s that fail a rollout (each is in the provider's documented
/// `ACTIONS` table; a test there keeps them in step).
pub const FAILURE_ACTIONS: &[&str] = &["failure", "abort", "give_up"];

/// The other actions worth a mark on a timeline: judgements, drains, resumes, AWS errors (each
/// in the provider's `ACTIONS` table too).
pub const MARKED_ACTIONS: &[&str] = &["analysis", "bake", "drain", "resume", "command_failed"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_line_is_flat_json_tagged_by_kind() {
        let line = EventLine {
            schema_version: SCHEMA_VERSION,
            at: "2026-12-02T19:00:00Z".into(),
            rollout: "web".into(),
            region: Some("eu-west-1".into()),
            event: Event::Phase {
                phase: "draining_old".into(),
                detail: "old targets deregistered".into(),
            },
        };
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(json["kind"], "phase");
        assert_eq!(json["phase"], "draining_old");
        assert_eq!(json["rollout"], "web");
        let back: EventLine = serde_json::from_value(json).unwrap();
        assert_eq!(back, line);
    }

    #[test]
    fn a_progress_line_round_trips() {
        let line = EventLine {
            schema_version: SCHEMA_VERSION,
            at: "2026-12-02T19:00:00Z".into(),
            rollout: "web".into(),
            region: Some("eu-west-1".into()),
            event: Event::Progress(Progress {
                phase: "canary_step 2/4 25%".into(),
                generations: vec![Generation {
                    role: Role::New,
                    generation: 2,
                    asg: "web-g2".into(),
                    desired: 4,
                    healthy: 3,
                    draining: 0,
                    attached: true,
                }],
                new_weight_percent: Some(25),
                served: 4,
                floor: 4,
                waiting: Some(Waiting {
                    what: WaitKind::Soak,
                    seconds_left: Some(130),
                }),
            }),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.contains(r#""kind":"progress""#), "{text}");
        assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
    }
}
