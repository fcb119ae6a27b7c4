//! Table-driven checks of `RolloutSpec::validate`: each bad input names its attribute path.

use zdd_rollout::spec::SpecErrorKind;
use zdd_rollout::{
    AttributePath, PathStep, RawCanary, RawCanaryStep, RawSpec, RolloutSpec, Strategy,
};

fn base() -> RawSpec {
    RawSpec {
        name: "web".into(),
        launch_template_id: "lt-0abc".into(),
        launch_template_version: "7".into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
        target_group_arns: Some(vec!["arn:tg/app".into()]),
        min_size: 2,
        max_size: 6,
        desired_capacity: 3,
        ..RawSpec::default()
    }
}

fn canary_base() -> RawSpec {
    RawSpec {
        strategy: Some("canary".into()),
        target_group_arns: Some(vec![]),
        canary: Some(RawCanary {
            listener_arn: Some("arn:listener/web".into()),
            stable_target_group_arn: Some("arn:tg/blue".into()),
            canary_target_group_arn: Some("arn:tg/green".into()),
            steps: None,
            alarm_names: Some(vec!["web-5xx".into()]),
            max_5xx_ratio: Some(0.01),
            ..RawCanary::default()
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
    for v in [
        "latest",
        "0",
        "00",
        "-1",
        "7.1",
        "",
        " ",
        "v7",
        "7a",
        "99999999999999999999999",
    ] {
        assert_rejected(
            RawSpec {
                launch_template_version: v.into(),
                ..base()
            },
            "launch_template_version",
            "is not a launch template version number",
        );
    }
}

/// Refresh compares the written version with the one AWS reports ("7"): any other spelling of
/// the same number would show as drift on every plan, so it is refused with the plain spelling.
#[test]
fn versions_are_written_as_aws_reports_them() {
    for v in [" 7", "7 ", "+7", "07", "007", "\t7"] {
        let errors = RolloutSpec::validate(&RawSpec {
            launch_template_version: v.into(),
            ..base()
        })
        .unwrap_err();
        assert_eq!(errors.0.len(), 1, "{v:?}: {errors}");
        assert_eq!(errors.0[0].path.to_string(), "launch_template_version");
        assert!(
            errors.0[0]
                .message
                .contains("must be written as plain digits, \"7\""),
            "{v:?}: {errors}"
        );
    }
    for (v, n) in [
        ("7", 7),
        ("10", 10),
        ("1", 1),
        ("18446744073709551615", u64::MAX),
    ] {
        let spec = RolloutSpec::validate(&RawSpec {
            launch_template_version: v.into(),
            ..base()
        })
        .unwrap();
        assert_eq!(spec.launch_template.version, n);
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
fn batch_size_is_judged_whatever_the_strategy() {
    for (strategy, raw) in [
        (None, base()),
        (Some("blue_green"), base()),
        (Some("rolling"), base()),
        (Some("canary"), canary_base()),
    ] {
        for batch in [0, -3] {
            let errors = RolloutSpec::validate(&RawSpec {
                strategy: strategy.map(Into::into),
                batch_size: Some(batch),
                ..raw.clone()
            })
            .unwrap_err();
            let found: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                vec![format!("batch_size: {batch} must be at least 1")],
                "{strategy:?}"
            );
        }
        // A valid batch size is accepted whatever the strategy (it is used only by rolling).
        RolloutSpec::validate(&RawSpec {
            strategy: strategy.map(Into::into),
            batch_size: Some(2),
            ..raw.clone()
        })
        .unwrap();
    }
    assert_rejected(
        RawSpec {
            strategy: Some("rolling".into()),
            batch_size: Some(i64::from(u32::MAX) + 1),
            ..base()
        },
        "batch_size",
        "must be at most 4294967295",
    );
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
            target_group_arns: Some(vec![]),
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
}

/// A reserved tag is reported at its own key, so Terraform points at that line of the map.
#[test]
fn reserved_tags_are_reported_at_their_key() {
    let mut raw = base();
    raw.tags
        .get_or_insert_default()
        .insert("team".into(), "web".into());
    raw.tags
        .get_or_insert_default()
        .insert("zdd:generation".into(), "9".into());
    raw.tags
        .get_or_insert_default()
        .insert("zdd:rollout".into(), "x".into());
    let errors = RolloutSpec::validate(&raw).unwrap_err();
    let paths: Vec<&AttributePath> = errors.0.iter().map(|e| &e.path).collect();
    assert_eq!(
        paths,
        vec![
            &AttributePath(vec![
                PathStep::Attribute("tags".into()),
                PathStep::Key("zdd:generation".into()),
            ]),
            &AttributePath(vec![
                PathStep::Attribute("tags".into()),
                PathStep::Key("zdd:rollout".into()),
            ]),
        ]
    );
    assert_rejected(
        raw,
        "tags[\"zdd:generation\"]",
        "\"zdd:generation\" is reserved",
    );
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

/// Callers tell rules apart by kind, not by message text.
#[test]
fn each_error_names_its_kind_of_rule() {
    let mut raw = RawSpec {
        name: String::new(),
        launch_template_id: "ami-1".into(),
        launch_template_version: "$Default".into(),
        desired_capacity: 9,
        batch_size: Some(0),
        strategy: Some("rolling".into()),
        max_size: 3,
        min_size: 3,
        health_timeout: Some("soon".into()),
        ..base()
    };
    raw.tags
        .get_or_insert_default()
        .insert("zdd:rollout".into(), "x".into());
    let kinds: Vec<(String, SpecErrorKind)> = RolloutSpec::validate(&raw)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| (e.path.to_string(), e.kind))
        .collect();
    let expected = [
        ("name", SpecErrorKind::Missing),
        ("launch_template_id", SpecErrorKind::Malformed),
        ("launch_template_version", SpecErrorKind::FloatingVersion),
        ("desired_capacity", SpecErrorKind::Conflict),
        ("batch_size", SpecErrorKind::OutOfRange),
        ("health_timeout", SpecErrorKind::Malformed),
        ("tags[\"zdd:rollout\"]", SpecErrorKind::ReservedTag),
    ];
    let expected: Vec<(String, SpecErrorKind)> = expected
        .iter()
        .map(|(path, kind)| ((*path).to_string(), *kind))
        .collect();
    assert_eq!(kinds, expected);

    let kind_of = |raw: RawSpec| RolloutSpec::validate(&raw).unwrap_err().0[0].kind;
    assert_eq!(
        kind_of(RawSpec {
            launch_template_version: "07".into(),
            ..base()
        }),
        SpecErrorKind::VersionSpelling
    );
    assert_eq!(
        kind_of(RawSpec {
            strategy: Some("big_bang".into()),
            ..base()
        }),
        SpecErrorKind::UnknownStrategy
    );
    assert_eq!(
        kind_of(RawSpec {
            strategy: Some("rolling".into()),
            max_size: 3,
            ..base()
        }),
        SpecErrorKind::NoRoomToRoll
    );
}

// ---- Auto Scaling settings (issue #13) ----

use zdd_rollout::spec::{
    HealthCheckType, HookResult, HookTransition, PredefinedMetric, RawLifecycleHook,
    RawTargetTracking,
};

fn policy(name: &str, metric: &str) -> RawTargetTracking {
    RawTargetTracking {
        name: name.into(),
        predefined_metric: metric.into(),
        target_value: 50.0,
        disable_scale_in: None,
    }
}

fn hook(name: &str, transition: &str, heartbeat: Option<&str>) -> RawLifecycleHook {
    RawLifecycleHook {
        name: name.into(),
        transition: transition.into(),
        heartbeat_timeout: heartbeat.map(str::to_string),
        default_result: None,
    }
}

#[test]
fn autoscaling_defaults_are_elb_health_and_aws_hook_defaults() {
    let spec = RolloutSpec::validate(&RawSpec {
        target_tracking: Some(vec![policy("cpu-50", "ASGAverageCPUUtilization")]),
        lifecycle_hooks: Some(vec![hook("drain", "terminating", None)]),
        ..base()
    })
    .unwrap();
    assert_eq!(spec.health_check.kind, HealthCheckType::Elb);
    assert_eq!(spec.health_check.grace_period.as_secs(), 300);
    assert_eq!(spec.health_check.instance_warmup, None);
    assert!(spec.is_autoscaled());
    assert_eq!(
        spec.target_tracking[0].metric,
        PredefinedMetric::AsgAverageCpuUtilization
    );
    assert!(!spec.target_tracking[0].disable_scale_in);
    let drain = &spec.lifecycle_hooks[0];
    assert_eq!(drain.transition, HookTransition::Terminating);
    assert_eq!(drain.heartbeat_timeout.as_secs(), 3600);
    assert_eq!(drain.default_result, HookResult::Abandon);
    assert!(spec.has_termination_hook());
    assert_eq!(spec.termination_hook_time().as_secs(), 3600);

    let plain = RolloutSpec::validate(&base()).unwrap();
    assert!(!plain.is_autoscaled());
    assert!(!plain.has_termination_hook());
    assert_eq!(plain.termination_hook_time().as_secs(), 0);
}

#[test]
fn health_check_settings_are_read_in_whole_seconds() {
    let spec = RolloutSpec::validate(&RawSpec {
        health_check_type: Some("EC2".into()),
        health_check_grace_period: Some("2m".into()),
        default_instance_warmup: Some("60s".into()),
        ..base()
    })
    .unwrap();
    assert_eq!(spec.health_check.kind, HealthCheckType::Ec2);
    assert_eq!(spec.health_check.grace_period.as_secs(), 120);
    assert_eq!(
        spec.health_check.instance_warmup.map(|d| d.as_secs()),
        Some(60)
    );

    assert_rejected(
        RawSpec {
            health_check_type: Some("elb".into()),
            ..base()
        },
        "health_check_type",
        "is not a health check type",
    );
    assert_rejected(
        RawSpec {
            health_check_grace_period: Some("1.5s".into()),
            ..base()
        },
        "health_check_grace_period",
        "whole seconds",
    );
    assert_rejected(
        RawSpec {
            default_instance_warmup: Some("soon".into()),
            ..base()
        },
        "default_instance_warmup",
        "",
    );
}

#[test]
fn target_tracking_rules_name_their_element() {
    assert_rejected(
        RawSpec {
            target_tracking: Some(vec![
                policy("cpu", "ASGAverageCPUUtilization"),
                policy("net", "ASGAverageNetworkInn"),
            ]),
            ..base()
        },
        "target_tracking[1].predefined_metric",
        "is not a predefined metric",
    );
    assert_rejected(
        RawSpec {
            target_tracking: Some(vec![
                policy("cpu", "ASGAverageCPUUtilization"),
                policy("cpu", "ASGAverageNetworkOut"),
            ]),
            ..base()
        },
        "target_tracking[1].name",
        "used twice",
    );
    let mut zero = policy("cpu", "ASGAverageCPUUtilization");
    zero.target_value = 0.0;
    assert_rejected(
        RawSpec {
            target_tracking: Some(vec![zero]),
            ..base()
        },
        "target_tracking[0].target_value",
        "above zero",
    );
    assert_rejected(
        RawSpec {
            target_tracking: Some(vec![policy("", "ASGAverageCPUUtilization")]),
            ..base()
        },
        "target_tracking[0].name",
        "1 to 255 characters",
    );
}

#[test]
fn request_count_needs_a_target_group() {
    // No target group at all: the rule names the metric (the missing groups are reported too).
    assert_rejected(
        RawSpec {
            target_group_arns: Some(vec![]),
            target_tracking: Some(vec![policy("rps", "ALBRequestCountPerTarget")]),
            ..base()
        },
        "target_tracking[0].predefined_metric",
        "needs a target group",
    );
    // With one (and for a canary, whose groups are in the canary block) it is accepted.
    let spec = RolloutSpec::validate(&RawSpec {
        target_tracking: Some(vec![policy("rps", "ALBRequestCountPerTarget")]),
        ..base()
    })
    .unwrap();
    assert_eq!(
        spec.request_count_target_group(None).as_deref(),
        Some("arn:tg/app")
    );
    let canary = RolloutSpec::validate(&RawSpec {
        target_tracking: Some(vec![policy("rps", "ALBRequestCountPerTarget")]),
        ..canary_base()
    })
    .unwrap();
    assert_eq!(
        canary
            .request_count_target_group(Some("arn:tg/green"))
            .as_deref(),
        Some("arn:tg/green"),
        "a canary generation counts requests in the group it serves in"
    );
}

#[test]
fn lifecycle_hook_rules_name_their_element() {
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![
                hook("warm", "launching", Some("1m")),
                hook("drain", "terminating", Some("10s")),
            ]),
            ..base()
        },
        "lifecycle_hooks[1].heartbeat_timeout",
        "outside what AWS accepts",
    );
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![hook("drain", "terminating", Some("2h1s"))]),
            ..base()
        },
        "lifecycle_hooks[0].heartbeat_timeout",
        "outside what AWS accepts",
    );
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![hook("drain", "terminating", Some("90.5s"))]),
            ..base()
        },
        "lifecycle_hooks[0].heartbeat_timeout",
        "whole seconds",
    );
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![
                hook("drain", "terminating", None),
                hook("drain", "launching", None),
            ]),
            ..base()
        },
        "lifecycle_hooks[1].name",
        "used twice",
    );
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![hook("drain", "stopping", None)]),
            ..base()
        },
        "lifecycle_hooks[0].transition",
        "is not a transition",
    );
    let mut bad_result = hook("drain", "terminating", None);
    bad_result.default_result = Some("continue".into());
    assert_rejected(
        RawSpec {
            lifecycle_hooks: Some(vec![bad_result]),
            ..base()
        },
        "lifecycle_hooks[0].default_result",
        "is not a result",
    );
    // The bounds themselves are accepted.
    let spec = RolloutSpec::validate(&RawSpec {
        lifecycle_hooks: Some(vec![
            hook("warm", "launching", Some("30s")),
            hook("drain", "terminating", Some("2h")),
        ]),
        ..base()
    })
    .unwrap();
    assert_eq!(spec.lifecycle_hooks[0].heartbeat_timeout.as_secs(), 30);
    assert_eq!(spec.termination_hook_time().as_secs(), 7200);
}

