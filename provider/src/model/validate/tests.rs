//! The engine's verdicts as diagnostics, and which of them wait for unknown values.

use std::collections::BTreeMap;

use zdd_rollout::{RawCanary, RawCanaryStep, RawSpec};

use super::*;
use crate::model::rollout::{TimeoutsConfig, sample_applied};

/// Validation reads no computed attribute, so the applied sample is a valid configuration.
fn valid() -> RolloutModel {
    sample_applied()
}

fn canary() -> RawCanary {
    RawCanary {
        listener_arn: Some("arn:listener".into()),
        stable_target_group_arn: Some("arn:blue".into()),
        canary_target_group_arn: Some("arn:green".into()),
        ..RawCanary::default()
    }
}

fn canary_model(canary: RawCanary) -> RolloutModel {
    RolloutModel {
        spec: RawSpec {
            strategy: Some("canary".into()),
            target_group_arns: None,
            canary: Some(canary),
            ..valid().spec
        },
        ..valid()
    }
}

fn step(weight: i64, soak: &str) -> RawCanaryStep {
    RawCanaryStep {
        weight,
        soak: soak.into(),
    }
}

fn diagnose(model: &RolloutModel, unknown: &[&str]) -> Vec<Diagnostic> {
    let unknown = unknown.iter().map(ToString::to_string).collect();
    validate(model, &unknown)
}

fn attribute_paths(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
        .collect()
}

/// `(path, detail)` of every diagnostic; every one is an error pointing at its path and
/// naming it in its summary ("Invalid", or the rule where it has a summary of its own).
fn errors(model: &RolloutModel) -> Vec<(String, String)> {
    diagnose(model, &[])
        .into_iter()
        .map(|d| {
            assert_eq!(d.severity, zdd_tfplugin::Severity::Error);
            let path = d.attribute.map(|p| p.to_string()).unwrap_or_default();
            let rule = if path.starts_with("tags[") {
                "Reserved tag key at"
            } else if d.detail.contains(" is refused: pin a version number") {
                "Unpinned"
            } else {
                "Invalid"
            };
            assert_eq!(d.summary, format!("{rule} {path}"));
            (path, d.detail)
        })
        .collect()
}

fn paths(model: &RolloutModel) -> Vec<String> {
    errors(model).into_iter().map(|(path, _)| path).collect()
}

/// Exactly these errors, in this order: `(path, a fragment of the detail)`.
#[track_caller]
fn assert_errors(model: &RolloutModel, expected: &[(&str, &str)]) {
    let actual = errors(model);
    let matches = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|((path, detail), (want_path, fragment))| {
                path == want_path && detail.contains(fragment)
            });
    assert!(matches, "expected {expected:#?}\ngot {actual:#?}");
}

#[test]
fn a_valid_config_has_no_diagnostics() {
    assert_eq!(errors(&valid()), vec![]);
    assert_eq!(errors(&canary_model(canary())), vec![]);
}

#[test]
fn floating_versions_are_refused() {
    for version in ["$Latest", "$Default"] {
        let model = RolloutModel {
            spec: RawSpec {
                launch_template_version: version.into(),
                ..valid().spec
            },
            ..valid()
        };
        assert_errors(
            &model,
            &[(
                "launch_template_version",
                "pin a version number (e.g. \"7\") so that a rollback has a fixed target",
            )],
        );
        assert!(errors(&model)[0].1.contains("latest_version"));
        assert_eq!(
            diagnose(&model, &[])[0].summary,
            "Unpinned launch_template_version"
        );
    }
    // Refresh reads back "7": any other spelling would be drift on every plan.
    let refused: [(&[&str], &str); 2] = [
        (
            &["", "v7", "0", "1.5"],
            "is not a launch template version number",
        ),
        (
            &[" 7", "+7", "07"],
            "must be written as plain digits, \"7\"",
        ),
    ];
    for (versions, fragment) in refused {
        for version in versions {
            let model = RolloutModel {
                spec: RawSpec {
                    launch_template_version: (*version).into(),
                    ..valid().spec
                },
                ..valid()
            };
            assert_errors(&model, &[("launch_template_version", fragment)]);
        }
    }
}

