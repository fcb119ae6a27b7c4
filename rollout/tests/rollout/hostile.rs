//! The hostile mix (`Faults::hostile()`: 20 % throttling + 2 % 5xx, 10 s stale reads), the one
//! definition the provider's "rollouts under faults" suite also installs in the local AWS: the
//! engine converges under it with every strategy, every invariant held, no request dropped.
//!
//! Random fleets and timings, the faults fixed; the scenarios are the same on every run unless
//! `ZDD_PROPTEST_SEED` says otherwise (`support/mod.rs`), `PROPTEST_CASES` sets the count.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, Scenario, Timings, run};
use zdd_rollout::{Outcome, PhaseKind};

use crate::support::runner;

const DEFAULT_CASES: u32 = 200;

#[test]
fn the_hostile_mix_is_the_issues_mix() {
    let hostile = Faults::hostile();
    assert!((hostile.api_failure - 0.22).abs() < 1e-9, "{hostile:?}");
    assert_eq!(hostile.stale_read_max, Duration::from_secs(10));
    assert!(
        hostile.is_benign(),
        "no fault of the mix may make a rollout fail"
    );
    assert_eq!(
        Faults {
            api_failure: 0.0,
            stale_read_max: Duration::ZERO,
            ..hostile
        },
        Faults::default(),
        "the mix sets nothing else"
    );
}

#[test]
fn blue_green_converges_under_the_hostile_mix() {
    converges_under_the_hostile_mix(StrategyKind::BlueGreen);
}

#[test]
fn rolling_converges_under_the_hostile_mix() {
    converges_under_the_hostile_mix(StrategyKind::Rolling);
}

#[test]
fn canary_converges_under_the_hostile_mix() {
    converges_under_the_hostile_mix(StrategyKind::Canary);
}

fn converges_under_the_hostile_mix(kind: StrategyKind) {
    let mut runner = runner(&format!("hostile {}", kind.name()), DEFAULT_CASES);
    let failed_commands = std::cell::Cell::new(0u64);
    let result = runner.run(&scenario(kind), |scenario| {
        let report = run(&scenario, &Kill::default());
        failed_commands.set(failed_commands.get() + report.failed_commands);
        check(&scenario, &report)
    });
    if let Err(failure) = result {
        panic!("{}: {failure}", kind.name());
    }
    assert!(
        failed_commands.get() > 0,
        "{}: the mix failed no command at all",
        kind.name()
    );
}

fn scenario(kind: StrategyKind) -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        1u32..=6,                                      // desired
        0u32..=2,                                      // surge
        1u32..=3,                                      // batch size
        prop_oneof![Just(100u32), Just(75), Just(50)], // min healthy %
        prop_oneof![Just(30u64), Just(60)],            // canary soak
        5u64..=40,                                     // boot
        prop_oneof![Just(5u64), Just(10), Just(30)],   // health check interval
        prop_oneof![Just(5u64), Just(30), Just(120)],  // deregistration delay
    )
        .prop_map(
            move |(seed, desired, surge, batch, percent, soak, boot, interval, delay)| {
                let mut shape = FleetShape {
                    desired,
                    surge,
                    batch_size: batch,
                    min_healthy_percent: percent,
                    soak: Duration::from_secs(soak),
                    ..FleetShape::default()
                };
                let spec = spec(kind, &shape, 7).unwrap_or_else(|_| {
                    shape.surge = shape.surge.max(1);
                    spec(kind, &shape, 7).unwrap_or_else(|e| panic!("invalid with surge: {e}"))
                });
                let timings = Timings {
                    boot_min: Duration::from_secs(boot),
                    boot_max: Duration::from_secs(boot + 20),
                    health_check_interval: Duration::from_secs(interval),
                    deregistration_delay: Duration::from_secs(delay),
                    ..Timings::default()
                };
                let name = format!("{} hostile", kind.name());
                update(&name, seed, spec, timings, Faults::hostile())
            },
        )
}

fn check(scenario: &Scenario, report: &Report) -> Result<(), TestCaseError> {
    let summary = || {
        format!(
            "seed {}, outcome {:?}, dropped {}, violations {:#?}\ntrace:\n{}",
            scenario.seed,
            report.outcome,
            report.dropped,
            report.violations,
            report.trace.join("\n")
        )
    };
    prop_assert!(report.violations.is_empty(), "{}", summary());
    prop_assert_eq!(report.dropped, 0, "{}", summary());
    prop_assert_eq!(
        &report.outcome,
        &Some(Outcome::Succeeded { generation: 2 }),
        "{}",
        summary()
    );
    prop_assert!(
        !report
            .transitions
            .iter()
            .any(|transition| transition.to == PhaseKind::RestoringOld),
        "the mix alone made it roll back: {}",
        summary()
    );
    Ok(())
}
