//! Snapshot tests of the event traces of named scenarios: a change in ordering shows in
//! review. Each scenario also asserts its invariants and outcome directly.

use std::time::Duration;

use zdd_rollout::Outcome;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, Timings, run};

fn render(report: &Report) -> String {
    let mut text = format!(
        "outcome: {:?}\nduration: {}s\ndropped: {}\napi calls: {} ({} observations, {} commands)\nviolations: {:?}\n---\n",
        report.outcome,
        report.duration.as_secs(),
        report.dropped,
        report.api_calls,
        report.observations,
        report.commands,
        report.violations
    );
    text.push_str(&report.trace.join("\n"));
    text.push('\n');
    text
}

fn scenario_report(kind: StrategyKind, shape: FleetShape, faults: Faults, kill: Kill) -> Report {
    let spec = spec(kind, &shape, 7).unwrap_or_else(|e| panic!("invalid fixture: {e}"));
    let scenario = update(kind.name(), 42, spec, Timings::default(), faults);
    let report = run(&scenario, &kill);
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.dropped, 0, "{}", render(&report));
    report
}

fn assert_succeeded(report: &Report) {
    assert_eq!(
        report.outcome,
        Some(Outcome::Succeeded { generation: 2 }),
        "{}",
        render(report)
    );
}

fn assert_rolled_back(report: &Report, reason_part: &str) {
    match &report.outcome {
        Some(Outcome::RolledBack {
            serving, reason, ..
        }) => {
            assert_eq!(*serving, Some(1));
            assert!(
                reason.contains(reason_part),
                "reason {reason:?} lacks {reason_part:?}"
            );
        }
        other => panic!("expected a rollback, got {other:?}\n{}", render(report)),
    }
}

#[test]
fn blue_green_happy_path() {
    let report = scenario_report(
        StrategyKind::BlueGreen,
        FleetShape::default(),
        Faults::default(),
        Kill::default(),
    );
    assert_succeeded(&report);
    insta::assert_snapshot!(render(&report));
}

#[test]
fn rolling_happy_path() {
    let report = scenario_report(
        StrategyKind::Rolling,
        FleetShape::default(),
        Faults::default(),
        Kill::default(),
    );
    assert_succeeded(&report);
    insta::assert_snapshot!(render(&report));
}

#[test]
fn canary_happy_path() {
    let report = scenario_report(
        StrategyKind::Canary,
        FleetShape::default(),
        Faults::default(),
        Kill::default(),
    );
    assert_succeeded(&report);
    insta::assert_snapshot!(render(&report));
}

#[test]
fn canary_alarm_rollback() {
    // Step 1 ends when its last metric window is complete and judged (8m30s), step 2 then.
    let faults = Faults {
        alarm_at: Some(Duration::from_secs(10 * 60)),
        ..Faults::default()
    };
    let report = scenario_report(
        StrategyKind::Canary,
        FleetShape::default(),
        faults,
        Kill::default(),
    );
    assert_rolled_back(
        &report,
        "alarm web-5xx went into ALARM during canary step 2 (25 %)",
    );
    insta::assert_snapshot!(render(&report));
}

#[test]
fn canary_5xx_ratio_rollback() {
    let faults = Faults {
        new_5xx_ratio: 0.05,
        ..Faults::default()
    };
    let report = scenario_report(
        StrategyKind::Canary,
        FleetShape::default(),
        faults,
        Kill::default(),
    );
    assert_rolled_back(&report, "exceeds max_5xx_ratio 1.00 %");
    insta::assert_snapshot!(render(&report));
}

#[test]
fn health_timeout_rollback() {
    let faults = Faults {
        bad_release: true,
        ..Faults::default()
    };
    let report = scenario_report(
        StrategyKind::BlueGreen,
        FleetShape::default(),
        faults,
        Kill::default(),
    );
    assert_rolled_back(
        &report,
        "3 of 3 new targets unhealthy in target group app-blue (Target.ResponseCodeMismatch) after 10m",
    );
    insta::assert_snapshot!(render(&report));
}

#[test]
fn rolling_bad_batch_rollback() {
    let faults = Faults {
        bad_release: true,
        ..Faults::default()
    };
    let shape = FleetShape {
        health_timeout: Duration::from_secs(300),
        ..FleetShape::default()
    };
    let report = scenario_report(StrategyKind::Rolling, shape, faults, Kill::default());
    assert_rolled_back(&report, "rolling batch 1");
    insta::assert_snapshot!(render(&report));
}