#[test]
fn desired_capacity_outside_the_sizes_is_refused_with_target_tracking() {
    assert_rejected(
        RawSpec {
            desired_capacity: 7,
            target_tracking: Some(vec![policy("cpu", "ASGAverageCPUUtilization")]),
            ..base()
        },
        "desired_capacity",
        "outside min_size..max_size",
    );
}

fn canary_with(edit: impl FnOnce(&mut RawCanary)) -> RawSpec {
    let mut raw = canary_base();
    if let Some(canary) = raw.canary.as_mut() {
        edit(canary);
    }
    raw
}

fn with_bake(mut raw: RawSpec, duration: Option<&str>, alarms: Option<Vec<&str>>) -> RawSpec {
    raw.bake = Some(zdd_rollout::spec::RawBake {
        duration: duration.map(str::to_string),
        alarm_names: alarms.map(|list| list.into_iter().map(str::to_string).collect()),
    });
    raw
}

#[test]
fn canary_analysis_defaults_are_the_documented_ones() {
    use zdd_rollout::spec::{
        DEFAULT_INSUFFICIENT_EVIDENCE, DEFAULT_MAX_SOAK, DEFAULT_MIN_REQUESTS, InsufficientEvidence,
    };
    let spec = RolloutSpec::validate(&canary_base()).unwrap();
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("not a canary: {:?}", spec.strategy);
    };
    assert_eq!(canary.min_requests, DEFAULT_MIN_REQUESTS);
    assert_eq!(canary.min_requests, 200);
    assert_eq!(canary.insufficient_evidence, DEFAULT_INSUFFICIENT_EVIDENCE);
    assert_eq!(canary.insufficient_evidence, InsufficientEvidence::Extend);
    assert_eq!(canary.max_soak, DEFAULT_MAX_SOAK);
    assert_eq!(canary.max_soak.as_secs(), 30 * 60);
    assert_eq!(
        canary.max_p99_latency, None,
        "no latency gate unless configured"
    );
    assert_eq!(
        canary.max_regression, None,
        "no comparison unless configured"
    );
    assert_eq!(spec.bake, None);

    let spec = RolloutSpec::validate(&canary_with(|c| {
        c.max_p99_latency = Some("800ms".into());
        c.max_regression = Some(1.5);
        c.min_requests = Some(0);
        c.insufficient_evidence = Some("pass".into());
        c.max_soak = Some("1h".into());
    }))
    .unwrap();
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("not a canary");
    };
    assert_eq!(canary.max_p99_latency.map(|d| d.as_millis()), Some(800));
    assert_eq!(canary.max_regression, Some(1.5));
    assert_eq!(canary.min_requests, 0);
    assert_eq!(canary.insufficient_evidence, InsufficientEvidence::Pass);
    assert_eq!(canary.max_soak.as_secs(), 3600);
}

