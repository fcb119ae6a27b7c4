//! What a rule reports: severity, location, message, and the rule it came from.

use std::path::PathBuf;

use super::source::Region;

/// How bad a finding is; `--min-severity` compares with this order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding of one rule at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: &'static str,
    pub severity: Severity,
    pub file: PathBuf,
    pub region: Region,
    /// The configuration object the finding is about, e.g. `aws_autoscaling_group.web`.
    pub subject: String,
    pub message: String,
}

/// A finding silenced by a `# zdd:ignore` comment, kept for JSON and SARIF output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressedFinding {
    pub finding: Finding,
    pub reason: String,
}
