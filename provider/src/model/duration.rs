//! Durations as users write them in HCL: `"90s"`, `"5m"`, `"1h30m"`, `"1.5h"`, `"0s"`, in
//! Terraform's grammar ([`zdd_duration`], shared with the engine and tfplugin's timeouts).

use std::time::Duration;

pub use zdd_duration::format as format_duration;

/// Parses a duration string; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    zdd_duration::parse(text).map_err(|error| error.to_string())
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

    /// The engine, tfplugin's `timeouts` and the provider read durations alike (issue #12: the
    /// engine refused `1.5h`, humantime accepted `1d`, tfplugin accepted `1.5h`).
    #[test]
    fn engine_timeouts_and_provider_agree() {
        let accepted = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("90s", Duration::from_secs(90)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5h", Duration::from_secs(5400)),
            ("2h45m", Duration::from_secs(9900)),
            ("300ms", Duration::from_millis(300)),
            ("1.5s", Duration::from_millis(1500)),
            ("500us", Duration::from_micros(500)),
        ];
        for (text, expected) in accepted {
            assert_eq!(parse_duration(text), Ok(expected), "provider {text:?}");
            assert_eq!(
                zdd_rollout::parse_duration(text),
                Ok(expected),
                "engine {text:?}"
            );
            assert_eq!(
                zdd_tfplugin::parse_duration(text).ok(),
                Some(expected),
                "timeouts {text:?}"
            );
        }
        for text in ["", "1", "1d", "-1s", " 1s", "5min", "1 h", "ten minutes"] {
            assert!(parse_duration(text).is_err(), "provider {text:?}");
            assert!(
                zdd_rollout::parse_duration(text).is_err(),
                "engine {text:?}"
            );
            assert!(
                zdd_tfplugin::parse_duration(text).is_err(),
                "timeouts {text:?}"
            );
        }
    }
}
