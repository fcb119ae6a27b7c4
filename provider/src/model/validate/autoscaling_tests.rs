//! The issue #13 attributes at plan time: each bad input of a scaling policy, a lifecycle hook
//! or the capacity they act on is a diagnostic on its attribute path, judged from the
//! configuration as Terraform hands it over (JSON with nulls and unknowns); and the `timeouts`
//! warnings about hook time.

use serde_json::{Value as Json, json};
use zdd_tfplugin::Severity;
use zdd_tfplugin::codec::json::unknown_marker;

use super::*;
use crate::model::rollout::sample_applied;

/// The applied sample as configuration (computed attributes null), with `changes` set.
fn config(changes: Json) -> State {
    let mut state = State::from_model(&sample_applied());
    for name in computed() {
        state.set(name, Json::Null);
    }
    for (name, value) in changes.as_object().unwrap() {
        state.set(name, value.clone());
    }
    state
}

/// `(severity, path, detail)` of every diagnostic.
fn diagnostics(state: &State) -> Vec<(Severity, String, String)> {
    config_diagnostics(state)
        .unwrap()
        .into_iter()
        .map(|d| {
            let path = d.attribute.map(|p| p.to_string()).unwrap_or_default();
            (d.severity, path, d.detail)
        })
        .collect()
}

/// Exactly these errors: `(path, a fragment of the detail)`.
#[track_caller]
fn assert_errors(state: &State, expected: &[(&str, &str)]) {
    let actual = diagnostics(state);
    let matches = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|((severity, path, detail), (want_path, fragment))| {
                *severity == Severity::Error && path == want_path && detail.contains(fragment)
            });
    assert!(matches, "expected {expected:#?}\ngot {actual:#?}");
}

fn policy(name: &str, metric: &str) -> Json {
    json!({"name": name, "predefined_metric": metric, "target_value": 50, "disable_scale_in": null})
}

fn hook(name: &str, transition: &str, heartbeat: Option<&str>) -> Json {
    json!({"name": name, "transition": transition, "heartbeat_timeout": heartbeat, "default_result": null})
}

#[test]
fn valid_policies_and_hooks_have_no_diagnostics() {
    let state = config(json!({
        "target_tracking": [policy("cpu-50", "ASGAverageCPUUtilization"), policy("rps", "ALBRequestCountPerTarget")],
        "lifecycle_hooks": [hook("drain", "terminating", Some("5m")), hook("warm", "launching", None)],
        "health_check_type": "ELB",
        "health_check_grace_period": "2m",
        "default_instance_warmup": "60s",
    }));
    assert_eq!(diagnostics(&state), vec![]);
}

#[test]
fn an_unknown_metric_is_reported_on_its_element() {
    let state = config(json!({
        "target_tracking": [policy("cpu-50", "ASGAverageCPUUtilization"), policy("mem", "MemoryUtilization")],
    }));
    assert_errors(
        &state,
        &[(
            "target_tracking[1].predefined_metric",
            "\"MemoryUtilization\" is not a predefined metric",
        )],
    );
}

#[test]
fn request_count_needs_a_target_group() {
    let state = config(json!({
        "target_group_arns": null,
        "target_tracking": [policy("rps", "ALBRequestCountPerTarget")],
    }));
    assert_errors(
        &state,
        &[
            ("target_group_arns", "target group"),
            (
                "target_tracking[0].predefined_metric",
                "ALBRequestCountPerTarget needs a target group",
            ),
        ],
    );
    // Target groups known only after apply: no verdict on the metric yet.
    let state = config(json!({
        "target_group_arns": [unknown_marker()],
        "target_tracking": [policy("rps", "ALBRequestCountPerTarget")],
    }));
    assert_eq!(diagnostics(&state), vec![]);
}

