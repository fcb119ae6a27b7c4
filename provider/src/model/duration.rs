//! Durations as users write them in HCL: `"90s"`, `"5m"`, `"1h30m"`, `"0s"`.

use std::time::Duration;

/// Parses a duration string; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(
            "expected a duration such as \"90s\", \"5m\" or \"1h30m\", got an empty string".into(),
        );
    }
    humantime::parse_duration(trimmed).map_err(|err| {
        format!("expected a duration such as \"90s\", \"5m\" or \"1h30m\", got {text:?} ({err})")
    })
}

/// Formats a duration the way [`parse_duration`] reads it back.
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_terraform_style_durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn refuses_garbage_with_a_hint() {
        for bad in ["", "soon", "5", "-1m", "5 parsecs"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("expected a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for secs in [0, 1, 59, 60, 300, 5400, 86_400] {
            let duration = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }
}
