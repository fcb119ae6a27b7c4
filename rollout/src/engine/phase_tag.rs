//! The phase record: the rollout's phase (`zdd:phase`), when it began (`zdd:phase-since`) and
//! its capacity floor (`zdd:floor`) kept on its groups, so that a reader with AWS alone (the
//! console, `describe-tags`, `zdd-guard status`) sees where a rollout stands, how long a drain
//! or bake has left and the floor it holds.
//!
//! Level-triggered like everything else (a group showing another value gets the current one),
//! but never a gate: it is written after the step decided, no phase waits for it, it wakes
//! nobody, and a failed or late write is simply written again at a later step.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::fleet::{TAG_FLOOR, TAG_PHASE, TAG_PHASE_SINCE, phase_tag};
use crate::observation::Observation;
use crate::spec::Strategy;
use crate::time::Timestamp;

use super::commands::Out;
use super::{Mode, RETRY_AFTER, Rollout};

impl Rollout {
    /// The value of `zdd:phase` for the current phase (see [`TAG_PHASE`]).
    pub(super) fn phase_tag_value(&self) -> String {
        let canary_steps = match &self.spec.strategy {
            Strategy::Canary(canary) => canary.steps.len(),
            _ => 0,
        };
        phase_tag(&self.cp.phase, canary_steps)
    }

    /// Records the phase on the rollout's groups (the new generation's and, while it exists,
    /// the old one's) where the observation shows another record. One `CreateOrUpdateTags`
    /// ([`Command::RecordPhase`], the three tags together) per group and phase change (or
    /// change of the floor, when the capacity served grows): a write not seen yet is not repeated for [`RETRY_AFTER`]
    /// (or until it is reported failed). A group being deleted (or whose delete this step
    /// issues) is left alone, and a destroy records nothing (there is no rollout to read).
    pub(super) fn publish_phase(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        if self.cp.mode != Mode::Rollout {
            return;
        }
        let phase = self.phase_tag_value();
        let since = self.cp.phase_started_at.as_millis() / 1000;
        let floor = self.shown_floor();
        let record = [
            (TAG_PHASE, phase.clone()),
            (TAG_PHASE_SINCE, since.to_string()),
            (TAG_FLOOR, floor.to_string()),
        ];
        let names: BTreeSet<String> = std::iter::once(self.new_name())
            .chain(self.old_name())
            .collect();
        for name in names {
            let Some(asg) = obs.asg(&name) else {
                continue;
            };
            let deleting_now = out
                .commands
                .iter()
                .any(|c| matches!(c, Command::DeleteAsg { asg, .. } if *asg == name));
            let shown = record
                .iter()
                .all(|(key, value)| asg.tags.get(*key) == Some(value));
            if asg.status.is_some() || deleting_now || shown {
                continue;
            }
            let command = Command::RecordPhase {
                asg: name,
                phase: phase.clone(),
                since,
                floor,
            };
            let key = command.key();
            if self
                .cp
                .pending
                .get(&key)
                .is_some_and(|issued| now < *issued + RETRY_AFTER)
            {
                continue;
            }
            // Not in the timeline: the `phase` entry already says it.
            self.cp.pending.insert(key, now);
            out.commands.push(command);
        }
    }
}
