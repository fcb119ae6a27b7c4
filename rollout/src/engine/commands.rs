//! Issuing commands: retry pacing, confirmation looks, and the commands several phases share.

use crate::command::Command;
use crate::fleet::{TAG_CAPACITY, TAG_GENERATION, TAG_OWNER, TAG_ROLLOUT};
use crate::observation::AsgObservation;
use crate::time::Timestamp;

use super::{CONFIRM_AFTER, CONFIRM_BACKOFF, RETRY_AFTER, Rollout};

#[derive(Default)]
pub(super) struct Out {
    pub(super) commands: Vec<Command>,
    pub(super) wake: Option<Timestamp>,
    pub(super) metrics_since: Option<Timestamp>,
}

impl Out {
    pub(super) fn wake_at(&mut self, at: Timestamp) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }
}

/// Rolling: the old group scaled in to `desired`. Its minimum goes to 0, since a desired
/// capacity below the minimum is refused.
pub(super) fn scale_in_command(old: &AsgObservation, desired: u32) -> Command {
    Command::SetCapacity {
        asg: old.name.clone(),
        min_size: 0,
        max_size: old.max_size,
        desired_capacity: desired,
    }
}

pub(super) fn action_name(command: &Command) -> &'static str {
    match command {
        Command::CreateAsg { .. } => "create_asg",
        Command::SetCapacity { .. } => "set_capacity",
        Command::AttachTargetGroups { .. } => "attach_target_groups",
        Command::DetachTargetGroups { .. } => "detach_target_groups",
        Command::SetListenerWeights { .. } => "set_listener_weights",
        Command::TagAsg { .. } => "tag_asg",
        Command::RecordPhase { .. } => "record_phase",
        Command::DeleteAsg { .. } => "delete_asg",
        Command::PutScalingPolicy { .. } => "put_scaling_policy",
        Command::DeleteScalingPolicy { .. } => "delete_scaling_policy",
        Command::SetHealthCheck { .. } => "set_health_check",
        Command::PutLifecycleHook { .. } => "put_lifecycle_hook",
        Command::DeleteLifecycleHook { .. } => "delete_lifecycle_hook",
        Command::SuspendProcesses { .. } => "suspend_processes",
        Command::ResumeProcesses { .. } => "resume_processes",
    }
}

/// ASG tag values are limited to 256 characters.
pub(super) fn truncate_tag(text: &str) -> String {
    text.chars().take(256).collect()
}

impl Rollout {
    /// Issues a command unless the same one was issued less than [`RETRY_AFTER`] ago, and
    /// looks again [`CONFIRM_AFTER`] later to see it take effect.
    pub(super) fn issue(&mut self, command: Command, now: Timestamp, out: &mut Out) {
        self.issue_expecting(command, now, now + CONFIRM_AFTER, out);
    }

    /// Like [`Rollout::issue`], for a command whose effect the rollout has no use for before
    /// `look_at` (instances it launches cannot be healthy sooner): one observation instead of
    /// a confirmation and then a wait.
    pub(super) fn issue_expecting(
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
        if let Command::SetListenerWeights { .. } = &command {
            self.cp.weights_written_at = Some(now);
        }
        self.cp.pending.insert(key, now);
        out.wake_at(look_at.max(now + CONFIRM_AFTER));
        out.commands.push(command);
    }

    /// A command's effect is under way (e.g. "Delete in progress"): look again on the
    /// confirmation schedule of when it was issued.
    pub(super) fn look_again_for(&self, command: &Command, now: Timestamp, out: &mut Out) {
        if let Some(&issued) = self.cp.pending.get(&command.key())
            && let Some(at) = CONFIRM_BACKOFF
                .iter()
                .map(|after| issued + *after)
                .find(|at| *at > now)
        {
            out.wake_at(at);
        }
    }

    pub(super) fn ensure_attached(
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

    pub(super) fn ensure_capacity(
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

    pub(super) fn create_command(&self, desired: u32, min: u32) -> Command {
        let mut tags = self.spec.tags.clone();
        tags.insert(TAG_ROLLOUT.to_string(), self.spec.name.clone());
        tags.insert(TAG_GENERATION.to_string(), self.cp.to.to_string());
        if let Some(owner) = &self.spec.owner.id {
            tags.insert(TAG_OWNER.to_string(), owner.clone());
        }
        if let Some(served) = self.records_capacity() {
            tags.insert(TAG_CAPACITY.to_string(), served.to_string());
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
            health_check: self.spec.health_check,
            lifecycle_hooks: self.spec.lifecycle_hooks.clone(),
        }
    }
}
