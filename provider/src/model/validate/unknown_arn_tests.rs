//! Plan-time judgement of a configuration whose ARNs are not known yet: the usual canary,
//! whose listener and target groups are created in the same apply. Only the unknown ARNs wait;
//! every verdict that does not read them is given at plan, not first at apply.

use serde_json::{Value as Json, json};
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

fn paths(state: &State) -> Vec<String> {
    config_diagnostics(state)
        .unwrap()
        .into_iter()
        .map(|d| d.attribute.map(|p| p.to_string()).unwrap_or_default())
        .collect()
}

/// A canary whose ARNs are all unknown (created in the same apply), with `steps`.
fn canary_with_unknown_arns(steps: Json) -> State {
    config(json!({
        "strategy": "canary",
        "target_group_arns": null,
        "canary": {
            "listener_arn": unknown_marker(),
            "stable_target_group_arn": unknown_marker(),
            "canary_target_group_arn": unknown_marker(),
            "steps": steps,
        },
    }))
}

#[test]
fn a_bad_weight_is_reported_at_plan_though_the_canarys_arns_are_unknown() {
    let state = canary_with_unknown_arns(json!([
        {"weight": 500, "soak": "5m"},
        {"weight": 100, "soak": "0s"},
    ]));
    let paths = paths(&state);
    assert!(
        paths.iter().any(|path| path.starts_with("canary.steps[0]")),
        "{paths:?}"
    );
}

#[test]
fn unknown_arns_alone_are_not_errors() {
    let state = canary_with_unknown_arns(json!([
        {"weight": 5, "soak": "5m"},
        {"weight": 100, "soak": "0s"},
    ]));
    // Two unknown target groups may turn out equal, or not: no verdict on them yet.
    assert_eq!(paths(&state), Vec::<String>::new());
}

/// Target groups created in the same apply: the verdicts that read `target_group_arns` (a
/// scaling policy on requests per target needs one) are still given at plan.
#[test]
fn unknown_target_group_arns_hold_back_no_verdict_that_only_needs_them_to_exist() {
    let state = config(json!({
        "target_group_arns": [unknown_marker()],
        "target_tracking": [{"name": "rps", "predefined_metric": "Nope", "target_value": 50, "disable_scale_in": null}],
    }));
    let reported = paths(&state);
    assert!(
        reported
            .iter()
            .any(|path| path.starts_with("target_tracking[0]")),
        "{reported:?}"
    );
    // A list known only after apply (its length unknown) still holds them back.
    let state = config(json!({
        "target_group_arns": unknown_marker(),
        "target_tracking": [{"name": "rps", "predefined_metric": "Nope", "target_value": 50, "disable_scale_in": null}],
    }));
    assert_eq!(paths(&state), Vec::<String>::new());
}

#[test]
fn an_unknown_value_that_is_not_an_arn_still_holds_back_its_whole_attribute() {
    // A soak known only at apply could make any verdict on the steps wrong: none is given.
    let state = canary_with_unknown_arns(json!([
        {"weight": 500, "soak": unknown_marker()},
        {"weight": 100, "soak": "0s"},
    ]));
    assert_eq!(paths(&state), Vec::<String>::new());
}
