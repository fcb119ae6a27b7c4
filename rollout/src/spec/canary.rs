//! Validation of the `canary` block.

use std::time::Duration;

use super::defaults::{
    DEFAULT_CANARY_STEPS, DEFAULT_INSUFFICIENT_EVIDENCE, DEFAULT_MAX_5XX_RATIO, DEFAULT_MAX_SOAK,
    DEFAULT_MIN_REQUESTS,
};
use super::error::{SpecErrorKind, attr};
use super::raw::RawCanary;
use super::types::{CanarySpec, CanaryStep, InsufficientEvidence};
use super::validate::Report;
use crate::time::parse_duration;

pub(super) fn validate_canary(raw: &RawCanary, err: &mut Report<'_>) -> Option<CanarySpec> {
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
    for (i, name) in raw.alarm_names.iter().flatten().enumerate() {
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

    let analysis = validate_analysis(raw, steps.as_deref(), err);

    Some(CanarySpec {
        listener_arn: listener_arn?,
        stable_target_group_arn: stable?,
        canary_target_group_arn: canary?,
        steps: steps?,
        alarm_names: if alarms_ok {
            raw.alarm_names.clone().unwrap_or_default()
        } else {
            return None;
        },
        max_5xx_ratio,
        ..analysis?
    })
}

/// The analysis settings: latency and regression limits, the evidence a soak needs, and how
/// long a soak may wait for it. Returns a spec whose other fields are placeholders.
fn validate_analysis(
    raw: &RawCanary,
    steps: Option<&[CanaryStep]>,
    err: &mut Report<'_>,
) -> Option<CanarySpec> {
    let path = attr("canary");
    let mut ok = true;
    let max_p99_latency = match raw.max_p99_latency.as_deref() {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(d) if d > Duration::ZERO => Some(d),
            Ok(_) => {
                err(
                    SpecErrorKind::OutOfRange,
                    path.attr("max_p99_latency"),
                    "must be longer than zero (\"800ms\")".into(),
                );
                ok = false;
                None
            }
            Err(message) => {
                err(
                    SpecErrorKind::Malformed,
                    path.attr("max_p99_latency"),
                    message,
                );
                ok = false;
                None
            }
        },
    };
    let max_regression = match raw.max_regression {
        Some(r) if !(r.is_finite() && r >= 1.0) => {
            err(
                SpecErrorKind::OutOfRange,
                path.attr("max_regression"),
                format!(
                    "{r} must be a multiple of at least 1 (1.5: the canary may be at most 1.5 times worse than stable)"
                ),
            );
            ok = false;
            None
        }
        other => other,
    };
    let min_requests = match raw.min_requests {
        None => DEFAULT_MIN_REQUESTS,
        Some(n) => match u64::try_from(n) {
            Ok(n) => n,
            Err(_) => {
                err(
                    SpecErrorKind::OutOfRange,
                    path.attr("min_requests"),
                    format!("{n} must be 0 or more"),
                );
                ok = false;
                0
            }
        },
    };
    let insufficient_evidence = match raw.insufficient_evidence.as_deref() {
        None => DEFAULT_INSUFFICIENT_EVIDENCE,
        Some(text) => match InsufficientEvidence::parse(text) {
            Some(value) => value,
            None => {
                err(
                    SpecErrorKind::Malformed,
                    path.attr("insufficient_evidence"),
                    format!("unknown value {text:?}: expected \"extend\", \"fail\" or \"pass\""),
                );
                ok = false;
                DEFAULT_INSUFFICIENT_EVIDENCE
            }
        },
    };
    let max_soak = match raw.max_soak.as_deref() {
        None => DEFAULT_MAX_SOAK,
        Some(text) => match parse_duration(text) {
            Ok(d) => d,
            Err(message) => {
                err(SpecErrorKind::Malformed, path.attr("max_soak"), message);
                ok = false;
                DEFAULT_MAX_SOAK
            }
        },
    };
    if let Some(steps) = steps
        && let Some((i, step)) = steps.iter().enumerate().find(|(_, s)| s.soak > max_soak)
    {
        err(
            SpecErrorKind::Conflict,
            path.attr("max_soak"),
            format!(
                "{} is shorter than steps[{i}].soak {}: max_soak bounds how long a soak may extend for evidence",
                crate::spec::human(max_soak),
                crate::spec::human(step.soak)
            ),
        );
        ok = false;
    }
    ok.then(|| CanarySpec {
        listener_arn: String::new(),
        stable_target_group_arn: String::new(),
        canary_target_group_arn: String::new(),
        steps: Vec::new(),
        alarm_names: Vec::new(),
        max_5xx_ratio: None,
        max_p99_latency,
        max_regression,
        min_requests,
        insufficient_evidence,
        max_soak,
    })
}
