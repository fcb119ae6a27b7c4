//! Diagnostics on attribute paths, independent of the protocol layer's representation.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathStep {
    Attribute(String),
    Index(usize),
    Key(String),
}

/// A path to an attribute, e.g. `canary.steps[2].weight`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root(attribute: &str) -> AttrPath {
        AttrPath(vec![PathStep::Attribute(attribute.to_string())])
    }

    pub fn attribute(mut self, attribute: &str) -> AttrPath {
        self.0.push(PathStep::Attribute(attribute.to_string()));
        self
    }

    pub fn index(mut self, index: usize) -> AttrPath {
        self.0.push(PathStep::Index(index));
        self
    }

    pub fn key(mut self, key: &str) -> AttrPath {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if position == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: Some(path),
        }
    }
}
