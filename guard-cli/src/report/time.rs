//! The report's clock arithmetic: RFC 3339 timestamps from the state as seconds since the Unix
//! epoch, and durations as a person reads them. Pure: nothing here reads the clock.

use std::time::UNIX_EPOCH;

/// Seconds since the Unix epoch (fractions kept: a sample and a step may share a second).
pub type Seconds = f64;

/// `2026-12-02T19:00:00Z` (RFC 3339, as the provider writes every time) as [`Seconds`];
/// `None` for anything else, which the report skips with a note.
pub fn parse(text: &str) -> Option<Seconds> {
    let time = humantime::parse_rfc3339(text.trim()).ok()?;
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => Some(after.as_secs_f64()),
        Err(before) => Some(-before.duration().as_secs_f64()),
    }
}

/// A time of day in UTC, `19:04:05`, for axis hints and tooltips.
pub fn clock(at: Seconds) -> String {
    let whole = at.floor();
    if !whole.is_finite() || whole < 0.0 {
        return "?".to_string();
    }
    // Rendered through humantime, then cut to the time of day: no calendar code of our own.
    let time = UNIX_EPOCH + std::time::Duration::from_secs_f64(whole);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    text.get(11..19).map_or(text.clone(), str::to_string)
}

/// `0s`, `45s`, `2m`, `2m30s`, `1h5m`, `1h0m7s`: an offset or a duration, whole seconds.
pub fn span(seconds: Seconds) -> String {
    if !seconds.is_finite() {
        return "?".to_string();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let total = seconds.abs().round() as u64;
    let (hours, minutes, secs) = (total / 3600, (total % 3600) / 60, total % 60);
    let text = match (hours, minutes, secs) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_providers_timestamps_and_refuses_the_rest() {
        assert_eq!(parse("1970-01-01T00:01:40Z"), Some(100.0));
        assert_eq!(parse("2026-12-02T19:00:00.5Z"), Some(1_796_238_000.5));
        for bad in [
            "",
            "yesterday",
            "2026-12-02 19:00",
            "2026-13-02T19:00:00Z",
            "</svg>",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clock_and_span_read_as_a_person_writes_them() {
        assert_eq!(clock(parse("2026-12-02T19:04:05Z").unwrap()), "19:04:05");
        assert_eq!(span(0.0), "0s");
        assert_eq!(span(45.0), "45s");
        assert_eq!(span(150.0), "2m30s");
        assert_eq!(span(120.0), "2m");
        assert_eq!(span(3907.0), "1h5m7s");
        assert_eq!(span(3900.0), "1h5m");
        assert_eq!(span(-30.0), "-30s");
    }
}
