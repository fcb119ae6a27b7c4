//! The simulated cloud: Auto Scaling, a load balancer with a realistic health model, traffic,
//! alarms and metrics, in virtual time with one-second ticks.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::command::Command;
use crate::fleet::{TAG_GENERATION, TAG_ROLLED_BACK, TAG_ROLLOUT};
use crate::observation::{
    AlarmObservation, AlarmState, AsgObservation, InstanceObservation, LifecycleState,
    ListenerObservation, Observation, TargetGroupMetrics, TargetGroupObservation,
    TargetObservation, TargetState,
};
use crate::sim::rng::SplitMix64;
use crate::spec::{LaunchTemplateRef, RolloutSpec, Strategy};
use crate::time::Timestamp;

/// Virtual time the simulation starts at (instances of the serving generation registered at 0
/// are long healthy by then).
pub const START_MS: u64 = 3_600_000;
const TICK_MS: u64 = 1000;
/// A deleted ASG stays visible ("Delete in progress") this long.
const DELETE_VISIBLE_MS: u64 = 2000;

/// How long things take in the simulated cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// Launch → `InService` (registration), uniformly random in `boot_min..=boot_max`.
    pub boot_min: Duration,
    pub boot_max: Duration,
    /// `InService` → the application answers health checks, uniformly random up to this.
    pub app_start_max: Duration,
    pub health_check_interval: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub deregistration_delay: Duration,
    /// How long one request stays in flight.
    pub request_duration: Duration,
    /// Requests per virtual second per listener (each blue/green or rolling target group has
    /// its own listener; canary has one).
    pub requests_per_second: u32,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            boot_min: Duration::from_secs(20),
            boot_max: Duration::from_secs(60),
            app_start_max: Duration::from_secs(15),
            health_check_interval: Duration::from_secs(10),
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            deregistration_delay: Duration::from_secs(60),
            request_duration: Duration::from_secs(2),
            requests_per_second: 50,
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability that a new-generation instance never becomes healthy.
    pub never_healthy: f64,
    /// Every new-generation instance fails its health checks (a bad release).
    pub bad_release: bool,
    /// Probability that a new instance flaps unhealthy once, shortly after becoming healthy.
    pub flap: f64,
    /// Probability that a command fails (throttling / 5xx) and has no effect.
    pub api_failure: f64,
    /// A successful command takes effect after a random delay up to this.
    pub consistency_delay_max: Duration,
    /// Reads may be served by a replica that lags up to this long: each part of an
    /// observation (the Auto Scaling view, each target group's health, the listener) is
    /// independently the state an earlier read within this window returned. Zero: fresh.
    pub stale_read_max: Duration,
    /// Every canary alarm goes into ALARM this long after the start.
    pub alarm_at: Option<Duration>,
    /// Share of the new generation's responses that are 5xx.
    pub new_5xx_ratio: f64,
}

impl Faults {
    /// No fault that should make a rollout fail (API errors and delays are allowed: the
    /// engine must absorb them).
    pub fn is_benign(&self) -> bool {
        self.never_healthy == 0.0
            && !self.bad_release
            && self.flap == 0.0
            && self.alarm_at.is_none()
            && self.new_5xx_ratio == 0.0
    }
}

/// One simulated situation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// The configuration being applied.
    pub spec: RolloutSpec,
    /// `Some`: generation 1 serves this launch template at the start (an update);
    /// `None`: nothing exists yet (a create).
    pub previous: Option<LaunchTemplateRef>,
    pub timings: Timings,
    pub faults: Faults,
    /// Give up (and report a violation) after this much virtual time.
    pub max_duration: Duration,
    /// Destroy instead of roll out.
    pub teardown: bool,
    /// Desired capacity generation 1 runs at the start (`None`: the spec's). With `previous`
    /// equal to the spec's launch template this is a scale in place.
    pub previous_desired: Option<u32>,
}

