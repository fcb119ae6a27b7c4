//! Raw configuration (as the user wrote it) → a validated [`RolloutSpec`] that cannot be invalid.
//!
//! Validation is separated from use: nothing downstream re-checks a `RolloutSpec`. Every error
//! carries the attribute path of the `zdd_rollout` resource it is about (`canary.steps[2].weight`),
//! so the provider can attach it to the right place in the plan.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::{HumanDuration, parse_duration};

/// Tag keys the engine writes on every ASG it creates; users may not set them.
pub const TAG_ROLLOUT: &str = "zdd:rollout";
/// Generation number of an ASG (`1`, `2`, ...), the source of truth on resume.
pub const TAG_GENERATION: &str = "zdd:generation";
/// Present on a generation the engine has decided to roll back (so a resumed apply continues the
/// rollback instead of retrying the failed generation). The value is the reason.
pub const TAG_ROLLBACK: &str = "zdd:rollback";
/// Present on a failed generation kept after its rollback finished (`rollback_on_failure =
/// false`): the next apply leaves it alone (and deletes it once a later rollout succeeds)
/// instead of continuing a rollback. Without it, a kept generation and one whose rollback was
/// interrupted half-way would look the same.
pub const TAG_ROLLED_BACK: &str = "zdd:rolled-back";

/// Default canary steps: 5 %, 25 %, 50 % with a 5-minute soak each, then 100 %.
pub const DEFAULT_CANARY_STEPS: [(u8, u64); 4] = [(5, 300), (25, 300), (50, 300), (100, 0)];
/// Default time new targets get to become healthy.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(600);
/// Default extra wait after a target group's deregistration delay before terminating.
pub const DEFAULT_DRAIN_MARGIN: Duration = Duration::from_secs(5);
/// The canary's 5xx gate when a `canary` block omits `max_5xx_ratio`: more than 1 % of the
/// canary group's requests answered 5xx during a soak (judged from
/// [`crate::engine::MIN_REQUESTS_FOR_RATIO`] requests on) rolls back. `1.0` turns it off.
pub const DEFAULT_MAX_5XX_RATIO: f64 = 0.01;

/// The `zdd_rollout` arguments as the user wrote them (attribute names match the resource).
/// Optional attributes are `None` when not set; the provider fills this from the Terraform config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawSpec {
    pub name: String,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Vec<String>,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    /// `"blue_green"` (default), `"rolling"` or `"canary"`.
    pub strategy: Option<String>,
    pub min_healthy_percent: Option<i64>,
    pub batch_size: Option<i64>,
    pub canary: Option<RawCanary>,
    /// Duration such as `"10m"`.
    pub health_timeout: Option<String>,
    /// Extra wait after the deregistration delay before an instance is terminated (`"5s"`).
    pub drain_margin: Option<String>,
    pub rollback_on_failure: Option<bool>,
    pub tags: BTreeMap<String, String>,
}

/// The `canary` block as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawCanary {
    pub listener_arn: Option<String>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub steps: Option<Vec<RawCanaryStep>>,
    pub alarm_names: Vec<String>,
    pub max_5xx_ratio: Option<f64>,
}

/// One `canary.steps` element as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawCanaryStep {
    pub weight: i64,
    pub soak: String,
}

/// A launch template pinned to a numbered version (invariant 7: `$Latest`/`$Default` are refused,
/// because a rollback needs a fixed target).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    pub id: String,
    pub version: u64,
}

impl fmt::Display for LaunchTemplateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} version {}", self.id, self.version)
    }
}

/// Sizes of the fleet, already checked: `min <= desired <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

/// A validated rollout specification. Construct it with [`RolloutSpec::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    /// Fleet name; ASGs are named `<name>-g<generation>`.
    pub name: String,
    pub launch_template: LaunchTemplateRef,
    pub subnet_ids: Vec<String>,
    pub capacity: Capacity,
    /// Percentage of `desired` that must stay healthy and routed at every instant (invariant 1).
    pub min_healthy_percent: u32,
    pub strategy: Strategy,
    pub health_timeout: Duration,
    pub drain_margin: Duration,
    /// When false a failed generation is taken out of traffic but not deleted (for inspection).
    pub rollback_on_failure: bool,
    /// User tags, copied onto every ASG (never starting with `zdd:`).
    pub tags: BTreeMap<String, String>,
    /// Whose groups these are (`zdd:owner`): the engine sees, changes and deletes only the
    /// fleet's own groups and tags every group it creates. Not configuration: the provider
    /// sets it from state ([`RolloutSpec::with_owner`]).
    #[serde(default)]
    pub owner: crate::observation::Owner,
}

