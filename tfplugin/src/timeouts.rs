//! The conventional `timeouts` block (see [`crate::Schema::timeouts`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zdd_duration::{DurationError, parse as parse_duration};

/// The values of a `timeouts` block. Put `timeouts: Option<Timeouts>` in a
/// state struct whose schema calls [`crate::Schema::timeouts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// `create = "30m"`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// `read = "5m"`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    /// `update = "30m"`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// `delete = "30m"`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
}

impl Timeouts {
    /// The create timeout, or `default` when unset.
    pub fn create_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, DurationError> {
        Self::pick(timeouts.and_then(|t| t.create.as_deref()), default)
    }

    /// The update timeout, or `default` when unset.
    pub fn update_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, DurationError> {
        Self::pick(timeouts.and_then(|t| t.update.as_deref()), default)
    }

    /// The delete timeout, or `default` when unset.
    pub fn delete_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, DurationError> {
        Self::pick(timeouts.and_then(|t| t.delete.as_deref()), default)
    }

    /// The read timeout, or `default` when unset.
    pub fn read_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, DurationError> {
        Self::pick(timeouts.and_then(|t| t.read.as_deref()), default)
    }

    fn pick(text: Option<&str>, default: Duration) -> Result<Duration, DurationError> {
        text.map_or(Ok(default), parse_duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terraform's grammar (Go's `time.ParseDuration`), as the rest of zdd reads it.
    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn falls_back_to_the_default() {
        let timeouts = Timeouts {
            create: Some("2m".into()),
            ..Timeouts::default()
        };
        let default = Duration::from_secs(7);
        assert_eq!(
            Timeouts::create_or(Some(&timeouts), default).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            Timeouts::delete_or(Some(&timeouts), default).unwrap(),
            default
        );
        assert_eq!(Timeouts::create_or(None, default).unwrap(), default);
    }
}
