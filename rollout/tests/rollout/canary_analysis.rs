//! The canary analysis in the simulator (issue #14): slow canaries, error-prone canaries,
//! canaries with too little traffic, and healthy canaries under noisy stable baselines, each
//! across random seeds, soaks and fleet sizes, with the rollout invariants held throughout.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use zdd_rollout::Outcome;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, Timings, run};
use zdd_rollout::spec::{RawCanary, RolloutSpec};

/// Cases per property (`PROPTEST_CASES` overrides).
const CASES: u32 = 12;

/// A canary fleet of `desired` whose steps soak `soak`, with `edit` applied to its canary
/// block (the gates under test).
fn canary_spec(desired: u32, soak: u64, edit: impl FnOnce(&mut RawCanary)) -> RolloutSpec {
    let shape = FleetShape {
        desired,
        soak: Duration::from_secs(soak),
        ..FleetShape::default()
    };
    let mut raw = raw_spec(StrategyKind::Canary, &shape, 7);
    let Some(canary) = raw.canary.as_mut() else {
        panic!("a canary fixture has a canary block");
    };
    // The alarm is not under test: only the metrics decide.
    canary.alarm_names = None;
    edit(canary);
    match RolloutSpec::validate(&raw) {
        Ok(spec) => spec,
        Err(errors) => panic!("the fixture is valid: {errors}"),
    }
}

fn latency_gates(canary: &mut RawCanary) {
    canary.max_p99_latency = Some("500ms".into());
    canary.max_regression = Some(1.5);
}

/// The rollout invariants held (capacity floor, drain before terminate, ...) and no request
/// was dropped.
fn assert_invariants(report: &Report) -> Result<(), TestCaseError> {
    prop_assert!(
        report.violations.is_empty(),
        "violations {:#?}\n{}",
        report.violations,
        report.trace.join("\n")
    );
    prop_assert_eq!(report.dropped, 0, "{}", report.trace.join("\n"));
    Ok(())
}

fn rolled_back_reason(report: &Report) -> Result<String, TestCaseError> {
    match &report.outcome {
        Some(Outcome::RolledBack {
            serving: Some(1),
            reason,
            ..
        }) => Ok(reason.clone()),
        other => Err(TestCaseError::fail(format!(
            "expected a rollback to generation 1, got {other:?}\n{}",
            report.trace.join("\n")
        ))),
    }
}

fn fleet() -> impl Strategy<Value = (u64, u32, u64)> {
    (
        any::<u64>(),
        2u32..=5,                                       // desired
        prop_oneof![Just(60u64), Just(120), Just(300)], // soak
    )
}

