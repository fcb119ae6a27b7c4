//! Table-driven checks of `RolloutSpec::validate`: each bad input names its attribute path.

use zdd_rollout::{RawCanary, RawCanaryStep, RawSpec, RolloutSpec, Strategy};

fn base() -> RawSpec {
    RawSpec {
        name: "web".into(),
        launch_template_id: "lt-0abc".into(),
        launch_template_version: "7".into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        target_group_arns: vec!["arn:tg/app".into()],
        min_size: 2,
        max_size: 6,
        desired_capacity: 3,
        ..RawSpec::default()
    }
}

fn canary_base() -> RawSpec {
    RawSpec {
        strategy: Some("canary".into()),
        target_group_arns: vec![],
        canary: Some(RawCanary {
            listener_arn: Some("arn:listener/web".into()),
            stable_target_group_arn: Some("arn:tg/blue".into()),
            canary_target_group_arn: Some("arn:tg/green".into()),
            steps: None,
            alarm_names: vec!["web-5xx".into()],
            max_5xx_ratio: Some(0.01),
        }),
        ..base()
    }
}

fn steps(list: &[(i64, &str)]) -> Option<Vec<RawCanaryStep>> {
    Some(
        list.iter()
            .map(|(weight, soak)| RawCanaryStep {
                weight: *weight,
                soak: (*soak).to_string(),
            })
            .collect(),
    )
}

/// Asserts validation fails with an error on `path` whose message contains `needle`.
fn assert_rejected(raw: RawSpec, path: &str, needle: &str) {
    let errors = match RolloutSpec::validate(&raw) {
        Ok(spec) => panic!("should be rejected: {spec:?}"),
        Err(errors) => errors,
    };
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.path.to_string() == path && e.message.contains(needle)),
        "expected an error on {path} containing {needle:?}, got: {errors}"
    );
}

#[test]
fn defaults_are_blue_green_full_floor() {
    let spec = RolloutSpec::validate(&base()).unwrap();
    assert_eq!(spec.launch_template.version, 7);
    assert_eq!(spec.min_healthy_percent, 100);
    assert_eq!(spec.capacity_floor(), 3);
    assert!(spec.rollback_on_failure);
    assert_eq!(spec.health_timeout.as_secs(), 600);
    assert!(matches!(spec.strategy, Strategy::BlueGreen { .. }));
    assert_eq!(spec.asg_name(4), "web-g4");
}

#[test]
fn canary_defaults_to_four_steps_ending_at_100() {
    let spec = RolloutSpec::validate(&canary_base()).unwrap();
    let Strategy::Canary(canary) = spec.strategy else {
        panic!("not canary")
    };
    let weights: Vec<u8> = canary.steps.iter().map(|s| s.weight).collect();
    assert_eq!(weights, vec![5, 25, 50, 100]);
    assert_eq!(canary.steps[0].soak.as_secs(), 300);
    assert_eq!(canary.steps[3].soak.as_secs(), 0);
}

#[test]
fn pinned_versions_only() {
    for v in ["$Latest", "$Default"] {
        assert_rejected(
            RawSpec {
                launch_template_version: v.into(),
                ..base()
            },
            "launch_template_version",
            "pin a version number",
        );
    }
    for v in ["latest", "0", "-1", "7.1", ""] {
        assert_rejected(
            RawSpec {
                launch_template_version: v.into(),
                ..base()
            },
            "launch_template_version",
            "version number",
        );
    }
}

#[test]
fn sizes_are_checked() {
    assert_rejected(
        RawSpec {
            desired_capacity: 7,
            ..base()
        },
        "desired_capacity",
        "outside min_size..max_size (2..6)",
    );
    assert_rejected(
        RawSpec {
            max_size: 1,
            ..base()
        },
        "max_size",
        "smaller than min_size",
    );
    assert_rejected(
        RawSpec {
            min_size: -1,
            ..base()
        },
        "min_size",
        "between 0",
    );
    assert_rejected(
        RawSpec {
            min_healthy_percent: Some(101),
            ..base()
        },
        "min_healthy_percent",
        "between 0 and 100",
    );
}

#[test]
fn rolling_needs_batch_and_room() {
    assert_rejected(
        RawSpec {
            strategy: Some("rolling".into()),
            batch_size: Some(0),
            ..base()
        },
        "batch_size",
        "at least 1",
    );
    assert_rejected(
        RawSpec {
            strategy: Some("rolling".into()),
            max_size: 3,
            ..base()
        },
        "max_size",
        "needs max_size > desired_capacity",
    );
    // With a lower floor no surge is needed.
    let spec = RolloutSpec::validate(&RawSpec {
        strategy: Some("rolling".into()),
        max_size: 3,
        min_healthy_percent: Some(50),
        batch_size: Some(2),
        ..base()
    })
    .unwrap();
    assert_eq!(spec.capacity_floor(), 2);
}

#[test]
fn unknown_strategy_and_missing_groups() {
    assert_rejected(
        RawSpec {
            strategy: Some("big_bang".into()),
            ..base()
        },
        "strategy",
        "unknown strategy \"big_bang\"",
    );
    assert_rejected(
        RawSpec {
            target_group_arns: vec![],
            ..base()
        },
        "target_group_arns",
        "at least one target group",
    );
}

#[test]
fn canary_rules() {
    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().steps = steps(&[(5, "5m"), (50, "5m"), (25, "5m"), (100, "0s")]);
    assert_rejected(raw, "canary.steps[2].weight", "strictly increase");

    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().steps = steps(&[(5, "5m"), (50, "5m")]);
    assert_rejected(raw, "canary.steps[1].weight", "100 %");

    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().steps = steps(&[(5, "five minutes"), (100, "0s")]);
    assert_rejected(raw, "canary.steps[0].soak", "cannot parse duration");

    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().listener_arn = None;
    assert_rejected(raw, "canary.listener_arn", "is required");

    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().canary_target_group_arn = Some("arn:tg/blue".into());
    assert_rejected(raw, "canary.canary_target_group_arn", "two target groups");

    let mut raw = canary_base();
    raw.canary.as_mut().unwrap().max_5xx_ratio = Some(1.5);
    assert_rejected(raw, "canary.max_5xx_ratio", "between 0 and 1");

    let mut raw = canary_base();
    raw.canary = None;
    assert_rejected(raw, "canary", "needs a canary block");

    assert_rejected(
        RawSpec {
            canary: canary_base().canary,
            ..base()
        },
        "canary",
        "applies only to strategy = \"canary\"",
    );
}

#[test]
fn durations_and_tags() {
    assert_rejected(
        RawSpec {
            health_timeout: Some("0s".into()),
            ..base()
        },
        "health_timeout",
        "longer than zero",
    );
    assert_rejected(
        RawSpec {
            health_timeout: Some("10 minutes".into()),
            ..base()
        },
        "health_timeout",
        "cannot parse duration",
    );
    let mut raw = base();
    raw.tags.insert("zdd:generation".into(), "9".into());
    assert_rejected(raw, "tags", "reserved");
}

#[test]
fn every_error_is_reported_at_once() {
    let raw = RawSpec {
        launch_template_version: "$Latest".into(),
        desired_capacity: 9,
        strategy: Some("nope".into()),
        ..base()
    };
    let errors = RolloutSpec::validate(&raw).unwrap_err();
    let paths: Vec<String> = errors.0.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(
        paths,
        vec!["launch_template_version", "desired_capacity", "strategy"]
    );
}
