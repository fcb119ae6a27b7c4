//! Groups that scale themselves: scaling policies, suspended processes, the scenario's scaling
//! events (an alarm of a target-tracking policy), and the capacity the serving group actually
//! serves, from which the capacity floor is computed. With the checks that no scaling fight
//! happens: the group that served at the start has its self-scaling suspended before traffic
//! leaves it, and keeps it suspended until it is deleted or the rollout rolls back.

use crate::command::Command;
use crate::fleet::TAG_ROLLBACK;
use crate::observation::ScalingProcess;

use super::scenario::ScalingGroup;
use super::{START_MS, World};

impl World {
    /// A scaling policy someone put on `asg` by hand (not in the configuration).
    pub fn put_policy_by_hand(&mut self, asg: &str, policy_name: &str) {
        if let Some(a) = self.live_asg_mut(asg) {
            a.policies.insert(policy_name.to_string(), None);
        }
    }

    /// The names of `asg`'s scaling policies and the processes suspended on it, as AWS
    /// holds them (`None` when the group does not exist).
    pub fn scaling_of(&self, asg: &str) -> Option<(Vec<String>, Vec<ScalingProcess>)> {
        self.asgs
            .get(asg)
            .filter(|a| a.deleted_at.is_none())
            .map(|a| {
                (
                    a.policies.keys().cloned().collect(),
                    a.suspended.iter().copied().collect(),
                )
            })
    }

