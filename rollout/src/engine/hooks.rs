//! Lifecycle hooks: a launch hook holds new instances in `Pending:Wait` (not serving; the
//! wait for health allows for it), a termination hook holds retiring ones in
//! `Terminating:Wait`. A retiring group with a termination hook is scaled to zero and deleted
//! once empty: ForceDelete would abandon the hook's lifecycle actions.

use crate::command::Command;
use crate::observation::{AsgObservation, LifecycleState, Observation};
use crate::spec::{HookTransition, human};
use crate::time::Timestamp;

use super::Rollout;
use super::commands::Out;

impl Rollout {
    /// The end of the current health window: `health_timeout` plus the longest launch hook.
    pub(super) fn health_deadline(&self) -> Timestamp {
        self.cp.health_clock + self.spec.health_timeout + self.spec.launch_hook_time()
    }

    /// Whether retiring `asg` must let its instances pass a termination hook: the
    /// configuration has one, or the group was created with one.
    pub(super) fn holds_termination(&self, asg: &AsgObservation) -> bool {
        self.spec.has_termination_hook()
            || asg.lifecycle_hooks.as_ref().is_some_and(|hooks| {
                hooks
                    .iter()
                    .any(|hook| hook.transition == HookTransition::Terminating)
            })
    }

    /// Deletes a retiring group that is detached and drained. Without a termination hook:
    /// `DeleteAsg` with force, as always. With one: sizes to 0/0/0, then wait until every
    /// instance has passed `Terminating:Wait` and left, then `DeleteAsg` without force.
    pub(super) fn delete_retiring(
        &mut self,
        obs: &Observation,
        asg: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) {
        let hooked = self.holds_termination(asg);
        let delete = Command::DeleteAsg {
            asg: asg.name.clone(),
            force: !hooked,
        };
        if asg.is_deleting() {
            self.look_again_for(&delete, now, out);
            return;
        }
        if !hooked {
            self.issue(delete, now, out);
            return;
        }
        if (asg.min_size, asg.max_size, asg.desired_capacity) != (0, 0, 0) {
            self.issue(
                Command::SetCapacity {
                    asg: asg.name.clone(),
                    min_size: 0,
                    max_size: 0,
                    desired_capacity: 0,
                },
                now,
                out,
            );
            return;
        }
        let present = asg
            .instances
            .iter()
            .filter(|i| i.lifecycle != LifecycleState::Terminated)
            .count();
        if present > 0 {
            self.log_hook_wait(asg, now);
            out.wake_at(now + self.poll_interval(obs));
            return;
        }
        self.issue(delete, now, out);
    }

    /// Writes into the timeline, once per group and wait state, that a lifecycle hook holds
    /// instances of `asg`.
    pub(super) fn log_hook_wait(&mut self, asg: &AsgObservation, now: Timestamp) {
        for (state, wait, transition) in [
            (
                LifecycleState::Pending,
                "Pending:Wait",
                HookTransition::Launching,
            ),
            (
                LifecycleState::Terminating,
                "Terminating:Wait",
                HookTransition::Terminating,
            ),
        ] {
            let held = asg
                .instances
                .iter()
                .filter(|i| i.hook_wait && i.lifecycle == state)
                .count();
            if held == 0 || !self.cp.hook_logged.insert(format!("{}:{wait}", asg.name)) {
                continue;
            }
            let longest = self
                .spec
                .lifecycle_hooks
                .iter()
                .filter(|hook| hook.transition == transition)
                .map(|hook| hook.heartbeat_timeout)
                .max();
            let bound = longest.map_or(String::new(), |t| format!(" (up to {} each)", human(t)));
            self.log(
                now,
                "lifecycle_hook",
                format!(
                    "{held} instance(s) of {} held in {wait} by a lifecycle hook{bound}",
                    asg.name
                ),
            );
        }
    }
}
