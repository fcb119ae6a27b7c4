//! Attribute paths and the errors validation reports against them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A path to a resource attribute, e.g. `canary.steps[2].weight`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttributePath(pub Vec<PathStep>);

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathStep {
    /// A named attribute or block.
    Attribute(String),
    /// An element of a list.
    Index(usize),
    /// An element of a map, by its key (`tags["zdd:rollout"]`).
    Key(String),
}

pub(super) fn attr(name: &str) -> AttributePath {
    AttributePath(vec![PathStep::Attribute(name.to_string())])
}

impl AttributePath {
    /// This path followed by a named attribute.
    pub fn attr(&self, name: &str) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Attribute(name.to_string()));
        AttributePath(steps)
    }

    /// This path followed by a map key.
    pub fn key(&self, key: &str) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Key(key.to_string()));
        AttributePath(steps)
    }

    /// This path followed by a list index.
    pub fn index(&self, index: usize) -> AttributePath {
        let mut steps = self.0.clone();
        steps.push(PathStep::Index(index));
        AttributePath(steps)
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// One problem with the configuration, tied to an attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{path}: {message}")]
pub struct SpecError {
    /// Which kind of rule was broken, for callers that word or route errors by rule rather than
    /// by message text.
    pub kind: SpecErrorKind,
    pub path: AttributePath,
    pub message: String,
}

/// The kind of rule a [`SpecError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecErrorKind {
    /// A required value is missing or empty.
    Missing,
    /// Text that is not of the expected form: a name, an id, a duration, a version number.
    Malformed,
    /// A number outside its allowed range.
    OutOfRange,
    /// Values that contradict each other: sizes, canary weights, an attribute of another
    /// strategy, an ARN listed twice.
    Conflict,
    /// `$Latest` or `$Default` instead of a pinned version (invariant 7).
    FloatingVersion,
    /// A valid version number spelt otherwise than AWS reports it (`"07"` for `"7"`).
    VersionSpelling,
    /// A tag key starting with `zdd:`, which only zdd writes.
    ReservedTag,
    /// A `strategy` that is none of the known names.
    UnknownStrategy,
    /// `rolling` with no room to launch new instances before old ones leave.
    NoRoomToRoll,
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl SpecErrors {
    /// The messages as `path: message` strings.
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}