/// How traffic moves from the old generation to the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// New ASG at full capacity attached to every target group; old detached once every new
    /// target is healthy; old deleted after the deregistration delay.
    BlueGreen { target_group_arns: Vec<String> },
    /// New ASG grows in batches while the old shrinks, never below the capacity floor, surging
    /// up to `max_size` instances in total.
    Rolling {
        target_group_arns: Vec<String>,
        batch_size: u32,
    },
    /// Two target groups behind one listener; listener weights step towards the new generation.
    Canary(CanarySpec),
}

/// A validated canary configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    pub listener_arn: String,
    /// The group that serves at the start of the first rollout. Later rollouts find the serving
    /// group from the listener weights: the roles swap after each successful rollout.
    pub stable_target_group_arn: String,
    pub canary_target_group_arn: String,
    /// Weights strictly increasing, the last one 100.
    pub steps: Vec<CanaryStep>,
    pub alarm_names: Vec<String>,
    pub max_5xx_ratio: Option<f64>,
}

/// One canary step: send `weight` % to the new generation, then watch the gates for `soak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryStep {
    pub weight: u8,
    pub soak: Duration,
}

impl RolloutSpec {
    /// The same spec for the fleet of `owner`.
    #[must_use]
    pub fn with_owner(mut self, owner: crate::observation::Owner) -> RolloutSpec {
        self.owner = owner;
        self
    }

    /// The ASG name of a generation: `<name>-g<generation>`.
    pub fn asg_name(&self, generation: u64) -> String {
        format!("{}-g{generation}", self.name)
    }

    /// Every target group this fleet is registered in.
    pub fn target_group_arns(&self) -> Vec<String> {
        match &self.strategy {
            Strategy::BlueGreen { target_group_arns } => target_group_arns.clone(),
            Strategy::Rolling {
                target_group_arns, ..
            } => target_group_arns.clone(),
            Strategy::Canary(canary) => vec![
                canary.stable_target_group_arn.clone(),
                canary.canary_target_group_arn.clone(),
            ],
        }
    }

    /// Number of healthy, routed targets that must exist at every instant (invariant 1):
    /// `ceil(desired * min_healthy_percent / 100)`.
    pub fn capacity_floor(&self) -> u32 {
        (self.capacity.desired * self.min_healthy_percent).div_ceil(100)
    }