#[test]
fn desired_outside_min_max() {
    for desired in [1, 7] {
        let model = RolloutModel {
            spec: RawSpec {
                desired_capacity: desired,
                ..valid().spec
            },
            ..valid()
        };
        assert_errors(
            &model,
            &[("desired_capacity", "is outside min_size..max_size (2..6)")],
        );
    }
    let model = RolloutModel {
        spec: RawSpec {
            min_size: 7,
            ..valid().spec
        },
        ..valid()
    };
    assert_errors(
        &model,
        &[("max_size", "max_size 6 is smaller than min_size 7")],
    );
}

#[test]
fn unknown_strategy() {
    let model = RolloutModel {
        spec: RawSpec {
            strategy: Some("big_bang".into()),
            ..valid().spec
        },
        ..valid()
    };
    assert_errors(&model, &[("strategy", "unknown strategy \"big_bang\"")]);
}

#[test]
fn canary_without_listener() {
    let model = RolloutModel {
        spec: RawSpec {
            strategy: Some("canary".into()),
            target_group_arns: None,
            ..valid().spec
        },
        ..valid()
    };
    assert_errors(&model, &[("canary", "needs a canary block (listener_arn")]);
    let model = canary_model(RawCanary {
        listener_arn: Some(String::new()),
        ..canary()
    });
    assert_errors(&model, &[("canary.listener_arn", "is required")]);
}

#[test]
fn canary_weights_must_increase_and_end_at_100() {
    let with_steps = |steps| {
        canary_model(RawCanary {
            steps: Some(steps),
            ..canary()
        })
    };
    assert_errors(
        &with_steps(vec![step(10, "1m"), step(5, "1m"), step(100, "0s")]),
        &[("canary.steps[1].weight", "weights must strictly increase")],
    );
    assert_errors(
        &with_steps(vec![step(10, "1m"), step(50, "1m")]),
        &[(
            "canary.steps[1].weight",
            "the last step must send 100 % to the new generation, not 50",
        )],
    );
    assert_errors(
        &with_steps(vec![step(0, "1m"), step(100, "0s")]),
        &[("canary.steps[0].weight", "must be between 1 and 100")],
    );
    assert_eq!(paths(&with_steps(vec![])), vec!["canary.steps"]);
}

#[test]
fn missing_target_groups() {
    for target_groups in [None, Some(vec![])] {
        let model = RolloutModel {
            spec: RawSpec {
                target_group_arns: target_groups,
                ..valid().spec
            },
            ..valid()
        };
        assert_errors(
            &model,
            &[("target_group_arns", "needs at least one target group")],
        );
    }
    let model = canary_model(RawCanary {
        canary_target_group_arn: Some("arn:blue".into()),
        ..canary()
    });
    assert_errors(
        &model,
        &[(
            "canary.canary_target_group_arn",
            "must differ from stable_target_group_arn",
        )],
    );
}