#[derive(Debug, Clone)]
struct SimInstance {
    asg: String,
    generation: u64,
    in_service_at: u64,
    app_ready_at: u64,
    terminate_after: Option<u64>,
    terminated: bool,
    never_healthy: bool,
    /// (start after first healthy, length) of one unhealthy spell.
    flap: Option<(u64, u64)>,
    error_ratio: f64,
    /// Fraction of a 5xx response carried to the next tick (small rates stay exact).
    error_carry: f64,
    /// (second, requests) received recently.
    inflight: VecDeque<(u64, u64)>,
}

#[derive(Debug, Clone)]
struct SimAsg {
    generation: u64,
    tags: BTreeMap<String, String>,
    launch_template: LaunchTemplateRef,
    subnets: Vec<String>,
    min: u32,
    max: u32,
    desired: u32,
    groups: Vec<String>,
    instances: Vec<String>,
    deleted_at: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    registered_at: u64,
    deregistered_at: Option<u64>,
}

#[derive(Debug, Clone)]
struct SimGroup {
    name: String,
    targets: BTreeMap<String, Registration>,
    /// Cumulative (requests, 5xx) at the end of each tick since the start.
    metrics: Vec<(u64, u64)>,
}

/// The simulated cloud.
#[derive(Debug, Clone)]
pub struct World {
    now: u64,
    rng: SplitMix64,
    spec: RolloutSpec,
    timings: Timings,
    faults: Faults,
    teardown: bool,
    asgs: BTreeMap<String, SimAsg>,
    instances: BTreeMap<String, SimInstance>,
    groups: BTreeMap<String, SimGroup>,
    listener: Option<(String, Vec<(String, u32)>)>,
    delayed: Vec<(u64, u64, Command)>,
    /// Earlier reads (time, observation) a lagging replica may serve again.
    read_history: VecDeque<(u64, Observation)>,
    sequence: u64,
    next_instance: u64,
    previous_generation: Option<u64>,
    newest_generation: u64,
    ever_had_asg: bool,
    previous_desired: Option<u32>,
    /// Requests dropped because no healthy target existed in the group they were sent to.
    pub dropped_no_target: u64,
    /// Requests in flight on an instance when it was terminated.
    pub dropped_in_flight: u64,
    /// Requests lost because every target of a group was in an injected health flap (not
    /// counted in [`World::dropped`]: the fault, not the ordering, caused them).
    pub dropped_by_fault: u64,
    /// Requests routed to a healthy target.
    pub routed: u64,
    /// Broken invariants, with time and detail.
    pub violations: Vec<String>,
    /// Sum of the lifetimes of all instances (ms), from the start.
    pub instance_ms: u64,
    /// The most instances running at once (draining and terminating ones included).
    pub peak_instances: u64,
    /// A `zdd:rolled-back` mark (the end of a rollback that keeps the failed generation)
    /// reached AWS.
    pub rolled_back_mark_landed: bool,
    pub api_calls: u64,
    pub observations: u64,
    pub commands: u64,
    pub failed_commands: u64,
    floor_violation_reported: bool,
}

impl World {
    /// Builds the world of a scenario at [`START_MS`].
    pub fn new(scenario: &Scenario) -> World {
        let spec = scenario.spec.clone();
        let mut groups = BTreeMap::new();
        for arn in spec.target_group_arns() {
            let name = arn.rsplit('/').next().unwrap_or(&arn).to_string();
            groups.insert(
                arn.clone(),
                SimGroup {
                    name,
                    targets: BTreeMap::new(),
                    metrics: Vec::new(),
                },
            );
        }
        let listener = match &spec.strategy {
            Strategy::Canary(canary) => Some((
                canary.listener_arn.clone(),
                vec![
                    (canary.stable_target_group_arn.clone(), 100),
                    (canary.canary_target_group_arn.clone(), 0),
                ],
            )),
            _ => None,
        };
        let mut world = World {
            now: START_MS,
            rng: SplitMix64::new(scenario.seed),
            timings: scenario.timings.clone(),
            faults: scenario.faults.clone(),
            teardown: scenario.teardown,
            asgs: BTreeMap::new(),
            instances: BTreeMap::new(),
            groups,
            listener,
            delayed: Vec::new(),
            read_history: VecDeque::new(),
            sequence: 0,
            next_instance: 0,
            previous_generation: None,
            newest_generation: 0,
            ever_had_asg: false,
            previous_desired: scenario.previous_desired,
            dropped_no_target: 0,
            dropped_in_flight: 0,
            dropped_by_fault: 0,
            routed: 0,
            violations: Vec::new(),
            instance_ms: 0,
            peak_instances: 0,
            rolled_back_mark_landed: false,
            api_calls: 0,
            observations: 0,
            commands: 0,
            failed_commands: 0,
            floor_violation_reported: false,
            spec,
        };
        if let Some(previous) = &scenario.previous {
            world.seed_generation(1, previous.clone());
        }
        world
    }

