//! Table-driven rule tests: every `test-fixtures/check/ZDDxxx/{bad,good}` directory is checked;
//! bad ones must produce findings of exactly that rule, good ones none at all.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use zdd_check::rules::{INVALID_SUPPRESSION, RULES, RULES_DIR};
use zdd_check::{Severity, check_dir, check_sources, exit_code};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check")
}

fn rule_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = fs::read_dir(fixtures())
        .expect("test-fixtures/check exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.is_dir())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            name.starts_with("ZDD").then_some((name, path))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_has_bad_and_good_fixtures_and_a_docs_page() {
    let dirs: Vec<String> = rule_dirs().into_iter().map(|(name, _)| name).collect();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(RULES_DIR);
    for rule in RULES {
        let page = docs.join(format!("{}.md", rule.id));
        assert!(page.is_file(), "missing docs page {}", page.display());
        let text = fs::read_to_string(&page).expect("readable page");
        assert!(
            text.contains("## What goes wrong in production"),
            "{}: no production section",
            rule.id
        );
        assert!(
            text.contains("## How to fix"),
            "{}: no fix section",
            rule.id
        );
        if rule.id == INVALID_SUPPRESSION {
            continue; // covered by guard-cli/tests/guard/check_cli.rs over cases/suppression
        }
        assert!(
            dirs.contains(&rule.id.to_owned()),
            "no fixtures for {}",
            rule.id
        );
    }
    assert_eq!(
        dirs.len(),
        RULES.len() - 1,
        "fixture folders without a rule: {dirs:?}"
    );
}

#[test]
fn bad_fixtures_trigger_exactly_their_rule() {
    for (rule_id, dir) in rule_dirs() {
        let report = check_dir(&dir.join("bad")).unwrap_or_else(|e| panic!("{rule_id}/bad: {e}"));
        assert!(!report.findings.is_empty(), "{rule_id}/bad: no findings");
        for finding in &report.findings {
            assert_eq!(
                finding.rule_id, rule_id,
                "{rule_id}/bad: unexpected {finding:?}"
            );
            assert!(finding.region.start.line >= 1 && finding.region.start.column >= 1);
            assert!(finding.file.ends_with("bad/main.tf"), "{:?}", finding.file);
        }
        assert_eq!(exit_code(&report, Severity::Warning), 5, "{rule_id}/bad");
    }
}

#[test]
fn good_fixtures_are_clean() {
    for (rule_id, dir) in rule_dirs() {
        let report = check_dir(&dir.join("good")).unwrap_or_else(|e| panic!("{rule_id}/good: {e}"));
        assert_eq!(report.findings, Vec::new(), "{rule_id}/good");
        assert_eq!(exit_code(&report, Severity::Warning), 0, "{rule_id}/good");
    }
}

/// Each finding points at the line that holds the problem, not just somewhere in the file.
#[test]
fn findings_point_at_the_offending_line() {
    let expectations: &[(&str, &[&str])] = &[
        ("ZDD011", &["name                = \"web\""]),
        (
            "ZDD014",
            &[
                "version = \"$Latest\"",
                "launch_template_version = \"$Latest\"",
            ],
        ),
        (
            "ZDD015",
            &["desired_capacity      = 3", "desired_capacity    = 4"],
        ),
        (
            "ZDD016",
            &[
                "health_check_type     = \"EC2\"",
                "target_group_arns     = [aws_lb_target_group.api.arn]",
                "health_check_type       = \"EC2\"",
            ],
        ),
        ("ZDD021", &["deregistration_delay = 0"]),
        (
            "ZDD030",
            &[
                "{ weight = 10, soak = \"5m\" },",
                "{ weight = 50, soak = \"30s\" },",
                "{ weight = 90, soak = \"5m\" },",
            ],
        ),
        ("ZDD031", &["rollback_on_failure     = false"]),
    ];
    for (rule_id, lines) in expectations {
        let dir = fixtures().join(rule_id).join("bad");
        let text = fs::read_to_string(dir.join("main.tf")).expect("fixture");
        let report = check_dir(&dir).expect("parses");
        let found: Vec<&str> = report
            .findings
            .iter()
            .map(|finding| {
                text.lines()
                    .nth(finding.region.start.line - 1)
                    .expect("line")
                    .trim()
            })
            .collect();
        let expected: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
        assert_eq!(found, expected, "{rule_id}");
    }
}

#[test]
fn zdd014_is_an_error_on_zdd_rollout_and_a_warning_on_groups() {
    let report = check_dir(&fixtures().join("ZDD014/bad")).expect("parses");
    let severities: Vec<(String, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.subject.clone(), f.severity))
        .collect();
    assert_eq!(
        severities,
        vec![
            ("aws_autoscaling_group.web".to_owned(), Severity::Warning),
            ("zdd_rollout.web".to_owned(), Severity::Error)
        ]
    );
    assert_eq!(exit_code(&report, Severity::Error), 5);
}

/// A `zdd_rollout` using the canary strategy with the given `steps` expression; the canary
/// target group checks every 30 s.
fn canary_rollout(steps: &str) -> Vec<u8> {
    format!(
        r#"
resource "aws_lb_target_group" "green" {{
  name     = "green"
  port     = 80
  protocol = "HTTP"
  health_check {{
    path     = "/healthz"
    matcher  = "200"
    interval = 30
  }}
}}

resource "zdd_rollout" "web" {{
  name                    = "web"
  launch_template_version = "7"
  strategy                = "canary"
  canary = {{
    canary_target_group_arn = aws_lb_target_group.green.arn
    steps                   = {steps}
  }}
}}
"#
    )
    .into_bytes()
}

fn zdd030_messages(steps: &str) -> Vec<String> {
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), canary_rollout(steps))],
    )
    .expect("parses");
    report
        .findings
        .iter()
        .filter(|finding| finding.rule_id == "ZDD030")
        .map(|finding| finding.message.clone())
        .collect()
}

/// The engine refuses steps that do not end at weight 100, and an empty list, when it validates
/// the configuration at plan (`rollout/src/spec/canary.rs`): no rollout starts, so none is left
/// "never finishing" with traffic split. The message says what really happens.
#[test]
fn zdd030_says_the_provider_refuses_steps_that_do_not_end_at_100() {
    let messages =
        zdd030_messages(r#"[{ weight = 25, soak = "5m" }, { weight = 90, soak = "5m" }]"#);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("end at weight 90, not 100")
            && messages[0].contains("the provider refuses them at plan"),
        "{messages:#?}"
    );
    assert!(!messages[0].contains("never finishes"), "{messages:#?}");

    let messages = zdd030_messages("[]");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("the provider refuses it at plan"),
        "{messages:#?}"
    );
    assert!(!messages[0].contains("never reaches"), "{messages:#?}");
}

/// Soaks are read in Terraform's duration grammar, as the engine reads them: `1.5h` is 90
/// minutes (no finding), `0.01h` is 36 s (shorter than two 30 s intervals), and a soak the
/// engine refuses (`5 m`) is not judged here: the plan refuses it.
#[test]
fn zdd030_reads_soaks_as_the_engine_does() {
    let soak = |text: &str| {
        zdd030_messages(&format!(
            r#"[{{ weight = 50, soak = "{text}" }}, {{ weight = 100, soak = "0s" }}]"#
        ))
    };
    assert_eq!(soak("1.5h"), Vec::<String>::new());
    let short = soak("0.01h");
    assert_eq!(short.len(), 1, "{short:#?}");
    assert!(short[0].contains("soaks 36s"), "{short:#?}");
    assert_eq!(soak("5 m"), Vec::<String>::new());
}
