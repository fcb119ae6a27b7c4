//! Virtual time and Auto Scaling: each tick boots, launches, scales in and terminates
//! instances the way the groups' sizes ask.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Timestamp;

use super::{DELETE_VISIBLE_MS, START_MS, SimAsg, SimInstance, TICK_MS, World, duration_ms};

impl World {
    /// Advances virtual time to `until` (rounded up to a whole tick), tick by tick.
    pub fn advance_to(&mut self, until: Timestamp) {
        let until = until.0.div_ceil(TICK_MS) * TICK_MS;
        while self.now < until {
            self.tick();
        }
    }

    pub(super) fn tick(&mut self) {
        self.now += TICK_MS;
        let now = self.now;
        // Commands that land now.
        if !self.delayed.is_empty() {
            self.delayed.sort_by_key(|(at, seq, _)| (*at, *seq));
            while self.delayed.first().is_some_and(|(at, _, _)| *at <= now) {
                let (_, _, command) = self.delayed.remove(0);
                self.apply(&command);
            }
        }
        // Instances entering service or finishing their drain.
        let due: Vec<(String, bool)> = self
            .instances
            .iter()
            .filter(|(_, i)| !i.terminated)
            .filter_map(|(id, i)| {
                if i.terminate_after.is_some_and(|t| t <= now) {
                    Some((id.clone(), true))
                } else if i.terminate_after.is_none()
                    && i.in_service_at > now - TICK_MS
                    && i.in_service_at <= now
                {
                    Some((id.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        let abandoned: Vec<String> = self
            .instances
            .iter()
            .filter(|(_, i)| !i.terminated && i.abandon_at.is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in abandoned {
            self.terminate_now(&id);
        }
        self.apply_due_scaling();
        for (id, terminate) in due {
            if terminate {
                self.terminate_now(&id);
                continue;
            }
            let asg = self
                .instances
                .get(&id)
                .map(|i| i.asg.clone())
                .unwrap_or_default();
            let groups = self
                .asgs
                .get(&asg)
                .map(|a| a.groups.clone())
                .unwrap_or_default();
            for arn in groups {
                self.register(&arn, &id);
            }
        }
        let names: Vec<String> = self.asgs.keys().cloned().collect();
        for name in &names {
            self.reconcile_asg(name);
        }
        self.asgs
            .retain(|_, a| a.deleted_at.is_none_or(|d| now < d + DELETE_VISIBLE_MS));
        // Drains that ended.
        let delay = duration_ms(self.timings.deregistration_delay);
        for group in self.groups.values_mut() {
            group
                .targets
                .retain(|_, r| r.deregistered_at.is_none_or(|d| now < d + delay));
        }
        self.track_served();
        self.check_tick_invariants();
        self.route_traffic();
        let live = self.instances.values().filter(|i| !i.terminated).count() as u64;
        self.instance_ms += live * TICK_MS;
        self.peak_instances = self.peak_instances.max(live);
    }

    /// Instances of `asg` neither terminated nor draining towards termination.
    pub(super) fn live_instances(&self, asg: &SimAsg) -> Vec<String> {
        asg.instances
            .iter()
            .filter(|id| {
                self.instances
                    .get(*id)
                    .is_some_and(|i| !i.terminated && i.terminate_after.is_none())
            })
            .cloned()
            .collect()
    }

    /// The instances a desired capacity of `desired` would make AWS retire now (AWS picks by
    /// its termination policy; here: the newest first).
    pub(super) fn scale_in_victims(&self, asg: &str, desired: u32) -> Vec<String> {
        let Some(a) = self.asgs.get(asg).filter(|a| a.deleted_at.is_none()) else {
            return Vec::new();
        };
        let mut order = self.live_instances(a);
        order.sort();
        order.reverse();
        let excess = order.len().saturating_sub(desired as usize);
        order.into_iter().take(excess).collect()
    }

    /// Launches or removes instances so the group matches its desired capacity.
    pub(super) fn reconcile_asg(&mut self, name: &str) {
        let Some(asg) = self.asgs.get(name).filter(|a| a.deleted_at.is_none()) else {
            return;
        };
        let generation = asg.generation;
        let live = self.live_instances(asg);
        if live.len() == asg.desired as usize {
            return;
        }
        let desired = asg.desired as usize;
        if live.len() < desired {
            for _ in live.len()..desired {
                self.launch(name, generation);
            }
        } else if live.len() > desired {
            // AWS scale-in: it picks, deregisters, drains, terminates.
            for id in self.scale_in_victims(name, asg.desired) {
                self.terminate_safely(&id);
            }
        }
    }

    pub(super) fn launch(&mut self, asg: &str, generation: u64) {
        let id = self.new_instance_id(generation);
        self.launches
            .push((Duration::from_millis(self.now - START_MS), generation));
        let t = &self.timings;
        let boot = self
            .rng
            .range(duration_ms(t.boot_min), duration_ms(t.boot_max));
        let app = self.rng.range(0, duration_ms(t.app_start_max));
        let is_new = Some(generation) != self.previous_generation;
        let never_healthy =
            is_new && (self.faults.bad_release || self.rng.chance(self.faults.never_healthy));
        let flap = if is_new && self.rng.chance(self.faults.flap) {
            Some((self.rng.range(0, 60_000), self.rng.range(10_000, 40_000)))
        } else {
            None
        };
        // Instances enter service on a tick boundary, after any launch hook let them go.
        let booted_at = (self.now + boot).div_ceil(TICK_MS) * TICK_MS;
        let hold = self.launch_hold(asg);
        let in_service_at = if hold.abandoned {
            u64::MAX
        } else {
            (booted_at + hold.wait).div_ceil(TICK_MS) * TICK_MS
        };
        self.instances.insert(
            id.clone(),
            SimInstance {
                asg: asg.to_string(),
                generation,
                in_service_at,
                app_ready_at: in_service_at.saturating_add(app),
                terminate_after: None,
                terminated: false,
                never_healthy,
                flap,
                error_ratio: self.faults.baseline_5xx_ratio
                    + if is_new {
                        self.faults.new_5xx_ratio
                    } else {
                        0.0
                    },
                latency_factor: if is_new {
                    self.faults.new_latency_factor.unwrap_or(1.0)
                } else {
                    1.0
                },
                error_carry: 0.0,
                inflight: VecDeque::new(),
                pending_wait_from: (hold.wait > 0 || hold.abandoned).then_some(booted_at),
                abandon_at: hold.abandoned.then_some(booted_at + hold.wait),
                terminating_wait_from: None,
            },
        );
        if let Some(a) = self.asgs.get_mut(asg) {
            a.instances.push(id);
        }
    }
}
