//! `Rollout::abort` (an interrupt or timeout from outside) at a random step of each strategy:
//! the rollout converges to the last good generation serving 100 % with zero dropped requests
//! (invariant 5), or, past the point of no return, finishes forward; and a process killed
//! after the abort leaves AWS in a state the next apply converges (invariant 6).
//!
//! Case count per strategy: `PROPTEST_CASES` (default below); the scenarios are the same on
//! every run unless `ZDD_PROPTEST_SEED` says otherwise (see `support/mod.rs`).

use std::time::Duration;

use proptest::prelude::*;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, ScalingEvent, ScalingGroup, Scenario, Timings, run};
use zdd_rollout::{Abort, Outcome, Phase, RolloutSpec};

const DEFAULT_CASES: u32 = 300;

#[derive(Debug, Clone)]
struct Case {
    scenario: Scenario,
    /// Where in the run the abort lands, as a fraction of the unaborted run's steps.
    at: f64,
    /// Kill the process this many steps after the abort and resume from AWS alone.
    kill_after_abort: Option<usize>,
}

/// `autoscaled`: the fleet has a scaling policy and a termination hook, and the serving group
/// scales itself out by one at a random moment (issue #13).
fn case(kind: StrategyKind, autoscaled: bool) -> impl Strategy<Value = Case> {
    // `Just` draws nothing: the plain cases stay the scenarios they always were.
    let scale_out_at: BoxedStrategy<u64> = if autoscaled {
        (5u64..600).boxed()
    } else {
        Just(0).boxed()
    };
    (
        (any::<u64>(), scale_out_at),
        1u32..=6,                                                // desired
        0u32..=3,                                                // surge
        1u32..=3,                                                // batch size
        prop_oneof![Just(100u32), Just(90), Just(75), Just(50)], // min healthy %
        prop_oneof![Just(30u64), Just(60), Just(180)],           // canary soak
        prop::bool::weighted(0.85),                              // rollback_on_failure
        (
            5u64..=40,                                    // boot min
            0u64..=60,                                    // boot spread
            prop_oneof![Just(5u64), Just(10), Just(30)],  // interval
            2u32..=5,                                     // healthy threshold
            prop_oneof![Just(5u64), Just(60), Just(300)], // deregistration delay
            prop_oneof![Just(0.0), Just(0.1), Just(0.3)], // API failures
            prop_oneof![Just(0u64), Just(3), Just(15)],   // eventual consistency
            prop_oneof![Just(0u64), Just(10)],            // stale reads
        ),
        0.0f64..1.0,
        prop_oneof![3 => Just(None), 1 => (1usize..8).prop_map(Some)],
    )
        .prop_map(
            move |(
                (seed, scale_out_at),
                desired,
                surge,
                batch,
                percent,
                soak,
                rollback,
                (boot, spread, interval, threshold, delay, api, consistency, stale),
                at,
                kill_after_abort,
            )| {
                let mut shape = FleetShape {
                    desired,
                    surge,
                    batch_size: batch,
                    min_healthy_percent: percent,
                    soak: Duration::from_secs(soak),
                    health_timeout: Duration::from_secs(600),
                    rollback_on_failure: rollback,
                    two_target_groups: false,
                    min_requests: None,
                };
                let validate = |shape: &FleetShape| {
                    let mut raw = raw_spec(kind, shape, 7);
                    if autoscaled {
                        raw.max_size += 2;
                        raw.target_tracking = Some(vec![crate::autoscaling::cpu_policy()]);
                        raw.lifecycle_hooks = Some(vec![crate::autoscaling::hook(
                            "terminating",
                            "30s",
                            "CONTINUE",
                        )]);
                    }
                    RolloutSpec::validate(&raw).map_err(|e| e.to_string())
                };
                let spec = validate(&shape).unwrap_or_else(|_| {
                    shape.surge = shape.surge.max(1);
                    validate(&shape).unwrap_or_else(|e| panic!("invalid with surge: {e}"))
                });
                let scaling = if autoscaled {
                    vec![ScalingEvent {
                        at: Duration::from_secs(scale_out_at),
                        group: ScalingGroup::Serving,
                        desired: desired + 1,
                    }]
                } else {
                    Vec::new()
                };
                let timings = Timings {
                    boot_min: Duration::from_secs(boot),
                    boot_max: Duration::from_secs(boot + spread),
                    health_check_interval: Duration::from_secs(interval),
                    healthy_threshold: threshold,
                    deregistration_delay: Duration::from_secs(delay),
                    ..Timings::default()
                };
                let faults = Faults {
                    api_failure: api,
                    consistency_delay_max: Duration::from_secs(consistency),
                    stale_read_max: Duration::from_secs(stale),
                    ..Faults::default()
                };
                let mut scenario = update(
                    &format!("{} abort", kind.name()),
                    seed,
                    spec,
                    timings,
                    faults,
                );
                scenario.scaling = scaling;
                Case {
                    scenario,
                    at,
                    kill_after_abort,
                }
            },
        )
}