#[test]
fn duplicate_policy_and_hook_names_are_reported_on_the_second() {
    let state = config(json!({
        "target_tracking": [policy("cpu", "ASGAverageCPUUtilization"), policy("cpu", "ASGAverageNetworkIn")],
        "lifecycle_hooks": [hook("drain", "terminating", None), hook("drain", "launching", None)],
    }));
    assert_errors(
        &state,
        &[
            (
                "target_tracking[1].name",
                "policy name \"cpu\" is used twice",
            ),
            (
                "lifecycle_hooks[1].name",
                "hook name \"drain\" is used twice",
            ),
        ],
    );
}

#[test]
fn a_heartbeat_outside_what_aws_accepts_is_refused() {
    for heartbeat in ["29s", "2h1s"] {
        let state = config(json!({
            "lifecycle_hooks": [hook("drain", "terminating", Some(heartbeat))],
        }));
        assert_errors(
            &state,
            &[(
                "lifecycle_hooks[0].heartbeat_timeout",
                "is outside what AWS accepts",
            )],
        );
    }
    let state = config(json!({
        "lifecycle_hooks": [hook("drain", "terminating", Some("30.5s"))],
    }));
    assert_errors(
        &state,
        &[("lifecycle_hooks[0].heartbeat_timeout", "whole seconds")],
    );
    for heartbeat in ["30s", "2h"] {
        let state = config(json!({
            "lifecycle_hooks": [hook("drain", "terminating", Some(heartbeat))],
        }));
        assert_errors(&state, &[]);
    }
}

/// With scaling policies `desired_capacity` is only the first generation's, and it must
/// still fit the sizes.
#[test]
fn desired_capacity_outside_the_sizes_is_refused_with_policies_too() {
    let state = config(json!({
        "desired_capacity": 9,
        "target_tracking": [policy("cpu", "ASGAverageCPUUtilization")],
    }));
    assert_errors(
        &state,
        &[("desired_capacity", "is outside min_size..max_size (2..6)")],
    );
}

#[test]
fn health_check_settings_are_judged_on_their_paths() {
    let state = config(json!({
        "health_check_type": "elb",
        "health_check_grace_period": "soon",
        "default_instance_warmup": "1.5s",
    }));
    assert_errors(
        &state,
        &[
            ("health_check_type", "is not a health check type"),
            ("health_check_grace_period", "expected a duration"),
            ("default_instance_warmup", "whole seconds"),
        ],
    );
}

/// A list known only after apply, or an element holding an unknown, is not judged.
#[test]
fn unknown_policies_and_hooks_are_not_judged() {
    let state = config(json!({
        "target_tracking": [policy("cpu", "Nope"), {"name": "x", "predefined_metric": unknown_marker(), "target_value": 1, "disable_scale_in": null}],
        "lifecycle_hooks": unknown_marker(),
    }));
    assert_eq!(diagnostics(&state), vec![]);
}

#[test]
fn timeouts_shorter_than_the_hooks_may_need_are_warned_about() {
    let state = config(json!({
        "health_timeout": "10m",
        "lifecycle_hooks": [hook("drain", "terminating", Some("30m")), hook("warm", "launching", Some("5m"))],
        "timeouts": {"create": "45m", "update": "44m", "delete": "20m"},
    }));
    let found = diagnostics(&state);
    let paths: Vec<(Severity, &str)> = found
        .iter()
        .map(|(severity, path, _)| (*severity, path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            (Severity::Warning, "timeouts.update"),
            (Severity::Warning, "timeouts.delete")
        ]
    );
    assert!(
        found[0].2.contains("44m is shorter than 45m"),
        "{}",
        found[0].2
    );
    assert!(
        found[1].2.contains("Terminating:Wait for up to 30m"),
        "{}",
        found[1].2
    );
    // A launching hook alone holds up no delete; unknown hooks: no verdict.
    let state = config(json!({
        "lifecycle_hooks": [hook("warm", "launching", Some("5m"))],
        "timeouts": {"create": null, "update": "15m", "delete": "1m"},
    }));
    assert_eq!(diagnostics(&state), vec![]);
    let state = config(json!({
        "lifecycle_hooks": unknown_marker(),
        "timeouts": {"create": null, "update": "1m", "delete": "1m"},
    }));
    assert_eq!(diagnostics(&state), vec![]);
}
