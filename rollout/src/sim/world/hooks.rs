//! Lifecycle hooks in the simulated Auto Scaling: a launch hook holds a booted instance in
//! `Pending:Wait`, a termination hook holds a drained one in `Terminating:Wait`, each until its
//! action completes (after a seeded random time) or its heartbeat times out with the hook's
//! default result. ForceDelete abandons the actions, skipping the hooks: a violation.

use crate::spec::{HookResult, HookTransition};

use super::{World, duration_ms};

/// How a launch hook lets an instance go.
pub(super) struct LaunchHold {
    /// Time in `Pending:Wait` (ms).
    pub wait: u64,
    /// A heartbeat timed out with `ABANDON`: the instance is terminated instead of entering
    /// service.
    pub abandoned: bool,
}

impl World {
    /// The launch hooks of `asg` on an instance that has just booted.
    pub(super) fn launch_hold(&mut self, asg: &str) -> LaunchHold {
        let hooks: Vec<_> = self
            .asgs
            .get(asg)
            .map(|a| a.hooks.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|h| h.transition == HookTransition::Launching)
            .collect();
        let mut hold = LaunchHold {
            wait: 0,
            abandoned: false,
        };
        for hook in hooks {
            let heartbeat = duration_ms(hook.heartbeat_timeout);
            let completes = self
                .rng
                .range(0, duration_ms(self.timings.hook_completion_max));
            if completes > heartbeat && hook.default_result == HookResult::Abandon {
                hold.abandoned = true;
            }
            hold.wait = hold.wait.max(completes.min(heartbeat));
        }
        hold
    }

    /// How long the termination hooks of `id`'s group hold it once drained (ms, 0 without).
    pub(super) fn termination_hold(&mut self, id: &str) -> u64 {
        let Some(asg) = self.instances.get(id).map(|i| i.asg.clone()) else {
            return 0;
        };
        let hooks: Vec<_> = self
            .asgs
            .get(&asg)
            .map(|a| a.hooks.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|h| h.transition == HookTransition::Terminating)
            .collect();
        let mut wait = 0;
        for hook in hooks {
            let completes = self
                .rng
                .range(0, duration_ms(self.timings.hook_completion_max));
            // Whatever the default result, a terminating instance ends terminated.
            wait = wait.max(completes.min(duration_ms(hook.heartbeat_timeout)).max(1));
        }
        wait
    }

    /// Whether `asg` still has an instance that is not terminated (AWS refuses to delete it
    /// without ForceDelete).
    pub(super) fn has_instances(&self, asg: &str) -> bool {
        self.asgs.get(asg).is_some_and(|a| {
            a.instances
                .iter()
                .any(|id| self.instances.get(id).is_some_and(|i| !i.terminated))
        })
    }

    /// No hook skipped: ForceDelete of a group with a termination hook while it still has an
    /// instance abandons that instance's lifecycle action (or the one it would get).
    pub(super) fn check_no_hook_skipped(&mut self, asg: &str) {
        let Some(group) = self.asgs.get(asg) else {
            return;
        };
        let has_hook = group
            .hooks
            .iter()
            .any(|h| h.transition == HookTransition::Terminating);
        let now = self.now;
        let skipped: Vec<String> = group
            .instances
            .iter()
            .filter(|id| {
                self.instances.get(*id).is_some_and(|i| {
                    !i.terminated && (has_hook || i.terminating_wait_from.is_some_and(|t| t <= now))
                })
            })
            .cloned()
            .collect();
        if !skipped.is_empty() {
            self.violation(format!(
                "hook skipped: {asg} force-deleted while {} had a termination hook to pass",
                skipped.join(", ")
            ));
        }
    }

    /// Which wait state a hook holds an instance in now, if any.
    pub(super) fn hook_wait_of(&self, id: &str) -> Option<&'static str> {
        let instance = self.instances.get(id)?;
        if instance.terminated {
            return None;
        }
        if instance
            .terminating_wait_from
            .is_some_and(|t| t <= self.now)
        {
            return Some("Terminating:Wait");
        }
        if instance.terminate_after.is_none()
            && instance.pending_wait_from.is_some_and(|t| t <= self.now)
            && self.now < instance.in_service_at
        {
            return Some("Pending:Wait");
        }
        None
    }
}
