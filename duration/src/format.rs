//! Writing: the shortest text in whole units that [`crate::parse`] reads back exactly.

use std::fmt::Write as _;
use std::time::Duration;

/// Formats a duration as Terraform users write them: `1h2m3s`, `10m`, `1s500ms`, `0s`.
/// Zero units are left out (`1h5s`, not Go's `1h0m5s`), which keeps the event traces and
/// messages zdd has always printed.
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    let seconds = duration.as_secs();
    let nanos = duration.subsec_nanos();
    let parts = [
        (seconds / 3_600, "h"),
        (seconds % 3_600 / 60, "m"),
        (seconds % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1_000 % 1_000), "us"),
        (u64::from(nanos % 1_000), "ns"),
    ];
    let mut text = String::new();
    for (value, unit) in parts.into_iter().filter(|(value, _)| *value > 0) {
        let _ = write!(text, "{value}{unit}");
    }
    text
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::parse;

    #[test]
    fn formats_like_terraform_users_write() {
        for (duration, expected) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1_500), "1s500ms"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(3_601), "1h1s"),
            (Duration::from_secs(5_400), "1h30m"),
            (Duration::from_secs(86_400), "24h"),
            (Duration::new(1, 2_003), "1s2us3ns"),
            (Duration::MAX, "5124095576030431h15s999ms999us999ns"),
        ] {
            assert_eq!(format(duration), expected, "{duration:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_a_formatted_duration_gives_it_back(seconds in any::<u64>(), nanos in 0u32..1_000_000_000) {
            let duration = Duration::new(seconds, nanos);
            prop_assert_eq!(parse(&format(duration)), Ok(duration));
        }

        #[test]
        fn parsing_a_formatted_short_duration_gives_it_back(millis in 0u64..10 * 24 * 3_600_000) {
            let duration = Duration::from_millis(millis);
            prop_assert_eq!(parse(&format(duration)), Ok(duration));
        }
    }
}
