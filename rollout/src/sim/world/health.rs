//! The load balancer's health model: `initial` for interval × healthy threshold after
//! registration, `draining` for the deregistration delay, flaps, never-healthy instances.

use crate::observation::TargetState;

use super::{Registration, SimInstance, World, duration_ms};

impl World {
    /// Health checks run every interval from registration on (the first one interval after
    /// it); a check passes once the application answers. The target turns healthy at the
    /// `healthy_threshold`-th consecutive passing check: interval × threshold after
    /// registration when the application is up at once.
    pub(super) fn healthy_at(&self, instance: &SimInstance, registration: &Registration) -> u64 {
        let interval = duration_ms(self.timings.health_check_interval).max(1);
        let first_passing_check = instance
            .app_ready_at
            .saturating_sub(registration.registered_at)
            .div_ceil(interval)
            .max(1);
        registration.registered_at
            + interval
                * (first_passing_check + u64::from(self.timings.healthy_threshold.max(1)) - 1)
    }

    /// Target state and reason at the current time; `None` once a drain has finished.
    pub(super) fn target_state(
        &self,
        id: &str,
        registration: &Registration,
    ) -> Option<(TargetState, Option<&'static str>)> {
        if let Some(deregistered) = registration.deregistered_at {
            let end = deregistered + duration_ms(self.timings.deregistration_delay);
            return (self.now < end).then_some((
                TargetState::Draining,
                Some("Target.DeregistrationInProgress"),
            ));
        }
        let instance = self.instances.get(id)?;
        if instance.terminated {
            return Some((TargetState::Unhealthy, Some("Target.NotInUse")));
        }
        let interval = duration_ms(self.timings.health_check_interval).max(1);
        if instance.never_healthy {
            let failing_at = registration.registered_at
                + interval * u64::from(self.timings.unhealthy_threshold.max(1));
            return Some(if self.now >= failing_at {
                (TargetState::Unhealthy, Some("Target.ResponseCodeMismatch"))
            } else {
                (TargetState::Initial, Some("Elb.InitialHealthChecking"))
            });
        }
        let healthy_at = self.healthy_at(instance, registration);
        if self.now < healthy_at {
            return Some((TargetState::Initial, Some("Elb.InitialHealthChecking")));
        }
        if self.is_flapping(id) {
            return Some((TargetState::Unhealthy, Some("Target.Timeout")));
        }
        Some((TargetState::Healthy, None))
    }

    /// Inside an injected unhealthy spell (an external fault, not the engine's doing).
    pub(super) fn is_flapping(&self, id: &str) -> bool {
        let Some(instance) = self.instances.get(id) else {
            return false;
        };
        let Some((start, length)) = instance.flap else {
            return false;
        };
        let first_healthy = self
            .groups
            .values()
            .filter_map(|g| g.targets.get(id))
            .map(|r| self.healthy_at(instance, r))
            .min();
        first_healthy.is_some_and(|h| self.now >= h + start && self.now < h + start + length)
    }

    pub(super) fn is_routable(&self, id: &str, registration: &Registration) -> bool {
        matches!(
            self.target_state(id, registration),
            Some((TargetState::Healthy, _))
        )
    }

    /// Healthy, or unhealthy only because of an injected flap.
    pub(super) fn counts_as_capacity(&self, id: &str, registration: &Registration) -> bool {
        registration.deregistered_at.is_none()
            && self.instances.get(id).is_some_and(|i| !i.terminated)
            && (self.is_routable(id, registration) || self.is_flapping(id))
    }
}
