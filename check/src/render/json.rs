//! The JSON report. Its shape is stable (see check/rules/README.md, "JSON output"): fields are
//! only ever added, and `schema_version` changes if one is removed or changes meaning.

use serde_json::{Value, json};

use super::super::error::CheckError;
use super::super::finding::{Finding, Severity};
use super::super::report::Report;
use super::super::rules;
use super::{Settings, slash_path};

/// 2: `docs` became a URL under `--rules-url` (it was a path in this repository, `docs/rules/`,
/// which moved out of the registry docs).
pub const SCHEMA_VERSION: u32 = 2;

pub fn render(report: &Report, settings: &Settings<'_>) -> Value {
    let threshold = settings.threshold;
    let rules_url = settings.rules_url;
    let findings: Vec<Value> = report
        .at_or_above(threshold)
        .map(|finding| finding_json(finding, rules_url))
        .collect();
    let errors = report
        .at_or_above(threshold)
        .filter(|f| f.severity == Severity::Error)
        .count();
    let suppressed: Vec<Value> = report
        .suppressed
        .iter()
        .map(|entry| {
            let mut value = finding_json(&entry.finding, rules_url);
            if let Some(object) = value.as_object_mut() {
                object.insert("reason".to_owned(), json!(entry.reason));
            }
            value
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": { "name": "zdd-guard check", "version": env!("CARGO_PKG_VERSION") },
        "min_severity": threshold.as_str(),
        "summary": {
            "files": report.files_checked,
            "modules": report.modules_checked,
            "errors": errors,
            "warnings": findings.len() - errors,
            "suppressed": suppressed.len(),
        },
        "findings": findings,
        "suppressed": suppressed,
    })
}

pub fn render_error(error: &CheckError) -> Value {
    let location = error.location();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": { "name": "zdd-guard check", "version": env!("CARGO_PKG_VERSION") },
        "error": {
            "kind": error.kind(),
            "message": error.to_string(),
            "file": location.map(|(file, _, _)| slash_path(file)),
            "line": location.map(|(_, line, _)| line),
            "column": location.map(|(_, _, column)| column),
        },
    })
}

fn finding_json(finding: &Finding, rules_url: &str) -> Value {
    let rule = rules::rule(finding.rule_id);
    json!({
        "rule": finding.rule_id,
        "severity": finding.severity.as_str(),
        "title": rule.map(|rule| rule.title),
        "file": slash_path(&finding.file),
        "line": finding.region.start.line,
        "column": finding.region.start.column,
        "end_line": finding.region.end.line,
        "end_column": finding.region.end.column,
        "subject": finding.subject,
        "message": finding.message,
        "fix": rule.map(|rule| rule.fix),
        "docs": rule.map(|rule| rule.docs_url(rules_url)),
    })
}
