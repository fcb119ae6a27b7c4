//! The human-readable report: one `file:line:column: severity[RULE]: message` line per finding,
//! followed by how to fix it, then a summary line.

use std::fmt::Write as _;

use super::super::error::CheckError;
use super::super::finding::Severity;
use super::super::report::Report;
use super::super::rules;
use super::Settings;

pub fn render(report: &Report, settings: &Settings<'_>) -> String {
    let mut out = String::new();
    for finding in report.at_or_above(settings.threshold) {
        let _ = writeln!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            finding.file.display(),
            finding.region.start.line,
            finding.region.start.column,
            finding.severity.as_str(),
            finding.rule_id,
            finding.message
        );
        if let Some(rule) = rules::rule(finding.rule_id) {
            let _ = writeln!(out, "  fix: {}", rule.fix);
            let _ = writeln!(out, "  see: {}", rule.docs_url(settings.rules_url));
        }
    }
    out.push_str(&summary(report, settings.threshold));
    out
}

/// The last line: what was shown, what was below the threshold, what was suppressed.
pub fn summary(report: &Report, threshold: Severity) -> String {
    let mut out = String::new();
    let shown = report.at_or_above(threshold).count();
    let errors = report
        .at_or_above(threshold)
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = shown - errors;
    let files = plural(report.files_checked, "file");
    if shown == 0 {
        let _ = write!(out, "zdd-guard check: no findings in {files}");
    } else {
        let _ = write!(
            out,
            "zdd-guard check: {}, {} in {files}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
    let hidden = report.findings.len() - shown;
    if hidden > 0 {
        let _ = write!(
            out,
            "; {} below --min-severity not shown",
            plural(hidden, "finding")
        );
    }
    if !report.suppressed.is_empty() {
        let _ = write!(
            out,
            "; {} suppressed by zdd:ignore",
            plural(report.suppressed.len(), "finding")
        );
    }
    out.push('\n');
    out
}

pub fn render_error(error: &CheckError) -> String {
    format!("zdd-guard check: error: {error}\n")
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
