//! What the engine remembers between steps (and between applies, in private state).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::phase::{Event, Phase};
use crate::time::Timestamp;

use super::Mode;

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
    /// Canary: when the listener's weights were last written by this rollout, or when it
    /// resumed (a killed predecessor's write may still land): reads before
    /// [`super::LISTENER_SETTLE`] after it may predate the write.
    #[serde(default)]
    pub weights_written_at: Option<Timestamp>,
    /// Canary: when this rollout resumed (an apply's start included). What a killed
    /// predecessor issued, a detach of the stable group among it, may land until
    /// [`super::LISTENER_SETTLE`] after it.
    #[serde(default)]
    pub canary_resumed_at: Option<Timestamp>,
    /// Canary: the `step_applied_at` of the soak already noted in the timeline as extended
    /// for evidence (noted once per soak).
    #[serde(default)]
    pub soak_extended: Option<Timestamp>,
    /// Canary: the `step_applied_at` of the soak whose gates passed.
    #[serde(default)]
    pub soak_passed: Option<Timestamp>,
    /// Canary: when the first step began (kept for checkpoints; the gates' windows follow
    /// each step's `step_applied_at`).
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
    pub first_seen_initial: BTreeMap<TargetKey, Timestamp>,
    /// Target (`group|instance`) → the last time its instance was observed live but not yet
    /// registered in the group: it registered later, so it cannot be healthy before this +
    /// interval × threshold (the lower bound `next_wake` waits for).
    #[serde(default)]
    pub last_seen_unregistered: BTreeMap<TargetKey, Timestamp>,
    /// Targets (`group|instance`) seen `healthy` (a later read showing one `initial` lags).
    #[serde(default)]
    pub seen_healthy: BTreeSet<TargetKey>,
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
    /// The most capacity the serving group was seen serving during this rollout (its desired
    /// capacity; in place, the group's current one): the capacity goal and floor follow it.
    #[serde(default)]
    pub served: Option<u32>,
    /// `<group>:<policy>` put during this rollout (each is put once, then confirmed by name).
    #[serde(default)]
    pub policies_put: BTreeSet<String>,
    /// Canary: the new generation grows to follow a scale-out of the serving group; the next
    /// weight waits until it is healthy at its new size.
    #[serde(default)]
    pub following: bool,
    /// The new generation served alone (the old one detached): its self-scaling was resumed
    /// and is never suspended again by this rollout.
    #[serde(default)]
    pub serves_alone: bool,
    /// `<group>:<wait state>` already written into the timeline as held by a lifecycle hook.
    #[serde(default)]
    pub hook_logged: BTreeSet<String>,
    /// The readable timeline (`last_rollout.steps`).
    pub timeline: Vec<Event>,
}

impl Checkpoint {
    /// A rollout to generation 1 that has done nothing yet: resume derives the rest from what
    /// AWS shows.
    pub(super) fn fresh(now: Timestamp) -> Checkpoint {
        Checkpoint {
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
            soak_extended: None,
            soak_passed: None,
            step_applied_at: None,
            weights_written_at: None,
            canary_resumed_at: None,
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
            served: None,
            policies_put: BTreeSet::new(),
            following: false,
            serves_alone: false,
            hook_logged: BTreeSet::new(),
            timeline: Vec::new(),
        }
    }
}

/// One target of one target group (a checkpoint remembers when each was first seen `initial`,
/// last seen unregistered, seen `healthy`). Saved as `"<group arn>|<instance id>"`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct TargetKey {
    pub group_arn: String,
    pub instance_id: String,
}

impl TargetKey {
    pub fn new(group_arn: &str, instance_id: &str) -> TargetKey {
        TargetKey {
            group_arn: group_arn.to_string(),
            instance_id: instance_id.to_string(),
        }
    }
}

impl From<TargetKey> for String {
    fn from(key: TargetKey) -> String {
        format!("{}|{}", key.group_arn, key.instance_id)
    }
}

// An instance id never contains `|`, so the last one separates the two parts.
impl From<String> for TargetKey {
    fn from(text: String) -> TargetKey {
        match text.rsplit_once('|') {
            Some((group_arn, instance_id)) => TargetKey::new(group_arn, instance_id),
            None => TargetKey::new(&text, ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_key_is_saved_as_group_and_instance_joined_by_a_bar() {
        let key = TargetKey::new("arn:aws:elasticloadbalancing:tg/app-blue", "i-0abc");
        let seen = BTreeMap::from([(key, 7u64)]);
        let json = serde_json::to_string(&seen).unwrap();
        assert_eq!(
            json,
            r#"{"arn:aws:elasticloadbalancing:tg/app-blue|i-0abc":7}"#
        );
        let read: BTreeMap<TargetKey, u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(read, seen);
    }
}
