//! The `zdd:phase` record: the rollout's phase kept on its groups, so that a reader with AWS
//! alone (the console, `describe-tags`, a status command) sees where a rollout stands.
//!
//! Level-triggered like everything else (a group showing another value gets the current one),
//! but never a gate: it is written after the step decided, no phase waits for it, it wakes
//! nobody, and a failed or late write is simply written again at a later step.

use std::collections::BTreeSet;

use crate::command::Command;
use crate::fleet::{TAG_PHASE, phase_tag};
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
    /// the old one's) where the observation shows another value. One `CreateOrUpdateTags`
    /// per group and phase change: a write not seen yet is not repeated for [`RETRY_AFTER`]
    /// (or until it is reported failed). A group being deleted (or whose delete this step
    /// issues) is left alone, and a destroy records nothing (there is no rollout to read).
    pub(super) fn publish_phase(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        if self.cp.mode != Mode::Rollout {
            return;
        }
        let value = self.phase_tag_value();
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
            if asg.status.is_some() || deleting_now || asg.tags.get(TAG_PHASE) == Some(&value) {
                continue;
            }
            let command = Command::TagAsg {
                asg: name,
                key: TAG_PHASE.to_string(),
                value: value.clone(),
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
