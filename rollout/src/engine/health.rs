//! Health of a generation as the load balancer reports it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::observation::{
    AsgObservation, LifecycleState, Observation, TargetGroupObservation, TargetObservation,
    TargetState,
};
use crate::time::Timestamp;

use super::checkpoint::TargetKey;
use super::groups::{Lookup, is_live};
use super::{DEFAULT_POLL, Rollout};

/// Health of one generation as the load balancer reports it.
pub(super) struct GenHealth {
    /// Live instances healthy in every group of the generation.
    pub(super) healthy: u32,
    /// Live instances that count towards the goal.
    pub(super) expected: u32,
    /// A live instance is registered somewhere but not (yet) healthy there.
    pub(super) registered_not_healthy: bool,
    /// Every instance is launched and every target short of healthy reads `initial`: nothing
    /// the load balancer reports is wrong yet (a read lagging behind a registration shows
    /// exactly this).
    pub(super) only_initial: bool,
    /// Readable explanation of what is missing.
    pub(super) problem: String,
    /// When to look again: the earliest moment *every* missing target can be healthy (the
    /// goal needs all of them, so an earlier look cannot change the decision), at least one
    /// health-check interval away, at most the health timeout.
    pub(super) wake: Option<Timestamp>,
}

impl GenHealth {
    pub(super) fn ready(&self) -> bool {
        self.healthy >= self.expected && !self.registered_not_healthy
    }
}

/// What [`Rollout::tally`] counts.
#[derive(Default)]
struct Tally {
    /// Live instances healthy in every group.
    healthy: u32,
    /// A live instance is registered somewhere but not (yet) healthy there.
    registered_not_healthy: bool,
    /// A target short of healthy reads something else than `initial` (or is missing).
    not_only_initial: bool,
    /// The latest of the earliest moments each missing target can turn healthy.
    all_healthy_at: Option<Timestamp>,
}

impl Tally {
    fn not_before(&mut self, at: Timestamp) {
        self.all_healthy_at = Some(self.all_healthy_at.map_or(at, |w| w.max(at)));
    }
}

/// How a target that is not healthy reads, as a health message counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    State(TargetState),
    NotRegistered,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::State(state) => state.as_str(),
            Condition::NotRegistered => "not registered",
        }
    }
}

// Messages list the conditions alphabetically, as they always have.
impl Ord for Condition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Condition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Rollout {
    /// Health of the live instances of `asg` in `groups`, against `expected` healthy targets.
    pub(super) fn gen_health(
        &mut self,
        obs: &Observation,
        asg: &AsgObservation,
        groups: &[String],
        expected: u32,
        now: Timestamp,
    ) -> GenHealth {
        let live: Vec<&str> = asg
            .instances
            .iter()
            .filter(|i| is_live(i.lifecycle))
            .map(|i| i.id.as_str())
            .collect();
        let tally = self.tally(obs, asg, &live, groups, now);
        self.log_hook_wait(asg, now);
        let launched = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let mut all_healthy_at = tally.all_healthy_at;
        if launched < expected {
            // Not even launched yet.
            let slowest = groups
                .iter()
                .filter_map(|arn| obs.target_group(arn))
                .map(TargetGroupObservation::time_to_healthy)
                .max()
                .unwrap_or_default();
            all_healthy_at = Some(all_healthy_at.map_or(now + slowest, |at| at.max(now + slowest)));
        }
        GenHealth {
            healthy: tally.healthy,
            expected,
            registered_not_healthy: tally.registered_not_healthy,
            only_initial: !tally.not_only_initial && launched >= expected,
            problem: self.explain(obs, asg, &live, groups, expected),
            wake: all_healthy_at.map(|at| self.wake_for(obs, groups, at, now)),
        }
    }

    /// Counts the live instances healthy in every group, and bounds when the missing ones can
    /// be healthy (remembering what each target was first seen as, for later looks).
    fn tally(
        &mut self,
        obs: &Observation,
        asg: &AsgObservation,
        live: &[&str],
        groups: &[String],
        now: Timestamp,
    ) -> Tally {
        let mut tally = Tally::default();
        for id in live {
            let mut all_healthy = true;
            for arn in groups {
                let Some(group) = obs.target_group(arn) else {
                    all_healthy = false;
                    tally.not_only_initial = true;
                    continue;
                };
                let key = TargetKey::new(arn, id);
                let observed = group.lookup(id);
                if observed.is_some_and(|t| t.state == TargetState::Healthy) {
                    self.cp.seen_healthy.insert(key.clone());
                }
                if self.is_lagging_read(&asg.name, arn, id, observed) {
                    continue;
                }
                match observed {
                    Some(t) if t.state == TargetState::Healthy => {}
                    Some(t) => {
                        all_healthy = false;
                        tally.not_only_initial |= t.state != TargetState::Initial;
                        if t.state.is_registered() {
                            tally.registered_not_healthy = true;
                        }
                        if t.state == TargetState::Initial {
                            let first =
                                *self.cp.first_seen_initial.entry(key.clone()).or_insert(now);
                            // Registered between the last look that saw it unregistered and
                            // `first`: expect it healthy interval × threshold after `first`,
                            // less up to one interval for not knowing when in that gap
                            // (unknown, e.g. resumed: it may turn healthy at the next check).
                            if let Some(seen) = self.cp.last_seen_unregistered.get(&key) {
                                let gap = first.since(*seen);
                                let slack = gap.min(group.health_check_interval);
                                tally.not_before(first + group.time_to_healthy() - slack);
                            }
                        }
                    }
                    None => {
                        all_healthy = false;
                        tally.not_only_initial = true;
                        // Booting (or registering): healthy no sooner than interval × threshold
                        // after a registration that has not happened yet.
                        self.cp.last_seen_unregistered.insert(key, now);
                        tally.not_before(now + group.time_to_healthy());
                    }
                }
            }
            if all_healthy {
                tally.healthy += 1;
            }
        }
        tally
    }

