//! Ready-made specs and scenarios for tests and benchmarks.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::sim::world::{Faults, Scenario, Timings};
use crate::spec::{LaunchTemplateRef, RawCanary, RawCanaryStep, RawSpec, RolloutSpec};

/// Which strategy a fixture uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyKind {
    BlueGreen,
    Rolling,
    Canary,
}

impl StrategyKind {
    /// All three.
    pub const ALL: [StrategyKind; 3] = [
        StrategyKind::BlueGreen,
        StrategyKind::Rolling,
        StrategyKind::Canary,
    ];

    /// The `strategy` attribute value.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::BlueGreen => "blue_green",
            StrategyKind::Rolling => "rolling",
            StrategyKind::Canary => "canary",
        }
    }
}

/// Knobs of a fixture spec.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetShape {
    pub desired: u32,
    /// Rolling: extra instances allowed above desired.
    pub surge: u32,
    pub batch_size: u32,
    pub min_healthy_percent: u32,
    /// Canary soak per step (the last step soaks 0s).
    pub soak: Duration,
    pub health_timeout: Duration,
    pub rollback_on_failure: bool,
    pub two_target_groups: bool,
    /// Canary `min_requests` (`None`: the engine's default). Scenarios whose traffic is too
    /// thin for the default set it deliberately and say why.
    pub min_requests: Option<u64>,
}

impl Default for FleetShape {
    fn default() -> Self {
        FleetShape {
            desired: 3,
            surge: 1,
            batch_size: 1,
            min_healthy_percent: 100,
            soak: Duration::from_secs(300),
            health_timeout: Duration::from_secs(600),
            rollback_on_failure: true,
            two_target_groups: false,
            min_requests: None,
        }
    }
}

/// The raw configuration of a fleet `web` rolling out launch template version `version`.
// `..RawSpec::default()` has no effect today (every field is set) and is there for the next one.
#[allow(clippy::needless_update)]
pub fn raw_spec(kind: StrategyKind, shape: &FleetShape, version: u64) -> RawSpec {
    let mut target_group_arns = vec!["arn:aws:elasticloadbalancing:tg/app-blue".to_string()];
    if shape.two_target_groups {
        target_group_arns.push("arn:aws:elasticloadbalancing:tg/app-admin".to_string());
    }
    let soak = format!("{}s", shape.soak.as_secs());
    RawSpec {
        name: "web".into(),
        launch_template_id: "lt-0abc".into(),
        launch_template_version: version.to_string(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        target_group_arns: Some(if kind == StrategyKind::Canary {
            Vec::new()
        } else {
            target_group_arns
        }),
        min_size: 1,
        max_size: i64::from(
            shape.desired
                + shape
                    .surge
                    .max(if kind == StrategyKind::Rolling { 0 } else { 1 }),
        ),
        desired_capacity: i64::from(shape.desired),
        strategy: Some(kind.name().into()),
        min_healthy_percent: Some(i64::from(shape.min_healthy_percent)),
        batch_size: Some(i64::from(shape.batch_size)),
        canary: (kind == StrategyKind::Canary).then(|| RawCanary {
            listener_arn: Some("arn:aws:elasticloadbalancing:listener/web".into()),
            stable_target_group_arn: Some("arn:aws:elasticloadbalancing:tg/app-blue".into()),
            canary_target_group_arn: Some("arn:aws:elasticloadbalancing:tg/app-green".into()),
            steps: Some(
                [
                    (5, soak.as_str()),
                    (25, soak.as_str()),
                    (50, soak.as_str()),
                    (100, "0s"),
                ]
                .iter()
                .map(|(weight, soak)| RawCanaryStep {
                    weight: *weight,
                    soak: (*soak).to_string(),
                })
                .collect(),
            ),
            alarm_names: Some(vec!["web-5xx".into()]),
            max_5xx_ratio: Some(0.01),
            min_requests: shape
                .min_requests
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            ..RawCanary::default()
        }),
        health_timeout: Some(format!("{}s", shape.health_timeout.as_secs())),
        drain_margin: Some("5s".into()),
        rollback_on_failure: Some(shape.rollback_on_failure),
        tags: Some(BTreeMap::from([("team".to_string(), "web".to_string())])),
        // An attribute added later starts at its default here: a fixture states only what
        // the scenarios vary.
        ..RawSpec::default()
    }
}

/// A validated fixture spec (`Err` if the shape is invalid, e.g. rolling without room).
pub fn spec(kind: StrategyKind, shape: &FleetShape, version: u64) -> Result<RolloutSpec, String> {
    RolloutSpec::validate(&raw_spec(kind, shape, version)).map_err(|e| e.to_string())
}

/// An update from launch template version 6 (generation 1 serving) to version 7.
pub fn update(
    name: &str,
    seed: u64,
    spec: RolloutSpec,
    timings: Timings,
    faults: Faults,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        seed,
        previous: Some(LaunchTemplateRef {
            id: spec.launch_template.id.clone(),
            version: spec.launch_template.version.saturating_sub(1).max(1),
        }),
        spec,
        timings,
        faults,
        max_duration: Duration::from_secs(6 * 3600),
        teardown: false,
        previous_desired: None,
        previous_settings: None,
        scaling: Vec::new(),
    }
}

/// A change of `desired_capacity` alone: generation 1 already runs the spec's launch template
/// at `from_desired` instances.
pub fn scale_in_place(name: &str, seed: u64, spec: RolloutSpec, from_desired: u32) -> Scenario {
    let mut scenario = update(name, seed, spec, Timings::default(), Faults::default());
    scenario.previous = Some(scenario.spec.launch_template.clone());
    scenario.previous_desired = Some(from_desired);
    scenario
}
