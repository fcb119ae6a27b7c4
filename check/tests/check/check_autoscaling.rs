//! ZDD015 (scaling policies fighting a managed `desired_capacity`) and ZDD016 (a group behind a
//! load balancer that ignores its health checks), tested as an adversary: references by name and
//! by literal, unknown values, other groups, other modules, suppression.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use zdd_check::{Finding, Severity, check_dir, check_sources};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check")
}

/// Active findings of `rule_id` for one module made of `text`.
fn findings(rule_id: &str, text: &str) -> Vec<Finding> {
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), text.as_bytes().to_vec())],
    )
    .unwrap_or_else(|error| panic!("parses: {error}\n{text}"));
    report
        .findings
        .into_iter()
        .filter(|finding| finding.rule_id == rule_id)
        .collect()
}

fn messages(rule_id: &str, text: &str) -> Vec<String> {
    findings(rule_id, text)
        .into_iter()
        .map(|finding| finding.message)
        .collect()
}

/// A group named `web` with `settings` (one attribute or block per line) inside it.
fn group(settings: &str) -> String {
    format!(
        r#"
resource "aws_autoscaling_group" "web" {{
  name_prefix         = "web-"
  min_size            = 2
  max_size            = 12
  vpc_zone_identifier = var.subnet_ids
  {settings}

  launch_template {{
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }}
}}
"#
    )
}

fn policy(name: &str, group_name: &str, policy_type: &str) -> String {
    format!(
        r#"
resource "aws_autoscaling_policy" "{name}" {{
  name                   = "{name}"
  autoscaling_group_name = {group_name}
  {policy_type}
}}
"#
    )
}

fn target_tracking(group_name: &str) -> String {
    policy("cpu", group_name, "policy_type = \"TargetTrackingScaling\"")
}

const BY_REFERENCE: &str = "aws_autoscaling_group.web.name";

// ---------------------------------------------------------------- ZDD015