#[test]
fn slow_canaries_always_roll_back_and_the_reason_says_latency() {
    let mut runner = crate::support::runner("slow canaries", CASES);
    let result = runner.run(
        &(fleet(), prop_oneof![Just(None), Just(Some(0.3))]),
        |((seed, desired, soak), stable_noise)| {
            let spec = canary_spec(desired, soak, latency_gates);
            let faults = Faults {
                new_latency_factor: Some(3.0),
                stable_p99_noise: stable_noise,
                ..Faults::default()
            };
            let report = run(
                &update("slow canary", seed, spec, Timings::default(), faults),
                &Kill::default(),
            );
            let reason = rolled_back_reason(&report)?;
            prop_assert!(reason.starts_with("p99 latency"), "{reason}");
            prop_assert!(reason.contains("during canary step 1 (5 %)"), "{reason}");
            prop_assert!(reason.contains("stable app-blue"), "{reason}");
            assert_invariants(&report)
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn a_slow_canary_fails_on_regression_alone_below_the_absolute_limit() {
    // 200 ms stable, 600 ms canary: under a 1 s limit, but 3× stable's (a 5-minute soak: a
    // regression needs 3 periods).
    let spec = canary_spec(3, 300, |canary| {
        canary.max_p99_latency = Some("1s".into());
        canary.max_regression = Some(1.5);
    });
    let faults = Faults {
        new_latency_factor: Some(3.0),
        ..Faults::default()
    };
    let report = run(
        &update("regression", 3, spec, Timings::default(), faults),
        &Kill::default(),
    );
    let reason = match rolled_back_reason(&report) {
        Ok(reason) => reason,
        Err(error) => panic!("{error}"),
    };
    assert!(
        reason.starts_with("p99 latency")
            && reason.contains("exceeds max_regression 1.5 × stable's"),
        "{reason}"
    );
}

#[test]
fn error_prone_canaries_roll_back() {
    let mut runner = crate::support::runner("error-prone canaries", CASES);
    let result = runner.run(
        &(fleet(), prop_oneof![Just(0.03), Just(0.1), Just(0.5)]),
        |((seed, desired, soak), ratio)| {
            let spec = canary_spec(desired, soak, latency_gates);
            let faults = Faults {
                new_5xx_ratio: ratio,
                ..Faults::default()
            };
            let report = run(
                &update("error-prone canary", seed, spec, Timings::default(), faults),
                &Kill::default(),
            );
            let reason = rolled_back_reason(&report)?;
            prop_assert!(reason.starts_with("5xx ratio"), "{reason}");
            assert_invariants(&report)
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Thin evidence: the canary group gets none (or 2 %) of what its weight promises.
fn thin_canary(seed: u64, policy: &str, share: f64) -> Report {
    let spec = canary_spec(3, 60, |canary| {
        latency_gates(canary);
        canary.insufficient_evidence = Some(policy.into());
        canary.max_soak = Some("10m".into());
    });
    let faults = Faults {
        canary_traffic_share: Some(share),
        ..Faults::default()
    };
    run(
        &update("thin canary", seed, spec, Timings::default(), faults),
        &Kill::default(),
    )
}

#[test]
fn canaries_with_too_little_traffic_are_never_promoted() {
    let mut runner = crate::support::runner("thin canaries", CASES);
    let result = runner.run(
        &(any::<u64>(), prop_oneof![Just(0.0), Just(0.02)]),
        |(seed, share)| {
            // extend: soaks on up to max_soak, then fails naming the evidence.
            let extended = thin_canary(seed, "extend", share);
            let reason = rolled_back_reason(&extended)?;
            prop_assert!(
                reason.starts_with("insufficient evidence: ")
                    && reason.contains("of 200 requests")
                    && reason.contains("after 10m (max_soak)"),
                "{reason}"
            );
            prop_assert!(
                extended
                    .trace
                    .iter()
                    .any(|line| line.contains("soak extended for evidence")),
                "{}",
                extended.trace.join("\n")
            );
            assert_invariants(&extended)?;
            // fail: fails when the soak's window is judged, long before max_soak.
            let failed = thin_canary(seed, "fail", share);
            let reason = rolled_back_reason(&failed)?;
            prop_assert!(
                reason.contains("(insufficient_evidence = \"fail\")"),
                "{reason}"
            );
            prop_assert!(failed.duration < extended.duration);
            assert_invariants(&failed)?;
            // pass: promoted, and the timeline says it passed on thin evidence.
            let passed = thin_canary(seed, "pass", share);
            prop_assert!(
                matches!(passed.outcome, Some(Outcome::Succeeded { generation: 2 })),
                "{:?}",
                passed.outcome
            );
            prop_assert!(
                passed
                    .trace
                    .iter()
                    .any(|line| line.contains("(insufficient_evidence = \"pass\")")),
                "{}",
                passed.trace.join("\n")
            );
            assert_invariants(&passed)
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn healthy_canaries_under_noisy_stable_baselines_are_promoted() {
    let mut runner = crate::support::runner("noisy baselines", CASES * 4);
    let result = runner.run(
        &(
            fleet(),
            prop_oneof![Just(0.1), Just(0.2), Just(0.3)],
            prop_oneof![Just(0.0), Just(0.001), Just(0.003)],
        ),
        |((seed, desired, soak), noise, baseline_5xx)| {
            let spec = canary_spec(desired, soak, latency_gates);
            let faults = Faults {
                stable_p99_noise: Some(noise),
                baseline_5xx_ratio: baseline_5xx,
                ..Faults::default()
            };
            let report = run(
                &update("noisy baseline", seed, spec, Timings::default(), faults),
                &Kill::default(),
            );
            prop_assert!(
                matches!(report.outcome, Some(Outcome::Succeeded { generation: 2 })),
                "false rollback: {:?}\n{}",
                report.outcome,
                report.trace.join("\n")
            );
            prop_assert_eq!(
                report
                    .trace
                    .iter()
                    .filter(|line| line.contains(" analysis: ") && line.ends_with(": pass"))
                    .count(),
                3,
                "{}",
                report.trace.join("\n")
            );
            assert_invariants(&report)
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// A gate alarm in `INSUFFICIENT_DATA` is no evidence either: plenty of requests, but the
/// alarm cannot vouch for them.
#[test]
fn an_alarm_without_data_is_not_evidence() {
    let run_with = |policy: &str| {
        let spec = canary_spec(3, 60, |canary| {
            canary.alarm_names = Some(vec!["web-5xx".into()]);
            canary.insufficient_evidence = Some(policy.into());
            canary.max_soak = Some("5m".into());
        });
        let faults = Faults {
            alarms_without_data: true,
            ..Faults::default()
        };
        run(
            &update("alarm without data", 9, spec, Timings::default(), faults),
            &Kill::default(),
        )
    };
    let extended = run_with("extend");
    let reason = rolled_back_reason(&extended).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        reason.starts_with("insufficient evidence: alarm web-5xx in INSUFFICIENT_DATA")
            && reason.contains("after 5m (max_soak)"),
        "{reason}"
    );
    let failed = run_with("fail");
    let reason = rolled_back_reason(&failed).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        reason.contains("alarm web-5xx in INSUFFICIENT_DATA")
            && reason.contains("(insufficient_evidence = \"fail\")"),
        "{reason}"
    );
    let passed = run_with("pass");
    assert!(
        matches!(passed.outcome, Some(Outcome::Succeeded { generation: 2 })),
        "{:?}\n{}",
        passed.outcome,
        passed.trace.join("\n")
    );
}

/// With no absolute latency limit, the regression against stable alone still catches a canary
/// 3× slower under a noisy stable baseline (soaks of 5 minutes: a regression needs 3 periods).
#[test]
fn slow_canaries_roll_back_on_regression_alone_under_noisy_baselines() {
    let mut runner = crate::support::runner("slow canaries, regression only", CASES);
    let result = runner.run(
        &(
            any::<u64>(),
            2u32..=5,
            prop_oneof![Just(None), Just(Some(0.2)), Just(Some(0.3))],
        ),
        |(seed, desired, stable_noise)| {
            let spec = canary_spec(desired, 300, |canary| {
                canary.max_regression = Some(1.5);
            });
            let faults = Faults {
                new_latency_factor: Some(3.0),
                stable_p99_noise: stable_noise,
                ..Faults::default()
            };
            let report = run(
                &update("slow canary", seed, spec, Timings::default(), faults),
                &Kill::default(),
            );
            let reason = rolled_back_reason(&report)?;
            prop_assert!(
                reason.starts_with("p99 latency")
                    && reason.contains("exceeds max_regression 1.5 × stable's"),
                "{reason}"
            );
            assert_invariants(&report)
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}
