//! Each bad input gets an error on its attribute at plan time, through real Terraform.

mod common;

use common::{Config, bed};

/// `(what, attribute lines replacing defaults, expected summary, expected source line)`.
fn cases(bed: &common::Bed) -> Vec<(&'static str, Config, &'static str, &'static str)> {
    let base = Config::new(bed);
    let with = |edit: &dyn Fn(&mut Config)| {
        let mut config = base.clone();
        edit(&mut config);
        config
    };
    let canary = |steps: &str| {
        format!(
            "canary = {{\n    listener_arn = {:?}\n    stable_target_group_arn = {:?}\n    canary_target_group_arn = {:?}\n    steps = {steps}\n  }}",
            bed.fixture.listener_arn,
            bed.blue(),
            bed.green()
        )
    };
    vec![
        (
            "$Latest",
            with(&|c| c.version = "$Latest".into()),
            "Launch template version must be pinned",
            "launch_template_version",
        ),
        (
            "$Default",
            with(&|c| c.version = "$Default".into()),
            "Launch template version must be pinned",
            "launch_template_version",
        ),
        (
            "desired above max",
            with(&|c| c.desired = 9),
            "desired_capacity outside min_size..max_size",
            "desired_capacity",
        ),
        (
            "desired below min",
            with(&|c| {
                c.min = 2;
                c.desired = 1
            }),
            "desired_capacity outside min_size..max_size",
            "desired_capacity",
        ),
        (
            "unknown strategy",
            with(&|c| c.extra = vec!["strategy = \"big_bang\"".into()]),
            "Unknown strategy",
            "strategy",
        ),
        (
            "canary without listener",
            with(&|c| c.extra = vec!["strategy = \"canary\"".into()]),
            "Canary without listener",
            "strategy",
        ),
        (
            "weights not increasing",
            with(&|c| {
                c.extra = vec![
                    "strategy = \"canary\"".into(),
                    canary(
                        "[{ weight = 50, soak = \"1m\" }, { weight = 10, soak = \"1m\" }, { weight = 100, soak = \"0s\" }]",
                    ),
                ]
            }),
            "Canary weights not increasing",
            "steps = [",
        ),
        (
            "weights not ending at 100",
            with(&|c| {
                c.extra = vec![
                    "strategy = \"canary\"".into(),
                    canary("[{ weight = 10, soak = \"1m\" }, { weight = 50, soak = \"1m\" }]"),
                ]
            }),
            "Canary steps must end at 100",
            "steps = [",
        ),
        (
            "missing target groups",
            with(&|c| c.target_group_arns = None),
            "Missing target groups",
            "resource \"zdd_rollout\"",
        ),
        (
            "unparsable health_timeout",
            with(&|c| c.extra = vec!["health_timeout = \"ten minutes\"".into()]),
            "Invalid duration",
            "health_timeout",
        ),
        (
            "unparsable soak",
            with(&|c| {
                c.extra = vec![
                    "strategy = \"canary\"".into(),
                    canary("[{ weight = 100, soak = \"forever\" }]"),
                ]
            }),
            "Invalid duration",
            "steps = [",
        ),
    ]
}

#[test]
fn every_bad_input_is_an_error_on_its_attribute() {
    let bed = bed("e2eval");
    let mut failures = Vec::new();
    for (what, config, summary, line) in cases(&bed) {
        bed.write_config(&config);
        let plan = bed.terraform(&["plan", "-no-color", "-input=false"]);
        let ok = !plan.success() && plan.stderr.contains(summary) && plan.stderr.contains(line);
        if !ok {
            failures.push(format!("{what}: exit {}\n{}", plan.code, plan.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));
    // Nothing was created by any of them.
    assert!(bed.asg_names().is_empty());
}
