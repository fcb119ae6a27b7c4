//! The canary's 5xx gate is on by default: a `canary` block without `max_5xx_ratio` gets
//! [`DEFAULT_MAX_5XX_RATIO`] (the provider docs promise it), so a canary answering 5 % 5xx
//! rolls back even when the user configured no gate at all.

use std::time::Duration;

use zdd_rollout::Outcome;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Faults, Kill, Timings, run};
use zdd_rollout::spec::{DEFAULT_MAX_5XX_RATIO, RolloutSpec, Strategy};

fn canary_spec_without_gates() -> RolloutSpec {
    let shape = FleetShape {
        soak: Duration::from_secs(120),
        ..FleetShape::default()
    };
    let mut raw = raw_spec(StrategyKind::Canary, &shape, 7);
    let Some(canary) = raw.canary.as_mut() else {
        panic!("a canary fixture has a canary block");
    };
    canary.max_5xx_ratio = None;
    canary.alarm_names = None;
    match RolloutSpec::validate(&raw) {
        Ok(spec) => spec,
        Err(errors) => panic!("the fixture is valid: {errors}"),
    }
}

#[test]
fn an_omitted_max_5xx_ratio_is_the_documented_default() {
    let spec = canary_spec_without_gates();
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("not a canary: {:?}", spec.strategy);
    };
    assert_eq!(canary.max_5xx_ratio, Some(DEFAULT_MAX_5XX_RATIO));
    assert!(
        (DEFAULT_MAX_5XX_RATIO - 0.01).abs() < f64::EPSILON,
        "the docs say 0.01"
    );
}

#[test]
fn the_default_gate_rolls_back_a_canary_answering_five_percent_5xx() {
    let faults = Faults {
        new_5xx_ratio: 0.05,
        ..Faults::default()
    };
    let scenario = update(
        "default-5xx-gate",
        11,
        canary_spec_without_gates(),
        Timings::default(),
        faults,
    );
    let report = run(&scenario, &Kill::default());
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    match &report.outcome {
        Some(Outcome::RolledBack {
            reason, serving, ..
        }) => {
            assert!(reason.contains("5xx ratio"), "{reason}");
            assert!(reason.contains("max_5xx_ratio 1.00 %"), "{reason}");
            assert_eq!(*serving, Some(1));
        }
        other => panic!(
            "expected a rollback by the default 5xx gate, got {other:?}\n{:#?}",
            report.trace
        ),
    }
}

#[test]
fn a_healthy_canary_passes_the_default_gate() {
    let scenario = update(
        "default-5xx-gate-ok",
        12,
        canary_spec_without_gates(),
        Timings::default(),
        Faults::default(),
    );
    let report = run(&scenario, &Kill::default());
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(
        report.outcome,
        Some(Outcome::Succeeded { generation: 2 }),
        "{:#?}",
        report.trace
    );
}
