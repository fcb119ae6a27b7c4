//! The rollout invariants (ARCHITECTURE.md), checked at every command and every tick, and the
//! end state a finished run must reach.

use std::collections::BTreeMap;

use crate::fleet::TAG_PHASE;
use crate::observation::{ScalingProcess, TargetState};

use super::World;

impl World {
    /// Invariant 2: an old target leaves only while every registered new target is healthy
    /// and the healthy targets left keep the capacity floor.
    pub(super) fn check_healthy_before_detach(&mut self, arn: &str, leaving: &[String]) {
        if self.teardown {
            return;
        }
        let newest = self.newest_generation;
        let old_leaving: Vec<&String> = leaving
            .iter()
            .filter(|id| {
                self.instances
                    .get(*id)
                    .is_some_and(|i| i.generation < newest)
            })
            .collect();
        if old_leaving.is_empty() || Some(newest) == self.previous_generation {
            return;
        }
        let mut problems = Vec::new();
        for (group_arn, group) in &self.groups {
            for (id, r) in &group.targets {
                let is_new = self
                    .instances
                    .get(id)
                    .is_some_and(|i| i.generation == newest && !i.terminated);
                if is_new && r.deregistered_at.is_none() && !self.counts_as_capacity(id, r) {
                    problems.push(format!("new target {id} not healthy in {}", group_arn));
                }
            }
        }
        let floor = self.capacity_floor();
        let remaining = self.capacity_of_stream(arn, leaving);
        if remaining < floor {
            problems.push(format!(
                "only {remaining} healthy targets would remain (floor {floor})"
            ));
        }
        if !problems.is_empty() {
            self.violation(format!(
                "invariant 2: old target(s) {} deregistered from {arn} while {}",
                old_leaving
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                problems.join("; ")
            ));
        }
    }

    /// Healthy targets serving the traffic stream `arn` belongs to, excluding `except`.
    /// (An instance is registered in at most one group of a canary listener.)
    pub(super) fn capacity_of_stream(&self, arn: &str, except: &[String]) -> u64 {
        let count_group = |g: &str| -> u64 {
            self.groups.get(g).map_or(0, |group| {
                group
                    .targets
                    .iter()
                    .filter(|(id, r)| !except.contains(id) && self.counts_as_capacity(id, r))
                    .count() as u64
            })
        };
        match &self.listener {
            Some((_, weights)) => {
                if !weights.iter().any(|(g, w)| g == arn && *w > 0) {
                    // A group without weight serves no stream: nothing to protect.
                    return u64::MAX;
                }
                weights
                    .iter()
                    .filter(|(_, w)| *w > 0)
                    .map(|(g, _)| count_group(g))
                    .sum()
            }
            None => count_group(arn),
        }
    }

    /// Invariant 3: no instance is terminated while registered or draining.
    pub(super) fn check_drained(&mut self, id: &str, how: &str) {
        let mut problems = Vec::new();
        for group in self.groups.values() {
            if let Some(r) = group.targets.get(id) {
                match self.target_state(id, r) {
                    Some((TargetState::Draining, _)) => {
                        problems.push(format!("draining in {}", group.name));
                    }
                    Some((state, _)) if state.is_registered() => {
                        problems.push(format!("registered ({state:?}) in {}", group.name));
                    }
                    _ => {}
                }
            }
        }
        if !problems.is_empty() {
            self.violation(format!(
                "invariant 3: instance {id} {how} while {}",
                problems.join(", ")
            ));
        }
    }

    /// Invariant 4: the old ASG goes only when the new one is attached and healthy.
    pub(super) fn check_replacement_serves(&mut self, deleting: &str) {
        let newest = self.newest_generation;
        let new_name = self.spec.asg_name(newest);
        let Some(new) = self.asgs.get(&new_name).filter(|a| a.deleted_at.is_none()) else {
            self.violation(format!(
                "invariant 4: {deleting} deleted while no newer ASG exists"
            ));
            return;
        };
        if new.groups.is_empty() {
            self.violation(format!(
                "invariant 4: {deleting} deleted while {new_name} is not attached"
            ));
            return;
        }
        let floor = self.capacity_floor();
        for arn in new.groups.clone() {
            let healthy = self.groups.get(&arn).map_or(0, |g| {
                g.targets
                    .iter()
                    .filter(|(id, r)| {
                        self.instances
                            .get(*id)
                            .is_some_and(|i| i.generation == newest)
                            && self.counts_as_capacity(id, r)
                    })
                    .count() as u64
            });
            if healthy < floor {
                self.violation(format!(
                    "invariant 4: {deleting} deleted while {new_name} has {healthy} healthy targets in {arn} (floor {floor})"
                ));
            }
        }
    }

    /// Invariant 1's floor. A scale up in place cannot serve the new size before it exists:
    /// the floor is then that of the smaller, starting size.
    ///
    /// While traffic shifts (and whenever policies own the capacity) the floor is computed
    /// from the capacity the serving group actually serves ([`World::served_capacity`]).
    pub(super) fn capacity_floor(&self) -> u64 {
        if (self.is_shifting() || self.spec.is_autoscaled())
            && let Some(served) = self.served_capacity()
        {
            return u64::from((served * self.spec.min_healthy_percent).div_ceil(100));
        }
        match self.previous_desired {
            Some(previous) if previous < self.spec.capacity.desired => {
                u64::from((previous * self.spec.min_healthy_percent).div_ceil(100))
            }
            _ => u64::from(self.spec.capacity_floor()),
        }
    }