    /// The configuration changed between two applies: from now on `spec` is the one the
    /// oracle holds created groups to (invariant 7).
    pub fn reconfigure(&mut self, spec: RolloutSpec) {
        self.spec = spec;
    }

    /// Now, as the engine sees it.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.now)
    }

    /// Total requests dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped_no_target + self.dropped_in_flight
    }

    fn seed_generation(&mut self, generation: u64, launch_template: LaunchTemplateRef) {
        let name = self.spec.asg_name(generation);
        let groups = match &self.spec.strategy {
            Strategy::Canary(canary) => vec![canary.stable_target_group_arn.clone()],
            _ => self.spec.target_group_arns(),
        };
        let mut tags = BTreeMap::new();
        tags.insert(TAG_ROLLOUT.to_string(), self.spec.name.clone());
        tags.insert(TAG_GENERATION.to_string(), generation.to_string());
        let mut cap = self.spec.capacity;
        if let Some(desired) = self.previous_desired {
            cap.desired = desired;
            cap.max = cap.max.max(desired);
            cap.min = cap.min.min(desired);
        }
        self.asgs.insert(
            name.clone(),
            SimAsg {
                generation,
                tags,
                launch_template,
                subnets: self.spec.subnet_ids.clone(),
                min: cap.min,
                max: cap.max,
                desired: cap.desired,
                groups: groups.clone(),
                instances: Vec::new(),
                deleted_at: None,
            },
        );
        for _ in 0..cap.desired {
            let id = self.new_instance_id(generation);
            self.instances.insert(
                id.clone(),
                SimInstance {
                    asg: name.clone(),
                    generation,
                    in_service_at: 0,
                    app_ready_at: 0,
                    terminate_after: None,
                    terminated: false,
                    never_healthy: false,
                    flap: None,
                    error_ratio: 0.0,
                    error_carry: 0.0,
                    inflight: VecDeque::new(),
                },
            );
            if let Some(asg) = self.asgs.get_mut(&name) {
                asg.instances.push(id.clone());
            }
            for arn in &groups {
                if let Some(group) = self.groups.get_mut(arn) {
                    group.targets.insert(
                        id.clone(),
                        Registration {
                            registered_at: 0,
                            deregistered_at: None,
                        },
                    );
                }
            }
        }
        self.previous_generation = Some(generation);
        self.newest_generation = generation;
        self.ever_had_asg = true;
    }

    fn new_instance_id(&mut self, generation: u64) -> String {
        self.next_instance += 1;
        format!("i-{generation}-{:04}", self.next_instance)
    }

    fn violation(&mut self, text: String) {
        let at = Timestamp(self.now - START_MS);
        if self.violations.len() < 50 {
            self.violations.push(format!("{at}: {text}"));
        }
    }

    // ----- health model ------------------------------------------------------------------

    /// Health checks run every interval from registration on (the first one interval after
    /// it); a check passes once the application answers. The target turns healthy at the
    /// `healthy_threshold`-th consecutive passing check: interval × threshold after
    /// registration when the application is up at once.
    fn healthy_at(&self, instance: &SimInstance, registration: &Registration) -> u64 {
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
    fn target_state(
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
    fn is_flapping(&self, id: &str) -> bool {
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

    fn is_routable(&self, id: &str, registration: &Registration) -> bool {
        matches!(
            self.target_state(id, registration),
            Some((TargetState::Healthy, _))
        )
    }

    /// Healthy, or unhealthy only because of an injected flap.
    fn counts_as_capacity(&self, id: &str, registration: &Registration) -> bool {
        registration.deregistered_at.is_none()
            && self.instances.get(id).is_some_and(|i| !i.terminated)
            && (self.is_routable(id, registration) || self.is_flapping(id))
    }

    // ----- commands ----------------------------------------------------------------------

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

    fn apply(&mut self, command: &Command) {
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
            Command::DeleteAsg { asg } => {
                let Some(a) = self.asgs.get(asg).filter(|a| a.deleted_at.is_none()) else {
                    return;
                };
                let generation = a.generation;
                let instances = a.instances.clone();
                if Some(generation) == self.previous_generation && !self.teardown {
                    self.check_replacement_serves(asg);
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

    fn live_asg_mut(&mut self, name: &str) -> Option<&mut SimAsg> {
        self.asgs.get_mut(name).filter(|a| a.deleted_at.is_none())
    }

    fn register(&mut self, arn: &str, id: &str) {
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

    fn registered_among(&self, arn: &str, ids: &[String]) -> Vec<String> {
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

    fn deregister(&mut self, arn: &str, ids: &[String]) {
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
    fn terminate_safely(&mut self, id: &str) {
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
        };
        if until <= self.now {
            self.terminate_now(id);
        } else if let Some(instance) = self.instances.get_mut(id) {
            instance.terminate_after = Some(until);
        }
    }

    /// Termination without draining (ForceDelete, or the end of a safe termination).
    fn terminate_now(&mut self, id: &str) {
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

    // ----- invariant checks at command time ----------------------------------------------

    /// Invariant 2: an old target leaves only while every registered new target is healthy
    /// and the healthy targets left keep the capacity floor.
    fn check_healthy_before_detach(&mut self, arn: &str, leaving: &[String]) {
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
    fn capacity_of_stream(&self, arn: &str, except: &[String]) -> u64 {
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
    fn check_drained(&mut self, id: &str, how: &str) {
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
    fn check_replacement_serves(&mut self, deleting: &str) {
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

    // ----- time --------------------------------------------------------------------------

    /// Advances virtual time to `until` (rounded up to a whole tick), tick by tick.
    pub fn advance_to(&mut self, until: Timestamp) {
        let until = until.0.div_ceil(TICK_MS) * TICK_MS;
        while self.now < until {
            self.tick();
        }
    }

    fn tick(&mut self) {
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
        self.check_tick_invariants();
        self.route_traffic();
        let live = self.instances.values().filter(|i| !i.terminated).count() as u64;
        self.instance_ms += live * TICK_MS;
        self.peak_instances = self.peak_instances.max(live);
    }

    /// Instances of `asg` neither terminated nor draining towards termination.
    fn live_instances(&self, asg: &SimAsg) -> Vec<String> {
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
    fn scale_in_victims(&self, asg: &str, desired: u32) -> Vec<String> {
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
    fn reconcile_asg(&mut self, name: &str) {
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

    fn launch(&mut self, asg: &str, generation: u64) {
        let id = self.new_instance_id(generation);
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
        // Instances enter service on a tick boundary.
        let in_service_at = (self.now + boot).div_ceil(TICK_MS) * TICK_MS;
        self.instances.insert(
            id.clone(),
            SimInstance {
                asg: asg.to_string(),
                generation,
                in_service_at,
                app_ready_at: in_service_at + app,
                terminate_after: None,
                terminated: false,
                never_healthy,
                flap,
                error_ratio: if is_new {
                    self.faults.new_5xx_ratio
                } else {
                    0.0
                },
                error_carry: 0.0,
                inflight: VecDeque::new(),
            },
        );
        if let Some(a) = self.asgs.get_mut(asg) {
            a.instances.push(id);
        }
    }

    /// Invariant 1's floor. A scale up in place cannot serve the new size before it exists:
    /// the floor is then that of the smaller, starting size.
    fn capacity_floor(&self) -> u64 {
        match self.previous_desired {
            Some(previous) if previous < self.spec.capacity.desired => {
                u64::from((previous * self.spec.min_healthy_percent).div_ceil(100))
            }
            _ => u64::from(self.spec.capacity_floor()),
        }
    }

    fn check_tick_invariants(&mut self) {
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

    fn route_traffic(&mut self) {
        let second = self.now / TICK_MS;
        let rate = u64::from(self.timings.requests_per_second);
        let request_secs = duration_ms(self.timings.request_duration).div_ceil(TICK_MS);
        let streams: Vec<(String, u64)> = match &self.listener {
            Some((_, weights)) => {
                let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
                if total == 0 {
                    self.dropped_no_target += rate;
                    Vec::new()
                } else {
                    let mut out: Vec<(String, u64)> = weights
                        .iter()
                        .map(|(g, w)| (g.clone(), rate * u64::from(*w) / total))
                        .collect();
                    let assigned: u64 = out.iter().map(|(_, n)| n).sum();
                    if let Some(biggest) = out.iter_mut().max_by_key(|(_, n)| *n) {
                        biggest.1 += rate - assigned;
                    }
                    out
                }
            }
            None => self.groups.keys().map(|g| (g.clone(), rate)).collect(),
        };
        for (arn, count) in streams {
            let Some(group) = self.groups.get(&arn) else {
                continue;
            };
            let targets: Vec<String> = group
                .targets
                .iter()
                .filter(|(id, r)| {
                    self.is_routable(id, r)
                        && self.instances.get(*id).is_some_and(|i| !i.terminated)
                })
                .map(|(id, _)| id.clone())
                .collect();
            let mut errors = 0u64;
            let flapping = targets.is_empty()
                && group
                    .targets
                    .iter()
                    .any(|(id, r)| r.deregistered_at.is_none() && self.is_flapping(id));
            if count > 0 && flapping {
                // Every target of the group is in an injected unhealthy spell: an outage the
                // engine did not cause (a real ALB would fail open here).
                self.dropped_by_fault += count;
            } else if count > 0 && targets.is_empty() {
                self.dropped_no_target += count;
            } else if count > 0 {
                let k = targets.len() as u64;
                let offset = second % k;
                for (index, id) in targets.iter().enumerate() {
                    let position = (index as u64 + k - offset) % k;
                    let n = count / k + u64::from(position < count % k);
                    if n == 0 {
                        continue;
                    }
                    if let Some(instance) = self.instances.get_mut(id) {
                        instance.inflight.push_back((second, n));
                        while instance
                            .inflight
                            .front()
                            .is_some_and(|(s, _)| s + request_secs < second)
                        {
                            instance.inflight.pop_front();
                        }
                        instance.error_carry += n as f64 * instance.error_ratio;
                        let whole = instance.error_carry.floor();
                        instance.error_carry -= whole;
                        errors += whole as u64;
                    }
                }
                self.routed += count;
            }
            if let Some(group) = self.groups.get_mut(&arn) {
                let (requests, fivexx) = group.metrics.last().copied().unwrap_or((0, 0));
                let served = if targets.is_empty() { 0 } else { count };
                group.metrics.push((requests + served, fivexx + errors));
            }
        }
        // Groups without a stream this tick still get a metrics point.
        let ticks = (self.now - START_MS) / TICK_MS;
        for group in self.groups.values_mut() {
            while (group.metrics.len() as u64) < ticks {
                let last = group.metrics.last().copied().unwrap_or((0, 0));
                group.metrics.push(last);
            }
        }
    }

    // ----- observation -------------------------------------------------------------------

    /// What the provider would read from AWS now (parts of it stale under
    /// [`Faults::stale_read_max`]). Counts the API calls it costs.
    pub fn observe(&mut self, metrics_since: Option<Timestamp>) -> Observation {
        let fresh = self.fresh_observation(metrics_since);
        let window = duration_ms(self.faults.stale_read_max);
        if window == 0 {
            return fresh;
        }
        let now = self.now;
        self.read_history
            .retain(|(at, _)| at.saturating_add(window) >= now);
        self.read_history.push_back((now, fresh.clone()));
        let pick = |rng: &mut SplitMix64, history: &VecDeque<(u64, Observation)>| {
            let index = rng.range(0, history.len() as u64) as usize;
            history.get(index).map(|(_, o)| o.clone())
        };
        let mut served = fresh;
        if let Some(old) = pick(&mut self.rng, &self.read_history) {
            served.asgs = old.asgs;
        }
        for group in &mut served.target_groups {
            if let Some(old) = pick(&mut self.rng, &self.read_history)
                && let Some(lagging) = old.target_groups.into_iter().find(|g| g.arn == group.arn)
            {
                *group = lagging;
            }
        }
        if let Some(old) = pick(&mut self.rng, &self.read_history) {
            served.listener = old.listener;
        }
        served
    }

    fn fresh_observation(&mut self, metrics_since: Option<Timestamp>) -> Observation {
        self.observations += 1;
        let mut calls = 1 + self.groups.len() as u64; // DescribeAutoScalingGroups + DescribeTargetHealth each
        let asgs = self
            .asgs
            .iter()
            .map(|(name, a)| AsgObservation {
                name: name.clone(),
                tags: a.tags.clone(),
                launch_template: Some(a.launch_template.clone()),
                subnet_ids: a.subnets.clone(),
                min_size: a.min,
                max_size: a.max,
                desired_capacity: a.desired,
                target_group_arns: if a.deleted_at.is_some() {
                    Vec::new()
                } else {
                    a.groups.clone()
                },
                instances: a
                    .instances
                    .iter()
                    .filter_map(|id| self.instances.get(id).map(|i| (id, i)))
                    .map(|(id, i)| InstanceObservation {
                        id: id.clone(),
                        lifecycle: if i.terminated {
                            LifecycleState::Terminated
                        } else if i.terminate_after.is_some() {
                            LifecycleState::Terminating
                        } else if i.in_service_at <= self.now {
                            LifecycleState::InService
                        } else {
                            LifecycleState::Pending
                        },
                    })
                    .collect(),
                status: a.deleted_at.map(|_| "Delete in progress".to_string()),
            })
            .collect();
        let target_groups = self
            .groups
            .iter()
            .map(|(arn, g)| TargetGroupObservation {
                arn: arn.clone(),
                name: g.name.clone(),
                deregistration_delay: self.timings.deregistration_delay,
                health_check_interval: self.timings.health_check_interval,
                healthy_threshold: self.timings.healthy_threshold,
                targets: g
                    .targets
                    .iter()
                    .filter_map(|(id, r)| {
                        self.target_state(id, r)
                            .map(|(state, reason)| TargetObservation {
                                id: id.clone(),
                                state,
                                reason: reason.map(str::to_string),
                            })
                    })
                    .collect(),
            })
            .collect();
        let listener = self.listener.as_ref().map(|(arn, weights)| {
            calls += 1;
            ListenerObservation {
                arn: arn.clone(),
                weights: weights.clone(),
            }
        });
        let mut alarms = Vec::new();
        let mut metrics = Vec::new();
        if let Strategy::Canary(canary) = &self.spec.strategy {
            if !canary.alarm_names.is_empty() {
                calls += 1;
                let firing = self
                    .faults
                    .alarm_at
                    .is_some_and(|at| self.now >= START_MS + duration_ms(at));
                alarms = canary
                    .alarm_names
                    .iter()
                    .map(|name| AlarmObservation {
                        name: name.clone(),
                        state: if firing {
                            AlarmState::Alarm
                        } else {
                            AlarmState::Ok
                        },
                    })
                    .collect();
            }
            if let Some(since) = metrics_since {
                calls += 2 * self.groups.len() as u64;
                let from_tick = (since.0.saturating_sub(START_MS) / TICK_MS) as usize;
                for (arn, g) in &self.groups {
                    let end = g.metrics.last().copied().unwrap_or((0, 0));
                    let start = if from_tick == 0 {
                        (0, 0)
                    } else {
                        g.metrics.get(from_tick - 1).copied().unwrap_or(end)
                    };
                    metrics.push(TargetGroupMetrics {
                        target_group_arn: arn.clone(),
                        since,
                        http_5xx: end.1 - start.1,
                        requests: end.0 - start.0,
                    });
                }
            }
        }
        self.api_calls += calls;
        Observation {
            asgs,
            target_groups,
            listener,
            alarms,
            metrics,
        }
    }

    // ----- end state ---------------------------------------------------------------------

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
                    if healthy != desired {
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

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