#[test]
fn unparsable_durations() {
    let model = RolloutModel {
        spec: RawSpec {
            health_timeout: Some("ten minutes".into()),
            ..canary_model(RawCanary {
                steps: Some(vec![step(50, "5m"), step(100, "forever")]),
                ..canary()
            })
            .spec
        },
        timeouts: Some(TimeoutsConfig {
            create: Some("30m".into()),
            update: Some("1 fortnight".into()),
            delete: None,
        }),
        ..canary_model(RawCanary {
            steps: Some(vec![step(50, "5m"), step(100, "forever")]),
            ..canary()
        })
    };
    assert_errors(
        &model,
        &[
            ("health_timeout", "cannot parse duration \"ten minutes\""),
            ("canary.steps[1].soak", "cannot parse duration \"forever\""),
            ("timeouts.update", "expected a duration such as"),
        ],
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let model = RolloutModel {
        spec: RawSpec {
            name: "web app".into(),
            launch_template_version: "$Latest".into(),
            desired_capacity: 9,
            strategy: Some("yolo".into()),
            min_healthy_percent: Some(150),
            batch_size: Some(0),
            tags: Some(BTreeMap::from([(
                "zdd:generation".to_string(),
                "1".to_string(),
            )])),
            ..valid().spec
        },
        ..valid()
    };
    assert_eq!(
        paths(&model),
        vec![
            "name",
            "launch_template_version",
            "desired_capacity",
            "min_healthy_percent",
            "batch_size",
            "tags[\"zdd:generation\"]",
            "strategy",
        ]
    );
}

#[test]
fn reserved_tags_point_at_their_key() {
    let model = RolloutModel {
        spec: RawSpec {
            tags: Some(BTreeMap::from([
                ("team".to_string(), "web".to_string()),
                ("zdd:rollout".to_string(), "x".to_string()),
                ("zdd:rollback".to_string(), "y".to_string()),
            ])),
            ..valid().spec
        },
        ..valid()
    };
    assert_errors(
        &model,
        &[
            ("tags[\"zdd:rollback\"]", "\"zdd:rollback\" is reserved"),
            ("tags[\"zdd:rollout\"]", "\"zdd:rollout\" is reserved"),
        ],
    );
    assert_eq!(
        diagnose(&model, &[])[0].summary,
        "Reserved tag key at tags[\"zdd:rollback\"]"
    );
}

#[test]
fn rolling_needs_room_to_move() {
    let model = RolloutModel {
        spec: RawSpec {
            strategy: Some("rolling".into()),
            max_size: 3,
            ..valid().spec
        },
        ..valid()
    };
    assert_errors(&model, &[("max_size", "needs max_size > desired_capacity")]);
    let model = RolloutModel {
        spec: RawSpec {
            min_healthy_percent: Some(66),
            ..model.spec
        },
        ..model
    };
    assert_eq!(paths(&model), Vec::<String>::new());
}

#[test]
fn batch_size_is_judged_whatever_the_strategy() {
    for strategy in ["blue_green", "rolling"] {
        let model = RolloutModel {
            spec: RawSpec {
                strategy: Some(strategy.into()),
                batch_size: Some(0),
                ..valid().spec
            },
            ..valid()
        };
        assert_errors(&model, &[("batch_size", "0 must be at least 1")]);
    }
    let model = RolloutModel {
        spec: RawSpec {
            batch_size: Some(-1),
            ..canary_model(canary()).spec
        },
        ..canary_model(canary())
    };
    assert_errors(&model, &[("batch_size", "-1 must be at least 1")]);
    // Judged even while the strategy is unknown: the rule does not read it.
    let model = RolloutModel {
        spec: RawSpec {
            strategy: None,
            batch_size: Some(0),
            ..valid().spec
        },
        ..valid()
    };
    assert_eq!(
        attribute_paths(&diagnose(&model, &["strategy"])),
        vec!["batch_size"]
    );
    assert_eq!(diagnose(&model, &["batch_size"]), vec![]);
}

#[test]
fn engine_rules_the_provider_never_had_are_reported() {
    let model = canary_model(RawCanary {
        alarm_names: Some(vec![String::new()]),
        ..canary()
    });
    assert_errors(&model, &[("canary.alarm_names[0]", "must not be empty")]);
}

#[test]
fn unknown_values_are_not_judged() {
    let model = RolloutModel {
        spec: RawSpec {
            target_group_arns: None,
            launch_template_version: String::new(),
            ..valid().spec
        },
        ..valid()
    };
    assert_eq!(
        diagnose(&model, &["target_group_arns", "launch_template_version"]),
        vec![]
    );
    // Unknown sizes: no verdict on any of them, but the rest is still judged.
    let model = RolloutModel {
        spec: RawSpec {
            max_size: 0,
            name: String::new(),
            ..valid().spec
        },
        ..valid()
    };
    assert_eq!(
        attribute_paths(&diagnose(&model, &["max_size"])),
        vec!["name"]
    );
    // An unknown strategy: no verdict on what it decides, but the sizes are still judged.
    let model = RolloutModel {
        spec: RawSpec {
            strategy: None,
            target_group_arns: None,
            canary: Some(canary()),
            max_size: 3,
            ..valid().spec
        },
        ..valid()
    };
    assert_eq!(diagnose(&model, &["strategy"]), vec![]);
    let model = RolloutModel {
        spec: RawSpec {
            desired_capacity: 9,
            ..model.spec
        },
        ..model
    };
    assert_eq!(
        attribute_paths(&diagnose(&model, &["strategy"])),
        vec!["desired_capacity"]
    );
}