    pub(super) fn check_tick_invariants(&mut self) {
        if self.teardown {
            return;
        }
        let alive = self
            .asgs
            .values()
            .filter(|a| a.deleted_at.is_none())
            .count();
        if self.ever_had_asg && alive == 0 {
            self.violation("invariant 4: no ASG exists".into());
        }
        if self.previous_generation.is_none() || self.floor_violation_reported {
            return;
        }
        let floor = self.capacity_floor();
        let arns: Vec<String> = self.groups.keys().cloned().collect();
        for arn in arns {
            let capacity = self.capacity_of_stream(&arn, &[]);
            if capacity < floor {
                self.floor_violation_reported = true;
                self.violation(format!(
                    "invariant 1: {capacity} healthy routed targets behind {arn}, floor {floor}"
                ));
            }
        }
    }

    /// Each live group's `zdd:phase` tag (`None`: never written).
    pub fn phase_tags(&self) -> BTreeMap<String, Option<String>> {
        self.asgs
            .iter()
            .filter(|(_, a)| a.deleted_at.is_none())
            .map(|(name, a)| (name.clone(), a.tags.get(TAG_PHASE).cloned()))
            .collect()
    }

    /// Generations with a live ASG.
    pub fn live_generations(&self) -> Vec<u64> {
        self.asgs
            .values()
            .filter(|a| a.deleted_at.is_none())
            .map(|a| a.generation)
            .collect()
    }

    /// Invariant 5: exactly one generation serves 100 %, at full size, and it is `serving`.
    /// `kept_detached`: a failed generation that may remain, detached (rollback_on_failure =
    /// false). Returns the problems found.
    pub fn check_converged(&self, serving: Option<u64>, kept_detached: Option<u64>) -> Vec<String> {
        let mut problems = Vec::new();
        let mut live = self.live_generations();
        live.sort();
        // A kept failed generation is only there if it was ever created (an abort or failure
        // before its CreateAsg landed leaves nothing to keep).
        live.retain(|g| Some(*g) != kept_detached || serving == Some(*g));
        let mut expected: Vec<u64> = serving.into_iter().collect();
        expected.sort();
        expected.dedup();
        if live != expected {
            problems.push(format!("live generations {live:?}, expected {expected:?}"));
        }
        let desired = u64::from(self.spec.capacity.desired);
        for (arn, group) in &self.groups {
            let mut by_generation: BTreeMap<u64, u64> = BTreeMap::new();
            for (id, r) in &group.targets {
                if r.deregistered_at.is_some() {
                    continue;
                }
                if let Some(i) = self.instances.get(id)
                    && !i.terminated
                {
                    *by_generation.entry(i.generation).or_default() +=
                        u64::from(self.counts_as_capacity(id, r));
                }
            }
            let routed = match &self.listener {
                Some((_, weights)) => weights.iter().any(|(g, w)| g == arn && *w > 0),
                None => true,
            };
            if !routed {
                if !by_generation.is_empty()
                    && serving.is_some_and(|s| by_generation.keys().any(|g| *g != s))
                {
                    problems.push(format!(
                        "{arn} (no weight) still holds targets of generations {:?}",
                        by_generation.keys().collect::<Vec<_>>()
                    ));
                }
                continue;
            }
            match serving {
                Some(s) => {
                    let others: Vec<&u64> = by_generation.keys().filter(|g| **g != s).collect();
                    if !others.is_empty() {
                        problems.push(format!("{arn} still routes to generations {others:?}"));
                    }
                    let healthy = by_generation.get(&s).copied().unwrap_or(0);
                    if self.spec.is_autoscaled() {
                        // Policies own the size: at least the floor, within max_size.
                        let (floor, max) =
                            (self.capacity_floor(), u64::from(self.spec.capacity.max));
                        if healthy < floor || healthy > max {
                            problems.push(format!("{arn} has {healthy} healthy targets of generation {s}, floor {floor}, max {max}"));
                        }
                    } else if healthy != desired {
                        problems.push(format!("{arn} has {healthy} healthy targets of generation {s}, desired {desired}"));
                    }
                }
                None => {
                    if !by_generation.is_empty() {
                        problems.push(format!(
                            "{arn} routes to {by_generation:?} though nothing should serve"
                        ));
                    }
                }
            }
        }
        problems.extend(self.policy_problems(serving));
        if let (Some((_, weights)), Some(s)) = (&self.listener, serving) {
            let total: u32 = weights.iter().map(|(_, w)| *w).sum();
            let serving_weight: u32 = weights
                .iter()
                .filter(|(g, _)| {
                    self.asgs
                        .get(&self.spec.asg_name(s))
                        .is_some_and(|a| a.groups.contains(g))
                })
                .map(|(_, w)| *w)
                .sum();
            if total == 0 || serving_weight != total {
                problems.push(format!(
                    "listener weights {weights:?} do not send 100 % to generation {s}"
                ));
            }
        }
        problems
    }
}

impl World {
    /// At the end, scaling policies exist on the serving generation only: the spec's, with
    /// its self-scaling running again; no other group keeps a policy.
    fn policy_problems(&self, serving: Option<u64>) -> Vec<String> {
        let mut problems = Vec::new();
        let wanted: Vec<&str> = self
            .spec
            .target_tracking
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for (name, asg) in self.asgs.iter().filter(|(_, a)| a.deleted_at.is_none()) {
            let names: Vec<&str> = asg.policies.keys().map(String::as_str).collect();
            if Some(asg.generation) != serving {
                if !names.is_empty() {
                    problems.push(format!("{name} (not serving) keeps policies {names:?}"));
                }
                continue;
            }
            let mut sorted = wanted.clone();
            sorted.sort_unstable();
            if names != sorted {
                problems.push(format!(
                    "{name} serves with policies {names:?}, configured {sorted:?}"
                ));
            }
            if !wanted.is_empty() && asg.suspended.contains(&ScalingProcess::AlarmNotification) {
                problems.push(format!("{name} serves with its scaling policies suspended"));
            }
        }
        problems
    }
}
