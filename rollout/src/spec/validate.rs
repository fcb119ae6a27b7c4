//! Validation of the whole spec: raw configuration in, [`RolloutSpec`] or every problem out.

use std::collections::BTreeMap;
use std::time::Duration;

use super::autoscaling::validate_autoscaling;
use super::defaults::{
    DEFAULT_BATCH_SIZE, DEFAULT_DRAIN_MARGIN, DEFAULT_HEALTH_TIMEOUT, DEFAULT_MIN_HEALTHY_PERCENT,
    DEFAULT_ROLLBACK_ON_FAILURE,
};
use super::error::{AttributePath, SpecError, SpecErrorKind, SpecErrors, attr};
use super::raw::RawSpec;
use super::strategy::validate_strategy;
use super::types::{Capacity, LaunchTemplateRef, RolloutSpec};
use crate::time::parse_duration;

impl RolloutSpec {
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
            None => Some(DEFAULT_MIN_HEALTHY_PERCENT),
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
            None => Some(DEFAULT_BATCH_SIZE),
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

        for key in raw.tags.iter().flat_map(BTreeMap::keys) {
            if crate::fleet::is_reserved_tag(key) {
                err(
                    SpecErrorKind::ReservedTag,
                    attr("tags").key(key),
                    format!(
                        "tag key {key:?} is reserved: keys starting with \"zdd:\" are written by zdd"
                    ),
                );
            }
        }

        let strategy = validate_strategy(raw, capacity, min_healthy_percent, batch_size, &mut err);
        let has_target_group = match raw.strategy.as_deref() {
            Some("canary") => true,
            _ => raw
                .target_group_arns
                .as_ref()
                .is_some_and(|arns| !arns.is_empty()),
        };
        let autoscaling = validate_autoscaling(raw, has_target_group, &mut err);
        let bake = super::bake::validate_bake(raw, &mut err);

        match (
            errors.is_empty(),
            version,
            capacity,
            min_healthy_percent,
            strategy,
            health_timeout,
            drain_margin,
            autoscaling,
            bake,
        ) {
            (
                true,
                Some(version),
                Some(capacity),
                Some(min_healthy_percent),
                Some(strategy),
                Some(health_timeout),
                Some(drain_margin),
                Some(autoscaling),
                Some(bake),
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
                rollback_on_failure: raw
                    .rollback_on_failure
                    .unwrap_or(DEFAULT_ROLLBACK_ON_FAILURE),
                tags: raw.tags.clone().unwrap_or_default(),
                owner: crate::observation::Owner::default(),
                health_check: autoscaling.health_check,
                target_tracking: autoscaling.target_tracking,
                lifecycle_hooks: autoscaling.lifecycle_hooks,
                bake,
                metric_timing: crate::metrics::MetricTiming::default(),
            }),
            _ => Err(SpecErrors(errors)),
        }
    }
}

/// Where the checks report each problem they find.
pub(super) type Report<'a> = dyn FnMut(SpecErrorKind, AttributePath, String) + 'a;

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