    /// When to look again for targets that can all be healthy at `all_healthy_at`: past that
    /// lower bound a target turns healthy at some health check, so look every interval; and
    /// never sleep through the health timeout.
    fn wake_for(
        &self,
        obs: &Observation,
        groups: &[String],
        all_healthy_at: Timestamp,
        now: Timestamp,
    ) -> Timestamp {
        let check_interval = groups
            .iter()
            .filter_map(|arn| obs.target_group(arn))
            .map(|g| g.health_check_interval)
            .filter(|d| !d.is_zero())
            .min()
            .unwrap_or(DEFAULT_POLL)
            .max(Duration::from_secs(1));
        let timeout_at = self.health_deadline();
        let at = all_healthy_at.max(now + check_interval);
        if timeout_at > now {
            at.min(timeout_at)
        } else {
            at
        }
    }

    /// What keeps the generation from being healthy, readable: instances not in service, then
    /// per target group the targets that are not healthy, by state, with the reason codes.
    fn explain(
        &self,
        obs: &Observation,
        asg: &AsgObservation,
        live: &[&str],
        groups: &[String],
        expected: u32,
    ) -> String {
        let launched = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let mut problems: Vec<String> = Vec::new();
        let in_service = asg
            .instances
            .iter()
            .filter(|i| i.lifecycle == LifecycleState::InService)
            .count();
        if launched < expected || (in_service as u32) < expected {
            let held = asg
                .instances
                .iter()
                .filter(|i| i.hook_wait && i.lifecycle == LifecycleState::Pending)
                .count();
            let held = if held > 0 {
                format!(" ({held} held in Pending:Wait by a launch hook)")
            } else {
                String::new()
            };
            problems.push(format!(
                "{} of {expected} new instances of {} not InService{held}",
                expected.saturating_sub(in_service as u32),
                asg.name
            ));
        }
        for arn in groups {
            let Some(group) = obs.target_group(arn) else {
                problems.push(format!("target group {arn} not observed"));
                continue;
            };
            problems.extend(self.explain_group(group, asg, live, expected));
        }
        problems.join("; ")
    }

    /// The targets of `live` not healthy in one target group (`None` when all are).
    fn explain_group(
        &self,
        group: &TargetGroupObservation,
        asg: &AsgObservation,
        live: &[&str],
        expected: u32,
    ) -> Option<String> {
        let launched = u32::try_from(live.len()).unwrap_or(u32::MAX);
        let mut not_healthy = 0u32;
        let mut conditions: BTreeMap<Condition, u32> = BTreeMap::new();
        let mut reasons: BTreeSet<String> = BTreeSet::new();
        for id in live {
            let observed = group.lookup(id);
            if self.is_lagging_read(&asg.name, &group.arn, id, observed) {
                continue;
            }
            match observed {
                Some(t) if t.state == TargetState::Healthy => {}
                Some(t) => {
                    not_healthy += 1;
                    *conditions.entry(Condition::State(t.state)).or_default() += 1;
                    if let Some(reason) = &t.reason {
                        reasons.insert(reason.clone());
                    }
                }
                None => {
                    not_healthy += 1;
                    *conditions.entry(Condition::NotRegistered).or_default() += 1;
                }
            }
        }
        let missing = expected.saturating_sub(launched);
        let bad = (not_healthy + missing).min(expected.max(not_healthy));
        if bad == 0 {
            return None;
        }
        let only_unhealthy = conditions.len() == 1
            && conditions.contains_key(&Condition::State(TargetState::Unhealthy))
            && missing == 0;
        let word = if only_unhealthy {
            "unhealthy".to_string()
        } else {
            let parts: Vec<String> = conditions
                .iter()
                .map(|(condition, n)| format!("{n} {}", condition.as_str()))
                .collect();
            if parts.is_empty() {
                "not healthy".to_string()
            } else {
                format!("not healthy ({})", parts.join(", "))
            }
        };
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.into_iter().collect::<Vec<_>>().join(", "))
        };
        Some(format!(
            "{bad} of {expected} new targets {word} in target group {}{reasons}",
            group.name
        ))
    }

    /// A target seen `healthy` before, now read as `initial` or not registered, in a group
    /// this rollout never detached: a registered target never returns to `initial`, so this is
    /// a read served by a replica lagging behind an earlier one, and the earlier verdict
    /// stands. (After a detach the target really may be registered afresh.)
    pub(super) fn is_lagging_read(
        &self,
        asg_name: &str,
        group_arn: &str,
        instance_id: &str,
        observed: Option<&TargetObservation>,
    ) -> bool {
        let earlier_state = observed.is_none_or(|t| t.state == TargetState::Initial);
        earlier_state
            && self
                .cp
                .seen_healthy
                .contains(&TargetKey::new(group_arn, instance_id))
            && !self.cp.reregistered.contains(asg_name)
            && !self.cp.detached_seen.contains_key(asg_name)
    }
}
