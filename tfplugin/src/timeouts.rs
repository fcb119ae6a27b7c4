//! The conventional `timeouts` block (see [`crate::Schema::timeouts`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

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

/// A duration string that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {0:?}: use a number and a unit (ms, s, m, h), e.g. \"1h30m\"")]
pub struct InvalidDuration(pub String);

impl Timeouts {
    /// The create timeout, or `default` when unset.
    pub fn create_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, InvalidDuration> {
        Self::pick(timeouts.and_then(|t| t.create.as_deref()), default)
    }

    /// The update timeout, or `default` when unset.
    pub fn update_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, InvalidDuration> {
        Self::pick(timeouts.and_then(|t| t.update.as_deref()), default)
    }

    /// The delete timeout, or `default` when unset.
    pub fn delete_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, InvalidDuration> {
        Self::pick(timeouts.and_then(|t| t.delete.as_deref()), default)
    }

    /// The read timeout, or `default` when unset.
    pub fn read_or(
        timeouts: Option<&Timeouts>,
        default: Duration,
    ) -> Result<Duration, InvalidDuration> {
        Self::pick(timeouts.and_then(|t| t.read.as_deref()), default)
    }

    fn pick(text: Option<&str>, default: Duration) -> Result<Duration, InvalidDuration> {
        text.map_or(Ok(default), parse_duration)
    }
}

/// Parses a Go-style duration (`"90s"`, `"1h30m"`, `"250ms"`, `"1.5h"`).
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_string());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

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