    /// Short strategy name as written in the configuration.
    pub fn strategy_name(&self) -> &'static str {
        match self.strategy {
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Rolling { .. } => "rolling",
            Strategy::Canary(_) => "canary",
        }
    }

    /// Validates raw configuration. Reports every problem found, not only the first.
    pub fn validate(raw: &RawSpec) -> Result<RolloutSpec, SpecErrors> {
        let mut errors = Vec::new();
        let mut err = |kind: SpecErrorKind, path: AttributePath, message: String| {
            errors.push(SpecError {
                kind,
                path,
                message,
            });
        };

        if raw.name.is_empty() {
            err(
                SpecErrorKind::Missing,
                attr("name"),
                "must not be empty".into(),
            );
        } else if raw.name.len() > 200
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            err(
                SpecErrorKind::Malformed,
                attr("name"),
                format!(
                    "{:?} must be at most 200 letters, digits, '-' or '_' (it becomes the ASG name prefix)",
                    raw.name
                ),
            );
        }
        if !raw.launch_template_id.starts_with("lt-") {
            err(
                SpecErrorKind::Malformed,
                attr("launch_template_id"),
                format!(
                    "{:?} is not a launch template id (they look like \"lt-0abc123\")",
                    raw.launch_template_id
                ),
            );
        }
        let version = launch_template_version(&raw.launch_template_version, &mut err);
        if raw.subnet_ids.is_empty() {
            err(
                SpecErrorKind::Missing,
                attr("subnet_ids"),
                "needs at least one subnet".into(),
            );
        }
        for (i, subnet) in raw.subnet_ids.iter().enumerate() {
            if subnet.trim().is_empty() {
                err(
                    SpecErrorKind::Missing,
                    attr("subnet_ids").index(i),
                    "must not be empty".into(),
                );
            }
        }

        let size = |value: i64, name: &str, err: &mut Report<'_>| {
            u32::try_from(value).ok().or_else(|| {
                err(
                    SpecErrorKind::OutOfRange,
                    attr(name),
                    format!("{value} must be between 0 and {}", u32::MAX),
                );
                None
            })
        };
        let min = size(raw.min_size, "min_size", &mut err);
        let max = size(raw.max_size, "max_size", &mut err);
        let desired = size(raw.desired_capacity, "desired_capacity", &mut err);
        let mut capacity = None;
        if let (Some(min), Some(max), Some(desired)) = (min, max, desired) {
            if max < min {
                err(
                    SpecErrorKind::Conflict,
                    attr("max_size"),
                    format!("max_size {max} is smaller than min_size {min}"),
                );
            } else if max == 0 {
                err(
                    SpecErrorKind::OutOfRange,
                    attr("max_size"),
                    "must be at least 1".into(),
                );
            } else if desired < min || desired > max {
                err(
                    SpecErrorKind::Conflict,
                    attr("desired_capacity"),
                    format!(
                        "desired_capacity {desired} is outside min_size..max_size ({min}..{max})"
                    ),
                );
            } else if desired == 0 {
                err(
                    SpecErrorKind::OutOfRange,
                    attr("desired_capacity"),
                    "must be at least 1: a fleet of zero instances cannot be rolled out".into(),
                );
            } else {
                capacity = Some(Capacity { min, max, desired });
            }
        }

        let min_healthy_percent = match raw.min_healthy_percent {
            None => Some(100),
            Some(p) if (0..=100).contains(&p) => u32::try_from(p).ok(),
            Some(p) => {
                err(
                    SpecErrorKind::OutOfRange,
                    attr("min_healthy_percent"),
                    format!("{p} must be between 0 and 100"),
                );
                None
            }
        };

        // Judged whatever the strategy: a batch of less than one instance is wrong even where
        // batches are not used, and is refused before a later change of strategy would use it.
        let batch_size = match raw.batch_size {
            None => Some(1),
            Some(b) if b < 1 => {
                err(
                    SpecErrorKind::OutOfRange,
                    attr("batch_size"),
                    format!("{b} must be at least 1"),
                );
                None
            }
            Some(b) => u32::try_from(b).ok().or_else(|| {
                err(
                    SpecErrorKind::OutOfRange,
                    attr("batch_size"),
                    format!("{b} must be at most {}", u32::MAX),
                );
                None
            }),
        };

        let health_timeout = duration_attr(
            raw.health_timeout.as_deref(),
            DEFAULT_HEALTH_TIMEOUT,
            attr("health_timeout"),
            true,
            &mut err,
        );
        let drain_margin = duration_attr(
            raw.drain_margin.as_deref(),
            DEFAULT_DRAIN_MARGIN,
            attr("drain_margin"),
            false,
            &mut err,
        );

        for key in raw.tags.keys() {
            if key.starts_with("zdd:") {
                err(
                    SpecErrorKind::ReservedTag,
                    attr("tags").key(key),
                    format!(
                        "tag key {key:?} is reserved: keys starting with \"zdd:\" are written by zdd"
                    ),
                );
            }
        }

        let strategy_name = raw.strategy.as_deref().unwrap_or("blue_green");
        let check_target_groups = |err: &mut Report<'_>| -> Option<Vec<String>> {
            if raw.target_group_arns.is_empty() {
                err(
                    SpecErrorKind::Missing,
                    attr("target_group_arns"),
                    format!(
                        "strategy {strategy_name:?} needs at least one target group: without a load balancer nothing proves the new instances healthy"
                    ),
                );
                return None;
            }
            let mut ok = true;
            for (i, arn) in raw.target_group_arns.iter().enumerate() {
                if arn.trim().is_empty() {
                    err(
                        SpecErrorKind::Missing,
                        attr("target_group_arns").index(i),
                        "must not be empty".into(),
                    );
                    ok = false;
                } else if raw.target_group_arns[..i].contains(arn) {
                    err(
                        SpecErrorKind::Conflict,
                        attr("target_group_arns").index(i),
                        format!("{arn:?} is listed twice"),
                    );
                    ok = false;
                }
            }
            ok.then(|| raw.target_group_arns.clone())
        };
        let strategy = match strategy_name {
            "blue_green" | "rolling" => {
                if raw.canary.is_some() {
                    err(
                        SpecErrorKind::Conflict,
                        attr("canary"),
                        format!(
                            "the canary block applies only to strategy = \"canary\", not {strategy_name:?}"
                        ),
                    );
                }
                let groups = check_target_groups(&mut err);
                if strategy_name == "blue_green" {
                    groups.map(|target_group_arns| Strategy::BlueGreen { target_group_arns })
                } else {
                    if let (Some(cap), Some(percent)) = (capacity, min_healthy_percent) {
                        let floor = (cap.desired * percent).div_ceil(100);
                        let headroom = (cap.max - cap.desired) + (cap.desired - floor);
                        if headroom == 0 {
                            err(
                                SpecErrorKind::NoRoomToRoll,
                                attr("max_size"),
                                format!(
                                    "rolling with min_healthy_percent = {percent} needs max_size > desired_capacity ({}) to launch new instances before old ones leave",
                                    cap.desired
                                ),
                            );
                        }
                    }
                    match (groups, batch_size) {
                        (Some(target_group_arns), Some(batch_size)) => Some(Strategy::Rolling {
                            target_group_arns,
                            batch_size,
                        }),
                        _ => None,
                    }
                }
            }
            "canary" => {
                if !raw.target_group_arns.is_empty() {
                    err(
                        SpecErrorKind::Conflict,
                        attr("target_group_arns"),
                        "strategy \"canary\" uses canary.stable_target_group_arn and canary.canary_target_group_arn instead".into(),
                    );
                }
                match &raw.canary {
                    None => {
                        err(
                            SpecErrorKind::Missing,
                            attr("canary"),
                            "strategy \"canary\" needs a canary block (listener_arn, stable_target_group_arn, canary_target_group_arn)".into(),
                        );
                        None
                    }
                    Some(canary) => validate_canary(canary, &mut err).map(Strategy::Canary),
                }
            }
            other => {
                err(
                    SpecErrorKind::UnknownStrategy,
                    attr("strategy"),
                    format!(
                        "unknown strategy {other:?}: expected \"blue_green\", \"rolling\" or \"canary\""
                    ),
                );
                None
            }
        };

        match (
            errors.is_empty(),
            version,
            capacity,
            min_healthy_percent,
            strategy,
            health_timeout,
            drain_margin,
        ) {
            (
                true,
                Some(version),
                Some(capacity),
                Some(min_healthy_percent),
                Some(strategy),
                Some(health_timeout),
                Some(drain_margin),
            ) => Ok(RolloutSpec {
                name: raw.name.clone(),
                launch_template: LaunchTemplateRef {
                    id: raw.launch_template_id.clone(),
                    version,
                },
                subnet_ids: raw.subnet_ids.clone(),
                capacity,
                min_healthy_percent,
                strategy,
                health_timeout,
                drain_margin,
                rollback_on_failure: raw.rollback_on_failure.unwrap_or(true),
                tags: raw.tags.clone(),
                owner: crate::observation::Owner::default(),
            }),
            _ => Err(SpecErrors(errors)),
        }
    }
}