#[test]
fn zdd015_names_group_policy_value_and_fix() {
    let text = group("desired_capacity = 3") + &target_tracking(BY_REFERENCE);
    let found = findings("ZDD015", &text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let finding = &found[0];
    assert_eq!(finding.subject, "aws_autoscaling_group.web");
    assert_eq!(finding.severity, Severity::Error);
    let line = text
        .lines()
        .nth(finding.region.start.line - 1)
        .expect("line");
    assert_eq!(line.trim(), "desired_capacity = 3");
    for part in [
        "aws_autoscaling_group.web",
        "aws_autoscaling_policy.cpu",
        "back to 3",
        "ignore_changes = [desired_capacity]",
    ] {
        assert!(
            finding.message.contains(part),
            "{part}: {}",
            finding.message
        );
    }
}

#[test]
fn zdd015_counts_every_policy_type() {
    for policy_type in [
        "policy_type = \"TargetTrackingScaling\"",
        "policy_type = \"StepScaling\"",
        "policy_type = \"SimpleScaling\"",
        "policy_type = \"PredictiveScaling\"",
        "", // the provider's default is SimpleScaling
    ] {
        let text = group("desired_capacity = 3") + &policy("p", BY_REFERENCE, policy_type);
        assert_eq!(findings("ZDD015", &text).len(), 1, "{policy_type:?}");
    }
}

#[test]
fn zdd015_lists_every_policy_of_the_group() {
    let text = group("desired_capacity = 3")
        + &policy(
            "cpu",
            BY_REFERENCE,
            "policy_type = \"TargetTrackingScaling\"",
        )
        + &policy(
            "queue",
            "aws_autoscaling_group.web.id",
            "policy_type = \"StepScaling\"",
        );
    let found = messages("ZDD015", &text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("aws_autoscaling_policy.cpu")
            && found[0].contains("aws_autoscaling_policy.queue"),
        "{found:#?}"
    );
}

#[test]
fn zdd015_follows_references_in_every_form_terraform_accepts() {
    for group_name in [
        "aws_autoscaling_group.web.name",
        "aws_autoscaling_group.web.id",
        "aws_autoscaling_group.web[0].name",
        "aws_autoscaling_group.web[\"blue\"].name",
        "\"${aws_autoscaling_group.web.name}\"",
    ] {
        let text = group("desired_capacity = 3") + &target_tracking(group_name);
        assert_eq!(findings("ZDD015", &text).len(), 1, "{group_name}");
    }
}

#[test]
fn zdd015_matches_the_same_literal_name_in_the_same_module() {
    let literal_group = r#"
locals {
  group_name = "web-prod"
}

resource "aws_autoscaling_group" "web" {
  name             = "web-prod"
  min_size         = 2
  max_size         = 12
  desired_capacity = 3
}
"#;
    for group_name in ["\"web-prod\"", "local.group_name"] {
        let text = literal_group.to_owned() + &target_tracking(group_name);
        assert_eq!(findings("ZDD015", &text).len(), 1, "{group_name}");
    }
    let other = literal_group.to_owned() + &target_tracking("\"web-staging\"");
    assert_eq!(findings("ZDD015", &other), Vec::new());
}

#[test]
fn zdd015_accepts_every_way_to_ignore_desired_capacity() {
    for ignore in [
        "[desired_capacity]",
        "[tags, desired_capacity]",
        "[\"desired_capacity\"]",
        "all",
    ] {
        let settings = format!(
            "desired_capacity = 3\n  lifecycle {{\n    create_before_destroy = true\n    ignore_changes = {ignore}\n  }}"
        );
        let text = group(&settings) + &target_tracking(BY_REFERENCE);
        assert_eq!(findings("ZDD015", &text), Vec::new(), "{ignore}");
    }
}

#[test]
fn zdd015_ignore_changes_of_other_attributes_does_not_count() {
    for ignore in [
        "[]",
        "[tags, min_size]",
        "[\"max_size\"]",
        "[desired_capacity_type]",
    ] {
        let settings =
            format!("desired_capacity = 3\n  lifecycle {{\n    ignore_changes = {ignore}\n  }}");
        let text = group(&settings) + &target_tracking(BY_REFERENCE);
        assert_eq!(findings("ZDD015", &text).len(), 1, "{ignore}");
    }
}

/// Without `desired_capacity` the provider never sends one on update (the attribute is optional
/// and computed), so the policies own the capacity.
#[test]
fn zdd015_is_silent_when_terraform_does_not_manage_the_capacity() {
    for settings in ["", "desired_capacity = null"] {
        let text = group(settings) + &target_tracking(BY_REFERENCE);
        assert_eq!(findings("ZDD015", &text), Vec::new(), "{settings:?}");
    }
}

#[test]
fn zdd015_reads_a_variable_capacity_only_when_it_cannot_be_null() {
    let with_variable = |declaration: &str| {
        group("desired_capacity = var.desired") + declaration + &target_tracking(BY_REFERENCE)
    };
    // A required input, or one with a number as default: Terraform manages the capacity.
    for declaration in [
        "variable \"desired\" {\n  type = number\n}\n",
        "variable \"desired\" {\n  type    = number\n  default = 3\n}\n",
    ] {
        let found = messages("ZDD015", &with_variable(declaration));
        assert_eq!(found.len(), 1, "{declaration}");
        assert!(found[0].contains("configured value"), "{found:#?}");
    }
    // A default of null (the idiom for "let the policies own it"), or no declaration here.
    for declaration in [
        "variable \"desired\" {\n  type    = number\n  default = null\n}\n",
        "",
    ] {
        assert_eq!(
            findings("ZDD015", &with_variable(declaration)),
            Vec::new(),
            "{declaration}"
        );
    }
    // A conditional may be null: not static, no guess.
    let conditional =
        group("desired_capacity = var.autoscale ? null : 3") + &target_tracking(BY_REFERENCE);
    assert_eq!(findings("ZDD015", &conditional), Vec::new());
}

#[test]
fn zdd015_needs_a_policy_that_can_change_this_group() {
    let cases = [
        // No policy at all.
        String::new(),
        // A policy of another group.
        target_tracking("aws_autoscaling_group.api.name"),
        // A name that cannot be resolved statically stays unknown.
        target_tracking("var.group_name"),
        target_tracking("module.fleet.group_name"),
        target_tracking("data.aws_autoscaling_group.web.name"),
        // A disabled policy does not scale.
        policy("cpu", BY_REFERENCE, "enabled = false"),
        // Application Auto Scaling (ECS, DynamoDB, ...) never scales an EC2 Auto Scaling group.
        r#"
resource "aws_appautoscaling_policy" "cpu" {
  name               = "cpu"
  policy_type        = "TargetTrackingScaling"
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension
  service_namespace  = aws_appautoscaling_target.web.service_namespace
}
"#
        .to_owned(),
    ];
    for extra in cases {
        let text = group("desired_capacity = 3") + &extra;
        assert_eq!(findings("ZDD015", &text), Vec::new(), "{extra}");
    }
}

#[test]
fn zdd015_is_silent_when_min_and_max_pin_the_capacity() {
    let text = r#"
resource "aws_autoscaling_group" "web" {
  name_prefix      = "web-"
  min_size         = 3
  max_size         = 3
  desired_capacity = 3
}
"#
    .to_owned()
        + &target_tracking(BY_REFERENCE);
    assert_eq!(findings("ZDD015", &text), Vec::new());
}

#[test]
fn zdd015_can_be_suppressed_on_the_group() {
    let text = format!(
        "# zdd:ignore ZDD015 capacity is reset on purpose by the nightly job\n{}",
        group("desired_capacity = 3").trim_start()
    ) + &target_tracking(BY_REFERENCE);
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), text.into_bytes())],
    )
    .expect("parses");
    assert!(report.findings.iter().all(|f| f.rule_id != "ZDD015"));
    let suppressed: Vec<&str> = report
        .suppressed
        .iter()
        .map(|entry| entry.finding.rule_id)
        .collect();
    assert_eq!(suppressed, vec!["ZDD015"]);
}

