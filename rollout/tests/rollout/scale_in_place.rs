//! A change of `desired_capacity` alone scales the serving generation in place: no new
//! generation, every invariant held (scale-in drains before AWS terminates), and an abort has
//! nothing to roll back (it must never delete the only generation).

use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, scale_in_place, spec};
use zdd_rollout::sim::{Kill, run};
use zdd_rollout::{Abort, Outcome};

fn fleet(kind: StrategyKind, desired: u32) -> zdd_rollout::RolloutSpec {
    let shape = FleetShape {
        desired,
        surge: 2,
        batch_size: 2,
        ..FleetShape::default()
    };
    spec(kind, &shape, 7).unwrap_or_else(|e| panic!("invalid fixture: {e}"))
}

#[test]
fn scaling_up_and_down_keeps_the_generation_and_every_invariant() {
    for kind in StrategyKind::ALL {
        for (from, to) in [(3u32, 5u32), (5, 2), (1, 6)] {
            let scenario = scale_in_place(kind.name(), 11, fleet(kind, to), from);
            let report = run(&scenario, &Kill::default());
            let text = format!(
                "{} {from} -> {to}: {:#?}\n{}",
                kind.name(),
                report.violations,
                report.trace.join("\n")
            );
            // Includes invariant 5 at the end: generation 1 alone serves `to` healthy targets.
            assert!(report.violations.is_empty(), "{text}");
            assert_eq!(report.dropped, 0, "{text}");
            assert_eq!(
                report.outcome,
                Some(Outcome::Succeeded { generation: 1 }),
                "{text}"
            );
            assert!(
                !report.trace.iter().any(|l| l.contains("create_asg")),
                "a scale in place created a generation: {text}"
            );
            assert!(
                report.trace.iter().any(|l| l.contains("set_capacity")),
                "no capacity change: {text}"
            );
        }
    }
}

#[test]
fn abort_during_a_scale_in_place_leaves_the_generation_serving() {
    for kind in StrategyKind::ALL {
        let scenario = scale_in_place(kind.name(), 12, fleet(kind, 5), 3);
        let kill = Kill {
            abort_after_step: Some(2),
            ..Kill::default()
        };
        let report = run(&scenario, &kill);
        let text = format!("{:#?}\n{}", report.violations, report.trace.join("\n"));
        assert!(
            matches!(report.abort, Some(Abort::NothingToRollBack { .. })),
            "{}: {:?}\n{text}",
            kind.name(),
            report.abort
        );
        assert!(report.violations.is_empty(), "{text}");
        assert_eq!(report.dropped, 0, "{text}");
        assert!(
            !report
                .trace
                .iter()
                .any(|l| l.contains("delete_asg") || l.contains("tag_asg")),
            "an abort touched the only generation: {text}"
        );
    }
}
