//! Read of the serving group's own settings: its health check (`HealthCheckType`,
//! `HealthCheckGracePeriod`, `DefaultInstanceWarmup`) and its lifecycle hooks, as AWS reports
//! them. They are applied in place, so what AWS has is what the next plan compares with the
//! configuration. A value that means the same as the state's (`"300s"` and `"5m"`, the same
//! hooks in another order) keeps the state's spelling: only a real difference is drift.

use std::time::Duration;

use zdd_rollout::spec::defaults::{
    DEFAULT_HEALTH_CHECK_GRACE_PERIOD, DEFAULT_HEALTH_CHECK_TYPE, DEFAULT_HOOK_DEFAULT_RESULT,
    DEFAULT_HOOK_HEARTBEAT_TIMEOUT,
};
use zdd_rollout::spec::{HookResult, HookTransition, RawLifecycleHook, RawSpec};

use super::duration::{format_duration, parse_duration};
use crate::aws::types::{AsgInfo, LifecycleHookInfo};

/// Updates `spec` from what AWS reports of `group`; returns the attributes that differed.
pub fn read_group_settings(spec: &mut RawSpec, group: &AsgInfo) -> Vec<&'static str> {
    let mut drifted = Vec::new();
    if let Some(observed) = &group.health_check_type {
        let configured = spec
            .health_check_type
            .as_deref()
            .unwrap_or(DEFAULT_HEALTH_CHECK_TYPE.as_aws_str());
        if observed != configured {
            drifted.push("health_check_type");
            spec.health_check_type = Some(observed.clone());
        }
    }
    if let Some(observed) = group.health_check_grace_period.map(seconds) {
        let configured = match spec.health_check_grace_period.as_deref() {
            None => Some(DEFAULT_HEALTH_CHECK_GRACE_PERIOD),
            Some(text) => parse_duration(text).ok(),
        };
        if configured != Some(observed) {
            drifted.push("health_check_grace_period");
            spec.health_check_grace_period = Some(format_duration(observed));
        }
    }
    let observed = group.default_instance_warmup.map(seconds);
    let configured = spec
        .default_instance_warmup
        .as_deref()
        .map(|text| parse_duration(text).ok());
    if configured != observed.map(Some) {
        drifted.push("default_instance_warmup");
        spec.default_instance_warmup = observed.map(format_duration);
    }
    if let Some(observed) = &group.lifecycle_hooks
        && let Some(hooks) = changed_hooks(spec.lifecycle_hooks.as_deref(), observed)
    {
        drifted.push("lifecycle_hooks");
        spec.lifecycle_hooks = hooks;
    }
    drifted
}

/// A hook reduced to what AWS holds: name (unique in a group), transition, heartbeat, result.
type HookKey = (
    String,
    Option<HookTransition>,
    Option<Duration>,
    Option<HookResult>,
);

fn configured_key(hook: &RawLifecycleHook) -> HookKey {
    let transition = match hook.transition.as_str() {
        "launching" => Some(HookTransition::Launching),
        "terminating" => Some(HookTransition::Terminating),
        _ => None,
    };
    let heartbeat = match hook.heartbeat_timeout.as_deref() {
        None => Some(DEFAULT_HOOK_HEARTBEAT_TIMEOUT),
        Some(text) => parse_duration(text).ok(),
    };
    let result = match hook.default_result.as_deref() {
        None => Some(DEFAULT_HOOK_DEFAULT_RESULT),
        Some(text) => HookResult::from_aws_str(text),
    };
    (hook.name.clone(), transition, heartbeat, result)
}

fn observed_key(hook: &LifecycleHookInfo) -> HookKey {
    (
        hook.name.clone(),
        HookTransition::from_aws_str(&hook.transition),
        Some(seconds(hook.heartbeat_timeout)),
        HookResult::from_aws_str(&hook.default_result),
    )
}

/// AWS's hooks as the state writes them, when they differ from the configured ones (compared
/// as sets: AWS lists them in an order of its own); `None` when they are the same. Hooks the
/// state names keep its order; others follow by name; no hook at all is null (as an omitted
/// `lifecycle_hooks`).
fn changed_hooks(
    configured: Option<&[RawLifecycleHook]>,
    observed: &[LifecycleHookInfo],
) -> Option<Option<Vec<RawLifecycleHook>>> {
    let configured = configured.unwrap_or_default();
    let mut want: Vec<HookKey> = configured.iter().map(configured_key).collect();
    let mut have: Vec<HookKey> = observed.iter().map(observed_key).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    have.sort_by(|a, b| a.0.cmp(&b.0));
    if want == have {
        return None;
    }
    let position = |name: &str| {
        configured
            .iter()
            .position(|hook| hook.name == name)
            .unwrap_or(usize::MAX)
    };
    if observed.is_empty() {
        return Some(None);
    }
    let mut observed: Vec<&LifecycleHookInfo> = observed.iter().collect();
    observed.sort_by(|a, b| (position(&a.name), &a.name).cmp(&(position(&b.name), &b.name)));
    Some(Some(
        observed
            .into_iter()
            .map(|hook| RawLifecycleHook {
                name: hook.name.clone(),
                transition: match HookTransition::from_aws_str(&hook.transition) {
                    Some(HookTransition::Launching) => "launching".into(),
                    Some(HookTransition::Terminating) => "terminating".into(),
                    // Not one of the two: shown as AWS names it (validation refuses it).
                    None => hook.transition.clone(),
                },
                heartbeat_timeout: Some(format_duration(seconds(hook.heartbeat_timeout))),
                default_result: Some(hook.default_result.clone()),
            })
            .collect(),
    ))
}

fn seconds(value: i32) -> Duration {
    Duration::from_secs(u64::try_from(value).unwrap_or(0))
}