/// A group's name followed through module calls: into a child (`var.X` set by the call) and out
/// of one (`module.CALL.OUTPUT`). A literal name is matched only within one module: a policy in a
/// child naming "batch" is not the caller's group "batch" (the two may deploy to different
/// accounts or regions), and a name the caller itself takes from a variable stays unknown.
#[test]
fn zdd015_and_zdd016_follow_names_through_module_calls_but_never_literals() {
    let report = check_dir(&fixtures().join("cases/autoscaling_modules/root")).expect("parses");
    assert_eq!(report.modules_checked, 4);
    let found: Vec<(&str, String, String, &str)> = report
        .findings
        .iter()
        .map(|finding| {
            let file = finding.file.to_string_lossy().replace('\\', "/");
            let module = file
                .rsplit('/')
                .nth(1)
                .expect("file in a module directory")
                .to_owned();
            (
                finding.rule_id,
                module,
                finding.subject.clone(),
                finding.message.as_str(),
            )
        })
        .collect();
    let summary: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|(rule, module, subject, _)| (*rule, module.as_str(), subject.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("ZDD016", "fleet", "aws_autoscaling_group.this"),
            ("ZDD015", "fleet", "aws_autoscaling_group.this"),
            ("ZDD015", "scaled", "aws_autoscaling_group.this"),
            ("ZDD015", "root", "aws_autoscaling_group.web"),
        ],
        "{found:#?}"
    );
    let message = |index: usize| found[index].3;
    assert!(
        message(0).contains("(aws_autoscaling_attachment.fleet in ")
            && message(0).contains("root/main.tf)")
            && message(0).contains("\"EC2\""),
        "{}",
        message(0)
    );
    assert!(
        message(1).contains("aws_autoscaling_policy.fleet_cpu in ")
            && message(1).contains("root/main.tf:"),
        "{}",
        message(1)
    );
    assert!(
        message(3).contains("aws_autoscaling_policy.passed_in in ")
            && message(3).contains("policies/main.tf:")
            && !message(3).contains("literal")
            && !message(3).contains("unknown"),
        "{}",
        message(3)
    );
    assert!(
        message(2).contains("aws_autoscaling_policy.cpu:"),
        "{}",
        message(2)
    );
}

// ---------------------------------------------------------------- ZDD016

/// A target group and a group `web` behind it with `settings`.
fn behind_target_group(settings: &str) -> String {
    r#"
resource "aws_lb_target_group" "web" {
  name     = "web"
  port     = 80
  protocol = "HTTP"
}
"#
    .to_owned()
        + &group(&format!(
            "target_group_arns = [aws_lb_target_group.web.arn]\n  {settings}"
        ))
}

