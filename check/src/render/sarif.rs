//! SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`). Relative paths
//! are given against `%SRCROOT%`, so run `check` from the repository root.

use std::path::Path;

use serde_json::{Value, json};

use super::super::error::CheckError;
use super::super::finding::Finding;
use super::super::report::Report;
use super::super::rules::{self, RULES};
use super::{Settings, slash_path};

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(report: &Report, settings: &Settings<'_>) -> Value {
    let threshold = settings.threshold;
    let mut results: Vec<Value> = report
        .at_or_above(threshold)
        .map(|f| result(f, None))
        .collect();
    results.extend(
        report
            .suppressed
            .iter()
            .filter(|entry| entry.finding.severity >= threshold)
            .map(|entry| result(&entry.finding, Some(&entry.reason))),
    );
    log(
        results,
        json!([{ "executionSuccessful": true }]),
        settings.rules_url,
    )
}

pub fn render_error(error: &CheckError, rules_url: &str) -> Value {
    let mut notification = json!({
        "level": "error",
        "message": { "text": error.to_string() },
    });
    if let (Some((file, line, column)), Some(object)) =
        (error.location(), notification.as_object_mut())
    {
        object.insert(
            "locations".to_owned(),
            json!([physical_location(file, line, column, line, column)]),
        );
    }
    log(
        Vec::new(),
        json!([{ "executionSuccessful": false, "toolExecutionNotifications": [notification] }]),
        rules_url,
    )
}

fn log(results: Vec<Value>, invocations: Value, rules_url: &str) -> Value {
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": driver(rules_url) },
            "invocations": invocations,
            "results": results,
        }],
    })
}

fn driver(rules_url: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let url = rule.docs_url(rules_url);
            json!({
                "id": rule.id,
                "name": pascal_case(rule.title),
                "shortDescription": { "text": rule.title },
                "fullDescription": { "text": rule.why },
                "helpUri": url,
                "help": {
                    "text": format!("{} See {url}.", rule.fix),
                    "markdown": format!("{}\n\nSee [{}]({url}).", rule.fix, rule.id),
                },
                "defaultConfiguration": { "level": rule.severity.as_str() },
                "properties": { "tags": ["terraform", "zero-downtime"] },
            })
        })
        .collect();
    json!({
        "name": "zdd-guard",
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    })
}

fn result(finding: &Finding, suppression_reason: Option<&str>) -> Value {
    let rule_index = RULES.iter().position(|rule| rule.id == finding.rule_id);
    let fix = rules::rule(finding.rule_id).map_or("", |rule| rule.fix);
    let mut value = json!({
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": finding.severity.as_str(),
        "message": { "text": format!("{}. Fix: {fix}", finding.message) },
        "locations": [physical_location(
            &finding.file,
            finding.region.start.line,
            finding.region.start.column,
            finding.region.end.line,
            finding.region.end.column,
        )],
    });
    if let (Some(reason), Some(object)) = (suppression_reason, value.as_object_mut()) {
        object.insert(
            "suppressions".to_owned(),
            json!([{ "kind": "inSource", "justification": reason }]),
        );
    }
    value
}

fn physical_location(
    file: &Path,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
) -> Value {
    let mut artifact = json!({ "uri": artifact_uri(file) });
    if file.is_relative()
        && let Some(object) = artifact.as_object_mut()
    {
        object.insert("uriBaseId".to_owned(), json!("%SRCROOT%"));
    }
    json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {
                "startLine": line,
                "startColumn": column,
                "endLine": end_line,
                "endColumn": end_column,
            },
        },
    })
}

/// A URI reference for `file`: relative paths stay relative, absolute ones become `file://`.
fn artifact_uri(file: &Path) -> String {
    let encoded = percent_encode(&slash_path(file));
    if file.is_absolute() {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}