/// Where the checks report each problem they find.
type Report<'a> = dyn FnMut(SpecErrorKind, AttributePath, String) + 'a;

/// A launch template version as AWS reports it: a positive number in plain digits. Any other
/// spelling of the same number (`" 7"`, `"+7"`, `"07"`) would be accepted by AWS but differ from
/// the `"7"` a refresh reads back, so every plan would show it as drift.
fn launch_template_version(text: &str, err: &mut Report<'_>) -> Option<u64> {
    let path = attr("launch_template_version");
    let trimmed = text.trim();
    if matches!(trimmed, "$Latest" | "$Default") {
        err(
            SpecErrorKind::FloatingVersion,
            path,
            format!(
                "{trimmed} is refused: pin a version number (e.g. \"7\") so that a rollback has a fixed target"
            ),
        );
        return None;
    }
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let number = digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .filter(|&n| n >= 1);
    match number {
        Some(n) if n.to_string() == text => Some(n),
        Some(n) => {
            err(
                SpecErrorKind::VersionSpelling,
                path,
                format!(
                    "{text:?} must be written as plain digits, \"{n}\", the way AWS reports the version (any other spelling shows as drift on every plan)"
                ),
            );
            None
        }
        None => {
            err(
                SpecErrorKind::Malformed,
                path,
                format!(
                    "{text:?} is not a launch template version number: versions are counted from 1 (e.g. \"7\")"
                ),
            );
            None
        }
    }
}

