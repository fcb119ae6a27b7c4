//! Runs every rule over every module and applies suppressions: the pure half of `check`.

use super::finding::{Finding, Severity, SuppressedFinding};
use super::model::{Module, ModuleView};
use super::rules;
use super::suppress;

/// Everything `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub files_checked: usize,
    pub modules_checked: usize,
    /// Active findings, sorted by file, line, column, rule.
    pub findings: Vec<Finding>,
    pub suppressed: Vec<SuppressedFinding>,
}

impl Report {
    /// Active findings at or above `threshold`.
    pub fn at_or_above(&self, threshold: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |finding| finding.severity >= threshold)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }
}

/// Analyses parsed modules.
pub fn analyze(modules: &[Module]) -> Report {
    let views: Vec<ModuleView<'_>> = modules.iter().map(ModuleView::new).collect();
    let findings = rules::check_modules(&views);
    let files: Vec<_> = modules.iter().flat_map(|module| &module.files).collect();
    let (mut findings, mut suppressed) = suppress::apply(&files, findings);
    let order = |finding: &Finding| {
        (
            finding.file.clone(),
            finding.region.start,
            finding.rule_id,
            finding.message.clone(),
        )
    };
    findings.sort_by_key(order);
    findings.dedup();
    suppressed.sort_by_key(|entry| order(&entry.finding));
    Report {
        files_checked: files.len(),
        modules_checked: modules.len(),
        findings,
        suppressed,
    }
}