fn summary(report: &Report) -> String {
    format!(
        "abort {:?}, outcome {:?}, dropped {}, violations {:#?}\ntrace:\n{}",
        report.abort,
        report.outcome,
        report.dropped,
        report.violations,
        report.trace.join("\n")
    )
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    // The same scenario unaborted (deterministic) tells how many steps there are to pick from.
    let unaborted = run(&case.scenario, &Kill::default());
    prop_assert!(
        matches!(unaborted.outcome, Some(Outcome::Succeeded { .. })),
        "{}",
        summary(&unaborted)
    );
    let last = unaborted.steps.saturating_sub(1).max(1);
    let abort_step = 1 + ((case.at * last as f64) as usize).min(last - 1);
    let kill = Kill {
        abort_after_step: Some(abort_step),
        after_steps: case
            .kill_after_abort
            .map(|k| abort_step + k)
            .into_iter()
            .collect(),
        restart_after: Duration::from_secs(30),
        ..Kill::default()
    };
    let report = run(&case.scenario, &kill);
    let text = || format!("abort at step {abort_step}: {}", summary(&report));
    // Includes invariant 5 as checked at the end: exactly the expected generation serves 100 %.
    prop_assert!(report.violations.is_empty(), "{}", text());
    for transition in &report.transitions {
        prop_assert!(
            zdd_rollout::transitions::check(*transition).is_ok(),
            "{:?} is not in the transition table: {}",
            transition,
            text()
        );
    }
    prop_assert_eq!(report.dropped, 0, "{}", text());
    let killed = report.kills > 0;
    match (&report.abort, &report.outcome) {
        (
            Some(Abort::RollingBack { from_phase }),
            Some(Outcome::RolledBack {
                serving, reason, ..
            }),
        ) => {
            prop_assert_eq!(*serving, Some(1), "{}", text());
            prop_assert!(
                reason.contains("interrupted") && reason.contains(from_phase.name()),
                "reason {reason:?} names neither the interrupt nor the phase: {}",
                text()
            );
        }
        // Killed mid-rollback, the next apply (same configuration) converges: it finishes the
        // rollback it finds tagged `zdd:rollback` in AWS (the outcome above), or, when the kill
        // came before that tag landed, it sees an untagged generation 2 that matches the
        // configuration and finishes the rollout forward. A kill after the rollback finished
        // (the failed generation marked `zdd:rolled-back`) leaves a fresh rollout to the next
        // apply.
        (Some(Abort::RollingBack { .. }), Some(Outcome::Succeeded { generation })) if killed => {
            // Generation 3 only when the kill came after the rollback had finished.
            let expected = if report.rollback_finished { 3 } else { 2 };
            prop_assert_eq!(*generation, expected, "{}", text());
        }
        (
            Some(Abort::PastPointOfNoReturn { phase }),
            Some(Outcome::Succeeded { generation: 2 }),
        ) => {
            prop_assert_eq!(phase, &Phase::DeletingOld, "{}", text());
            prop_assert!(
                report
                    .trace
                    .iter()
                    .any(|l| l.contains("point of no return")),
                "the timeline does not say why the abort did not roll back: {}",
                text()
            );
        }
        _ => prop_assert!(false, "unexpected abort/outcome: {}", text()),
    }
    Ok(())
}

fn run_property(kind: StrategyKind) {
    let mut runner = crate::support::runner(kind.name(), DEFAULT_CASES);
    if let Err(error) = runner.run(&case(kind, false), |case| check(&case)) {
        panic!("{}: {error}", kind.name());
    }
}

fn run_autoscaled_property(kind: StrategyKind) {
    let name = format!("{} autoscaled abort", kind.name());
    let mut runner = crate::support::runner(&name, DEFAULT_CASES);
    if let Err(error) = runner.run(&case(kind, true), |case| check(&case)) {
        panic!("{name}: {error}");
    }
}

/// A fleet that scales itself and has a termination hook: an abort anywhere resumes what zdd
/// suspended on the restored group, deletes the failed one past its hook, and leaves the
/// policies on the serving generation only (checked by the simulator at the end).
#[test]
fn blue_green_abort_of_an_autoscaled_fleet_converges() {
    run_autoscaled_property(StrategyKind::BlueGreen);
}

#[test]
fn rolling_abort_of_an_autoscaled_fleet_converges() {
    run_autoscaled_property(StrategyKind::Rolling);
}

#[test]
fn canary_abort_of_an_autoscaled_fleet_converges() {
    run_autoscaled_property(StrategyKind::Canary);
}

#[test]
fn blue_green_abort_converges_to_the_last_good_generation() {
    run_property(StrategyKind::BlueGreen);
}

#[test]
fn rolling_abort_converges_to_the_last_good_generation() {
    run_property(StrategyKind::Rolling);
}

#[test]
fn canary_abort_converges_to_the_last_good_generation() {
    run_property(StrategyKind::Canary);
}
