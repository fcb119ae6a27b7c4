//! The serving group's own settings that AWS applies to a live group: its health check
//! (`UpdateAutoScalingGroup`) and its lifecycle hooks (`PutLifecycleHook`,
//! `DeleteLifecycleHook`). A new generation is created with them; the serving group gets them
//! in place at the end of a run, so changing them alone needs no new generation, and a fleet
//! created before they existed (AWS's `EC2` health check, no grace period) is brought to the
//! configuration without a rollout.

use crate::command::Command;
use crate::observation::AsgObservation;
use crate::time::Timestamp;

use super::Rollout;
use super::commands::Out;

impl Rollout {
    /// The configured health check and hooks on `asg`, as far as they were read (`None`:
    /// nothing is concluded). True once observed so.
    pub(super) fn ensure_group_settings(
        &mut self,
        asg: &AsgObservation,
        now: Timestamp,
        out: &mut Out,
    ) -> bool {
        let mut done = true;
        if let Some(observed) = asg.health_check
            && observed != self.spec.health_check
        {
            done = false;
            self.issue(
                Command::SetHealthCheck {
                    asg: asg.name.clone(),
                    health_check: self.spec.health_check,
                },
                now,
                out,
            );
        }
        let Some(observed) = asg.lifecycle_hooks.clone() else {
            return done;
        };
        for hook in self.spec.lifecycle_hooks.clone() {
            if !observed.contains(&hook) {
                done = false;
                self.issue(
                    Command::PutLifecycleHook {
                        asg: asg.name.clone(),
                        hook,
                    },
                    now,
                    out,
                );
            }
        }
        for hook in observed {
            if !self
                .spec
                .lifecycle_hooks
                .iter()
                .any(|h| h.name == hook.name)
            {
                done = false;
                self.issue(
                    Command::DeleteLifecycleHook {
                        asg: asg.name.clone(),
                        hook_name: hook.name,
                    },
                    now,
                    out,
                );
            }
        }
        done
    }
}
