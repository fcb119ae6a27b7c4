//! The bake (issue #14): after 100 % of the traffic moved, the old generation stays detached
//! but running at full size; a bake alarm sends the rollout back to it with no instance booted,
//! the capacity floor held and no request dropped; a passing bake deletes it and reports the
//! extra instance-minutes.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use zdd_rollout::Outcome;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, Timings, run};
use zdd_rollout::spec::{RawBake, RolloutSpec};

const BAKE: Duration = Duration::from_secs(600);

fn baked_spec(kind: StrategyKind, desired: u32) -> RolloutSpec {
    let shape = FleetShape {
        desired,
        soak: Duration::from_secs(120),
        ..FleetShape::default()
    };
    let mut raw = raw_spec(kind, &shape, 7);
    raw.bake = Some(RawBake {
        duration: Some("10m".into()),
        alarm_names: Some(vec!["web-bake".into()]),
    });
    match RolloutSpec::validate(&raw) {
        Ok(spec) => spec,
        Err(errors) => panic!("the fixture is valid: {errors}"),
    }
}

fn trace(report: &Report) -> String {
    report.trace.join("\n")
}

/// When the bake began (the `baking` phase's line), from the start.
fn bake_start(report: &Report) -> Option<Duration> {
    let line = report
        .trace
        .iter()
        .find(|line| line.contains(" phase: baking"))?;
    let at = line.split_whitespace().next()?.trim_start_matches('+');
    zdd_rollout::parse_duration(at).ok()
}

#[test]
fn a_passing_bake_keeps_the_old_generation_then_deletes_it_and_reports_the_cost() {
    for kind in [StrategyKind::BlueGreen, StrategyKind::Canary] {
        let spec = baked_spec(kind, 3);
        let report = run(
            &update("bake", 5, spec, Timings::default(), Faults::default()),
            &Kill::default(),
        );
        assert!(
            matches!(report.outcome, Some(Outcome::Succeeded { generation: 2 })),
            "{:?}\n{}",
            report.outcome,
            trace(&report)
        );
        let text = trace(&report);
        let baking = text.find("phase: baking").unwrap_or(usize::MAX);
        let deleting = text.find("phase: deleting_old").unwrap_or(0);
        assert!(baking < deleting, "bakes before deleting:\n{text}");
        // Blue/green bakes exactly its 10 minutes; a canary bake ends when its last metric
        // period is complete and judged (up to a period and a publish delay later).
        let passed = match kind {
            StrategyKind::BlueGreen => text.contains(
                "bake: bake passed; web-g1 kept 3 instances running detached for 10m: 30.0 extra instance-minutes",
            ),
            _ => text.contains("bake: bake passed; web-g1 kept 3 instances running detached for 1")
                && text.contains("extra instance-minutes"),
        };
        assert!(passed, "{text}");
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
        assert_eq!(report.dropped, 0);
    }
}