fn duration_attr(
    text: Option<&str>,
    default: Duration,
    path: AttributePath,
    must_be_positive: bool,
    err: &mut Report<'_>,
) -> Option<Duration> {
    let Some(text) = text else {
        return Some(default);
    };
    match parse_duration(text) {
        Ok(d) if must_be_positive && d.is_zero() => {
            err(
                SpecErrorKind::OutOfRange,
                path,
                format!("{text:?} must be longer than zero"),
            );
            None
        }
        Ok(d) => Some(d),
        Err(message) => {
            err(SpecErrorKind::Malformed, path, message);
            None
        }
    }
}

fn validate_canary(raw: &RawCanary, err: &mut Report<'_>) -> Option<CanarySpec> {
    let path = attr("canary");
    let required = |value: &Option<String>, name: &str, err: &mut Report<'_>| match value
        .as_deref()
        .map(str::trim)
    {
        Some(v) if !v.is_empty() => Some(v.to_string()),
        _ => {
            err(
                SpecErrorKind::Missing,
                path.attr(name),
                format!("is required: the canary strategy shifts traffic with {name}"),
            );
            None
        }
    };
    let listener_arn = required(&raw.listener_arn, "listener_arn", err);
    let stable = required(&raw.stable_target_group_arn, "stable_target_group_arn", err);
    let canary = required(&raw.canary_target_group_arn, "canary_target_group_arn", err);
    if let (Some(stable), Some(canary)) = (&stable, &canary)
        && stable == canary
    {
        err(
            SpecErrorKind::Conflict,
            path.attr("canary_target_group_arn"),
            "must differ from stable_target_group_arn: the canary needs two target groups".into(),
        );
    }

    let steps = match &raw.steps {
        None => Some(
            DEFAULT_CANARY_STEPS
                .iter()
                .map(|&(weight, soak)| CanaryStep {
                    weight,
                    soak: Duration::from_secs(soak),
                })
                .collect::<Vec<_>>(),
        ),
        Some(steps) if steps.is_empty() => {
            err(
                SpecErrorKind::Missing,
                path.attr("steps"),
                "needs at least one step; the last one must have weight 100".into(),
            );
            None
        }
        Some(steps) => {
            let mut out = Vec::with_capacity(steps.len());
            let mut ok = true;
            let mut previous: i64 = 0;
            for (i, step) in steps.iter().enumerate() {
                let step_path = path.attr("steps").index(i);
                if !(1..=100).contains(&step.weight) {
                    err(
                        SpecErrorKind::OutOfRange,
                        step_path.attr("weight"),
                        format!("{} must be between 1 and 100", step.weight),
                    );
                    ok = false;
                } else if step.weight <= previous {
                    err(
                        SpecErrorKind::Conflict,
                        step_path.attr("weight"),
                        format!(
                            "{} must be greater than the previous step's weight {previous}: weights must strictly increase",
                            step.weight
                        ),
                    );
                    ok = false;
                }
                previous = previous.max(step.weight);
                let soak = match parse_duration(&step.soak) {
                    Ok(soak) => soak,
                    Err(message) => {
                        err(SpecErrorKind::Malformed, step_path.attr("soak"), message);
                        ok = false;
                        Duration::ZERO
                    }
                };
                out.push(CanaryStep {
                    weight: u8::try_from(step.weight.clamp(0, 100)).unwrap_or(100),
                    soak,
                });
            }
            if let Some(last) = steps.last()
                && last.weight != 100
            {
                err(
                    SpecErrorKind::Conflict,
                    path.attr("steps").index(steps.len() - 1).attr("weight"),
                    format!(
                        "the last step must send 100 % to the new generation, not {}",
                        last.weight
                    ),
                );
                ok = false;
            }
            ok.then_some(out)
        }
    };

    let mut alarms_ok = true;
    for (i, name) in raw.alarm_names.iter().enumerate() {
        if name.trim().is_empty() {
            err(
                SpecErrorKind::Missing,
                path.attr("alarm_names").index(i),
                "must not be empty".into(),
            );
            alarms_ok = false;
        }
    }
    let max_5xx_ratio = match raw.max_5xx_ratio {
        Some(r) if !(r.is_finite() && (0.0..=1.0).contains(&r)) => {
            err(
                SpecErrorKind::OutOfRange,
                path.attr("max_5xx_ratio"),
                format!("{r} must be a ratio between 0 and 1 (0.01 means 1 %)"),
            );
            return None;
        }
        Some(r) => Some(r),
        // The documented default: a canary is gated on 5xx unless the user says otherwise.
        None => Some(DEFAULT_MAX_5XX_RATIO),
    };

    Some(CanarySpec {
        listener_arn: listener_arn?,
        stable_target_group_arn: stable?,
        canary_target_group_arn: canary?,
        steps: steps?,
        alarm_names: if alarms_ok {
            raw.alarm_names.clone()
        } else {
            return None;
        },
        max_5xx_ratio,
    })
}