#[test]
fn zdd016_reports_health_check_type_ec2_on_its_line() {
    let text = behind_target_group("health_check_type = \"EC2\"");
    let found = findings("ZDD016", &text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let finding = &found[0];
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(finding.subject, "aws_autoscaling_group.web");
    let line = text
        .lines()
        .nth(finding.region.start.line - 1)
        .expect("line");
    assert_eq!(line.trim(), "health_check_type = \"EC2\"");
    assert!(
        finding.message.contains("\"EC2\"") && finding.message.contains("unhealthy"),
        "{}",
        finding.message
    );
}

/// AWS's default health check type is EC2 and the AWS provider sends none when the attribute
/// is omitted (optional and computed): the same defect, said as such.
#[test]
fn zdd016_reports_an_unset_type_and_says_the_default_is_ec2() {
    let text = behind_target_group("");
    let found = messages("ZDD016", &text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("default") && found[0].contains("\"EC2\""),
        "{found:#?}"
    );
}

#[test]
fn zdd016_accepts_any_type_list_that_includes_elb() {
    for kind in ["\"ELB\"", "\"ELB,EBS\"", "\"EBS,ELB\"", "\"elb\""] {
        let text = behind_target_group(&format!("health_check_type = {kind}"));
        assert_eq!(findings("ZDD016", &text), Vec::new(), "{kind}");
    }
    for kind in ["\"EBS\"", "\"EC2,EBS\""] {
        let text = behind_target_group(&format!("health_check_type = {kind}"));
        assert_eq!(findings("ZDD016", &text).len(), 1, "{kind}");
    }
}

#[test]
fn zdd016_leaves_an_unknown_type_alone() {
    for kind in [
        "var.health_check_type",
        "local.missing",
        "var.elb ? \"ELB\" : \"EC2\"",
    ] {
        let text = behind_target_group(&format!("health_check_type = {kind}"));
        assert_eq!(findings("ZDD016", &text), Vec::new(), "{kind}");
    }
}

#[test]
fn zdd016_needs_a_load_balancer_it_can_see() {
    for settings in [
        "health_check_type = \"EC2\"",
        "health_check_type = \"EC2\"\n  target_group_arns = []",
        "health_check_type = \"EC2\"\n  target_group_arns = var.target_group_arns",
        "target_group_arns = var.target_group_arns",
    ] {
        let text = group(settings);
        assert_eq!(findings("ZDD016", &text), Vec::new(), "{settings}");
    }
}

#[test]
fn zdd016_counts_classic_load_balancers_and_traffic_sources() {
    for settings in [
        "load_balancers = [\"web-classic\"]",
        "traffic_source {\n    identifier = aws_lb_target_group.web.arn\n    type       = \"elbv2\"\n  }",
    ] {
        let text = group(settings);
        assert_eq!(findings("ZDD016", &text).len(), 1, "{settings}");
    }
    let lattice = group(
        "traffic_source {\n    identifier = aws_vpclattice_target_group.web.arn\n    type       = \"vpc-lattice\"\n  }",
    );
    assert_eq!(findings("ZDD016", &lattice), Vec::new());
}

#[test]
fn zdd016_follows_attachments_by_reference_and_by_literal_name() {
    let attachment = |group_name: &str, target: &str| {
        format!(
            r#"
resource "aws_autoscaling_attachment" "web" {{
  autoscaling_group_name = {group_name}
  {target}
}}
"#
        )
    };
    let reported = [
        attachment(
            BY_REFERENCE,
            "lb_target_group_arn = aws_lb_target_group.web.arn",
        ),
        attachment(
            BY_REFERENCE,
            "alb_target_group_arn = aws_lb_target_group.web.arn",
        ),
        attachment(BY_REFERENCE, "elb = aws_elb.web.id"),
    ];
    for extra in reported {
        let text = group("health_check_type = \"EC2\"") + &extra;
        assert_eq!(findings("ZDD016", &text).len(), 1, "{extra}");
    }
    let literal = r#"
resource "aws_autoscaling_group" "web" {
  name              = "web-prod"
  min_size          = 2
  max_size          = 12
  health_check_type = "EC2"
}
"#;
    let text = literal.to_owned()
        + &attachment(
            "\"web-prod\"",
            "lb_target_group_arn = aws_lb_target_group.web.arn",
        );
    assert_eq!(findings("ZDD016", &text).len(), 1);
    let silent = [
        attachment(
            "aws_autoscaling_group.api.name",
            "lb_target_group_arn = aws_lb_target_group.web.arn",
        ),
        attachment(
            "var.group_name",
            "lb_target_group_arn = aws_lb_target_group.web.arn",
        ),
        attachment(BY_REFERENCE, ""),
    ];
    for extra in silent {
        let text = group("health_check_type = \"EC2\"") + &extra;
        assert_eq!(findings("ZDD016", &text), Vec::new(), "{extra}");
    }
}

#[test]
fn zdd016_reports_ec2_on_a_zdd_rollout_whose_default_is_elb() {
    let rollout = |settings: &str| {
        format!(
            r#"
resource "zdd_rollout" "web" {{
  name                    = "web"
  launch_template_id      = aws_launch_template.web.id
  launch_template_version = "7"
  subnet_ids              = var.subnet_ids
  target_group_arns       = [aws_lb_target_group.web.arn]
  {settings}
}}
"#
        )
    };
    let text = rollout("health_check_type = \"EC2\"");
    let found = findings("ZDD016", &text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].subject, "zdd_rollout.web");
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(found[0].message.contains("\"ELB\""), "{}", found[0].message);
    for settings in [
        "",
        "health_check_type = \"ELB\"",
        "health_check_type = var.kind",
    ] {
        assert_eq!(
            findings("ZDD016", &rollout(settings)),
            Vec::new(),
            "{settings:?}"
        );
    }
}