#[test]
fn canary_analysis_rules_name_their_attribute() {
    assert_rejected(
        canary_with(|c| c.max_p99_latency = Some("0s".into())),
        "canary.max_p99_latency",
        "longer than zero",
    );
    assert_rejected(
        canary_with(|c| c.max_p99_latency = Some("fast".into())),
        "canary.max_p99_latency",
        "",
    );
    assert_rejected(
        canary_with(|c| c.max_regression = Some(0.5)),
        "canary.max_regression",
        "at least 1",
    );
    assert_rejected(
        canary_with(|c| c.max_regression = Some(f64::NAN)),
        "canary.max_regression",
        "at least 1",
    );
    assert_rejected(
        canary_with(|c| c.min_requests = Some(-1)),
        "canary.min_requests",
        "0 or more",
    );
    assert_rejected(
        canary_with(|c| c.insufficient_evidence = Some("maybe".into())),
        "canary.insufficient_evidence",
        "\"extend\", \"fail\" or \"pass\"",
    );
    assert_rejected(
        canary_with(|c| c.max_soak = Some("soon".into())),
        "canary.max_soak",
        "",
    );
    // The default steps soak 5m each: a shorter max_soak could never let them finish.
    assert_rejected(
        canary_with(|c| c.max_soak = Some("2m".into())),
        "canary.max_soak",
        "shorter than steps[0].soak 5m",
    );
    assert_rejected(
        canary_with(|c| {
            c.steps = steps(&[(10, "1m"), (50, "20m"), (100, "0s")]);
            c.max_soak = Some("10m".into());
        }),
        "canary.max_soak",
        "steps[1].soak 20m",
    );
    assert_rejected(
        canary_with(|c| c.max_soak = Some("0s".into())),
        "canary.max_soak",
        "",
    );
}