    pub(super) fn apply_scaling_command(&mut self, command: &Command) {
        match command {
            Command::PutScalingPolicy {
                asg,
                policy,
                target_group_arn,
            } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.policies
                        .insert(policy.name.clone(), target_group_arn.clone());
                }
            }
            Command::DeleteScalingPolicy { asg, policy_name } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.policies.remove(policy_name);
                }
            }
            Command::SuspendProcesses { asg, processes } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.suspended.extend(processes.iter().copied());
                }
            }
            Command::ResumeProcesses { asg, processes } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    for process in processes {
                        a.suspended.remove(process);
                    }
                }
            }
            _ => {}
        }
    }

    /// The name of the group a scaling event acts on, if it exists.
    fn scaling_target(&self, group: ScalingGroup) -> Option<String> {
        let generation = match group {
            ScalingGroup::Serving => self.previous_generation?,
            ScalingGroup::New => {
                let newest = self.newest_generation;
                if Some(newest) == self.previous_generation {
                    return None;
                }
                newest
            }
        };
        self.asgs
            .iter()
            .find(|(_, a)| a.generation == generation && a.deleted_at.is_none())
            .map(|(name, _)| name.clone())
    }

    /// The scaling events due now: each lands if its group has a policy and its
    /// `AlarmNotification` process runs.
    pub(super) fn apply_due_scaling(&mut self) {
        let now = self.now;
        let due: Vec<_> = self
            .scaling
            .iter()
            .filter(|(at, _, _)| *at <= now)
            .copied()
            .collect();
        self.scaling.retain(|(at, _, _)| *at > now);
        for (_, group, desired) in due {
            let at = now.saturating_sub(START_MS) / 1000;
            let Some(name) = self.scaling_target(group) else {
                self.scaling_log
                    .push(format!("+{at}s {group:?} to {desired}: no group"));
                continue;
            };
            let Some(asg) = self.live_asg_mut(&name) else {
                continue;
            };
            if asg.policies.is_empty() || asg.suspended.contains(&ScalingProcess::AlarmNotification)
            {
                self.scaling_log.push(format!(
                    "+{at}s {name} to {desired}: lost (no policy or suspended)"
                ));
                continue;
            }
            let desired = desired.clamp(asg.min, asg.max);
            let before = asg.desired;
            asg.desired = desired;
            self.scaling_log
                .push(format!("+{at}s {name} scaled itself {before} → {desired}"));
            self.reconcile_asg(&name);
            if self.is_serving_group(&name) {
                self.served_changes_to(desired);
            }
        }
    }

    /// The group that serves: the one that served at the start while it is attached to the
    /// load balancer with instances, then the newest (whose own policy then rightly decides
    /// its size).
    fn is_serving_group(&self, name: &str) -> bool {
        let previous_live = self
            .previous_generation
            .map(|g| self.spec.asg_name(g))
            .is_some_and(|n| {
                self.asgs.get(&n).is_some_and(|a| {
                    a.deleted_at.is_none() && self.has_instances(&n) && self.receives_traffic(a)
                })
            });
        if previous_live {
            self.previous_generation
                .is_some_and(|g| self.spec.asg_name(g) == name)
        } else {
            self.spec.asg_name(self.newest_generation) == name
        }
    }

    /// Attached to a target group that the listener (canary) sends traffic to.
    fn receives_traffic(&self, asg: &super::SimAsg) -> bool {
        match &self.listener {
            Some((_, weights)) => asg
                .groups
                .iter()
                .any(|g| weights.iter().any(|(w_group, w)| w_group == g && *w > 0)),
            None => !asg.groups.is_empty(),
        }
    }

    fn served_changes_to(&mut self, desired: u32) {
        match self.served {
            Some(served) if desired < served => {
                self.served = Some(desired);
                self.served_raise = None;
            }
            Some(served) if desired > served => self.served_raise = Some(desired),
            _ => self.served_raise = None,
        }
    }

    /// A requested scale-in of the serving group while no traffic shifts (in place, after a
    /// rollout or a rollback) lowers what it serves: AWS drains the instances it retires.
    pub(super) fn scaled_in_place(&mut self, asg: &str, desired: u32) {
        if !self.is_shifting()
            && self.is_serving_group(asg)
            && self.served.is_some_and(|served| desired < served)
        {
            self.served = Some(desired);
            self.served_raise = None;
        }
    }

    /// A scale-out of the serving group counts once its instances are healthy.
    pub(super) fn track_served(&mut self) {
        let Some(raise) = self.served_raise else {
            return;
        };
        let serving = self
            .asgs
            .iter()
            .find(|(name, a)| a.deleted_at.is_none() && self.is_serving_group(name))
            .map(|(_, a)| (a.instances.clone(), a.groups.clone()));
        let Some((instances, groups)) = serving else {
            return;
        };
        let healthy = groups
            .iter()
            .map(|arn| {
                self.groups.get(arn).map_or(0, |g| {
                    g.targets
                        .iter()
                        .filter(|(id, r)| instances.contains(id) && self.counts_as_capacity(id, r))
                        .count()
                })
            })
            .min()
            .unwrap_or(0);
        if healthy >= raise as usize {
            self.served = Some(raise);
            self.served_raise = None;
        }
    }

    /// The capacity being served, as the floor counts it: what the serving group serves,
    /// within the sizes the configuration allows the new generation.
    pub(super) fn served_capacity(&self) -> Option<u32> {
        self.served.map(|s| s.min(self.spec.capacity.max))
    }

    /// Whether the group that served at the start is still there, beside a newer one.
    pub(super) fn is_shifting(&self) -> bool {
        let Some(previous) = self.previous_generation else {
            return false;
        };
        let live = |g: u64| {
            self.asgs
                .values()
                .any(|a| a.generation == g && a.deleted_at.is_none())
        };
        // A failed generation taken out of the load balancer by its rollback shifts nothing.
        let newest_retired = self.asgs.values().any(|a| {
            a.generation == self.newest_generation
                && a.tags.contains_key(TAG_ROLLBACK)
                && a.groups.is_empty()
        });
        self.newest_generation != previous
            && live(previous)
            && live(self.newest_generation)
            && !newest_retired
    }

    /// No scaling fight: before traffic leaves the group that served at the start (detach,
    /// scale-in, the listener's last move), its self-scaling is suspended; it is resumed only
    /// by a rollback (the newest generation tagged `zdd:rollback`).
    pub(super) fn check_shift_command(&mut self, command: &Command) {
        if self.teardown {
            return;
        }
        let Some(previous) = self.previous_generation else {
            return;
        };
        let old_name = self.spec.asg_name(previous);
        let Some(old) = self
            .asgs
            .get(&old_name)
            .filter(|a| a.deleted_at.is_none())
            .cloned()
        else {
            return;
        };
        let shift = match command {
            Command::DetachTargetGroups { asg, .. } => *asg == old_name,
            Command::SetCapacity {
                asg,
                desired_capacity,
                ..
            } => *asg == old_name && *desired_capacity < old.desired,
            Command::SetListenerWeights { weights, .. } => weights
                .iter()
                .filter(|(g, _)| old.groups.contains(g))
                .all(|(_, w)| *w == 0),
            Command::DeleteAsg { asg, .. } => *asg == old_name,
            Command::ResumeProcesses { asg, processes } => {
                let new_name = self.spec.asg_name(self.newest_generation);
                let rolling_back = self
                    .asgs
                    .get(&new_name)
                    .is_none_or(|a| a.deleted_at.is_some() || a.tags.contains_key(TAG_ROLLBACK));
                if *asg == old_name
                    && self.shift_started
                    && !rolling_back
                    && processes.contains(&ScalingProcess::AlarmNotification)
                {
                    self.violation(format!(
                        "scaling fight: {old_name}'s self-scaling resumed while traffic shifts off it"
                    ));
                }
                false
            }
            _ => false,
        };
        if !shift || self.newest_generation == previous {
            return;
        }
        self.shift_started = true;
        let scales_itself = !old.policies.is_empty() || self.spec.is_autoscaled();
        if scales_itself && !old.suspended.contains(&ScalingProcess::AlarmNotification) {
            self.violation(format!(
                "scaling fight: traffic shifts off {old_name} ({}) while it may scale itself",
                command.describe()
            ));
        }
    }
}