#[test]
fn kill_and_resume() {
    // Killed twice, each time with only part of a step's commands sent, resumed from what AWS
    // shows alone (a killed apply saves no private state).
    let kill = Kill {
        after_steps: vec![1, 7],
        keep_checkpoint: false,
        restart_after: Duration::from_secs(45),
        ..Kill::default()
    };
    let report = scenario_report(
        StrategyKind::BlueGreen,
        FleetShape::default(),
        Faults::default(),
        kill,
    );
    assert_succeeded(&report);
    assert_eq!(report.kills, 2);
    insta::assert_snapshot!(render(&report));
}

#[test]
fn throttled_and_late_commands_still_converge() {
    let faults = Faults {
        api_failure: 0.3,
        consistency_delay_max: Duration::from_secs(15),
        ..Faults::default()
    };
    let report = scenario_report(
        StrategyKind::Rolling,
        FleetShape::default(),
        faults,
        Kill::default(),
    );
    assert_succeeded(&report);
    assert!(
        report.failed_commands > 0,
        "the scenario should have exercised failures"
    );
}

#[test]
fn lagging_reads_do_not_fail_a_canary_or_undo_a_scale_in() {
    // Every read may come from a replica 20 s behind: a target seen healthy reads `initial`
    // again, an old group reads larger than the scale-in left it. Neither is a verdict.
    let faults = Faults {
        stale_read_max: Duration::from_secs(20),
        ..Faults::default()
    };
    for kind in [StrategyKind::Canary, StrategyKind::Rolling] {
        let shape = FleetShape {
            desired: 6,
            surge: 2,
            batch_size: 2,
            soak: Duration::from_secs(60),
            ..FleetShape::default()
        };
        let report = scenario_report(kind, shape.clone(), faults.clone(), Kill::default());
        assert_succeeded(&report);
        let max = u64::from(shape.desired + shape.surge);
        if kind == StrategyKind::Rolling {
            assert!(
                report.peak_instances <= max,
                "{} instances at once, max {max}",
                report.peak_instances
            );
        }
    }
}

#[test]
fn teardown_drains_then_deletes() {
    let spec = spec(StrategyKind::BlueGreen, &FleetShape::default(), 7).expect("valid fixture");
    let mut scenario = update("teardown", 7, spec, Timings::default(), Faults::default());
    scenario.teardown = true;
    let report = run(&scenario, &Kill::default());
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.dropped_in_flight, 0);
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 0 }));
    insta::assert_snapshot!(render(&report));
}

#[test]
fn first_deployment_of_each_strategy() {
    for kind in StrategyKind::ALL {
        let spec = spec(kind, &FleetShape::default(), 7).expect("valid fixture");
        let mut scenario = update("create", 5, spec, Timings::default(), Faults::default());
        scenario.previous = None;
        let report = run(&scenario, &Kill::default());
        assert!(
            report.violations.is_empty(),
            "{}: {:#?}",
            kind.name(),
            report.violations
        );
        assert_eq!(
            report.outcome,
            Some(Outcome::Succeeded { generation: 1 }),
            "{}",
            render(&report)
        );
        assert_eq!(report.dropped_in_flight, 0);
    }
}

/// The gates are read every fifth of a short soak (at least every 10 s), not once a minute:
/// a firing alarm is acted on within one gate poll.
#[test]
fn short_soak_alarm_rolls_back_within_one_gate_poll() {
    let soak = Duration::from_secs(50);
    assert_eq!(zdd_rollout::gate_poll(soak), Duration::from_secs(10));
    assert_eq!(
        zdd_rollout::gate_poll(Duration::from_secs(300)),
        Duration::from_secs(60)
    );
    assert_eq!(
        zdd_rollout::gate_poll(Duration::from_secs(120)),
        Duration::from_secs(24)
    );
    let alarm_at = Duration::from_secs(175);
    let faults = Faults {
        alarm_at: Some(alarm_at),
        ..Faults::default()
    };
    let shape = FleetShape {
        soak,
        ..FleetShape::default()
    };
    let report = scenario_report(StrategyKind::Canary, shape, faults, Kill::default());
    assert_rolled_back(&report, "alarm web-5xx went into ALARM");
    let failed_at = report
        .trace
        .iter()
        .find_map(|line| {
            let rest = line.strip_prefix('+')?;
            let (at, what) = rest.split_once(' ')?;
            what.starts_with("failure:")
                .then(|| zdd_rollout::parse_duration(at).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no failure in the trace\n{}", render(&report)));
    assert!(
        failed_at >= alarm_at && failed_at <= alarm_at + zdd_rollout::gate_poll(soak),
        "alarm at {alarm_at:?}, rollback started at {failed_at:?}\n{}",
        render(&report)
    );
}