#[test]
fn zdd016_can_be_suppressed_on_the_group() {
    let text = r#"
resource "aws_lb_target_group" "web" {
  name = "web"
}

# zdd:ignore ZDD016 the target group only mirrors traffic; its health is not the service's
resource "aws_autoscaling_group" "web" {
  name_prefix       = "web-"
  min_size          = 2
  max_size          = 12
  target_group_arns = [aws_lb_target_group.web.arn]
}
"#;
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), text.as_bytes().to_vec())],
    )
    .expect("parses");
    assert!(report.findings.iter().all(|f| f.rule_id != "ZDD016"));
    assert_eq!(
        report
            .suppressed
            .iter()
            .map(|entry| entry.finding.rule_id)
            .collect::<Vec<_>>(),
        vec!["ZDD016"]
    );
}

/// Writes `files` (relative path, text) under a fresh directory and checks its `root/`.
fn check_tree(files: &[(&str, &str)]) -> zdd_check::Report {
    let temp = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = temp.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    check_dir(&temp.path().join("root")).expect("parses")
}

/// One module called twice, for two groups: each call is followed on its own, so only the group
/// that does not ignore `desired_capacity` is reported.
#[test]
fn zdd015_follows_each_call_of_a_module_called_twice() {
    let root = r#"
resource "aws_autoscaling_group" "ignoring" {
  name_prefix      = "ignoring-"
  min_size         = 1
  max_size         = 9
  desired_capacity = 2

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_group" "resetting" {
  name_prefix      = "resetting-"
  min_size         = 1
  max_size         = 9
  desired_capacity = 2
}

module "scale_ignoring" {
  source     = "../scaling"
  group_name = aws_autoscaling_group.ignoring.name
}

module "scale_resetting" {
  source     = "../scaling"
  group_name = aws_autoscaling_group.resetting.name
}
"#;
    let scaling = r#"
variable "group_name" {
  type = string
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "cpu"
  autoscaling_group_name = var.group_name
  policy_type            = "TargetTrackingScaling"
}
"#;
    let report = check_tree(&[("root/main.tf", root), ("scaling/main.tf", scaling)]);
    let subjects: Vec<&str> = report
        .findings
        .iter()
        .filter(|finding| finding.rule_id == "ZDD015")
        .map(|finding| finding.subject.as_str())
        .collect();
    assert_eq!(subjects, vec!["aws_autoscaling_group.resetting"]);
}

/// Modules that call each other in a cycle, passing the name around without ever naming a
/// group: the search ends, and nothing is reported.
#[test]
fn zdd015_ends_on_a_cycle_of_module_calls() {
    let root = r#"
resource "aws_autoscaling_group" "web" {
  name_prefix      = "web-"
  min_size         = 1
  max_size         = 9
  desired_capacity = 2
}

variable "group_name" {
  type = string
}

module "child" {
  source     = "../child"
  group_name = var.group_name
}
"#;
    let child = r#"
variable "group_name" {
  type = string
}

module "back" {
  source     = "../root"
  group_name = var.group_name
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "cpu"
  autoscaling_group_name = var.group_name
}
"#;
    let report = check_tree(&[("root/main.tf", root), ("child/main.tf", child)]);
    assert_eq!(report.modules_checked, 2);
    assert!(
        report.findings.iter().all(|f| f.rule_id != "ZDD015"),
        "{:#?}",
        report.findings
    );
}
