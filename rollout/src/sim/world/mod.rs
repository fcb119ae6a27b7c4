//! The simulated cloud: Auto Scaling, a load balancer with a realistic health model, traffic,
//! alarms and metrics, in virtual time with one-second ticks.

mod autoscaling;
mod checks;
mod commands;
mod health;
mod hooks;
mod metrics;
mod observe;
mod scaling;
mod scenario;
mod traffic;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::command::Command;
use crate::fleet::{TAG_GENERATION, TAG_ROLLOUT};
use crate::observation::{Observation, ScalingProcess};
use crate::sim::rng::SplitMix64;
use crate::spec::{GroupHealthCheck, LaunchTemplateRef, LifecycleHook, RolloutSpec, Strategy};
use crate::time::Timestamp;

pub use scenario::{Faults, ScalingEvent, ScalingGroup, Scenario, Timings};

/// Virtual time the simulation starts at (instances of the serving generation registered at 0
/// are long healthy by then).
pub const START_MS: u64 = 3_600_000;

const TICK_MS: u64 = 1000;

/// A deleted ASG stays visible ("Delete in progress") this long.
const DELETE_VISIBLE_MS: u64 = 2000;

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
    /// Its p99 as a multiple of [`Timings::p99_latency`].
    latency_factor: f64,
    /// Fraction of a 5xx response carried to the next tick (small rates stay exact).
    error_carry: f64,
    /// (second, requests) received recently.
    inflight: VecDeque<(u64, u64)>,
    /// A launch hook holds it in `Pending:Wait` from then until `in_service_at`.
    pending_wait_from: Option<u64>,
    /// A launch hook timed out with `ABANDON`: terminated then, never in service.
    abandon_at: Option<u64>,
    /// A termination hook holds it in `Terminating:Wait` from then until `terminate_after`.
    terminating_wait_from: Option<u64>,
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
    suspended: BTreeSet<ScalingProcess>,
    /// Scaling policy name → the target group an `ALBRequestCountPerTarget` policy counts in.
    policies: BTreeMap<String, Option<String>>,
    hooks: Vec<LifecycleHook>,
    health_check: GroupHealthCheck,
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
    /// Cumulative traffic at the end of each tick since the start (index 0: the first tick).
    metrics: Vec<traffic::TickTotals>,
}

/// The simulated cloud.
#[derive(Debug, Clone)]
pub struct World {
    now: u64,
    rng: SplitMix64,
    /// Seeds the published p99's noise (apart from `rng`, so metrics draw nothing from it).
    metric_seed: u64,
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
    previous_settings: Option<(GroupHealthCheck, Vec<LifecycleHook>)>,
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
    /// Scaling events not yet due (time in ms, group, desired).
    scaling: Vec<(u64, scenario::ScalingGroup, u32)>,
    /// The capacity the serving group actually serves: its desired capacity at the start,
    /// lowered at once when it scales itself in, raised once a scale-out is healthy.
    served: Option<u32>,
    /// A scale-out of the serving group not yet healthy.
    served_raise: Option<u32>,
    /// The engine started moving traffic off the group that served at the start.
    shift_started: bool,
    /// Each group scaling event that landed (time, group, desired) and each one lost.
    pub scaling_log: Vec<String>,
    /// Every instance launched after the start: (time since the start, generation).
    pub launches: Vec<(Duration, u64)>,
    /// Every instance observed in `Pending:Wait` or `Terminating:Wait` (id, which).
    pub hook_waits: BTreeSet<(String, &'static str)>,
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
            metric_seed: scenario.seed ^ 0x006d_6574_7269_6373,
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
            previous_settings: scenario.previous_settings.clone(),
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
            scaling: scenario
                .scaling
                .iter()
                .map(|e| (START_MS + duration_ms(e.at), e.group, e.desired))
                .collect(),
            served: None,
            served_raise: None,
            shift_started: false,
            scaling_log: Vec::new(),
            hook_waits: BTreeSet::new(),
            launches: Vec::new(),
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
                suspended: BTreeSet::new(),
                // The serving generation was created from the same configuration.
                policies: self
                    .spec
                    .target_tracking
                    .iter()
                    .map(|p| (p.name.clone(), None))
                    .collect(),
                hooks: self
                    .previous_settings
                    .as_ref()
                    .map_or_else(|| self.spec.lifecycle_hooks.clone(), |(_, h)| h.clone()),
                health_check: self
                    .previous_settings
                    .as_ref()
                    .map_or(self.spec.health_check, |(h, _)| *h),
            },
        );
        self.served = Some(cap.desired);
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
                    error_ratio: self.faults.baseline_5xx_ratio,
                    latency_factor: 1.0,
                    error_carry: 0.0,
                    inflight: VecDeque::new(),
                    pending_wait_from: None,
                    abandon_at: None,
                    terminating_wait_from: None,
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
}
