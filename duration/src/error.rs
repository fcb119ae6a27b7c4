//! Why a text is not a duration, in words a Terraform user can act on.

/// A text that is not a duration; its message names the accepted units and gives examples.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot parse duration {input:?}: {reason}; expected a duration such as \"90s\", \"5m\", \
     \"1h30m\" or \"1.5h\" (units: ns, us, ms, s, m, h)"
)]
pub struct DurationError {
    input: String,
    reason: Reason,
}

impl DurationError {
    pub(crate) fn new(input: &str, reason: Reason) -> DurationError {
        DurationError {
            input: input.to_string(),
            reason,
        }
    }

    /// The text as given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

/// What is wrong with a duration text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("it is empty")]
    Empty,
    /// Go refuses them too; trimming would hide a quoting mistake in generated HCL.
    #[error("it has leading or trailing spaces")]
    Spaces,
    #[error("a duration here cannot be negative")]
    Negative,
    #[error("expected a number at {at:?}")]
    ExpectedNumber { at: String },
    #[error("missing unit after {number}")]
    MissingUnit { number: String },
    #[error("unknown unit {unit:?}")]
    UnknownUnit { unit: String },
    #[error("it is too large")]
    TooLarge,
}
