//! The engine's commands landing in the simulated cloud (with API failures and late writes),
//! and what they do to groups, registrations and instances.

use crate::command::Command;
use crate::fleet::TAG_ROLLED_BACK;

use super::{Registration, SimAsg, TICK_MS, World, duration_ms};

impl World {
    /// Submits a command: it may fail (API fault) or land later (eventual consistency).
    pub fn submit(&mut self, command: &Command) -> Result<(), String> {
        self.commands += 1;
        self.api_calls += u64::from(command.api_calls());
        // Invariant 2 is judged when the engine acts, on the truth at that moment.
        match command {
            Command::DetachTargetGroups {
                asg,
                target_group_arns,
            } => {
                let instances = self
                    .asgs
                    .get(asg)
                    .map(|a| a.instances.clone())
                    .unwrap_or_default();
                for arn in target_group_arns {
                    let leaving = self.registered_among(arn, &instances);
                    self.check_healthy_before_detach(arn, &leaving);
                }
            }
            Command::SetCapacity {
                asg,
                desired_capacity,
                ..
            } => {
                // A scale-in deregisters the instances AWS picks: judged like a detach.
                let victims = self.scale_in_victims(asg, *desired_capacity);
                let arns = self
                    .asgs
                    .get(asg)
                    .map(|a| a.groups.clone())
                    .unwrap_or_default();
                for arn in arns {
                    let leaving = self.registered_among(&arn, &victims);
                    self.check_healthy_before_detach(&arn, &leaving);
                }
            }
            _ => {}
        }
        self.check_shift_command(command);
        if let Command::DeleteAsg { asg, force: false } = command
            && self.has_instances(asg)
        {
            self.failed_commands += 1;
            return Err(format!(
                "ResourceInUse: You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group ({asg}, simulated)"
            ));
        }
        if self.faults.phase_tag_failure && command.is_informational() {
            self.failed_commands += 1;
            return Err(
                "AccessDenied: not authorized to perform CreateOrUpdateTags (simulated)".into(),
            );
        }
        if self.rng.chance(self.faults.api_failure) {
            self.failed_commands += 1;
            return Err("Throttling: Rate exceeded (simulated)".into());
        }
        let delay = self
            .rng
            .range(0, duration_ms(self.faults.consistency_delay_max));
        if delay == 0 {
            self.apply(command);
        } else {
            self.sequence += 1;
            self.delayed
                .push((self.now + delay, self.sequence, command.clone()));
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, command: &Command) {
        match command {
            Command::CreateAsg {
                name,
                generation,
                launch_template,
                subnet_ids,
                min_size,
                max_size,
                desired_capacity,
                target_group_arns,
                tags,
                lifecycle_hooks,
                health_check,
            } => {
                if launch_template != &self.spec.launch_template {
                    self.violation(format!(
                        "invariant 7: {name} created with {launch_template}, not the pinned {}",
                        self.spec.launch_template
                    ));
                }
                if self.asgs.get(name).is_some_and(|a| a.deleted_at.is_none()) {
                    return; // AlreadyExists: the adapter reports success.
                }
                self.asgs.insert(
                    name.clone(),
                    SimAsg {
                        generation: *generation,
                        tags: tags.clone(),
                        launch_template: launch_template.clone(),
                        subnets: subnet_ids.clone(),
                        min: *min_size,
                        max: *max_size,
                        desired: *desired_capacity,
                        groups: target_group_arns.clone(),
                        instances: Vec::new(),
                        deleted_at: None,
                        suspended: Default::default(),
                        policies: Default::default(),
                        hooks: lifecycle_hooks.clone(),
                        health_check: *health_check,
                    },
                );
                self.newest_generation = self.newest_generation.max(*generation);
                self.ever_had_asg = true;
                self.reconcile_asg(name);
            }
            Command::SetCapacity {
                asg,
                min_size,
                max_size,
                desired_capacity,
            } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.min = *min_size;
                    a.max = *max_size;
                    a.desired = *desired_capacity;
                    self.reconcile_asg(asg);
                }
                self.scaled_in_place(asg, *desired_capacity);
            }
            Command::AttachTargetGroups {
                asg,
                target_group_arns,
            } => {
                let Some(a) = self.live_asg_mut(asg) else {
                    return;
                };
                for arn in target_group_arns {
                    if !a.groups.contains(arn) {
                        a.groups.push(arn.clone());
                    }
                }
                let instances = a.instances.clone();
                for id in instances {
                    let in_service = self.instances.get(&id).is_some_and(|i| {
                        !i.terminated && i.terminate_after.is_none() && i.in_service_at <= self.now
                    });
                    if in_service {
                        for arn in target_group_arns {
                            self.register(arn, &id);
                        }
                    }
                }
            }
            Command::DetachTargetGroups {
                asg,
                target_group_arns,
            } => {
                let Some(a) = self.live_asg_mut(asg) else {
                    return;
                };
                a.groups.retain(|g| !target_group_arns.contains(g));
                let instances = a.instances.clone();
                for arn in target_group_arns {
                    self.deregister(arn, &instances);
                }
            }
            Command::SetListenerWeights {
                listener_arn,
                weights,
            } => {
                if let Some((arn, current)) = &mut self.listener
                    && arn == listener_arn
                {
                    *current = weights.clone();
                }
            }
            Command::TagAsg { asg, key, value } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.tags.insert(key.clone(), value.clone());
                    if key == TAG_ROLLED_BACK {
                        self.rolled_back_mark_landed = true;
                    }
                }
            }
            Command::RecordPhase { asg, .. } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    for (key, value) in command.phase_record_tags() {
                        a.tags.insert(key.to_string(), value);
                    }
                }
            }
            Command::PutScalingPolicy { .. }
            | Command::DeleteScalingPolicy { .. }
            | Command::SuspendProcesses { .. }
            | Command::ResumeProcesses { .. } => self.apply_scaling_command(command),
            // Settings of a live group apply to what happens next: an instance already held
            // by a hook keeps the hold it got (AWS would complete a deleted hook's actions).
            Command::SetHealthCheck { asg, health_check } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.health_check = *health_check;
                }
            }
            Command::PutLifecycleHook { asg, hook } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.hooks.retain(|h| h.name != hook.name);
                    a.hooks.push(hook.clone());
                }
            }
            Command::DeleteLifecycleHook { asg, hook_name } => {
                if let Some(a) = self.live_asg_mut(asg) {
                    a.hooks.retain(|h| &h.name != hook_name);
                }
            }
            Command::DeleteAsg { asg, force } => {
                let Some(a) = self.asgs.get(asg).filter(|a| a.deleted_at.is_none()) else {
                    return;
                };
                let generation = a.generation;
                let instances = a.instances.clone();
                if !force && self.has_instances(asg) {
                    return; // ResourceInUse: the group keeps its instances.
                }
                if Some(generation) == self.previous_generation && !self.teardown {
                    self.check_replacement_serves(asg);
                }
                if *force {
                    self.check_no_hook_skipped(asg);
                }
                for id in &instances {
                    self.check_drained(id, &format!("force-deleted with {asg}"));
                }
                for id in &instances {
                    self.terminate_now(id);
                }
                if let Some(a) = self.asgs.get_mut(asg) {
                    a.deleted_at = Some(self.now);
                    a.instances.clear();
                    a.desired = 0;
                }
            }
        }
    }

    pub(super) fn live_asg_mut(&mut self, name: &str) -> Option<&mut SimAsg> {
        self.asgs.get_mut(name).filter(|a| a.deleted_at.is_none())
    }

    pub(super) fn register(&mut self, arn: &str, id: &str) {
        let now = self.now;
        if let Some(group) = self.groups.get_mut(arn) {
            let fresh = group
                .targets
                .get(id)
                .is_none_or(|r| r.deregistered_at.is_some());
            if fresh {
                group.targets.insert(
                    id.to_string(),
                    Registration {
                        registered_at: now,
                        deregistered_at: None,
                    },
                );
            }
        }
    }

    pub(super) fn registered_among(&self, arn: &str, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| {
                self.groups
                    .get(arn)
                    .and_then(|g| g.targets.get(*id))
                    .is_some_and(|r| r.deregistered_at.is_none())
            })
            .cloned()
            .collect()
    }

    pub(super) fn deregister(&mut self, arn: &str, ids: &[String]) {
        let leaving = self.registered_among(arn, ids);
        if leaving.is_empty() {
            return;
        }
        let now = self.now;
        if let Some(group) = self.groups.get_mut(arn) {
            for id in &leaving {
                if let Some(r) = group.targets.get_mut(id) {
                    r.deregistered_at = Some(now);
                }
            }
        }
    }

    /// AWS's own scale-in path: deregister, wait the deregistration delay, then terminate.
    pub(super) fn terminate_safely(&mut self, id: &str) {
        let registered_in: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| {
                g.targets
                    .get(id)
                    .is_some_and(|r| r.deregistered_at.is_none())
            })
            .map(|(arn, _)| arn.clone())
            .collect();
        let draining_until = self
            .groups
            .values()
            .filter_map(|g| g.targets.get(id))
            .filter_map(|r| r.deregistered_at)
            .map(|d| d + duration_ms(self.timings.deregistration_delay))
            .max();
        for arn in &registered_in {
            self.deregister(arn, &[id.to_string()]);
        }
        let until = if registered_in.is_empty() {
            draining_until.unwrap_or(self.now)
        } else {
            self.now + duration_ms(self.timings.deregistration_delay)
        }
        .max(self.now);
        // A termination hook holds it in Terminating:Wait once the drain is over.
        let hold = self.termination_hold(id);
        if hold == 0 && until <= self.now {
            self.terminate_now(id);
        } else if let Some(instance) = self.instances.get_mut(id) {
            instance.terminate_after = Some(until + hold);
            if hold > 0 {
                instance.terminating_wait_from = Some(until);
            }
        }
    }

    /// Termination without draining (ForceDelete, or the end of a safe termination).
    pub(super) fn terminate_now(&mut self, id: &str) {
        let now = self.now;
        let request_ms = duration_ms(self.timings.request_duration);
        let Some(instance) = self.instances.get_mut(id) else {
            return;
        };
        if instance.terminated {
            return;
        }
        instance.terminated = true;
        let now_sec = now / TICK_MS;
        let in_flight: u64 = instance
            .inflight
            .iter()
            .filter(|(sec, _)| sec * TICK_MS + request_ms > now_sec * TICK_MS)
            .map(|(_, n)| n)
            .sum();
        instance.inflight.clear();
        let asg = instance.asg.clone();
        self.dropped_in_flight += in_flight;
        for group in self.groups.values_mut() {
            if let Some(r) = group.targets.get_mut(id)
                && r.deregistered_at.is_none()
            {
                r.deregistered_at = Some(now);
            }
        }
        if let Some(a) = self.asgs.get_mut(&asg) {
            a.instances.retain(|i| i != id);
        }
    }
}
