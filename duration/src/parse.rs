//! Reading: Go's `time.ParseDuration`, computed exactly in integer nanoseconds.

use std::time::Duration;

use crate::error::{DurationError, Reason};

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// The longest duration [`Duration`] holds, in nanoseconds.
const MAX_NANOS: u128 = u64::MAX as u128 * NANOS_PER_SECOND + (NANOS_PER_SECOND - 1);

/// Fraction digits that can still change a whole nanosecond of an hour (3.6e12 ns); later
/// digits are read and ignored, as Go does once its fraction stops fitting.
const MAX_FRACTION_DIGITS: u32 = 20;

/// Reads a duration in Terraform's grammar: `"90s"`, `"1h30m"`, `"1.5h"`, `"250ms"`, `"0"`.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let refuse = |reason| DurationError::new(text, reason);
    if text.is_empty() {
        return Err(refuse(Reason::Empty));
    }
    if text.trim() != text {
        return Err(refuse(Reason::Spaces));
    }
    let unsigned = match text.as_bytes()[0] {
        b'-' => return Err(refuse(Reason::Negative)),
        b'+' => &text[1..],
        _ => text,
    };
    if unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    if unsigned.is_empty() {
        return Err(refuse(Reason::ExpectedNumber { at: String::new() }));
    }
    let mut total: u128 = 0;
    let mut rest = unsigned;
    while !rest.is_empty() {
        let (nanos, after) = component(rest).map_err(refuse)?;
        total = total
            .checked_add(nanos)
            .filter(|&total| total <= MAX_NANOS)
            .ok_or_else(|| refuse(Reason::TooLarge))?;
        rest = after;
    }
    let seconds = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| refuse(Reason::TooLarge))?;
    let nanos = u32::try_from(total % NANOS_PER_SECOND).map_err(|_| refuse(Reason::TooLarge))?;
    Ok(Duration::new(seconds, nanos))
}

/// One `<number><unit>` at the start of `text`: its nanoseconds and the text after it.
fn component(text: &str) -> Result<(u128, &str), Reason> {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number = &text[..number_len];
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(Reason::ExpectedNumber {
            at: text.to_string(),
        });
    }
    let rest = &text[number_len..];
    let unit_len = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let unit_nanos: u128 = match &rest[..unit_len] {
        "" => {
            return Err(Reason::MissingUnit {
                number: number.to_string(),
            });
        }
        "ns" => 1,
        // U+00B5 (micro sign) and U+03BC (Greek small letter mu), as Go accepts both.
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        unit => {
            return Err(Reason::UnknownUnit {
                unit: unit.to_string(),
            });
        }
    };
    let whole_nanos = digits_value(whole)
        .and_then(|value| value.checked_mul(unit_nanos))
        .ok_or(Reason::TooLarge)?;
    let kept = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS as usize)];
    let fraction_nanos = match digits_value(kept) {
        // Truncated towards zero, as Go does.
        Some(value) => value * unit_nanos / 10u128.pow(kept.len() as u32),
        None => return Err(Reason::TooLarge),
    };
    let nanos = whole_nanos
        .checked_add(fraction_nanos)
        .ok_or(Reason::TooLarge)?;
    Ok((nanos, &rest[unit_len..]))
}

/// The value of a run of ASCII digits (`0` for none); `None` when it does not fit.
fn digits_value(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |value, digit| {
        value.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn accepts_terraform_durations() {
        for (text, expected) in [
            ("0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("0h0m", Duration::ZERO),
            ("90s", 90 * SECOND),
            ("5m", 300 * SECOND),
            ("1h30m", 5_400 * SECOND),
            ("1.5h", 5_400 * SECOND),
            ("2h45m", 9_900 * SECOND),
            ("300ms", Duration::from_millis(300)),
            ("1s500ms", Duration::from_millis(1_500)),
            ("1.5s", Duration::from_millis(1_500)),
            (".5s", Duration::from_millis(500)),
            ("5.s", 5 * SECOND),
            ("+5s", 5 * SECOND),
            ("1m1m", 120 * SECOND),
            ("100ns", Duration::from_nanos(100)),
            ("2us", Duration::from_micros(2)),
            ("2\u{b5}s", Duration::from_micros(2)),
            ("2\u{3bc}s", Duration::from_micros(2)),
            ("1.0000000015s", Duration::new(1, 1)),
            ("0.1ns", Duration::ZERO),
            ("24h", 86_400 * SECOND),
            ("168h", 604_800 * SECOND),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_terraform_refuses_and_says_why() {
        for (text, reason) in [
            ("", Reason::Empty),
            (" 1s", Reason::Spaces),
            ("1s ", Reason::Spaces),
            ("-1s", Reason::Negative),
            ("-0", Reason::Negative),
            ("1", Reason::MissingUnit { number: "1".into() }),
            (
                "00",
                Reason::MissingUnit {
                    number: "00".into(),
                },
            ),
            (
                "1.5",
                Reason::MissingUnit {
                    number: "1.5".into(),
                },
            ),
            (
                "1h30",
                Reason::MissingUnit {
                    number: "30".into(),
                },
            ),
            ("1d", Reason::UnknownUnit { unit: "d".into() }),
            ("5min", Reason::UnknownUnit { unit: "min".into() }),
            ("5 m", Reason::UnknownUnit { unit: " m".into() }),
            ("m5", Reason::ExpectedNumber { at: "m5".into() }),
            (".s", Reason::ExpectedNumber { at: ".s".into() }),
            (
                "1.2.3s",
                Reason::ExpectedNumber {
                    at: "1.2.3s".into(),
                },
            ),
            ("+", Reason::ExpectedNumber { at: String::new() }),
            (
                "ten minutes",
                Reason::ExpectedNumber {
                    at: "ten minutes".into(),
                },
            ),
            (
                "99999999999999999999999999999999999999999h",
                Reason::TooLarge,
            ),
            ("5124095576030432h", Reason::TooLarge),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.reason(), &reason, "{text:?}");
            assert_eq!(error.input(), text);
        }
    }

    #[test]
    fn accepts_the_largest_duration_and_nothing_above() {
        let max = "5124095576030431h0m15s999ms999us999ns";
        assert_eq!(parse(max), Ok(Duration::MAX));
        assert_eq!(
            parse("5124095576030431h0m16s").unwrap_err().reason(),
            &Reason::TooLarge
        );
    }

    #[test]
    fn the_message_quotes_the_input_and_names_the_units() {
        let message = parse("1d").unwrap_err().to_string();
        assert_eq!(
            message,
            "cannot parse duration \"1d\": unknown unit \"d\"; expected a duration such as \
             \"90s\", \"5m\", \"1h30m\" or \"1.5h\" (units: ns, us, ms, s, m, h)"
        );
    }
}
