//! Shared by the property tests: how many cases, and which random scenarios.
//!
//! `make test` replays the same scenarios on every run (a fixed seed per test), so a CI run
//! can only fail because the code changed. To explore new ones, set `ZDD_PROPTEST_SEED` to a
//! number (replayable) or to `random`, and `PROPTEST_CASES` to the number of cases.

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A runner of `cases` cases (`PROPTEST_CASES` overrides) seeded from `ZDD_PROPTEST_SEED`, or
/// from `name` when unset.
pub fn runner(name: &str, default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let seed = std::env::var("ZDD_PROPTEST_SEED").unwrap_or_else(|_| name.to_string());
    if seed == "random" {
        return TestRunner::new(config);
    }
    // ChaCha takes a 32-byte seed: the seed text, repeated.
    let bytes: Vec<u8> = seed
        .bytes()
        .chain(std::iter::repeat(0x5a))
        .take(32)
        .collect();
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}
