//! Each bad input gets an error on its attribute at plan time, through real Terraform.

use crate::common::{Config, bed};

/// `(what, attribute lines replacing defaults, expected texts (the summary naming the attribute,
/// then a piece of the detail naming the rule), expected source line)`.
type Case = (&'static str, Config, [&'static str; 2], &'static str);

fn cases(bed: &crate::common::Bed) -> Vec<Case> {
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
            [
                "Error: Unpinned launch_template_version",
                "$Latest is refused",
            ],
            "launch_template_version",
        ),
        (
            "$Default",
            with(&|c| c.version = "$Default".into()),
            [
                "Error: Unpinned launch_template_version",
                "$Default is refused",
            ],
            "launch_template_version",
        ),
        (
            "desired above max",
            with(&|c| c.desired = 9),
            [
                "Error: Invalid desired_capacity",
                "9 is outside min_size..max_size (1..4)",
            ],
            "desired_capacity",
        ),
        (
            "desired below min",
            with(&|c| {
                c.min = 2;
                c.desired = 1
            }),
            [
                "Error: Invalid desired_capacity",
                "1 is outside min_size..max_size (2..4)",
            ],
            "desired_capacity",
        ),
        (
            "unknown strategy",
            with(&|c| c.extra = vec!["strategy = \"big_bang\"".into()]),
            ["Error: Invalid strategy", "unknown strategy \"big_bang\""],
            "strategy",
        ),
        (
            "canary without listener",
            with(&|c| c.extra = vec!["strategy = \"canary\"".into()]),
            ["Error: Invalid canary\n", "needs a canary block"],
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
            [
                "Error: Invalid canary.steps[1].weight",
                "weights must strictly",
            ],
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
            [
                "Error: Invalid canary.steps[1].weight",
                "the last step must send 100 %",
            ],
            "steps = [",
        ),
        (
            "missing target groups",
            with(&|c| c.target_group_arns = None),
            [
                "Error: Invalid target_group_arns",
                "needs at least one target group",
            ],
            "resource \"zdd_rollout\"",
        ),
        (
            "unparsable health_timeout",
            with(&|c| c.extra = vec!["health_timeout = \"ten minutes\"".into()]),
            [
                "Error: Invalid health_timeout",
                "cannot parse duration \"ten minutes\"",
            ],
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
            [
                "Error: Invalid canary.steps[0].soak",
                "cannot parse duration \"forever\"",
            ],
            "steps = [",
        ),
    ]
}

#[test]
fn every_bad_input_is_an_error_on_its_attribute() {
    let bed = bed("e2eval");
    let mut failures = Vec::new();
    for (what, config, texts, line) in cases(&bed) {
        bed.write_config(&config);
        let plan = bed.terraform(&["plan", "-no-color", "-input=false"]);
        let ok = !plan.success()
            && texts.iter().all(|text| plan.stderr.contains(text))
            && plan.stderr.contains(line);
        if !ok {
            failures.push(format!("{what}: exit {}\n{}", plan.code, plan.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));
    // Nothing was created by any of them.
    assert!(bed.asg_names().is_empty());
}

/// The provider block's `api_rate_limits`: a bad key and a bad value each fail `terraform
/// validate` (and plan) on their entry, with what is wrong; a good block plans, and its rate
/// is the one the provider's budget uses.
#[test]
fn api_rate_limits_are_checked_at_validate_and_used() {
    let bed = bed("e2erate");
    let config = crate::common::Config::new(&bed);
    let with_block = |entries: &str| {
        let rendered = config.render();
        assert!(rendered.contains("provider \"zdd\" {}"), "{rendered}");
        let block = format!("provider \"zdd\" {{\n  api_rate_limits = {{\n{entries}\n  }}\n}}");
        bed.tf
            .write("main.tf", &rendered.replace("provider \"zdd\" {}", &block))
            .unwrap();
    };
    let mut failures = Vec::new();
    for (what, entries, texts) in [
        (
            "a misspelt action",
            r#"    "autoscaling:DescribeAutoScalingGroup" = "2/s burst 4""#,
            [
                "Error: Invalid API rate limit",
                "never calls \"autoscaling:DescribeAutoScalingGroup\"",
                "DescribeAutoScalingGroups,",
            ],
        ),
        (
            "a service the provider never calls",
            r#"    "ec2:*" = "1/s""#,
            [
                "Error: Invalid API rate limit",
                "no service \"ec2\"",
                "autoscaling, elasticloadbalancing, cloudwatch",
            ],
        ),
        (
            "a rate without /s",
            r#"    "elasticloadbalancing:*" = "2""#,
            [
                "Error: Invalid API rate limit",
                "rate \"2\" must end in /s",
                "\"elasticloadbalancing:*\" = \"2\"",
            ],
        ),
        (
            "a zero burst",
            r#"    "*" = "1/s burst 0""#,
            [
                "Error: Invalid API rate limit",
                "burst \"0\" is not a whole number above 0",
                "\"*\" = \"1/s burst 0\"",
            ],
        ),
    ] {
        with_block(entries);
        for command in [
            &["validate", "-no-color"][..],
            &["plan", "-no-color", "-input=false"],
        ] {
            let output = bed.terraform(command);
            // Terraform wraps a detail at 78 columns.
            let flat = output
                .stderr
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let ok = !output.success()
                && texts.iter().all(|text| flat.contains(text))
                // Terraform shows the entry's own line: the diagnostic's attribute path is
                // api_rate_limits["KEY"], not the provider block or the whole map.
                && output.stderr.contains(&format!("in provider \"zdd\":\n   9: {}", entries.trim_end()));
            if !ok {
                failures.push(format!(
                    "{what} ({}): exit {}\n{}",
                    command[0], output.code, output.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));

    with_block(
        r#"    "autoscaling:DescribeAutoScalingGroups" = "0.5/s burst 2"
    "elasticloadbalancing:*"                = "1/s""#,
    );
    let validate = bed.terraform(&["validate", "-no-color"]);
    assert!(validate.success(), "{}", validate.stderr);
    let plan = bed.terraform_with_env(
        &["plan", "-no-color", "-input=false"],
        &[("TF_LOG_PROVIDER", "INFO")],
    );
    assert!(plan.success(), "{}", plan.stderr);
    for line in [
        "rate budget of autoscaling:DescribeAutoScalingGroups: 0.5/s burst 2",
        // Without burst, the API's default burst (10).
        "rate budget of elasticloadbalancing:DescribeTargetHealth: 1/s burst 10",
    ] {
        assert!(
            plan.stderr.contains(line),
            "no {line:?} in\n{}",
            plan.stderr
        );
    }
    assert!(
        !plan.stderr.contains("rate budget of cloudwatch:"),
        "an API the block does not name keeps its default:\n{}",
        plan.stderr
    );
    assert!(bed.asg_names().is_empty());
}
