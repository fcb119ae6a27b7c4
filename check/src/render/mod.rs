//! Output formats of `check`: text for people, JSON for scripts, SARIF for code scanning,
//! workflow annotations for GitHub Actions.

pub mod github;
pub mod json;
pub mod sarif;
pub mod text;

use std::path::Path;

use super::finding::Severity;
use super::rules::DEFAULT_RULES_URL;

/// What every format needs besides the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings<'a> {
    /// Findings below it are not listed (`--min-severity`).
    pub threshold: Severity,
    /// Where the rule pages are (`--rules-url`); each link is `<rules_url>/<RULE>.md`.
    pub rules_url: &'a str,
}

impl Settings<'static> {
    /// Links to the published rule pages.
    pub fn published(threshold: Severity) -> Settings<'static> {
        Settings {
            threshold,
            rules_url: DEFAULT_RULES_URL,
        }
    }
}

/// A path with `/` separators, as JSON and SARIF consumers expect on every platform.
pub fn slash_path(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
        .replacen("//", "/", 1)
}