#[test]
fn a_bake_alarm_returns_to_the_old_generation_without_a_launch() {
    let mut runner = crate::support::runner("bake alarm", 12);
    let result = runner.run(
        &(
            any::<u64>(),
            prop_oneof![Just(StrategyKind::BlueGreen), Just(StrategyKind::Canary)],
            2u32..=5,
            0u64..BAKE.as_secs(),
        ),
        |(seed, kind, desired, into_bake)| {
            let spec = baked_spec(kind, desired);
            // Where the bake starts in this seed's fault-free run.
            let calm = run(
                &update(
                    "bake",
                    seed,
                    spec.clone(),
                    Timings::default(),
                    Faults::default(),
                ),
                &Kill::default(),
            );
            let Some(started) = bake_start(&calm) else {
                return Err(TestCaseError::fail(format!(
                    "never baked:\n{}",
                    trace(&calm)
                )));
            };
            let faults = Faults {
                bake_alarm_at: Some(started + Duration::from_secs(into_bake)),
                ..Faults::default()
            };
            let report = run(
                &update("bake alarm", seed, spec, Timings::default(), faults),
                &Kill::default(),
            );
            let Some(Outcome::RolledBack {
                serving: Some(1),
                reason,
                ..
            }) = &report.outcome
            else {
                return Err(TestCaseError::fail(format!(
                    "{:?}\n{}",
                    report.outcome,
                    trace(&report)
                )));
            };
            prop_assert!(
                reason.starts_with("bake alarm web-bake went into ALARM during the bake"),
                "{reason}"
            );
            // No instance booted for the rollback: the only launches are the new generation's.
            prop_assert!(
                report
                    .launches
                    .iter()
                    .all(|(_, generation)| *generation == 2),
                "launches {:?}\n{}",
                report.launches,
                trace(&report)
            );
            prop_assert_eq!(report.launches.len(), desired as usize);
            prop_assert!(
                report
                    .trace
                    .iter()
                    .any(|line| line.contains("bake: bake failed (bake alarm web-bake")),
                "{}",
                trace(&report)
            );
            // Capacity floor, drain before terminate, ...: the simulator's invariant checks.
            prop_assert!(
                report.violations.is_empty(),
                "{:#?}\n{}",
                report.violations,
                trace(&report)
            );
            prop_assert_eq!(report.dropped, 0, "{}", trace(&report));
            Ok(())
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Killed during the bake (with or without the checkpoint), or aborted at any step: the
/// rollout resumes the bake (a lost checkpoint bakes again from the resume) or rolls back to
/// the old generation, holding every invariant, never launching an instance of it.
#[test]
fn a_killed_or_aborted_bake_resumes_or_rolls_back_holding_the_invariants() {
    let mut runner = crate::support::runner("bake kills", 40);
    let result = runner.run(
        &(
            any::<u64>(),
            prop_oneof![Just(StrategyKind::BlueGreen), Just(StrategyKind::Canary)],
            2u32..=4,
            prop::collection::vec(1usize..75, 1..3),
            any::<bool>(),
            prop_oneof![2 => Just(None), 1 => (1usize..60).prop_map(Some)],
            prop::bool::weighted(0.3),
        ),
        |(seed, kind, desired, kills, keep, abort, alarm)| {
            let spec = baked_spec(kind, desired);
            let faults = Faults {
                bake_alarm_at: alarm.then_some(Duration::from_secs(20 * 60)),
                ..Faults::default()
            };
            let kill = Kill {
                after_steps: kills,
                keep_checkpoint: keep,
                restart_after: Duration::from_secs(30),
                abort_after_step: abort,
            };
            let report = run(
                &update("bake kills", seed, spec, Timings::default(), faults),
                &kill,
            );
            // An abort that finds nothing to roll back (a resumed apply after the old
            // generation's delete) stops there, by design: no outcome.
            let stopped = report.abort.as_ref().is_some_and(|a| !a.keep_stepping());
            prop_assert!(
                matches!(
                    report.outcome,
                    Some(Outcome::Succeeded { .. } | Outcome::RolledBack { .. })
                ) || (stopped && report.outcome.is_none()),
                "{:?} (abort {:?})\n{}",
                report.outcome,
                report.abort,
                trace(&report)
            );
            prop_assert!(
                report.violations.is_empty(),
                "{:#?}\n{}",
                report.violations,
                trace(&report)
            );
            for transition in &report.transitions {
                prop_assert!(
                    zdd_rollout::transitions::check(*transition).is_ok(),
                    "{:?} is not in the transition table:\n{}",
                    transition,
                    trace(&report)
                );
            }
            prop_assert_eq!(report.dropped, 0, "{}", trace(&report));
            prop_assert!(
                report
                    .launches
                    .iter()
                    .all(|(_, generation)| *generation != 1),
                "the old generation launched instances: {:?}\n{}",
                report.launches,
                trace(&report)
            );
            Ok(())
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// A bake alarm in `INSUFFICIENT_DATA` at the bake's end: blue/green passes with a timeline
/// note; a canary follows `insufficient_evidence`.
#[test]
fn a_bake_alarm_without_data_passes_blue_green_and_follows_the_canary_setting() {
    let faults = Faults {
        alarms_without_data: true,
        ..Faults::default()
    };
    let report = run(
        &update(
            "bake without data",
            4,
            baked_spec(StrategyKind::BlueGreen, 3),
            Timings::default(),
            faults.clone(),
        ),
        &Kill::default(),
    );
    assert!(
        matches!(report.outcome, Some(Outcome::Succeeded { generation: 2 })),
        "{:?}\n{}",
        report.outcome,
        trace(&report)
    );
    assert!(
        trace(&report).contains(
            "bake: bake alarm web-bake in INSUFFICIENT_DATA: a blue/green bake passes on alarms without data"
        ),
        "{}",
        trace(&report)
    );
    let canary = |policy: &str| {
        let shape = FleetShape {
            soak: Duration::from_secs(120),
            ..FleetShape::default()
        };
        let mut raw = raw_spec(StrategyKind::Canary, &shape, 7);
        if let Some(canary) = raw.canary.as_mut() {
            // Only the bake's alarm has no data: the steps pass on their metrics.
            canary.alarm_names = None;
            canary.insufficient_evidence = Some(policy.into());
            canary.max_soak = Some("5m".into());
        }
        raw.bake = Some(RawBake {
            duration: Some("5m".into()),
            alarm_names: Some(vec!["web-bake".into()]),
        });
        let spec = RolloutSpec::validate(&raw).unwrap_or_else(|e| panic!("{e}"));
        run(
            &update(
                "canary bake without data",
                4,
                spec,
                Timings::default(),
                faults.clone(),
            ),
            &Kill::default(),
        )
    };
    for policy in ["fail", "extend"] {
        let report = canary(policy);
        let Some(Outcome::RolledBack {
            serving: Some(1),
            reason,
            ..
        }) = &report.outcome
        else {
            panic!("{policy}: {:?}\n{}", report.outcome, trace(&report));
        };
        assert!(
            reason.starts_with(
                "insufficient evidence: bake alarm web-bake in INSUFFICIENT_DATA at the end of the bake"
            ),
            "{policy}: {reason}"
        );
        assert!(
            report
                .launches
                .iter()
                .all(|(_, generation)| *generation == 2),
            "{policy}: {:?}",
            report.launches
        );
    }
    let extended = trace(&canary("extend"));
    assert!(
        extended.contains("bake extended for evidence, up to 5m"),
        "{extended}"
    );
    let passed = canary("pass");
    assert!(
        matches!(passed.outcome, Some(Outcome::Succeeded { generation: 2 })),
        "{:?}\n{}",
        passed.outcome,
        trace(&passed)
    );
}

/// A canary whose errors start after its promotion fails its bake on the canary's own 5xx
/// limit over the bake's periods, and goes back to the old generation without a launch.
#[test]
fn a_canary_bake_fails_on_the_new_generations_5xx_ratio() {
    let spec = baked_spec(StrategyKind::Canary, 3);
    let calm = run(
        &update(
            "bake",
            6,
            spec.clone(),
            Timings::default(),
            Faults::default(),
        ),
        &Kill::default(),
    );
    let started = bake_start(&calm).unwrap_or_else(|| panic!("never baked:\n{}", trace(&calm)));
    let faults = Faults {
        new_5xx_ratio: 0.05,
        new_5xx_from: Some(started + Duration::from_secs(60)),
        ..Faults::default()
    };
    let report = run(
        &update("bake 5xx", 6, spec, Timings::default(), faults),
        &Kill::default(),
    );
    let Some(Outcome::RolledBack {
        serving: Some(1),
        reason,
        ..
    }) = &report.outcome
    else {
        panic!("{:?}\n{}", report.outcome, trace(&report));
    };
    assert!(
        reason.starts_with("5xx ratio")
            && reason.contains("exceeds max_5xx_ratio 1.00 %")
            && reason.contains("during the bake"),
        "{reason}"
    );
    assert!(
        report
            .launches
            .iter()
            .all(|(_, generation)| *generation == 2),
        "{:?}",
        report.launches
    );
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.dropped, 0, "{}", trace(&report));
}
