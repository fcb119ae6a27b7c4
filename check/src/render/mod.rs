//! Output formats of `check`: text for people, JSON for scripts, SARIF for code scanning.

pub mod json;
pub mod sarif;
pub mod text;

use std::path::Path;

/// A path with `/` separators, as JSON and SARIF consumers expect on every platform.
pub fn slash_path(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
        .replacen("//", "/", 1)
}
