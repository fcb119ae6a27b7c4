//! Fuzzing the grammar (issue #15): arbitrary text, valid durations written every way the
//! grammar allows, and valid texts mutated byte by byte. `parse` never panics; what it accepts
//! formats to a text that parses back to the same value; what it refuses comes back as an error
//! that quotes the input and says what is wrong.
//!
//! `make test` replays the same cases on every run (a fixed seed per test); `make fuzz` raises
//! `PROPTEST_CASES` and sets `ZDD_PROPTEST_SEED=random` (a number replays a run).

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::{DurationError, Reason, format, parse};

/// Cases per test in `make test`; these are cheap, so a CI run covers many.
const CASES: u32 = 2_000;

/// A runner of [`CASES`] cases (`PROPTEST_CASES` overrides) seeded from `ZDD_PROPTEST_SEED`, or
/// from `name` when unset, so `make test` only fails because the code changed.
fn runner(name: &str) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let seed = std::env::var("ZDD_PROPTEST_SEED").unwrap_or_else(|_| name.to_string());
    if seed == "random" {
        return TestRunner::new(config);
    }
    let bytes: Vec<u8> = seed
        .bytes()
        .chain(std::iter::repeat(0x5a))
        .take(32)
        .collect();
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// The properties every outcome of `parse(text)` must have.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(duration) => {
            let formatted = format(duration);
            prop_assert_eq!(
                parse(&formatted),
                Ok(duration),
                "{:?} -> {:?}",
                text,
                formatted
            );
        }
        Err(error) => check_error(text, &error)?,
    }
    Ok(())
}

/// An error quotes the input and points at the part that is wrong, which is in the input.
fn check_error(text: &str, error: &DurationError) -> Result<(), TestCaseError> {
    prop_assert_eq!(error.input(), text);
    let message = error.to_string();
    prop_assert!(message.contains(&format!("{text:?}")), "{message}");
    match error.reason() {
        Reason::Empty => prop_assert!(text.is_empty()),
        Reason::Spaces => prop_assert_ne!(text.trim(), text),
        Reason::Negative => prop_assert!(text.starts_with('-')),
        Reason::ExpectedNumber { at } => prop_assert!(text.ends_with(at.as_str()), "{at:?}"),
        Reason::MissingUnit { number } => prop_assert!(text.ends_with(number.as_str())),
        Reason::UnknownUnit { unit } => {
            prop_assert!(!unit.is_empty() && text.contains(unit.as_str()))
        }
        Reason::TooLarge => prop_assert!(text.bytes().filter(u8::is_ascii_digit).count() >= 10),
    }
    Ok(())
}

const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A duration written as components in any order and repetition (`1m1m`, `5.s`, `.5h`,
/// `007s`), with the value it stands for in nanoseconds (fractions kept exact).
fn written_duration() -> impl Strategy<Value = (String, u128)> {
    let component = (
        0u64..100_000,
        prop::option::of("[0-9]{0,4}"),
        0usize..UNITS.len(),
        0usize..3,
    )
        .prop_filter_map(
            "a component needs a digit",
            |(whole, fraction, unit, zeros)| {
                let (unit, nanos) = UNITS[unit];
                let whole_text = if whole == 0 && fraction.as_deref().is_some_and(|f| !f.is_empty())
                {
                    String::new()
                } else {
                    format!("{}{whole}", "0".repeat(zeros))
                };
                let fraction_nanos = match fraction.as_deref() {
                    Some(digits) if !digits.is_empty() => {
                        let value: u128 = digits.parse().ok()?;
                        value * nanos / 10u128.pow(digits.len() as u32)
                    }
                    _ => 0,
                };
                let text = match &fraction {
                    Some(digits) => format!("{whole_text}.{digits}{unit}"),
                    None => format!("{whole_text}{unit}"),
                };
                if whole_text.is_empty() && fraction.as_deref().is_none_or(str::is_empty) {
                    return None;
                }
                Some((text, u128::from(whole) * nanos + fraction_nanos))
            },
        );
    (any::<bool>(), prop::collection::vec(component, 1..5)).prop_map(|(plus, parts)| {
        let sign = if plus { "+" } else { "" };
        let text: String = parts.iter().map(|(text, _)| text.as_str()).collect();
        let nanos = parts.iter().map(|(_, nanos)| nanos).sum();
        (format!("{sign}{text}"), nanos)
    })
}

#[test]
fn arbitrary_text_never_panics_and_errors_say_what_is_wrong() {
    let text = prop_oneof![
        any::<String>(),
        "[-+ .0-9a-zµμ]{0,24}",
        // Huge numbers: overflow of every unit and of the sum.
        "[0-9]{15,60}(\\.[0-9]{0,40})?(ns|us|ms|s|m|h)([0-9]{15,30}h)?",
    ];
    runner("duration::arbitrary_text")
        .run(&text, |text| check(&text))
        .unwrap();
}

#[test]
fn every_written_form_parses_to_its_value_and_formats_back() {
    runner("duration::written_forms")
        .run(&written_duration(), |(text, nanos)| {
            let expected = Duration::new(
                u64::try_from(nanos / 1_000_000_000).unwrap(),
                u32::try_from(nanos % 1_000_000_000).unwrap(),
            );
            prop_assert_eq!(parse(&text), Ok(expected), "{:?}", text);
            check(&text)
        })
        .unwrap();
}

#[test]
fn mutated_durations_never_panic() {
    let mutated = (
        written_duration(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..3), 1..4),
    )
        .prop_map(|((text, _), edits)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, replacement, kind) in edits {
                let at = at.index(chars.len() + 1);
                match kind {
                    0 if at < chars.len() => chars[at] = replacement,
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, replacement),
                }
            }
            chars.into_iter().collect::<String>()
        });
    runner("duration::mutated")
        .run(&mutated, |text| check(&text))
        .unwrap();
}

#[test]
fn the_largest_values_round_trip_and_one_more_nanosecond_is_too_large() {
    let near_max = (0u64..1_000, 0u32..1_000_000_000)
        .prop_map(|(seconds, nanos)| Duration::MAX - Duration::new(seconds, nanos));
    runner("duration::near_max")
        .run(&near_max, |duration| {
            let text = format(duration);
            prop_assert_eq!(parse(&text), Ok(duration));
            let beyond = format!("{text}{}ns", 1_000_000_000u64 * 1_000 + 1);
            prop_assert_eq!(
                parse(&beyond).map_err(|e| e.reason().clone()),
                Err(Reason::TooLarge)
            );
            Ok(())
        })
        .unwrap();
}
