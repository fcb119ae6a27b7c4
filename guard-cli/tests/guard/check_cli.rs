//! `zdd-guard check` as CI runs it: the binary, its exit codes, formats, suppression, local
//! modules and parse errors.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zdd_check::DEFAULT_RULES_URL;
use zdd_check::rules::RULES_DIR;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check")
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .arg("check")
        .args(args)
        .output()
        .expect("zdd-guard runs")
}

fn fixture(relative: &str) -> String {
    fixtures().join(relative).to_string_lossy().into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn exit_codes_are_0_clean_5_findings_6_parse_error() {
    assert_eq!(check(&[&fixture("ZDD010/good")]).status.code(), Some(0));
    assert_eq!(check(&[&fixture("ZDD010/bad")]).status.code(), Some(5));
    let parse_error = check(&[&fixture("cases/parse_error")]);
    assert_eq!(parse_error.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&parse_error.stderr);
    assert!(
        stderr.contains("cases/parse_error/main.tf:9:10: invalid HCL"),
        "{stderr}"
    );
}

#[test]
fn min_severity_error_ignores_warnings() {
    let warnings_only = fixture("ZDD013/bad");
    assert_eq!(check(&[&warnings_only]).status.code(), Some(5));
    let output = check(&[&warnings_only, "--min-severity", "error"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("1 finding below --min-severity not shown"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        check(&[&fixture("ZDD010/bad"), "--min-severity", "error"])
            .status
            .code(),
        Some(5)
    );
}

#[test]
fn text_output_names_location_rule_severity_message_and_fix() {
    let output = check(&[&fixture("ZDD021/bad")]);
    let text = stdout(&output);
    assert!(text.contains("ZDD021/bad/main.tf:16:3: warning[ZDD021]: aws_lb_target_group.web sets `deregistration_delay = 0`"), "{text}");
    assert!(text.contains("  fix: Set `deregistration_delay`"), "{text}");
    assert!(
        text.contains(&format!("  see: {DEFAULT_RULES_URL}/ZDD021.md")),
        "{text}"
    );
}

/// The rule links work outside this repository: a configurable base (flag, else environment),
/// the published pages by default, the same link in every format (issue #17).
#[test]
fn rule_links_follow_rules_url_then_the_environment_then_the_published_pages() {
    let bad = fixture("ZDD021/bad");
    let mirror = "https://mirror.example.com/zdd/rules";
    let from_flag = check(&[&bad, "--rules-url", mirror]);
    assert!(
        stdout(&from_flag).contains(&format!("  see: {mirror}/ZDD021.md")),
        "{}",
        stdout(&from_flag)
    );
    let from_env = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(["check", &bad, "--format", "json"])
        .env("ZDD_RULES_URL", "file:///srv/zdd-rules/")
        .output()
        .expect("zdd-guard runs");
    let json: serde_json::Value = serde_json::from_slice(&from_env.stdout).expect("json");
    assert_eq!(
        json["findings"][0]["docs"], "file:///srv/zdd-rules/ZDD021.md",
        "{json}"
    );
    let flag_wins = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(["check", &bad, "--format", "sarif", "--rules-url", mirror])
        .env("ZDD_RULES_URL", "file:///srv/zdd-rules")
        .output()
        .expect("zdd-guard runs");
    let sarif: serde_json::Value = serde_json::from_slice(&flag_wins.stdout).expect("sarif");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(
        rules
            .iter()
            .all(|rule| rule["helpUri"] == format!("{mirror}/{}.md", rule["id"].as_str().unwrap())),
        "{sarif}"
    );
    let not_a_url = check(&[&bad, "--rules-url", "check/rules"]);
    assert_eq!(not_a_url.status.code(), Some(6));
    let help = check(&["--help"]);
    let help = stdout(&help);
    assert!(
        help.contains("--rules-url <BASE>") && help.contains("ZDD_RULES_URL"),
        "{help}"
    );
    assert!(help.contains(DEFAULT_RULES_URL), "{help}");
}

/// `--format github`: one annotation per finding, by severity, with the rule and its link, on
/// stderr; nothing on stdout (issue #17).
#[test]
fn github_format_writes_escaped_annotations_to_stderr_only() {
    let output = check(&[&fixture("ZDD014/bad"), "--format", "github"]);
    assert_eq!(output.status.code(), Some(5));
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 2, "{stderr}");
    let error = annotations
        .iter()
        .find(|line| line.starts_with("::error "))
        .unwrap_or_else(|| panic!("no ::error: {stderr}"));
    let warning = annotations
        .iter()
        .find(|line| line.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no ::warning: {stderr}"));
    for line in [error, warning] {
        let (properties, message) = line
            .trim_start_matches("::error ")
            .trim_start_matches("::warning ")
            .split_once("::")
            .unwrap_or_else(|| panic!("no message: {line}"));
        assert!(properties.contains("ZDD014/bad/main.tf,line="), "{line}");
        assert!(
            properties.contains(",col=") && properties.contains(",endLine="),
            "{line}"
        );
        assert!(
            properties.contains(",title=ZDD014 Launch template version"),
            "{line}"
        );
        // One line per annotation: the fix and the link follow escaped newlines.
        assert!(
            message.contains(&format!("%0Asee: {DEFAULT_RULES_URL}/ZDD014.md")),
            "{line}"
        );
        assert!(!message.contains('\n'), "{line}");
    }
    assert!(
        stderr.contains("zdd-guard check: 1 error, 1 warning in 1 file"),
        "{stderr}"
    );

    let parse_error = check(&[&fixture("cases/parse_error"), "--format", "github"]);
    assert_eq!(parse_error.status.code(), Some(6));
    assert!(parse_error.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&parse_error.stderr);
    assert!(
        stderr.lines().any(|line| line.starts_with("::error file=")
            && line.contains("cases/parse_error/main.tf,line=9,col=10,title=zdd-guard check::")),
        "{stderr}"
    );
}

#[test]
fn suppression_needs_a_reason_and_the_line_before_a_block() {
    let output = check(&[&fixture("cases/suppression"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(5));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let rules_and_lines: Vec<(String, u64)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().expect("rule").to_owned(),
                f["line"].as_u64().expect("line"),
            )
        })
        .collect();
    assert_eq!(
        rules_and_lines,
        vec![
            ("ZDD000".to_owned(), 21), // no reason: reported, and suppresses nothing
            ("ZDD021".to_owned(), 27),
            ("ZDD000".to_owned(), 35), // separated from its block by a blank line
        ]
    );
    let suppressed = json["suppressed"].as_array().expect("suppressed");
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["rule"], "ZDD020");
    assert_eq!(
        suppressed[0]["reason"],
        "legacy service, health endpoint lands in JIRA-123"
    );
}

#[test]
fn local_modules_are_followed_once_and_registry_modules_skipped() {
    let output = check(&[&fixture("cases/modules/root"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(5));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["summary"]["files"], 2, "{json}");
    assert_eq!(json["summary"]["modules"], 2, "{json}");
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{json}");
    assert_eq!(findings[0]["rule"], "ZDD010");
    let file = findings[0]["file"].as_str().expect("file");
    assert!(
        file.ends_with("cases/modules/modules/asg/main.tf") && !file.contains(".."),
        "{file}"
    );
}

#[test]
fn a_missing_local_module_is_a_located_error() {
    let output = check(&[&fixture("cases/missing_module"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(6));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["error"]["kind"], "module_not_found");
    assert_eq!(json["error"]["line"], 2);
    assert_eq!(json["error"]["column"], 12);
}

#[test]
fn a_directory_without_tf_files_is_an_error() {
    let empty = tempfile::tempdir().expect("tempdir");
    let output = check(&[&empty.path().to_string_lossy()]);
    assert_eq!(output.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no .tf files"));
}

#[test]
fn json_has_a_stable_shape() {
    let output = check(&[&fixture("ZDD014/bad"), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["schema_version"], 2);
    for key in ["tool", "min_severity", "summary", "findings", "suppressed"] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    let finding = &json["findings"][0];
    for key in [
        "rule",
        "severity",
        "title",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "subject",
        "message",
        "fix",
        "docs",
    ] {
        assert!(finding.get(key).is_some(), "finding lacks {key}: {finding}");
    }
    assert_eq!(json["summary"]["errors"], 1);
    assert_eq!(json["summary"]["warnings"], 1);
}

/// ZDD031's message must say what the engine does (issue #11, item 13): with
/// `rollback_on_failure = false` the last good generation serves again and the failed group
/// is only kept, detached (rollout/tests/invariants.rs checks the engine's side).
#[test]
fn zdd031_says_the_last_good_generation_serves() {
    let output = check(&[&fixture("ZDD031/bad"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(5));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let finding = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "ZDD031")
        .unwrap_or_else(|| panic!("no ZDD031 finding: {json}"));
    let message = finding["message"].as_str().expect("message");
    assert!(
        message.contains("returns traffic to the last good generation")
            && message.contains("detached")
            && message.contains("zdd:rolled-back"),
        "{message}"
    );
    assert!(!message.contains("broken generation serving"), "{message}");
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(RULES_DIR)
            .join("ZDD031.md"),
    )
    .expect("check/rules/ZDD031.md");
    assert!(!docs.contains("keeps serving"), "{docs}");
    assert!(docs.contains("zdd:rolled-back"), "{docs}");
}