/// A path to a resource attribute, e.g. `canary.steps[2].weight`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttributePath(pub Vec<PathStep>);

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathStep {
    /// A named attribute or block.
    Attribute(String),
    /// An element of a list.
    Index(usize),
    /// An element of a map, by its key (`tags["zdd:rollout"]`).
    Key(String),
}

fn attr(name: &str) -> AttributePath {
    AttributePath(vec![PathStep::Attribute(name.to_string())])
}

impl AttributePath {
    /// This path followed by a named attribute.
    pub fn attr(&self, name: &str) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Attribute(name.to_string()));
        AttributePath(steps)
    }

    /// This path followed by a map key.
    pub fn key(&self, key: &str) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Key(key.to_string()));
        AttributePath(steps)
    }

    /// This path followed by a list index.
    pub fn index(&self, index: usize) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Index(index));
        AttributePath(steps)
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// One problem with the configuration, tied to an attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// Which kind of rule was broken, for callers that word or route errors by rule rather than
    /// by message text.
    pub kind: SpecErrorKind,
    pub path: AttributePath,
    pub message: String,
}

/// The kind of rule a [`SpecError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecErrorKind {
    /// A required value is missing or empty.
    Missing,
    /// Text that is not of the expected form: a name, an id, a duration, a version number.
    Malformed,
    /// A number outside its allowed range.
    OutOfRange,
    /// Values that contradict each other: sizes, canary weights, an attribute of another
    /// strategy, an ARN listed twice.
    Conflict,
    /// `$Latest` or `$Default` instead of a pinned version (invariant 7).
    FloatingVersion,
    /// A valid version number spelt otherwise than AWS reports it (`"07"` for `"7"`).
    VersionSpelling,
    /// A tag key starting with `zdd:`, which only zdd writes.
    ReservedTag,
    /// A `strategy` that is none of the known names.
    UnknownStrategy,
    /// `rolling` with no room to launch new instances before old ones leave.
    NoRoomToRoll,
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl SpecErrors {
    /// The messages as `path: message` strings.
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// Human form of a duration for messages.
pub(crate) fn human(duration: Duration) -> HumanDuration {
    HumanDuration(duration)
}