#[test]
fn bake_defaults_and_rules() {
    use zdd_rollout::spec::DEFAULT_BAKE_DURATION;
    let spec = RolloutSpec::validate(&with_bake(base(), None, None)).unwrap();
    let bake = spec.bake.expect("a bake block");
    assert_eq!(bake.duration, DEFAULT_BAKE_DURATION);
    assert_eq!(bake.duration.as_secs(), 600);
    assert!(bake.alarm_names.is_empty());
    let spec = RolloutSpec::validate(&with_bake(
        canary_base(),
        Some("15m"),
        Some(vec!["web-5xx"]),
    ))
    .unwrap();
    let bake = spec.bake.expect("a bake block");
    assert_eq!(bake.duration.as_secs(), 900);
    assert_eq!(bake.alarm_names, vec!["web-5xx".to_string()]);

    let mut rolling = base();
    rolling.strategy = Some("rolling".into());
    rolling.batch_size = Some(1);
    assert_rejected(
        with_bake(rolling, None, None),
        "bake",
        "applies only to strategy = \"blue_green\" or \"canary\"",
    );
    assert_rejected(
        with_bake(base(), Some("a while"), None),
        "bake.duration",
        "",
    );
    assert_rejected(
        with_bake(base(), Some("0s"), None),
        "bake.duration",
        "longer than zero",
    );
    assert_rejected(
        with_bake(base(), None, Some(vec!["web-5xx", " "])),
        "bake.alarm_names[1]",
        "must not be empty",
    );
}
